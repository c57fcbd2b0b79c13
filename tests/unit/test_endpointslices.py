"""Tests for kai_labs.k8s.endpointslices: one test (or group) per rule of
docs/rules.md (R1-R3, R18-R28), the legacy Endpoints object,
and an idempotence property over random pod sets."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kai_labs.k8s.endpointslices import (
    ANNOTATION_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    MANAGED_BY,
    SliceChanges,
    desired_endpoints,
    endpoints_need_write,
    reconcile_slices,
    selects,
)

NOW = "2024-05-01T12:00:00Z"
LATER = "2024-05-01T12:05:00Z"
NS = "default"

Obj = dict[str, Any]


# ----------------------------------------------------------------------------- builders


def svc(name: str = "web", *, selector: dict | None = None, ports: list[Obj] | None = None,
        cluster_ip: str = "10.96.0.10", labels: dict | None = None, pnra: bool = False,
        type_: str = "ClusterIP", uid: str = "svc-uid-1", no_selector: bool = False) -> Obj:
    spec: Obj = {"type": type_, "clusterIP": cluster_ip, "ipFamilies": ["IPv4"],
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
                 if ports is None else ports}
    if not no_selector:
        spec["selector"] = {"app": "web"} if selector is None else selector
    if pnra:
        spec["publishNotReadyAddresses"] = True
    meta: Obj = {"name": name, "namespace": NS, "uid": uid}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def pod(name: str, ip: str | None = "10.244.0.1", *, ready: bool = True, node: str | None = "node-a",
        labels: dict | None = None, phase: str = "Running", deleting: bool = False,
        container_ports: list[Obj] | None = None, init_containers: list[Obj] | None = None,
        hostname: str | None = None, subdomain: str | None = None, ips_field: str = "both",
        namespace: str = NS, conditions: list[Obj] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                 "labels": {"app": "web"} if labels is None else labels}
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    spec: Obj = {"containers": [{"name": "app", "image": "nginx",
                                 "ports": container_ports if container_ports is not None else []}]}
    if node:
        spec["nodeName"] = node
    if init_containers:
        spec["initContainers"] = init_containers
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    status: Obj = {"phase": phase}
    if conditions is not None:
        status["conditions"] = conditions
    else:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    if ip:
        if ips_field in ("both", "podIP"):
            status["podIP"] = ip
        if ips_field in ("both", "podIPs"):
            status["podIPs"] = [{"ip": ip}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def node(name: str, zone: str | None = None) -> Obj:
    labels = {"kubernetes.io/hostname": name}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


NODES = {"node-a": node("node-a", "zone-a"), "node-b": node("node-b", "zone-b")}


class Store:
    """Applies SliceChanges the way the API server would (names, resourceVersions)."""

    def __init__(self) -> None:
        self.slices: dict[str, Obj] = {}
        self.counter = itertools.count(1)

    def apply(self, changes: SliceChanges) -> None:
        for name in changes.delete:
            assert name in self.slices, f"delete of unknown slice {name}"
            del self.slices[name]
        for obj in changes.update:
            name = obj["metadata"]["name"]
            assert name in self.slices, f"update of unknown slice {name}"
            new = copy.deepcopy(obj)
            new["metadata"]["resourceVersion"] = str(next(self.counter))
            self.slices[name] = new
        for obj in changes.create:
            assert "name" not in obj["metadata"]
            new = copy.deepcopy(obj)
            new["metadata"]["name"] = obj["metadata"]["generateName"] + f"x{next(self.counter)}"
            new["metadata"]["resourceVersion"] = str(next(self.counter))
            new["metadata"]["uid"] = f"slice-uid-{new['metadata']['name']}"
            self.slices[new["metadata"]["name"]] = new

    def list(self) -> list[Obj]:
        return [copy.deepcopy(s) for s in self.slices.values()]


def sync(service: Obj, pods: list[Obj], store: Store, nodes: dict[str, Obj] | None = None,
         max_per_slice: int = 100, now: str = NOW) -> SliceChanges:
    changes = reconcile_slices(service, pods, NODES if nodes is None else nodes, store.list(), now, max_per_slice)
    store.apply(changes)
    return changes


def fresh(service: Obj, pods: list[Obj], nodes: dict[str, Obj] | None = None, max_per_slice: int = 100) -> list[Obj]:
    """The slices of a first sync (all creates)."""
    changes = reconcile_slices(service, pods, NODES if nodes is None else nodes, [], NOW, max_per_slice)
    assert not changes.update and not changes.delete
    return changes.create


def all_endpoints(slices: list[Obj]) -> list[Obj]:
    return [ep for s in slices for ep in (s["endpoints"] or [])]


def by_pod(slices: list[Obj]) -> dict[str, Obj]:
    return {ep["targetRef"]["name"]: ep for ep in all_endpoints(slices)}


# ----------------------------------------------------------------------------- R1-R3


@pytest.mark.parametrize("selector, labels, expected", [
    ({"app": "web"}, {"app": "web", "tier": "fe"}, True),           # extra pod labels don't matter
    ({"app": "web", "tier": "fe"}, {"app": "web"}, False),          # AND over every key
    ({"app": "Web"}, {"app": "web"}, False),                        # values are case-sensitive
    ({"App": "web"}, {"app": "web"}, False),                        # keys are case-sensitive
    ({"app": ""}, {"app": ""}, True),                               # empty value is a value
    ({"app": ""}, {}, False),                                       # ...and needs the key
    ({"app": "web"}, None, False),
])
def test_R1_selector_is_exact_equality_and(selector: dict, labels: dict | None, expected: bool) -> None:
    assert selects(selector, labels) is expected


def test_R1_pods_in_other_namespaces_are_not_selected() -> None:
    slices = fresh(svc(), [pod("a"), pod("b", "10.244.0.2", namespace="other")])
    assert sorted(by_pod(slices)) == ["a"]


@pytest.mark.parametrize("selector", [None, {}])
def test_R2_nil_or_empty_selector_selects_nothing(selector: dict | None) -> None:
    assert selects(selector, {"app": "web"}) is False


@pytest.mark.parametrize("service", [
    svc(no_selector=True),
    svc(selector={}),
], ids=["nil-selector", "empty-selector"])
def test_R2_selectorless_service_gets_no_controller_slices_or_endpoints(service: Obj) -> None:
    changes = reconcile_slices(service, [pod("a")], NODES, [], NOW)
    assert changes == SliceChanges()
    assert desired_endpoints(service, [pod("a")], NODES, NOW) is None


def test_R2_selectorless_service_leaves_existing_slices_alone() -> None:
    store = Store()
    sync(svc(), [pod("a")], store)
    assert reconcile_slices(svc(no_selector=True), [pod("a")], NODES, store.list(), NOW).empty()


def test_R3_external_name_gets_nothing_even_with_selector() -> None:
    service = svc(type_="ExternalName", cluster_ip="")
    service["spec"]["externalName"] = "example.com"
    assert reconcile_slices(service, [pod("a")], NODES, [], NOW) == SliceChanges()
    assert desired_endpoints(service, [pod("a")], NODES, NOW) is None


# ----------------------------------------------------------------------------- R18


@pytest.mark.parametrize("the_pod, included", [
    (pod("p", phase="Succeeded"), False),
    (pod("p", phase="Failed"), False),
    (pod("p", ip=None), False),
    (pod("p", phase="Pending", ready=False), True),
    (pod("p", ready=False), True),
    (pod("p", deleting=True), True),
], ids=["succeeded", "failed", "no-ip", "pending-with-ip", "unready", "terminating"])
def test_R18_which_selected_pods_become_endpoints(the_pod: Obj, included: bool) -> None:
    slices = fresh(svc(), [the_pod])
    assert ("p" in by_pod(slices)) is included


# ----------------------------------------------------------------------------- R19


def test_R19_pod_on_missing_node_is_skipped() -> None:
    slices = fresh(svc(), [pod("a"), pod("b", "10.244.0.2", node="gone")])
    assert sorted(by_pod(slices)) == ["a"]


def test_R19_pod_on_missing_node_is_kept_with_pnra_and_no_zone() -> None:
    slices = fresh(svc(pnra=True), [pod("b", "10.244.0.2", node="gone")])
    ep = by_pod(slices)["b"]
    assert ep["nodeName"] == "gone"
    assert "zone" not in ep


def test_R19_zone_comes_from_node_label() -> None:
    nodes = {"node-a": node("node-a", "eu-1a"), "node-c": node("node-c")}
    slices = fresh(svc(), [pod("a"), pod("c", "10.244.0.3", node="node-c")], nodes=nodes)
    eps = by_pod(slices)
    assert eps["a"]["zone"] == "eu-1a"
    assert "zone" not in eps["c"]


def test_R19_source_wins_unscheduled_pod_with_ip_is_skipped_too() -> None:
    # source: nodeLister.Get("") is NotFound, so an unscheduled pod with an IP is skipped
    assert by_pod(fresh(svc(), [pod("a", node=None)])) == {}


def test_R19_skipped_only_pod_leaves_placeholder() -> None:
    slices = fresh(svc(), [pod("a", node="gone")])
    assert len(slices) == 1 and slices[0]["endpoints"] is None and slices[0]["ports"] is None


# ----------------------------------------------------------------------------- R20


def test_R20_addresses_come_from_pod_ips_and_podip_fallback() -> None:
    # simulator convention of docs/rules.md R20; the source (getEndpointAddresses) reads only podIPs
    slices = fresh(svc(), [pod("a", "10.244.0.1", ips_field="podIPs"),
                           pod("b", "10.244.0.2", ips_field="podIP")])
    eps = by_pod(slices)
    assert eps["a"]["addresses"] == ["10.244.0.1"]
    assert eps["b"]["addresses"] == ["10.244.0.2"]


def test_R20_only_the_slice_family_is_kept_and_restringified() -> None:
    dual = pod("a", "10.244.0.1")
    dual["status"]["podIPs"] = [{"ip": "010.244.000.001"}, {"ip": "fd00:0:0::1"}]
    slices = fresh(svc(), [dual])
    assert by_pod(slices)["a"]["addresses"] == ["10.244.0.1"]
    assert all(s["addressType"] == "IPv4" for s in slices)


def test_R20_endpoint_without_address_of_family_is_dropped() -> None:
    v6 = pod("a", "fd00::1")
    assert by_pod(fresh(svc(), [v6])) == {}


# ----------------------------------------------------------------------------- R21


@pytest.mark.parametrize("ready, deleting, pnra, expected", [
    (True, False, False, {"ready": True, "serving": True, "terminating": False}),
    (False, False, False, {"ready": False, "serving": False, "terminating": False}),
    (True, True, False, {"ready": False, "serving": True, "terminating": True}),
    (False, True, False, {"ready": False, "serving": False, "terminating": True}),
    (False, False, True, {"ready": True, "serving": False, "terminating": False}),
    (True, True, True, {"ready": True, "serving": True, "terminating": True}),
    (False, True, True, {"ready": True, "serving": False, "terminating": True}),
])
def test_R21_endpoint_conditions(ready: bool, deleting: bool, pnra: bool, expected: dict) -> None:
    slices = fresh(svc(pnra=pnra), [pod("a", ready=ready, deleting=deleting)])
    assert by_pod(slices)["a"]["conditions"] == expected


def test_R21_missing_ready_condition_counts_as_not_serving() -> None:
    slices = fresh(svc(), [pod("a", conditions=[{"type": "PodScheduled", "status": "True"}])])
    assert by_pod(slices)["a"]["conditions"]["serving"] is False


# ----------------------------------------------------------------------------- R22


def test_R22_target_ref_node_name_and_no_hostname_by_default() -> None:
    ep = by_pod(fresh(svc(), [pod("a")]))["a"]
    assert ep["targetRef"] == {"kind": "Pod", "namespace": NS, "name": "a", "uid": "uid-a"}
    assert ep["nodeName"] == "node-a"
    assert "hostname" not in ep  # the pod name is never used


@pytest.mark.parametrize("hostname, subdomain, set_", [
    ("h0", "web", True),
    ("h0", "other", False),
    ("h0", None, False),
    (None, "web", False),
])
def test_R22_hostname_needs_hostname_and_subdomain_equal_to_service(hostname: str | None,
                                                                    subdomain: str | None, set_: bool) -> None:
    ep = by_pod(fresh(svc(), [pod("a", hostname=hostname, subdomain=subdomain)]))["a"]
    assert (ep.get("hostname") == "h0") is set_
    assert ("hostname" in ep) is set_


# ----------------------------------------------------------------------------- R23


NAMED = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"}]


def test_R23_numeric_target_port_is_not_checked_against_container_ports() -> None:
    slices = fresh(svc(), [pod("a", container_ports=[{"name": "web", "containerPort": 9999}])])
    assert slices[0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


def test_R23_named_target_port_resolves_per_pod() -> None:
    p = pod("a", container_ports=[{"name": "web", "containerPort": 8081, "protocol": "TCP"}])
    slices = fresh(svc(ports=NAMED), [p])
    assert slices[0]["ports"] == [{"name": "http", "port": 8081, "protocol": "TCP"}]


def test_R23_named_port_needs_matching_protocol() -> None:
    udp = [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}]
    p = pod("a", container_ports=[{"name": "dns", "containerPort": 5353}])  # protocol defaults to TCP
    slices = fresh(svc(ports=udp), [p])
    assert by_pod(slices)["a"]
    assert slices[0]["ports"] is None


def test_R23_named_port_first_match_wins_across_containers() -> None:
    p = pod("a", container_ports=[{"name": "web", "containerPort": 8081}])
    p["spec"]["containers"].append({"name": "b", "ports": [{"name": "web", "containerPort": 9000}]})
    assert fresh(svc(ports=NAMED), [p])[0]["ports"][0]["port"] == 8081


@pytest.mark.parametrize("restart_policy, found", [("Always", True), (None, False)])
def test_R23_sidecar_init_containers_are_searched_plain_ones_are_not(restart_policy: str | None,
                                                                       found: bool) -> None:
    init: Obj = {"name": "side", "ports": [{"name": "web", "containerPort": 7000}]}
    if restart_policy:
        init["restartPolicy"] = restart_policy
    slices = fresh(svc(ports=NAMED), [pod("a", init_containers=[init])])
    assert (slices[0]["ports"] == [{"name": "http", "port": 7000, "protocol": "TCP"}]) is found


def test_R23_missing_named_port_keeps_pod_with_fewer_ports() -> None:
    ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"},
             {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}]
    slices = fresh(svc(ports=ports), [pod("a")])  # no container port called "web"
    assert by_pod(slices)["a"]["addresses"] == ["10.244.0.1"]
    assert slices[0]["ports"] == [{"name": "metrics", "port": 9090, "protocol": "TCP"}]


def test_R23_unnamed_port_is_empty_string_and_app_protocol_copied() -> None:
    ports = [{"port": 80, "targetPort": 8080, "appProtocol": "http"}]
    slices = fresh(svc(ports=ports), [pod("a")])
    assert slices[0]["ports"] == [{"name": "", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]


def test_R23_omitted_target_port_defaults_to_port() -> None:
    slices = fresh(svc(ports=[{"name": "http", "port": 80}]), [pod("a")])
    assert slices[0]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]


def test_R23_headless_without_ports_gives_empty_port_list() -> None:
    slices = fresh(svc(cluster_ip="None", ports=[]), [pod("a")])
    assert slices[0]["ports"] is None and by_pod(slices)["a"]


# ----------------------------------------------------------------------------- R24


def test_R24_one_slice_per_distinct_resolved_port_list() -> None:
    pods = [pod("a", "10.244.0.1", container_ports=[{"name": "web", "containerPort": 8081}]),
            pod("b", "10.244.0.2", container_ports=[{"name": "web", "containerPort": 8082}]),
            pod("c", "10.244.0.3", container_ports=[{"name": "web", "containerPort": 8081}]),
            pod("d", "10.244.0.4")]
    slices = fresh(svc(ports=NAMED), pods)
    layout = sorted((tuple(p["port"] for p in s["ports"] or []),
                     tuple(e["targetRef"]["name"] for e in s["endpoints"])) for s in slices)
    assert layout == [((), ("d",)), ((8081,), ("a", "c")), ((8082,), ("b",))]


def test_R24_port_order_in_the_service_does_not_split_groups() -> None:
    ports = [{"name": "a", "port": 1, "targetPort": 1}, {"name": "b", "port": 2, "targetPort": 2}]
    store = Store()
    sync(svc(ports=ports), [pod("a")], store)
    assert reconcile_slices(svc(ports=list(reversed(ports))), [pod("a")], NODES, store.list(), LATER).empty()


# ----------------------------------------------------------------------------- R25


def pods_n(n: int, start: int = 0) -> list[Obj]:
    return [pod(f"p{i:03d}", f"10.244.{i // 250}.{i % 250 + 1}") for i in range(start, start + n)]


def test_R25_fresh_sync_fills_slices_to_the_maximum() -> None:
    slices = fresh(svc(), pods_n(101))
    assert sorted(len(s["endpoints"]) for s in slices) == [1, 100]


def test_R25_small_max_per_slice() -> None:
    slices = fresh(svc(), pods_n(7), max_per_slice=3)
    assert sorted(len(s["endpoints"]) for s in slices) == [1, 3, 3]


def test_R25_unchanged_slices_are_not_rewritten() -> None:
    store = Store()
    sync(svc(), pods_n(6), store, max_per_slice=3)
    before = {n: s["metadata"]["resourceVersion"] for n, s in store.slices.items()}
    changes = sync(svc(), pods_n(6)[:5], store, max_per_slice=3)  # drop p005
    assert len(changes.update) == 1 and not changes.create and not changes.delete
    after = {n: s["metadata"]["resourceVersion"] for n, s in store.slices.items()}
    assert sum(before[n] != after[n] for n in before) == 1


def test_R25_new_endpoints_fill_an_untouched_slice_that_has_room() -> None:
    store = Store()
    sync(svc(), pods_n(4), store, max_per_slice=3)              # 3 + 1
    changes = sync(svc(), pods_n(5), store, max_per_slice=3)    # one more endpoint
    assert not changes.create and len(changes.update) == 1
    assert len(changes.update[0]["endpoints"]) == 2


def test_R25_prefers_creating_one_slice_over_updating_many() -> None:
    store = Store()
    sync(svc(), pods_n(4), store, max_per_slice=2)               # 2 + 2, both full
    changes = sync(svc(), pods_n(6), store, max_per_slice=2)
    assert len(changes.create) == 1 and not changes.update and not changes.delete


def test_R25_no_rebalancing_after_removals() -> None:
    store = Store()
    sync(svc(), pods_n(6), store, max_per_slice=3)
    keep = [p for p in pods_n(6) if p["metadata"]["name"] in ("p000", "p003")]
    sync(svc(), keep, store, max_per_slice=3)
    assert sorted(len(s["endpoints"]) for s in store.slices.values()) == [1, 1]


def test_R25_changed_endpoint_updated_in_place() -> None:
    store = Store()
    sync(svc(), [pod("a"), pod("b", "10.244.0.2")], store)
    name = next(iter(store.slices))
    changes = sync(svc(), [pod("a", ready=False), pod("b", "10.244.0.2")], store, now=LATER)
    assert [u["metadata"]["name"] for u in changes.update] == [name]
    assert by_pod(changes.update)["a"]["conditions"]["ready"] is False
    assert changes.update[0]["metadata"]["annotations"][ANNOTATION_TRIGGER_TIME] == LATER


# ----------------------------------------------------------------------------- R26


@pytest.mark.parametrize("pods", [[], [pod("x", labels={"app": "other"})], [pod("a", ip=None)],
                                  [pod("a", phase="Failed")]],
                         ids=["no-pods", "nothing-matches", "no-ip", "all-terminal"])
def test_R26_exactly_one_placeholder_with_null_endpoints_and_ports(pods: list[Obj]) -> None:
    slices = fresh(svc(), pods)
    assert len(slices) == 1
    assert slices[0]["endpoints"] is None and slices[0]["ports"] is None
    assert slices[0]["addressType"] == "IPv4"


def test_R26_placeholder_is_kept_not_recreated() -> None:
    store = Store()
    sync(svc(), [], store)
    assert sync(svc(), [], store, now=LATER).empty()


def test_R26_placeholder_is_reused_when_pods_arrive_and_comes_back_when_they_go() -> None:
    store = Store()
    sync(svc(), [], store)
    (name,) = store.slices
    changes = sync(svc(), [pod("a")], store)
    # the placeholder's port key differs, so it is deleted, and finalize recycles its name
    assert not changes.create and not changes.delete
    assert [u["metadata"]["name"] for u in changes.update] == [name]
    changes = sync(svc(), [], store)
    assert [u["metadata"]["name"] for u in changes.update] == [name]
    assert store.slices[name]["endpoints"] is None and store.slices[name]["ports"] is None


def test_R26_placeholder_filled_when_pod_lacks_every_named_port() -> None:
    store = Store()
    sync(svc(ports=NAMED), [], store)
    (name,) = store.slices
    changes = sync(svc(ports=NAMED), [pod("a")], store)
    assert [u["metadata"]["name"] for u in changes.update] == [name]
    assert store.slices[name]["ports"] is None and by_pod(list(store.slices.values()))["a"]


# ----------------------------------------------------------------------------- R27


def test_R27_slice_metadata() -> None:
    service = svc(labels={"team": "blue", LABEL_SERVICE_NAME: "spoof", LABEL_HEADLESS: "x"})
    (s,) = fresh(service, [pod("a")])
    meta = s["metadata"]
    assert s["apiVersion"] == "discovery.k8s.io/v1" and s["kind"] == "EndpointSlice"
    assert meta["generateName"] == "web-" and "name" not in meta
    assert meta["namespace"] == NS
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "svc-uid-1",
                                        "controller": True, "blockOwnerDeletion": True}]
    assert meta["labels"] == {"team": "blue", LABEL_SERVICE_NAME: "web", LABEL_MANAGED_BY: MANAGED_BY}
    assert meta["annotations"] == {ANNOTATION_TRIGGER_TIME: NOW}
    assert s["addressType"] == "IPv4"


def test_R27_headless_label() -> None:
    (s,) = fresh(svc(cluster_ip="None"), [pod("a")])
    assert s["metadata"]["labels"][LABEL_HEADLESS] == ""


def test_R27_service_label_change_updates_slice_labels_only() -> None:
    store = Store()
    sync(svc(labels={"team": "blue"}), [pod("a")], store)
    changes = sync(svc(labels={"team": "red"}), [pod("a")], store)
    assert len(changes.update) == 1 and changes.update[0]["metadata"]["labels"]["team"] == "red"


def test_R27_reserved_label_change_on_service_does_not_update() -> None:
    store = Store()
    sync(svc(), [pod("a")], store)
    assert sync(svc(labels={LABEL_HEADLESS: "yes"}), [pod("a")], store).empty()


def test_R27_slice_owned_by_older_service_of_same_name_is_replaced() -> None:
    store = Store()
    sync(svc(uid="old"), [pod("a")], store)
    (old_name,) = store.slices
    changes = sync(svc(uid="new"), [pod("a")], store)
    assert changes.delete == [old_name] and len(changes.create) == 1  # never recycled (ownedBy)
    assert changes.create[0]["metadata"]["ownerReferences"][0]["uid"] == "new"


def test_R27_slices_not_managed_by_the_controller_are_ignored() -> None:
    mirror = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "web-mirror", "namespace": NS,
                           "labels": {LABEL_SERVICE_NAME: "web", LABEL_MANAGED_BY: "someone-else"}},
              "addressType": "IPv4", "endpoints": None, "ports": None}
    store = Store()
    sync(svc(), [pod("a")], store)
    changes = reconcile_slices(svc(), [pod("a")], NODES, store.list() + [mirror], NOW)
    assert changes.empty()


def test_R27_empty_now_clears_trigger_time_annotation() -> None:
    (s,) = reconcile_slices(svc(), [pod("a")], NODES, [], "").create
    assert ANNOTATION_TRIGGER_TIME not in s["metadata"]["annotations"]


def test_R27_no_creates_while_service_is_being_deleted() -> None:
    service = svc()
    service["metadata"]["deletionTimestamp"] = NOW
    assert reconcile_slices(service, [pod("a")], NODES, [], NOW).create == []


# ----------------------------------------------------------------------------- R28


def test_R28_output_is_deterministic_whatever_the_input_order() -> None:
    pods = pods_n(9)
    a = reconcile_slices(svc(), pods, NODES, [], NOW, 4)
    b = reconcile_slices(svc(), list(reversed(pods)), NODES, [], NOW, 4)
    assert a == b
    names = [e["targetRef"]["name"] for s in a.create for e in s["endpoints"]]
    assert names == sorted(names)


def test_R28_endpoint_order_in_existing_slice_does_not_cause_updates() -> None:
    store = Store()
    sync(svc(), pods_n(3), store)
    (name,) = store.slices
    store.slices[name]["endpoints"].reverse()
    assert sync(svc(), pods_n(3), store).empty()


# ----------------------------------------------------------------------------- legacy Endpoints


def test_endpoints_ready_and_not_ready_addresses() -> None:
    ep = desired_endpoints(svc(), [pod("b", "10.244.0.2", ready=False), pod("a", "10.244.0.1")], NODES, NOW)
    assert ep is not None
    assert ep["metadata"] == {"name": "web", "namespace": NS, "annotations": {ANNOTATION_TRIGGER_TIME: NOW}}
    assert ep["subsets"] == [{
        "addresses": [{"ip": "10.244.0.1", "nodeName": "node-a",
                       "targetRef": {"kind": "Pod", "namespace": NS, "name": "a", "uid": "uid-a"}}],
        "notReadyAddresses": [{"ip": "10.244.0.2", "nodeName": "node-a",
                               "targetRef": {"kind": "Pod", "namespace": NS, "name": "b", "uid": "uid-b"}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }]


def test_endpoints_terminating_pods_excluded_unless_pnra() -> None:
    pods = [pod("a", deleting=True)]
    assert "subsets" not in desired_endpoints(svc(), pods, NODES, NOW)
    ep = desired_endpoints(svc(pnra=True), pods + [pod("b", "10.244.0.2", ready=False)], NODES, NOW)
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["10.244.0.1", "10.244.0.2"]
    assert "notReadyAddresses" not in ep["subsets"][0]


def test_endpoints_no_pods_means_no_subsets() -> None:
    ep = desired_endpoints(svc(), [], NODES, NOW)
    assert ep is not None and "subsets" not in ep


def test_endpoints_repack_groups_addresses_by_port_set() -> None:
    ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"},
             {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}]
    pods = [pod("a", "10.244.0.1", container_ports=[{"name": "web", "containerPort": 8080}]),
            pod("b", "10.244.0.2")]
    ep = desired_endpoints(svc(ports=ports), pods, NODES, NOW)
    layout = [([a["ip"] for a in s.get("addresses", [])], [p["port"] for p in s["ports"]]) for s in ep["subsets"]]
    assert sorted(layout) == sorted([(["10.244.0.1"], [8080]), (["10.244.0.1", "10.244.0.2"], [9090])])


def test_endpoints_pod_with_no_resolvable_port_is_left_out() -> None:
    # unlike slices (R23), the legacy controller only adds an address per resolved port
    ep = desired_endpoints(svc(ports=NAMED), [pod("a")], NODES, NOW)
    assert "subsets" not in ep


def test_endpoints_headless_without_ports_and_labels() -> None:
    ep = desired_endpoints(svc(cluster_ip="None", ports=[], labels={"team": "blue"}), [pod("a")], NODES, NOW)
    assert ep["metadata"]["labels"] == {"team": "blue", LABEL_HEADLESS: ""}
    assert ep["subsets"] == [{"addresses": [{"ip": "10.244.0.1", "nodeName": "node-a",
                                             "targetRef": {"kind": "Pod", "namespace": NS, "name": "a",
                                                           "uid": "uid-a"}}]}]


def test_endpoints_hostname_and_missing_node_still_listed() -> None:
    # the legacy controller has no Node lister: R19 does not apply to it
    p = pod("a", node="gone", hostname="h0", subdomain="web")
    addr = desired_endpoints(svc(), [p], NODES, NOW)["subsets"][0]["addresses"][0]
    assert addr["hostname"] == "h0" and addr["nodeName"] == "gone"


def test_endpoints_unnamed_port_omits_name() -> None:
    ep = desired_endpoints(svc(ports=[{"port": 80, "targetPort": 8080}]), [pod("a")], NODES, NOW)
    assert ep["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_endpoints_need_write_compares_subsets_and_labels_not_trigger_time() -> None:
    first = desired_endpoints(svc(), [pod("a")], NODES, NOW)
    again = desired_endpoints(svc(), [pod("a")], NODES, LATER)
    assert endpoints_need_write(None, first)
    assert not endpoints_need_write(first, again)
    assert endpoints_need_write(first, desired_endpoints(svc(), [pod("a", ready=False)], NODES, LATER))
    assert endpoints_need_write(first, desired_endpoints(svc(labels={"x": "y"}), [pod("a")], NODES, LATER))


# ----------------------------------------------------------------------------- idempotence property


pod_specs = st.lists(
    st.fixed_dictionaries({
        "ready": st.booleans(),
        "deleting": st.booleans(),
        "phase": st.sampled_from(["Running", "Running", "Running", "Pending", "Succeeded", "Failed"]),
        "has_ip": st.booleans() | st.just(True),
        "node": st.sampled_from(["node-a", "node-b", "gone"]),
        "web_port": st.sampled_from([None, 8080, 8081]),
        "selected": st.booleans() | st.just(True),
        "hostname": st.booleans(),
    }),
    max_size=12,
)


def build_pods(specs: list[dict]) -> list[Obj]:
    pods = []
    for i, spec in enumerate(specs):
        ports = [] if spec["web_port"] is None else [{"name": "web", "containerPort": spec["web_port"]}]
        pods.append(pod(f"p{i:02d}", f"10.244.1.{i + 1}" if spec["has_ip"] else None,
                        ready=spec["ready"], deleting=spec["deleting"], phase=spec["phase"],
                        node=spec["node"], labels={"app": "web" if spec["selected"] else "db"},
                        container_ports=ports, hostname="h" if spec["hostname"] else None,
                        subdomain="web"))
    return pods


def qualifying(service: Obj, pods: list[Obj]) -> set[str]:
    pnra = bool(service["spec"].get("publishNotReadyAddresses"))
    out = set()
    for p in pods:
        if p["metadata"]["labels"].get("app") != "web" or p["status"]["phase"] in ("Succeeded", "Failed"):
            continue
        if not p["status"].get("podIP") or (p["spec"].get("nodeName") not in NODES and not pnra):
            continue
        out.add(p["metadata"]["name"])
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=pod_specs, after=pod_specs, max_per_slice=st.integers(1, 5), pnra=st.booleans(),
       headless=st.booleans(), old_labels=st.sampled_from([None, {"team": "a"}, {"team": "b"}]),
       labels=st.sampled_from([None, {"team": "a"}, {"team": "b"}]))
def test_idempotence_and_invariants_over_random_pod_sets(before: list[dict], after: list[dict], max_per_slice: int,
                                                         pnra: bool, headless: bool, old_labels: dict | None,
                                                         labels: dict | None) -> None:
    ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"},
             {"name": "admin", "port": 81, "protocol": "TCP", "targetPort": 9000}]
    service = svc(ports=ports, pnra=pnra, cluster_ip="None" if headless else "10.96.0.10", labels=labels)
    store = Store()
    old_service = svc(ports=ports, pnra=pnra, cluster_ip="None" if headless else "10.96.0.10", labels=old_labels)
    sync(old_service, build_pods(before), store, max_per_slice=max_per_slice)
    pods = build_pods(after)
    sync(service, pods, store, max_per_slice=max_per_slice, now=LATER)

    # idempotent: with the result applied, the next sync wants nothing
    again = reconcile_slices(service, pods, NODES, store.list(), LATER, max_per_slice)
    assert again.empty(), again

    slices = list(store.slices.values())
    names = [e["targetRef"]["name"] for e in all_endpoints(slices)]
    assert len(names) == len(set(names))                          # each pod at most once
    assert set(names) == qualifying(service, pods)                 # exactly the qualifying pods
    assert all(len(s["endpoints"] or []) <= max_per_slice for s in slices)
    assert all(s["metadata"]["labels"].get("team") == (labels or {}).get("team") for s in slices)
    if not names:
        assert len(slices) == 1 and slices[0]["endpoints"] is None and slices[0]["ports"] is None
    else:
        assert all(s["endpoints"] for s in slices)                 # no stray placeholder
    for s in slices:                                               # each slice holds one port list
        for e in s["endpoints"] or []:
            idx = int(e["targetRef"]["name"][1:])
            web = after[idx]["web_port"]
            expected = sorted(([web] if web is not None else []) + [9000])
            assert sorted(p["port"] for p in s["ports"] or []) == expected

    # the same end state from scratch gives an equivalent set of slices
    fresh_eps = by_pod(reconcile_slices(service, pods, NODES, [], LATER, max_per_slice).create)
    assert fresh_eps == by_pod(slices)
