"""Server-side Table printers: columns and cells as a v1.3x API server sends them.

Expected texts follow kubernetes/kubernetes pkg/printers/internalversion/printers.go
and apimachinery pkg/util/duration/duration.go.
"""

from __future__ import annotations

import datetime

import pytest

from kai_labs.sim.apiserver.printers import (
    human_duration,
    parse_time,
    table,
    translate_timestamp_since,
)
from kai_labs.sim.registry.discovery.endpointslice import format_discovery_endpoints

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def ago(**kw: float) -> str:
    """An RFC3339 timestamp ``kw`` (timedelta args) before NOW."""
    return (NOW - datetime.timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cols(t: dict) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in t["columnDefinitions"]]


def cells(t: dict) -> list[list]:
    return [r["cells"] for r in t["rows"]]


def one_row(kind: str, obj: dict) -> list:
    return table(kind, [obj], NOW)["rows"][0]["cells"]


# ---------------------------------------------------------------- duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "0s"),
        (-1, "0s"),
        (-1.5, "0s"),
        (-2, "<invalid>"),
        (1, "1s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (123, "2m3s"),
        (9 * 60 + 59, "9m59s"),
        (10 * 60, "10m"),
        (10 * 60 + 30, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 4 * 60, "3h4m"),
        (7 * 3600 + 59 * 60, "7h59m"),
        (8 * 3600, "8h"),
        (8 * 3600 + 30 * 60, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (2 * 86400 + 5 * 3600, "2d5h"),
        (7 * 86400 + 23 * 3600, "7d23h"),
        (8 * 86400, "8d"),
        (8 * 86400 + 5 * 3600, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y0d"),
        (3 * 365 * 86400, "3y0d"),
        (3 * 365 * 86400 + 5 * 86400, "3y5d"),
        (8 * 365 * 86400, "8y"),
        (20 * 365 * 86400, "20y"),
    ],
)
def test_human_duration_matches_apimachinery_ranges(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_translate_timestamp_since_unknown_when_missing() -> None:
    assert translate_timestamp_since(None, NOW) == "<unknown>"
    assert translate_timestamp_since("", NOW) == "<unknown>"


def test_translate_timestamp_since_accepts_micro_time_and_naive_now() -> None:
    naive_now = NOW.replace(tzinfo=None)
    assert translate_timestamp_since("2025-01-01T11:59:30.500000Z", naive_now) == "29s"


def test_age_cell_is_unknown_without_creation_timestamp() -> None:
    assert one_row("ConfigMap", {"metadata": {"name": "c"}})[2] == "<unknown>"


# ---------------------------------------------------------------- envelope


def test_table_envelope_and_partial_object_metadata_row_object() -> None:
    cm = {"metadata": {"name": "c", "namespace": "default", "labels": {"app": "x"}, "creationTimestamp": ago()}}
    t = table("ConfigMap", [cm], NOW)
    assert t["kind"] == "Table"
    assert t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {"resourceVersion": ""}
    assert t["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": cm["metadata"],
    }
    t["rows"][0]["object"]["metadata"]["labels"]["app"] = "changed"
    assert cm["metadata"]["labels"]["app"] == "x"


def test_include_object_full_object_and_none() -> None:
    cm = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}, "data": {"a": "1"}}
    assert table("ConfigMap", [cm], NOW, "Object")["rows"][0]["object"] == cm
    assert "object" not in table("ConfigMap", [cm], NOW, "None")["rows"][0]


def test_unrecognized_include_object_is_rejected() -> None:
    with pytest.raises(ValueError, match='unrecognized includeObject value: "Bogus"'):
        table("ConfigMap", [{"metadata": {"name": "c"}}], NOW, "Bogus")


def test_empty_list_still_has_columns_and_no_rows() -> None:
    t = table("Pod", [], NOW)
    assert t["rows"] == []
    assert len(t["columnDefinitions"]) == 9


def test_column_definitions_carry_type_format_and_description() -> None:
    name, ready, *_ = table("Pod", [], NOW)["columnDefinitions"]
    assert name["type"] == "string" and name["format"] == "name"
    assert name["description"].startswith("Name must be unique within a namespace.")
    assert ready == {
        "name": "Ready",
        "type": "string",
        "format": "",
        "description": "The aggregate readiness state of this pod for accepting traffic.",
        "priority": 0,
    }


# ---------------------------------------------------------------- Pod


def agnhost_pod(name: str, **status: object) -> dict:
    pod = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"app": "agnhost", "pod-template-hash": "5c6d8b9f7"},
            "creationTimestamp": ago(minutes=5),
        },
        "spec": {
            "nodeName": "kai-worker",
            "containers": [{"name": "agnhost", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"}],
        },
        "status": {
            "phase": "Running",
            "podIP": "10.244.1.5",
            "podIPs": [{"ip": "10.244.1.5"}],
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [
                {
                    "name": "agnhost",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": ago(minutes=4)}},
                }
            ],
        },
    }
    pod["status"].update(status)
    return pod


def test_pod_columns_and_priorities() -> None:
    assert cols(table("Pod", [], NOW)) == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]


def test_pod_cells_for_three_running_agnhost_replicas() -> None:
    pods = [agnhost_pod(f"agnhost-5c6d8b9f7-{s}") for s in ("abcde", "fghij", "klmno")]
    assert cells(table("Pod", pods, NOW)) == [
        [p["metadata"]["name"], "1/1", "Running", "0", "5m", "10.244.1.5", "kai-worker", "<none>", "<none>"]
        for p in pods
    ]


def test_pod_restarts_cell_is_a_string() -> None:
    assert one_row("Pod", agnhost_pod("p"))[3] == "0"


def test_pod_pending_unscheduled_has_none_ip_and_node() -> None:
    pod = {
        "metadata": {"name": "p", "creationTimestamp": ago(seconds=3)},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Pending"},
    }
    assert one_row("Pod", pod) == ["p", "0/1", "Pending", "0", "3s", "<none>", "<none>", "<none>", "<none>"]


def test_pod_container_creating_from_waiting_reason() -> None:
    pod = agnhost_pod("p", phase="Pending", podIPs=[], podIP=None)
    pod["status"]["containerStatuses"][0].update(
        ready=False, started=False, state={"waiting": {"reason": "ContainerCreating"}}
    )
    assert one_row("Pod", pod)[1:4] == ["0/1", "ContainerCreating", "0"]
    assert one_row("Pod", pod)[5] == "<none>"


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff"])
def test_pod_waiting_reasons_become_status(reason: str) -> None:
    pod = agnhost_pod("p")
    pod["status"]["containerStatuses"][0].update(ready=False, state={"waiting": {"reason": reason}})
    assert one_row("Pod", pod)[2] == reason


def test_pod_crash_loop_restarts_have_ago_suffix_from_last_finished_at() -> None:
    pod = agnhost_pod("p")
    pod["status"]["containerStatuses"][0].update(
        ready=False,
        restartCount=5,
        state={"waiting": {"reason": "CrashLoopBackOff"}},
        lastState={"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(minutes=2, seconds=3)}},
    )
    assert one_row("Pod", pod)[1:4] == ["0/1", "CrashLoopBackOff", "5 (2m3s ago)"]


def test_pod_restarts_without_last_state_have_no_suffix() -> None:
    pod = agnhost_pod("p")
    pod["status"]["containerStatuses"][0]["restartCount"] = 2
    assert one_row("Pod", pod)[3] == "2"


def test_pod_completed_and_error_from_terminated_reason_with_row_conditions() -> None:
    done = agnhost_pod("done", phase="Succeeded")
    done["status"]["containerStatuses"][0].update(
        ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}}
    )
    failed = agnhost_pod("failed", phase="Failed")
    failed["status"]["containerStatuses"][0].update(
        ready=False, state={"terminated": {"exitCode": 1, "reason": "Error"}}
    )
    t = table("Pod", [done, failed], NOW)
    assert [r["cells"][1:3] for r in t["rows"]] == [["0/1", "Completed"], ["0/1", "Error"]]
    assert t["rows"][0]["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
    ]
    assert t["rows"][1]["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in table("Pod", [agnhost_pod("p")], NOW)["rows"][0]


def test_pod_terminated_without_reason_shows_exit_code_or_signal() -> None:
    pod = agnhost_pod("p", phase="Failed")
    pod["status"]["containerStatuses"][0].update(ready=False, state={"terminated": {"exitCode": 137}})
    assert one_row("Pod", pod)[2] == "ExitCode:137"
    pod["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 137, "signal": 9}}
    assert one_row("Pod", pod)[2] == "Signal:9"


def test_pod_terminating_when_deletion_timestamp_set() -> None:
    pod = agnhost_pod("p")
    pod["metadata"]["deletionTimestamp"] = ago(seconds=1)
    assert one_row("Pod", pod)[2] == "Terminating"


def test_pod_deleted_but_terminal_keeps_phase_reason() -> None:
    pod = agnhost_pod("p", phase="Succeeded")
    pod["status"]["containerStatuses"][0].update(ready=False,
                                                 state={"terminated": {"exitCode": 0, "reason": "Completed"}})
    pod["metadata"]["deletionTimestamp"] = ago(seconds=1)
    assert one_row("Pod", pod)[2] == "Completed"


def test_pod_node_lost_while_deleting_is_unknown() -> None:
    pod = agnhost_pod("p", reason="NodeLost")
    pod["metadata"]["deletionTimestamp"] = ago(seconds=1)
    assert one_row("Pod", pod)[2] == "Unknown"


def test_pod_completed_container_with_running_sibling_is_not_ready_without_ready_condition() -> None:
    pod = agnhost_pod("p", conditions=[{"type": "Ready", "status": "False"}])
    pod["spec"]["containers"].append({"name": "job", "image": "busybox"})
    pod["status"]["containerStatuses"].append(
        {"name": "job", "ready": False, "restartCount": 0,
         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    )
    assert one_row("Pod", pod)[1:3] == ["1/2", "NotReady"]
    pod["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert one_row("Pod", pod)[1:3] == ["1/2", "Running"]


def test_pod_running_but_container_not_ready_counts_zero_ready() -> None:
    pod = agnhost_pod("p")
    pod["status"]["containerStatuses"][0]["ready"] = False
    assert one_row("Pod", pod)[1:3] == ["0/1", "Running"]


def test_pod_init_container_progress_and_failures() -> None:
    pod = agnhost_pod("p", phase="Pending", conditions=[{"type": "Initialized", "status": "False"}])
    pod["spec"]["initContainers"] = [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]
    pod["status"]["containerStatuses"][0].update(ready=False, state={"waiting": {"reason": "PodInitializing"}})
    pod["status"]["initContainerStatuses"] = [
        {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "b", "restartCount": 0, "state": {"running": {}}},
    ]
    assert one_row("Pod", pod)[1:4] == ["0/1", "Init:1/2", "0"]
    pod["status"]["initContainerStatuses"][1] = {
        "name": "b",
        "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
    }
    assert one_row("Pod", pod)[2:4] == ["Init:CrashLoopBackOff", "3"]
    pod["status"]["initContainerStatuses"][1]["state"] = {"terminated": {"exitCode": 2}}
    assert one_row("Pod", pod)[2] == "Init:ExitCode:2"
    pod["status"]["initContainerStatuses"][1]["state"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    assert one_row("Pod", pod)[2] == "Init:Error"


def test_pod_sidecar_init_container_counts_in_ready_and_total() -> None:
    pod = agnhost_pod("p")
    pod["spec"]["initContainers"] = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]
    pod["status"]["initContainerStatuses"] = [
        {"name": "proxy", "ready": True, "started": True, "restartCount": 1, "state": {"running": {}}}
    ]
    assert one_row("Pod", pod)[1:4] == ["2/2", "Running", "1"]


def test_pod_scheduling_gated_reason() -> None:
    pod = {
        "metadata": {"name": "p", "creationTimestamp": ago(seconds=10)},
        "spec": {"containers": [{"name": "c", "image": "i"}], "schedulingGates": [{"name": "g"}]},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        },
    }
    assert one_row("Pod", pod)[2] == "SchedulingGated"


def test_pod_wide_nominated_node_readiness_gates_and_pod_ip_fallback() -> None:
    pod = agnhost_pod("p", podIPs=None, podIP="10.0.0.9", nominatedNodeName="kai-worker2")
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]
    pod["status"]["conditions"].append({"type": "example.com/a", "status": "True"})
    assert one_row("Pod", pod)[5:] == ["10.0.0.9", "kai-worker", "kai-worker2", "1/2"]


# ---------------------------------------------------------------- Service


def service(name: str, **spec: object) -> dict:
    return {
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": ago(hours=3, minutes=4)},
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def test_service_columns_and_priorities() -> None:
    assert cols(table("Service", [], NOW)) == [
        ("Name", 0),
        ("Type", 0),
        ("Cluster-IP", 0),
        ("External-IP", 0),
        ("Port(s)", 0),
        ("Age", 0),
        ("Selector", 1),
    ]


def test_service_node_port_cells() -> None:
    svc = service(
        "agnhost",
        type="NodePort",
        clusterIP="10.96.12.34",
        clusterIPs=["10.96.12.34"],
        selector={"app": "agnhost", "tier": "web"},
        ports=[{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}],
    )
    assert one_row("Service", svc) == [
        "agnhost",
        "NodePort",
        "10.96.12.34",
        "<none>",
        "80:30080/TCP",
        "3h4m",
        "app=agnhost,tier=web",
    ]


def test_service_cluster_ip_multi_port_and_kubernetes_default() -> None:
    svc = service(
        "kubernetes",
        type="ClusterIP",
        clusterIP="10.96.0.1",
        ports=[{"name": "https", "port": 443, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}],
    )
    assert one_row("Service", svc)[1:5] == ["ClusterIP", "10.96.0.1", "<none>", "443/TCP,53/UDP"]
    assert one_row("Service", svc)[6] == "<none>"


def test_service_headless_shows_none_cluster_ip() -> None:
    svc = service("db", type="ClusterIP", clusterIP="None", clusterIPs=["None"], ports=[{"port": 5432}])
    assert one_row("Service", svc)[2:5] == ["None", "<none>", "5432/TCP"]


def test_service_load_balancer_pending_then_ingress() -> None:
    svc = service("lb", type="LoadBalancer", clusterIPs=["10.96.1.1"],
                  ports=[{"port": 80, "nodePort": 31000, "protocol": "TCP"}])
    assert one_row("Service", svc)[3] == "<pending>"
    svc["status"]["loadBalancer"] = {"ingress": [{"ip": "172.18.0.200"}, {"hostname": "lb.example.com"}]}
    assert one_row("Service", svc)[3] == "172.18.0.200,lb.example.com"
    svc["spec"]["externalIPs"] = ["1.2.3.4"]
    assert one_row("Service", svc)[3] == "172.18.0.200,lb.example.com,1.2.3.4"


def test_service_external_name_and_external_ips() -> None:
    ext = service("ext", type="ExternalName", externalName="example.com")
    assert one_row("Service", ext)[1:5] == ["ExternalName", "<none>", "example.com", "<none>"]
    cip = service("c", type="ClusterIP", clusterIPs=["10.96.0.5"], externalIPs=["1.1.1.1", "2.2.2.2"],
                  ports=[{"port": 80, "protocol": "TCP"}])
    assert one_row("Service", cip)[3] == "1.1.1.1,2.2.2.2"


# ---------------------------------------------------------------- Endpoints / EndpointSlice


def test_endpoints_columns_and_cells() -> None:
    assert cols(table("Endpoints", [], NOW)) == [("Name", 0), ("Endpoints", 0), ("Age", 0)]
    ep = {
        "metadata": {"name": "agnhost", "creationTimestamp": ago(minutes=1)},
        "subsets": [
            {
                "addresses": [{"ip": "10.244.1.5"}, {"ip": "10.244.2.6"}],
                "notReadyAddresses": [{"ip": "10.244.3.7"}],
                "ports": [{"port": 8080, "protocol": "TCP"}],
            }
        ],
    }
    assert one_row("Endpoints", ep) == ["agnhost", "10.244.1.5:8080,10.244.2.6:8080", "60s"]


def test_endpoints_none_and_more_rule() -> None:
    assert one_row("Endpoints", {"metadata": {"name": "e"}})[1] == "<none>"
    ips = [{"ip": f"10.0.0.{i}"} for i in range(1, 7)]
    ep = {"metadata": {"name": "e"}, "subsets": [{"addresses": ips, "ports": [{"port": 80}]}]}
    assert one_row("Endpoints", ep)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more..."
    two_ports = {"metadata": {"name": "e"}, "subsets": [{"addresses": ips[:2], "ports": [{"port": 80}, {"port": 443}]}]}
    assert one_row("Endpoints", two_ports)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."


def test_endpoints_headless_without_ports_lists_ips_and_ipv6_brackets() -> None:
    headless = {"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}
    assert one_row("Endpoints", headless)[1] == "10.0.0.1"
    v6 = {"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}
    assert one_row("Endpoints", v6)[1] == "[fd00::1]:80"


def test_endpoint_slice_columns_and_placeholder_with_null_endpoints() -> None:
    assert cols(table("EndpointSlice", [], NOW)) == [
        ("Name", 0),
        ("AddressType", 0),
        ("Ports", 0),
        ("Endpoints", 0),
        ("Age", 0),
    ]
    placeholder = {
        "metadata": {"name": "agnhost-abc12", "creationTimestamp": ago(seconds=20)},
        "addressType": "IPv4",
        "endpoints": None,
        "ports": None,
    }
    assert one_row("EndpointSlice", placeholder) == ["agnhost-abc12", "IPv4", "<unset>", "<unset>", "20s"]


def test_endpoint_slice_ports_and_more_rule() -> None:
    eps = {
        "metadata": {"name": "s", "creationTimestamp": ago(minutes=10)},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "named"}, {}],
        "endpoints": [{"addresses": [f"10.244.0.{i}"]} for i in range(1, 6)],
    }
    assert one_row("EndpointSlice", eps) == [
        "s",
        "IPv4",
        "8080,named,*",
        "10.244.0.1,10.244.0.2,10.244.0.3 + 2 more...",
        "10m",
    ]
    assert format_discovery_endpoints([{"addresses": ["a", "b", "c"]}]) == "a,b,c"


# ---------------------------------------------------------------- Deployment / ReplicaSet


def agnhost_template() -> dict:
    return {
        "metadata": {"labels": {"app": "agnhost"}},
        "spec": {
            "containers": [
                {"name": "agnhost", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"},
                {"name": "sidecar", "image": "busybox:1.36"},
            ]
        },
    }


def test_deployment_columns_and_cells() -> None:
    assert cols(table("Deployment", [], NOW)) == [
        ("Name", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    dep = {
        "metadata": {"name": "agnhost", "creationTimestamp": ago(days=2, hours=5)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "agnhost"}}, "template": agnhost_template()},
        "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2},
    }
    assert one_row("Deployment", dep) == [
        "agnhost",
        "2/3",
        3,
        2,
        "2d5h",
        "agnhost,sidecar",
        "registry.k8s.io/e2e-test-images/agnhost:2.53,busybox:1.36",
        "app=agnhost",
    ]


def test_deployment_fresh_status_and_expression_selector() -> None:
    dep = {
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"tier": "web"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                    {"key": "zz", "operator": "DoesNotExist"},
                    {"key": "a", "operator": "Exists"},
                ],
            },
            "template": agnhost_template(),
        },
    }
    row = one_row("Deployment", dep)
    assert row[1:4] == ["0/3", 0, 0]
    assert row[7] == "a,env in (dev,prod),tier=web,!zz"
    assert one_row("Deployment", {"metadata": {"name": "d"}, "spec": {}})[7] == ""


def test_replica_set_columns_and_cells() -> None:
    assert cols(table("ReplicaSet", [], NOW)) == [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    rs = {
        "metadata": {"name": "agnhost-5c6d8b9f7", "creationTimestamp": ago(minutes=2)},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "agnhost", "pod-template-hash": "5c6d8b9f7"}},
            "template": agnhost_template(),
        },
        "status": {"replicas": 3, "readyReplicas": 3},
    }
    assert one_row("ReplicaSet", rs) == [
        "agnhost-5c6d8b9f7",
        3,
        3,
        3,
        "2m",
        "agnhost,sidecar",
        "registry.k8s.io/e2e-test-images/agnhost:2.53,busybox:1.36",
        "app=agnhost,pod-template-hash=5c6d8b9f7",
    ]
    assert one_row("ReplicaSet", {"metadata": {"name": "r"}, "spec": {"replicas": 0}})[1:4] == [0, 0, 0]
    assert one_row("ReplicaSet", {"metadata": {"name": "r"}, "spec": {}})[7] == "<none>"


def test_column_types_for_integer_cells() -> None:
    types = {c["name"]: c["type"] for c in table("ReplicaSet", [], NOW)["columnDefinitions"]}
    assert types["Desired"] == types["Current"] == types["Ready"] == "integer"
    deploy = {c["name"]: c["type"] for c in table("Deployment", [], NOW)["columnDefinitions"]}
    assert deploy["Up-to-date"] == "string"


# ---------------------------------------------------------------- Node


def kind_node(name: str, labels: dict[str, str], ready: str = "True", **spec: object) -> dict:
    return {
        "metadata": {"name": name, "labels": labels, "creationTimestamp": ago(days=24)},
        "spec": spec,
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "kubeletVersion": "v1.37.0",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.8.0-45-generic",
                "containerRuntimeVersion": "containerd://2.1.1",
            },
        },
    }


def test_node_columns_and_cells() -> None:
    assert cols(table("Node", [], NOW)) == [
        ("Name", 0),
        ("Status", 0),
        ("Roles", 0),
        ("Age", 0),
        ("Version", 0),
        ("Internal-IP", 1),
        ("External-IP", 1),
        ("OS-Image", 1),
        ("Kernel-Version", 1),
        ("Container-Runtime", 1),
    ]
    node = kind_node("kai-control-plane", {"node-role.kubernetes.io/control-plane": ""})
    assert one_row("Node", node) == [
        "kai-control-plane",
        "Ready",
        "control-plane",
        "24d",
        "v1.37.0",
        "172.18.0.2",
        "<none>",
        "Debian GNU/Linux 12 (bookworm)",
        "6.8.0-45-generic",
        "containerd://2.1.1",
    ]


def test_node_status_variants_and_roles() -> None:
    worker = kind_node("w", {"kubernetes.io/hostname": "w"}, ready="False", unschedulable=True)
    assert one_row("Node", worker)[1:3] == ["NotReady,SchedulingDisabled", "<none>"]
    roles = kind_node("m", {"node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": "",
                            "kubernetes.io/role": "edge", "node-role.kubernetes.io/": ""})
    assert one_row("Node", roles)[2] == "control-plane,edge,master"
    bare = {"metadata": {"name": "b"}, "spec": {}, "status": {}}
    assert one_row("Node", bare) == ["b", "Unknown", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>",
                                     "<unknown>", "<unknown>"]


# ---------------------------------------------------------------- Namespace / ConfigMap / ServiceAccount


def test_namespace_columns_and_cells() -> None:
    assert cols(table("Namespace", [], NOW)) == [("Name", 0), ("Status", 0), ("Age", 0)]
    ns = {"metadata": {"name": "default", "creationTimestamp": ago(hours=47)}, "status": {"phase": "Active"}}
    gone = {"metadata": {"name": "old", "creationTimestamp": ago(hours=1)}, "status": {"phase": "Terminating"}}
    assert cells(table("Namespace", [ns, gone], NOW)) == [["default", "Active", "47h"], ["old", "Terminating", "60m"]]


def test_config_map_counts_data_and_binary_data() -> None:
    assert cols(table("ConfigMap", [], NOW)) == [("Name", 0), ("Data", 0), ("Age", 0)]
    cm = {"metadata": {"name": "kube-root-ca.crt", "creationTimestamp": ago(days=3)}, "data": {"ca.crt": "x"},
          "binaryData": {"b": "eA=="}}
    assert one_row("ConfigMap", cm) == ["kube-root-ca.crt", 2, "3d"]
    assert one_row("ConfigMap", {"metadata": {"name": "e"}})[1] == 0


def test_service_account_counts_secrets() -> None:
    assert cols(table("ServiceAccount", [], NOW)) == [("Name", 0), ("Secrets", 0), ("Age", 0)]
    sa = {"metadata": {"name": "default", "creationTimestamp": ago(days=400)}}
    assert one_row("ServiceAccount", sa) == ["default", 0, "400d"]
    sa["secrets"] = [{"name": "t"}]
    assert one_row("ServiceAccount", sa)[1] == 1


# ---------------------------------------------------------------- Event


def test_event_columns_order_and_priorities() -> None:
    assert cols(table("Event", [], NOW)) == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
    assert table("Event", [], NOW)["columnDefinitions"][-1]["format"] == "name"


def test_event_cells_from_core_v1_event() -> None:
    ev = {
        "metadata": {"name": "agnhost-5c6d8b9f7-abcde.17f0c3a1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "agnhost-5c6d8b9f7-abcde", "fieldPath": "spec.containers{agnhost}"},
        "reason": "Pulled",
        "message": "  Container image already present on machine\n",
        "source": {"component": "kubelet", "host": "kai-worker"},
        "firstTimestamp": ago(minutes=5),
        "lastTimestamp": ago(seconds=30),
        "count": 4,
        "type": "Normal",
    }
    assert one_row("Event", ev) == [
        "30s",
        "Normal",
        "Pulled",
        "pod/agnhost-5c6d8b9f7-abcde",
        "spec.containers{agnhost}",
        "kubelet, kai-worker",
        "Container image already present on machine",
        "5m",
        4,
        "agnhost-5c6d8b9f7-abcde.17f0c3a1",
    ]


def test_event_new_api_style_uses_event_time_series_and_reporting_controller() -> None:
    ev = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Deployment", "name": "agnhost"},
        "reason": "ScalingReplicaSet",
        "message": "Scaled up replica set agnhost-5c6d8b9f7 from 0 to 3",
        "eventTime": "2025-01-01T11:58:00.123456Z",
        "reportingComponent": "deployment-controller",
        "type": "Normal",
    }
    row = one_row("Event", ev)
    assert row[0] == row[7] == "119s"
    assert row[3] == "deployment/agnhost"
    assert row[5] == "deployment-controller"
    assert row[8] == 1
    ev["series"] = {"count": 7, "lastObservedTime": "2025-01-01T11:59:50.000000Z"}
    row = one_row("Event", ev)
    assert (row[0], row[7], row[8]) == ("10s", "119s", 7)


def test_event_object_without_name_and_missing_times() -> None:
    ev = {"metadata": {"name": "e"}, "involvedObject": {"kind": "Node"}, "reportingInstance": "host-1"}
    row = one_row("Event", ev)
    assert row[0] == row[7] == "<unknown>"
    assert row[3] == "node"
    assert row[5] == ", host-1"


# ---------------------------------------------------------------- default convertor


def test_other_kinds_use_default_name_and_created_at_columns() -> None:
    obj = {"metadata": {"name": "my-priority", "creationTimestamp": "2024-06-25T14:48:12Z"}}
    t = table("PriorityClass", [obj, {"metadata": {"name": "x"}}], NOW)
    assert cols(t) == [("Name", 0), ("Created At", 0)]
    assert t["columnDefinitions"][1]["type"] == "date"
    assert cells(t) == [["my-priority", "2024-06-25T14:48:12Z"], ["x", "0001-01-01T00:00:00Z"]]


def test_lease_columns_are_printLeases() -> None:
    """pkg/printers/internalversion/printers.go printLease: NAME, HOLDER (spec.holderIdentity), AGE."""
    lease = {"metadata": {"name": "kai-labs-worker", "creationTimestamp": "2025-01-01T11:58:00Z"},
             "spec": {"holderIdentity": "kai-labs-worker", "leaseDurationSeconds": 40}}
    t = table("Lease", [lease, {"metadata": {"name": "free", "creationTimestamp": "2025-01-01T11:59:00Z"}}], NOW)
    assert cols(t) == [("Name", 0), ("Holder", 0), ("Age", 0)]
    assert cells(t) == [["kai-labs-worker", "kai-labs-worker", "2m"], ["free", "", "60s"]]


@pytest.mark.parametrize("value, expected", [
    ("2025-01-01T11:59:30Z", "30s"),                 # metav1.Time: RFC 3339 with "Z" (Python 3.10 refused it)
    ("2025-01-01T11:59:30.5Z", "29s"),               # RFC 3339 allows any fraction length
    ("2025-01-01T11:59:30.123456789Z", "29s"),       # RFC3339Nano
    ("2025-01-01T12:59:30+01:00", "30s"),            # an offset instead of Z
])
def test_rfc3339_forms_parse_on_every_python(value: str, expected: str) -> None:
    assert translate_timestamp_since(value, NOW) == expected


def test_an_unparseable_timestamp_prints_unknown_instead_of_failing_the_request() -> None:
    assert parse_time("yesterday") is None
    assert one_row("ConfigMap", {"metadata": {"name": "c", "creationTimestamp": "not a time"}})[2] == "<unknown>"
