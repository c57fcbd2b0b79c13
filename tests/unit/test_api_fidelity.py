"""What kube-apiserver and kube-controller-manager add, answered as they answer it (issue #18, the API
side; rules R85-R95): protobuf DeleteOptions, the Endpoints warning and lifetime, services/status,
kept clusterIPs, immortal namespaces, ServiceAccounts, ReplicationControllers.

Each test drives a real Runtime (SQLite store, registry, controllers) through the aiohttp API server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from kai_labs.sim.apiserver import tls
from kai_labs.sim.apiserver.server import ApiServer
from kai_labs.sim.registry.generic import rt_of
from kai_labs.sim.runtime import Runtime
from tests.unit import test_endpointslices as slices
from tests.unit import test_protobuf as pb

H = {"Authorization": "Bearer tok"}
PB = "application/vnd.kubernetes.protobuf"

Scenario = Callable[[TestClient, Runtime], Awaitable[None]]


def run_api(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        rt = Runtime(tmp_path, "h", 1)
        rt.bootstrap()
        rt.controllers.drain()
        async with TestClient(TestServer(ApiServer(rt, "tok").app)) as client:
            await asyncio.wait_for(scenario(client, rt), 30)

    asyncio.run(main())


def delete_options_pb(*, grace: int | None = None, propagation: str = "", dry_run: bool = False) -> bytes:
    """What client-go's protobuf codec writes for a metav1.DeleteOptions (k8s\\x00 + runtime.Unknown)."""
    raw = b""
    if grace is not None:
        raw += pb.vi(1, grace)
    if propagation:
        raw += pb.s(4, propagation)
    if dry_run:
        raw += pb.s(5, "All")
    return pb.envelope("v1", "DeleteOptions", raw)


async def _json(r: Any) -> dict[str, Any]:
    body: dict[str, Any] = await r.json()
    return body


async def _mk_cm(client: TestClient, ns: str, name: str) -> None:
    r = await client.post(f"/api/v1/namespaces/{ns}/configmaps", headers=H,
                          json={"metadata": {"name": name, "labels": {"app": "x"}}})
    assert r.status == 201, await r.text()


# -- R85: DeleteOptions in protobuf ------------------------------------------------------------------------
def test_delete_with_a_protobuf_delete_options_body(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        await _mk_cm(client, "default", "a")
        await _mk_cm(client, "default", "b")
        base = "/api/v1/namespaces/default/configmaps"
        # dryRun in the protobuf body: answered, nothing deleted
        r = await client.delete(base + "/a", data=delete_options_pb(dry_run=True),
                                headers={**H, "Content-Type": PB})
        assert r.status == 200, await r.text()
        assert (await client.get(base + "/a", headers=H)).status == 200
        r = await client.delete(base + "/a", data=delete_options_pb(propagation="Background", grace=0),
                                headers={**H, "Content-Type": PB})
        assert r.status == 200, await r.text()
        assert (await client.get(base + "/a", headers=H)).status == 404
        # deletecollection with a protobuf body, as the e2e framework's namespace teardown sends it
        r = await client.delete(base + "?labelSelector=app%3Dx", data=delete_options_pb(propagation="Background"),
                                headers={**H, "Content-Type": PB})
        assert r.status == 200, await r.text()
        assert (await client.get(base + "/b", headers=H)).status == 404
        # a namespace deleted with protobuf options (every e2e test's teardown)
        r = await client.post("/api/v1/namespaces", headers=H, json={"metadata": {"name": "gone"}})
        assert r.status == 201
        r = await client.delete("/api/v1/namespaces/gone", data=delete_options_pb(propagation="Background"),
                                headers={**H, "Content-Type": PB})
        assert r.status == 200, await r.text()
        assert (await _json(r))["status"]["phase"] == "Terminating"

    run_api(tmp_path, scenario)


def test_delete_options_in_an_unknown_media_type_is_415_and_garbage_400(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        await _mk_cm(client, "default", "a")
        base = "/api/v1/namespaces/default/configmaps/a"
        r = await client.delete(base, data=b"<x/>", headers={**H, "Content-Type": "text/xml"})
        assert r.status == 415
        r = await client.delete(base, data=b"k8s\x00\xff\xff", headers={**H, "Content-Type": PB})
        assert r.status == 400
        assert (await client.get(base, headers=H)).status == 200
        r = await client.delete(base, data=json.dumps({"propagationPolicy": "Background"}),
                                headers={**H, "Content-Type": "application/json"})
        assert r.status == 200

    run_api(tmp_path, scenario)


# -- R86: Endpoints go with their Service; v1 Endpoints is deprecated --------------------------------------
def test_the_endpoints_of_a_deleted_service_are_deleted(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        svc = {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
        r = await client.post("/api/v1/namespaces/default/services", headers=H, json=svc)
        assert r.status == 201
        # a selector-less Service with Endpoints written by hand: deleted with it as well
        hand = {"metadata": {"name": "ext"}, "spec": {"ports": [{"port": 80}]}}
        assert (await client.post("/api/v1/namespaces/default/services", headers=H, json=hand)).status == 201
        r = await client.post("/api/v1/namespaces/default/endpoints", headers=H, json={
            "metadata": {"name": "ext"}, "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]})
        assert r.status == 201
        rt.controllers.drain()
        assert rt.store.get("/endpoints", "default", "web") is not None
        for name in ("web", "ext"):
            assert (await client.delete(f"/api/v1/namespaces/default/services/{name}", headers=H)).status == 200
        rt.controllers.drain()
        assert rt.store.get("/endpoints", "default", "web") is None
        assert rt.store.get("/endpoints", "default", "ext") is None
        assert rt.store.get("/endpoints", "default", "kubernetes") is not None

    run_api(tmp_path, scenario)


def test_every_request_for_v1_endpoints_carries_the_deprecation_warning(tmp_path: Path) -> None:
    want = '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'

    async def scenario(client: TestClient, rt: Runtime) -> None:
        for path in ("/api/v1/namespaces/default/endpoints", "/api/v1/namespaces/default/endpoints/kubernetes",
                     "/api/v1/endpoints", "/api/v1/namespaces/default/endpoints/nope"):
            r = await client.get(path, headers=H)
            assert r.headers.getall("Warning", []) == [want], path
        r = await client.get("/api/v1/namespaces/default/endpoints?watch=true&timeoutSeconds=1", headers=H)
        assert r.headers.getall("Warning", []) == [want]
        await r.read()
        r = await client.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", headers=H)
        assert "Warning" not in r.headers
        r = await client.get("/api/v1/namespaces/default/services", headers=H)
        assert "Warning" not in r.headers

    run_api(tmp_path, scenario)


# -- R87: services/status ----------------------------------------------------------------------------------
def test_a_services_status_patch_keeps_its_annotations_and_its_load_balancer(tmp_path: Path) -> None:
    """The e2e "should complete a service status lifecycle" steps: a ClusterIP Service's status patched
    with an annotation and a load-balancer ingress; both stay (also after the controllers have run)."""
    async def scenario(client: TestClient, rt: Runtime) -> None:
        svc = {"metadata": {"name": "st"}, "spec": {"selector": {"app": "st"}, "ports": [{"port": 80}]}}
        assert (await client.post("/api/v1/namespaces/default/services", headers=H, json=svc)).status == 201
        patch = {"metadata": {"annotations": {"patchedstatus": "true"}},
                 "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}}
        r = await client.patch("/api/v1/namespaces/default/services/st/status", data=json.dumps(patch),
                               headers={**H, "Content-Type": "application/merge-patch+json"})
        assert r.status == 200, await r.text()
        body = await _json(r)
        assert body["metadata"]["annotations"] == {"patchedstatus": "true"}
        assert body["status"]["loadBalancer"]["ingress"] == [{"ip": "203.0.113.1"}]
        rt.controllers.queue["service"].add(("default", "st"))
        rt.controllers.drain()
        await asyncio.sleep(0.1)
        body = await _json(await client.get("/api/v1/namespaces/default/services/st", headers=H))
        assert body["metadata"]["annotations"] == {"patchedstatus": "true"}
        assert body["status"]["loadBalancer"]["ingress"] == [{"ip": "203.0.113.1"}]
        # the spec cannot be changed through status
        r = await client.patch("/api/v1/namespaces/default/services/st/status", data=json.dumps(
            {"spec": {"ports": [{"port": 81}]}}), headers={**H, "Content-Type": "application/merge-patch+json"})
        assert (await _json(r))["spec"]["ports"][0]["port"] == 80

    run_api(tmp_path, scenario)


# -- R88: allocated values kept on update --------------------------------------------------------------
def test_replace_without_cluster_ip_or_node_port_keeps_what_was_allocated(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        base = "/api/v1/namespaces/default/services"
        for name, spec in (("np", {"type": "NodePort", "selector": {"a": "b"},
                                   "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}),
                           ("hl", {"clusterIP": "None", "selector": {"a": "b"}, "ports": [{"port": 80}]})):
            r = await client.post(base, headers=H, json={"metadata": {"name": name}, "spec": spec})
            assert r.status == 201, await r.text()
            created = await _json(r)
            # kubectl replace -f of the original manifest (no clusterIP, no nodePort, no resourceVersion)
            manifest = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                        "spec": {k: v for k, v in spec.items() if k != "clusterIP"}}
            r = await client.put(f"{base}/{name}", headers=H, json=manifest)
            assert r.status == 200, await r.text()
            got = (await _json(r))["spec"]
            assert got["clusterIP"] == created["spec"]["clusterIP"]
            assert got["clusterIPs"] == created["spec"]["clusterIPs"]
            assert [p.get("nodePort") for p in got["ports"]] == [p.get("nodePort") for p in created["spec"]["ports"]]
        # setting another address is still refused, as upstream refuses it (the field is immutable)
        r = await client.put(f"{base}/np", headers=H, json={"metadata": {"name": "np"}, "spec": {
            "type": "NodePort", "clusterIP": "10.96.200.200", "ports": [{"port": 80}]}})
        assert r.status == 422

    run_api(tmp_path, scenario)


# -- R89: immortal namespaces --------------------------------------------------------------------------
def test_deleting_an_immortal_namespace_is_forbidden_even_as_a_dry_run(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        for ns in ("default", "kube-system", "kube-public"):
            for q in ("", "?dryRun=All"):
                r = await client.delete(f"/api/v1/namespaces/{ns}{q}", headers=H)
                assert r.status == 403
                body = await _json(r)
                assert body["reason"] == "Forbidden"
                assert body["message"] == f'namespaces "{ns}" is forbidden: this namespace may not be deleted'
                assert body["details"] == {"name": ns, "kind": "namespaces"}
            assert "deletionTimestamp" not in rt.store.get("/namespaces", "", ns)["metadata"]  # type: ignore[index]

    run_api(tmp_path, scenario)


# -- R90-R92: ServiceAccounts, kube-root-ca.crt, the token volume ----------------------------------------------
def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def test_every_namespace_gets_its_default_service_account_and_the_root_ca(tmp_path: Path) -> None:
    tls.ensure(tmp_path)
    ca = (tmp_path / "ca.crt").read_text()

    async def scenario(client: TestClient, rt: Runtime) -> None:
        assert (await client.post("/api/v1/namespaces", headers=H, json={"metadata": {"name": "shop"}})).status == 201
        rt.controllers.drain()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "shop"):
            assert rt.store.get("/serviceaccounts", ns, "default") is not None, ns
            cm = rt.store.get("/configmaps", ns, "kube-root-ca.crt")
            assert cm is not None and cm["data"] == {"ca.crt": ca}, ns
            assert cm["metadata"]["annotations"]["kubernetes.io/description"].startswith("Contains a CA bundle")
        # deleted or edited: put back
        assert (await client.delete("/api/v1/namespaces/shop/serviceaccounts/default", headers=H)).status == 200
        r = await client.patch("/api/v1/namespaces/shop/configmaps/kube-root-ca.crt", data=json.dumps(
            {"data": {"ca.crt": "nope"}}), headers={**H, "Content-Type": "application/merge-patch+json"})
        assert r.status == 200
        rt.controllers.drain()
        assert rt.store.get("/serviceaccounts", "shop", "default") is not None
        assert rt.store.get("/configmaps", "shop", "kube-root-ca.crt")["data"] == {"ca.crt": ca}  # type: ignore[index]

    run_api(tmp_path, scenario)


def test_a_pod_naming_a_missing_service_account_is_forbidden(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        base = "/api/v1/namespaces/default/pods"
        r = await client.post(base, headers=H, json=_pod("p", serviceAccountName="nope"))
        assert r.status == 403
        body = await _json(r)
        assert body["reason"] == "Forbidden"
        assert body["message"] == ('pods "p" is forbidden: error looking up service account default/nope: '
                                   'serviceaccount "nope" not found')
        assert body["details"] == {"name": "p", "kind": "pods"}
        gen = _pod("")
        gen["metadata"] = {"generateName": "web-"}
        gen["spec"]["serviceAccountName"] = "nope"
        body = await _json(await client.post(base, headers=H, json=gen))
        assert body["message"].startswith('pods "web-" is forbidden: error looking up service account')

    run_api(tmp_path, scenario)


def test_pods_get_the_kube_api_access_volume_unless_automount_is_off(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        base = "/api/v1/namespaces/default/pods"
        spec = _pod("p")
        spec["spec"]["initContainers"] = [{"name": "i", "image": "busybox"}]
        r = await client.post(base, headers=H, json=spec)
        assert r.status == 201, await r.text()
        pod = (await _json(r))["spec"]
        assert pod["serviceAccountName"] == "default" and pod["serviceAccount"] == "default"
        [vol] = pod["volumes"]
        name = vol["name"]
        assert name.startswith("kube-api-access-") and len(name) == len("kube-api-access-") + 5
        assert set(name[-5:]) <= set("bcdfghjklmnpqrstvwxz2456789")
        assert vol["projected"]["defaultMode"] == 420
        assert [next(iter(s)) for s in vol["projected"]["sources"]] == ["serviceAccountToken", "configMap",
                                                                         "downwardAPI"]
        assert vol["projected"]["sources"][0]["serviceAccountToken"] == {"expirationSeconds": 3607, "path": "token"}
        for c in pod["containers"] + pod["initContainers"]:
            assert c["volumeMounts"] == [{"name": name, "readOnly": True,
                                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
        r = await client.post(base, headers=H, json=_pod("off", automountServiceAccountToken=False))
        assert "volumes" not in (await _json(r))["spec"]
        # the ServiceAccount's own setting, overridden by the Pod's
        r = await client.post("/api/v1/namespaces/default/serviceaccounts", headers=H,
                              json={"metadata": {"name": "quiet"}, "automountServiceAccountToken": False})
        assert r.status == 201
        r = await client.post(base, headers=H, json=_pod("q", serviceAccountName="quiet"))
        assert "volumes" not in (await _json(r))["spec"]
        r = await client.post(base, headers=H, json=_pod("q2", serviceAccountName="quiet",
                                                         automountServiceAccountToken=True))
        assert len((await _json(r))["spec"]["volumes"]) == 1
        # a later update (a label) keeps the volume as it is
        r = await client.patch(base + "/p", data=json.dumps({"metadata": {"labels": {"a": "b"}}}),
                               headers={**H, "Content-Type": "application/merge-patch+json"})
        assert r.status == 200 and (await _json(r))["spec"]["volumes"] == [vol]

    run_api(tmp_path, scenario)


def test_a_pod_created_right_after_its_namespace_is_not_refused(tmp_path: Path) -> None:
    """No window in which the namespace exists without its ServiceAccount refuses a Pod: an HTTP create
    waits for the controller (as the admission plugin retries), and a controller's Pods come after it."""
    async def scenario(client: TestClient, rt: Runtime) -> None:
        for i in range(5):
            ns = f"fast{i}"
            r = await client.post("/api/v1/namespaces", headers=H, json={"metadata": {"name": ns}})
            assert r.status == 201
            r = await client.post(f"/api/v1/namespaces/{ns}/pods", headers=H, json=_pod("p"))
            assert r.status == 201, await r.text()
        # a namespace and a Deployment in it, nothing drained in between
        rt.api.create(rt_of("Namespace"), "", {"metadata": {"name": "burst"}})
        rt.api.create(rt_of("Deployment"), "burst", {
            "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
        rt.controllers.drain()
        assert len(list(rt.store.iter("/pods", "burst"))) == 2
        reasons = {e.get("reason") for e in rt.store.iter("/events", "burst")}
        assert "FailedCreate" not in reasons

    run_api(tmp_path, scenario)


# -- R93: ReplicationController --------------------------------------------------------------------------
def _rc(name: str, replicas: int = 2) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": name}},
                                                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def test_a_replication_controller_is_served_and_kept_by_its_controller(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        base = "/api/v1/namespaces/default/replicationcontrollers"
        r = await client.get("/api/v1/namespaces/kube-system/replicationcontrollers", headers=H)
        assert r.status == 200 and (await _json(r))["items"] == []
        r = await client.post(base, headers=H, json=_rc("web"))
        assert r.status == 201, await r.text()
        rc = await _json(r)
        # SetDefaults_ReplicationController: the selector and labels come from the template
        assert rc["spec"]["selector"] == {"app": "web"} and rc["metadata"]["labels"] == {"app": "web"}
        assert rc["status"] == {"replicas": 0} and rc["metadata"]["generation"] == 1
        rt.controllers.drain()
        pods = list(rt.store.iter("/pods", "default"))
        assert len(pods) == 2
        for p in pods:
            assert p["metadata"]["name"].startswith("web-")
            [ref] = p["metadata"]["ownerReferences"]
            assert (ref["apiVersion"], ref["kind"], ref["name"], ref["controller"]) == (
                "v1", "ReplicationController", "web", True)
        rc = rt.store.get("/replicationcontrollers", "default", "web")
        assert rc is not None and rc["status"]["replicas"] == 2 and "terminatingReplicas" not in rc["status"]
        events = [e for e in rt.store.iter("/events", "default")
                  if e["involvedObject"]["kind"] == "ReplicationController"]
        assert {e["reason"] for e in events} == {"SuccessfulCreate"}
        assert {e["source"]["component"] for e in events} == {"replication-controller"}
        # the scale subresource (kubectl scale rc)
        r = await client.get(base + "/web/scale", headers=H)
        scale = await _json(r)
        assert scale["spec"]["replicas"] == 2 and scale["status"]["selector"] == "app=web"
        r = await client.patch(base + "/web/scale", data=json.dumps({"spec": {"replicas": 1}}),
                               headers={**H, "Content-Type": "application/merge-patch+json"})
        assert r.status == 200, await r.text()
        rt.controllers.drain()
        live = [p for p in rt.store.iter("/pods", "default") if not p["metadata"].get("deletionTimestamp")]
        assert len(live) == 1
        # kubectl get rc: the server's Table
        r = await client.get(base, headers={**H, "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
        table = await _json(r)
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Desired", "Current", "Ready", "Age",
                                                                   "Containers", "Images", "Selector"]
        assert table["rows"][0]["cells"][:2] == ["web", 1] and table["rows"][0]["cells"][5:] == ["c", "nginx",
                                                                                                  "app=web"]
        # a template whose labels the selector does not match
        bad = _rc("bad")
        bad["spec"]["selector"] = {"app": "other"}
        r = await client.post(base, headers=H, json=bad)
        assert r.status == 422
        assert "spec.template.metadata.labels: Invalid value: " in (await _json(r))["message"]
        assert "`selector` does not match template `labels`" in (await _json(r))["message"]
        # deleted: its Pods go with it (garbage collection)
        assert (await client.delete(base + "/web", headers=H)).status == 200
        rt.controllers.drain()
        assert all(p["metadata"].get("deletionTimestamp") for p in rt.store.iter("/pods", "default"))

    run_api(tmp_path, scenario)


def test_discovery_lists_replication_controllers_like_kube_apiserver(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        res = {r["name"]: r for r in (await _json(await client.get("/api/v1", headers=H)))["resources"]}
        rc = res["replicationcontrollers"]
        assert rc["kind"] == "ReplicationController" and rc["shortNames"] == ["rc"] and rc["categories"] == ["all"]
        assert res["replicationcontrollers/scale"]["kind"] == "Scale"
        assert "replicationcontrollers/status" in res

    run_api(tmp_path, scenario)


# -- R94: EndpointSliceMirroring ---------------------------------------------------------------------------
def test_hand_made_endpoints_of_a_selectorless_service_are_mirrored(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        def mirrored(name: str) -> list[dict[str, Any]]:
            return [s for s in rt.store.iter("discovery.k8s.io/endpointslices", "default")
                    if s["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by")
                    == "endpointslicemirroring-controller.k8s.io"
                    and s["metadata"]["labels"].get("kubernetes.io/service-name") == name]

        svc = {"metadata": {"name": "ext"}, "spec": {"ports": [{"name": "http", "port": 80}]}}
        assert (await client.post("/api/v1/namespaces/default/services", headers=H, json=svc)).status == 201
        ep = {"metadata": {"name": "ext", "labels": {"team": "a"}, "annotations": {"note": "x"}},
              "subsets": [{"addresses": [{"ip": "192.0.2.1"}, {"ip": "192.0.2.2"}],
                           "notReadyAddresses": [{"ip": "192.0.2.3"}],
                           "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}
        r = await client.post("/api/v1/namespaces/default/endpoints", headers=H, json=ep)
        assert r.status == 201
        uid = (await _json(r))["metadata"]["uid"]
        rt.controllers.drain()
        [s] = mirrored("ext")
        assert s["metadata"]["name"].startswith("ext-") and len(s["metadata"]["name"]) == len("ext-") + 5
        assert s["metadata"]["labels"] == {"team": "a", "kubernetes.io/service-name": "ext",
                                           "endpointslice.kubernetes.io/managed-by":
                                               "endpointslicemirroring-controller.k8s.io"}
        assert s["metadata"]["annotations"] == {"note": "x"}
        assert s["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Endpoints", "name": "ext",
                                                     "uid": uid, "controller": True, "blockOwnerDeletion": True}]
        assert s["addressType"] == "IPv4"
        assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        assert [(e["addresses"], e["conditions"]) for e in s["endpoints"]] == [
            (["192.0.2.1"], {"ready": True}), (["192.0.2.2"], {"ready": True}), (["192.0.2.3"], {"ready": False})]
        # the Endpoints change: the slice follows
        r = await client.patch("/api/v1/namespaces/default/endpoints/ext", data=json.dumps(
            {"subsets": [{"addresses": [{"ip": "192.0.2.9"}], "ports": [{"name": "http", "port": 8080}]}]}),
            headers={**H, "Content-Type": "application/merge-patch+json"})
        assert r.status == 200
        rt.controllers.drain()
        [s] = mirrored("ext")
        assert [e["addresses"] for e in s["endpoints"]] == [["192.0.2.9"]]
        # the kubernetes Endpoints say skip-mirror: never mirrored
        assert mirrored("kubernetes") == []
        # the Service gains a selector: the mirrored slice goes
        r = await client.patch("/api/v1/namespaces/default/services/ext", data=json.dumps(
            {"spec": {"selector": {"app": "ext"}}}), headers={**H, "Content-Type": "application/merge-patch+json"})
        assert r.status == 200
        rt.controllers.drain()
        assert mirrored("ext") == []

    run_api(tmp_path, scenario)


# -- R95: a slice lists its ports in the Service's order ----------------------------------------------------
def test_a_multi_port_slice_lists_ports_in_the_services_order() -> None:
    ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
             {"name": "admin", "port": 81, "protocol": "TCP", "targetPort": 8081}]
    [s] = slices.fresh(slices.svc(ports=ports), [slices.pod("a")])
    assert s["endpoints"] and [(p["name"], p["port"]) for p in s["ports"]] == [("http", 8080), ("admin", 8081)]


def test_a_replication_controller_in_protobuf_is_created(tmp_path: Path) -> None:
    """client-go (e2e's framework) creates ReplicationControllers in protobuf."""
    labels = pb.entry(11, "app", pb.s(2, "pb"))  # ObjectMeta.labels
    container = pb.s(1, "c") + pb.s(2, "nginx")
    template = pb.m(1, labels) + pb.m(2, pb.m(2, container))
    spec = pb.vi(1, 1) + pb.entry(2, "app", pb.s(2, "pb")) + pb.m(3, template)
    raw = pb.m(1, pb.s(1, "pb")) + pb.m(2, spec)
    body = pb.envelope("v1", "ReplicationController", raw)

    async def scenario(client: TestClient, rt: Runtime) -> None:
        r = await client.post("/api/v1/namespaces/default/replicationcontrollers", data=body,
                              headers={**H, "Content-Type": PB})
        assert r.status == 201, await r.text()
        rc = await _json(r)
        assert rc["spec"]["selector"] == {"app": "pb"} and rc["spec"]["replicas"] == 1
        rt.controllers.drain()
        assert [p["metadata"]["labels"] for p in rt.store.iter("/pods", "default")] == [{"app": "pb"}]

    run_api(tmp_path, scenario)
