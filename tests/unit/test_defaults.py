"""Defaulting tests: rule ids refer to docs/rules.md."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kai_labs.sim.registry.core.service import normalize_service_cluster_ips
from kai_labs.sim.registry.defaults import (
    apply_defaults,
    default_pod_spec,
    image_pull_policy_for,
)


def defaulted(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    apply_defaults(kind, out)
    return out


def svc(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "spec": spec}


# ----------------------------------------------------------------------------- R5 Service


def test_R5_service_type_affinity_protocol_and_traffic_policy_defaults() -> None:
    spec = defaulted("Service", svc(selector={"app": "web"}, ports=[{"port": 80}]))["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert "sessionAffinityConfig" not in spec
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec
    assert "allocateLoadBalancerNodePorts" not in spec
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert "clusterIP" not in spec  # the server allocates it


def test_R5_target_port_defaults_to_port_when_omitted_zero_or_empty() -> None:
    ports = [{"name": "a", "port": 80}, {"name": "b", "port": 81, "targetPort": 0},
             {"name": "c", "port": 82, "targetPort": ""}, {"name": "d", "port": 83, "targetPort": "http"}]
    out = defaulted("Service", svc(ports=ports))["spec"]["ports"]
    assert [p["targetPort"] for p in out] == [80, 81, 82, "http"]


def test_R5_session_affinity_config_dropped_when_none() -> None:
    spec = defaulted("Service", svc(ports=[{"port": 80}], sessionAffinity="None",
                                    sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}}))["spec"]
    assert "sessionAffinityConfig" not in spec


def test_R5_client_ip_timeout_defaults_to_10800() -> None:
    spec = defaulted("Service", svc(ports=[{"port": 80}], sessionAffinity="ClientIP"))["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    kept = defaulted("Service", svc(ports=[{"port": 80}], sessionAffinity="ClientIP",
                                    sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))["spec"]
    assert kept["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 60}}


def test_R5_nodeport_and_loadbalancer_external_traffic_policy_and_lb_node_ports() -> None:
    np_spec = defaulted("Service", svc(type="NodePort", ports=[{"port": 80}]))["spec"]
    assert np_spec["externalTrafficPolicy"] == "Cluster"
    assert "allocateLoadBalancerNodePorts" not in np_spec
    lb_spec = defaulted("Service", svc(type="LoadBalancer", ports=[{"port": 80}]))["spec"]
    assert lb_spec["externalTrafficPolicy"] == "Cluster"
    assert lb_spec["allocateLoadBalancerNodePorts"] is True
    assert lb_spec["internalTrafficPolicy"] == "Cluster"


def test_R5_externalname_gets_no_traffic_policy_or_ip_families() -> None:
    spec = defaulted("Service", svc(type="ExternalName", externalName="db.example.com"))["spec"]
    for key in ("internalTrafficPolicy", "externalTrafficPolicy", "ipFamilies", "ipFamilyPolicy"):
        assert key not in spec


def test_R5_source_wins_headless_selectorless_service_defaults_to_require_dual_stack() -> None:
    spec = defaulted("Service", svc(clusterIP="None"))["spec"]
    assert spec["clusterIPs"] == ["None"]
    assert spec["ipFamilyPolicy"] == "RequireDualStack"
    assert spec["ipFamilies"] == ["IPv4", "IPv6"]
    with_selector = defaulted("Service", svc(clusterIP="None", selector={"app": "db"}))["spec"]
    assert with_selector["ipFamilyPolicy"] == "SingleStack"
    assert with_selector["ipFamilies"] == ["IPv4"]


def test_R5_create_copies_cluster_ip_into_cluster_ips() -> None:
    spec = defaulted("Service", svc(clusterIP="10.96.0.20", ports=[{"port": 80}]))["spec"]
    assert spec["clusterIPs"] == ["10.96.0.20"]


def test_R5_container_port_protocol_defaults_to_tcp() -> None:
    pod = defaulted("Pod", {"metadata": {"name": "p"},
                            "spec": {"containers": [{"name": "c", "image": "nginx",
                                                     "ports": [{"containerPort": 80}]}]}})
    assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_service_update_normalization_follows_changed_cluster_ip() -> None:
    old = defaulted("Service", svc(clusterIP="10.96.0.10", ports=[{"port": 80}]))
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.11"
    normalize_service_cluster_ips(new, old)
    assert new["spec"]["clusterIPs"] == ["10.96.0.11"]


def test_service_type_change_to_externalname_drops_unchanged_cluster_ip() -> None:
    old = defaulted("Service", svc(clusterIP="10.96.0.10", ports=[{"port": 80}]))
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ExternalName"
    new["spec"]["externalName"] = "db.example.com"
    normalize_service_cluster_ips(new, old)
    for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert key not in new["spec"]


# ----------------------------------------------------------------------------- R32 probes and pods


def test_R32_probe_defaults_and_http_get_scheme_and_path() -> None:
    pod = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [{
        "name": "c", "image": "nginx:1.27",
        "readinessProbe": {"httpGet": {"port": 8080}},
        "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5}}]}})
    c = pod["spec"]["containers"][0]
    assert c["readinessProbe"] == {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
                                   "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                                   "failureThreshold": 3}
    assert c["livenessProbe"]["periodSeconds"] == 5
    assert "initialDelaySeconds" not in c["readinessProbe"]  # 0 is omitted on the wire


def test_R32_zero_probe_counters_are_defaulted() -> None:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x", "readinessProbe": {
        "exec": {"command": ["true"]}, "timeoutSeconds": 0, "failureThreshold": 0}}]}
    default_pod_spec(spec)
    probe = spec["containers"][0]["readinessProbe"]
    assert probe["timeoutSeconds"] == 1 and probe["failureThreshold"] == 3


def test_pod_defaults_match_what_kubectl_shows() -> None:
    spec = defaulted("Pod", {"metadata": {"name": "p"},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}})["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    assert spec["serviceAccountName"] == "default"
    assert spec["priority"] == 0
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["resources"] == {}
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]


def test_default_tolerations_not_duplicated() -> None:
    tol = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 10}]
    spec = defaulted("Pod", {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "x"}], "tolerations": tol}})["spec"]
    assert [t["key"] for t in spec["tolerations"]] == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
    assert spec["tolerations"][0]["tolerationSeconds"] == 10


def test_image_pull_policy_from_tag() -> None:
    assert image_pull_policy_for("nginx") == "Always"
    assert image_pull_policy_for("nginx:latest") == "Always"
    assert image_pull_policy_for("nginx:1.27") == "IfNotPresent"
    assert image_pull_policy_for("localhost:5000/team/app") == "Always"
    assert image_pull_policy_for("registry.k8s.io/pause:3.9") == "IfNotPresent"
    assert image_pull_policy_for("nginx@sha256:" + "a" * 64) == "IfNotPresent"
    assert image_pull_policy_for("") == "IfNotPresent"


# ----------------------------------------------------------------------------- workloads and others


def test_deployment_defaults_and_template_without_pod_only_fields() -> None:
    dep = defaulted("Deployment", {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "api"}},
        "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}})
    spec = dep["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    tspec = spec["template"]["spec"]
    assert tspec["restartPolicy"] == "Always" and tspec["terminationGracePeriodSeconds"] == 30
    assert tspec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    for pod_only in ("enableServiceLinks", "tolerations", "serviceAccountName", "priority"):
        assert pod_only not in tspec


def test_recreate_strategy_gets_no_rolling_update() -> None:
    dep = defaulted("Deployment", {"metadata": {"name": "d"}, "spec": {"strategy": {"type": "Recreate"}}})
    assert dep["spec"]["strategy"] == {"type": "Recreate"}


def test_replicaset_defaults() -> None:
    rs = defaulted("ReplicaSet", {"metadata": {"name": "r"}, "spec": {"template": {"spec": {"containers": []}}}})
    assert rs["spec"]["replicas"] == 1
    assert rs["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_namespace_defaults() -> None:
    ns = defaulted("Namespace", {"metadata": {"name": "team-a"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}


def test_endpoints_and_endpointslice_port_defaults() -> None:
    ep = defaulted("Endpoints", {"metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": "10.244.0.5"}],
                                                                          "ports": [{"port": 80}]}]})
    assert ep["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    es = defaulted("EndpointSlice", {"metadata": {"name": "web-abc"}, "addressType": "IPv4", "ports": [{"port": 80}]})
    assert es["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]


def test_node_allocatable_defaults_to_capacity() -> None:
    node = defaulted("Node", {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "4", "pods": "110"}}})
    assert node["status"]["allocatable"] == {"cpu": "4", "pods": "110"}


# ----------------------------------------------------------------------------- totality

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=25,
)
_KEYS = ["metadata", "spec", "status", "subsets", "ports", "containers", "template", "selector", "type",
         "clusterIP", "clusterIPs", "sessionAffinity", "sessionAffinityConfig", "targetPort", "port", "protocol",
         "livenessProbe", "httpGet", "strategy", "rollingUpdate", "tolerations", "name", "image", "capacity"]
_shaped = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=6) | _json,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), kids, max_size=5),
    max_leaves=30,
)
_KINDS = ["Service", "Pod", "Deployment", "ReplicaSet", "Namespace", "Endpoints", "EndpointSlice", "Node",
          "ConfigMap", "Event", "Unknown"]


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(_KINDS), obj=st.dictionaries(st.sampled_from(_KEYS), _shaped, max_size=5))
def test_apply_defaults_never_raises_on_ill_typed_input(kind: str, obj: dict[str, Any]) -> None:
    apply_defaults(kind, obj)
