"""``kai-labs node list|stop|start``: power a node of the course's cluster off and on.

Each embedded Node runs in its own process (its kubelet and its Pods), as kind runs each node in its own
container; ``node stop`` is kind's ``docker stop <node>`` (and on a kind cluster it is exactly that): the
kubelet stops posting, the node lifecycle controller marks the Node NotReady and taints it, its Pods'
endpoints turn not ready and, once their toleration runs out, the Pods are evicted and their controllers
replace them on the nodes that are left. A cluster the course does not own (``KAI_LABS_CLUSTER=context:…``)
is never touched.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from typing import Any

from . import embedded as cl
from .base import Cluster, ClusterError
from .real import current


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    n = sub.add_parser("node", help="stop and start the embedded cluster's nodes (as `docker stop` does for kind)")
    ns = n.add_subparsers(dest="action", metavar="ACTION")
    for action, help_ in (("list", "each node's machine: Running or Stopped"),
                          ("stop", "power a node off: its kubelet and Pods stop"),
                          ("start", "power a node on again")):
        p = ns.add_parser(action, help=help_)
        p.add_argument("--name", default="kai-labs", help="cluster name (default kai-labs)")
        if action != "list":
            p.add_argument("node", help="the Node's name, e.g. kai-labs-worker")
        p.set_defaults(func=_run, node_action=action)


def power(cluster: Cluster, node: str, action: str) -> None:
    """Stop or start ``node`` of ``cluster``: the embedded cluster's machine, or a kind node's container."""
    if cluster.embedded:
        call(cluster, "POST", f"/{node}/{action}")
        return
    if not cluster.context.startswith("kind-"):
        raise ClusterError(f"the course stops nodes only on clusters it owns (embedded or kind), not on context "
                           f"{cluster.context}; there, `kubectl drain {node}` moves Pods away without switching "
                           f"anything off")
    docker = shutil.which("docker")
    if docker is None:
        raise ClusterError("a kind node is a Docker container, and `docker` is not on PATH")
    r = subprocess.run([docker, action, node], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise ClusterError(f"docker {action} {node}: {r.stderr.strip() or r.stdout.strip()}")


def call(cluster: Cluster, method: str, path: str) -> dict[str, Any]:
    """One request to the embedded cluster's machines endpoint."""
    net = cluster.net
    if not isinstance(net, cl.EmbeddedNet):
        raise ClusterError("`kai-labs node list` shows the embedded cluster's machines; use `kubectl get nodes`")
    return net.call(method, f"/kai-labs/v1/machines{path}", timeout=30)


def _run(a: argparse.Namespace) -> int:
    cluster = current(a.name)
    if a.node_action == "list":
        machines = call(cluster, "GET", "")["machines"]
        print(f"{'NODE':<28} MACHINE")
        for node, state in machines.items():
            print(f"{node:<28} {state}")
        return 0
    power(cluster, a.node, a.node_action)
    if a.node_action == "stop":
        print(f"node {a.node} stopped: its kubelet no longer posts; watch `kubectl get nodes -w`")
    else:
        print(f"node {a.node} started")
    return 0
