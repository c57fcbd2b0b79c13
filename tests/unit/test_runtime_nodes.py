"""R123: the embedded nodes carry the labels a kind node carries, and no zone (kind has no cloud provider
to set topology.kubernetes.io/zone), so EndpointSlice endpoints have no ``zone`` either."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kai_labs.k8s import endpointslices
from kai_labs.sim.runtime import Runtime

KIND_LABELS = {"beta.kubernetes.io/arch", "beta.kubernetes.io/os", "kubernetes.io/arch", "kubernetes.io/hostname",
               "kubernetes.io/os"}
CONTROL_PLANE = {"node-role.kubernetes.io/control-plane", "node.kubernetes.io/exclude-from-external-load-balancers"}


def test_R123_nodes_have_kinds_labels_and_no_zone(tmp_path: Path) -> None:
    async def main() -> None:
        rt = Runtime(tmp_path, "kai-labs", 1)
        rt.bootstrap()
        nodes = {n["metadata"]["name"]: n for n in rt.store.iter("/nodes")}
        assert set(nodes) == {"kai-labs-control-plane", "kai-labs-worker", "kai-labs-worker2"}
        for name, node in nodes.items():
            labels = node["metadata"]["labels"]
            want = KIND_LABELS | (CONTROL_PLANE if name.endswith("control-plane") else set())
            assert set(labels) == want, name
            assert labels["kubernetes.io/hostname"] == name
            assert not any("zone" in k or "region" in k for k in labels), labels
            # the EndpointSlice endpoint of a Pod on this node has no zone
            pod = {"metadata": {"name": "p", "namespace": "default", "uid": "u"},
                   "spec": {"nodeName": name},
                   "status": {"podIP": "10.244.1.2", "phase": "Running",
                              "conditions": [{"type": "Ready", "status": "True"}]}}
            service = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}}
            ep = endpointslices._pod_to_endpoint(pod, node, service, "IPv4")
            assert "zone" not in ep
            assert ep["nodeName"] == name

    asyncio.run(main())
