"""Validation tests: rule ids refer to docs/rules.md.

Every object is defaulted first (``apply_defaults``), as the API server does.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kai_labs.sim.apimachinery.errors import FieldError, aggregate  # noqa: E402
from kai_labs.sim.registry.core.pod import POD_UPDATE_FORBIDDEN_MESSAGE  # noqa: E402
from kai_labs.sim.registry.core.service import cluster_ip_range_error, validate_service_allocation  # noqa: E402
from kai_labs.sim.registry.defaults import apply_defaults  # noqa: E402
from kai_labs.sim.registry.validation import validate  # noqa: E402

LABEL_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                   "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                   "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                     "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
RANGE_MSG = "must be between 1 and 65535, inclusive"


def check(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    o = copy.deepcopy(obj)
    apply_defaults(kind, o)
    return [e.render() for e in validate(kind, o, old)]


def check_agg(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> str:
    o = copy.deepcopy(obj)
    apply_defaults(kind, o)
    return aggregate(validate(kind, o, old))


def stored(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    o = copy.deepcopy(obj)
    apply_defaults(kind, o)
    assert validate(kind, o) == []
    return o


def svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"app": "web"})
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def port(p: int = 80, **kw: Any) -> dict[str, Any]:
    return {"port": p, **kw}


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    conts = list(containers) or [{"name": "app", "image": "nginx:1.27"}]
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": conts, **spec}}


def deploy(selector: Any = None, labels: Any = None, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"template": {"metadata": {"labels": labels if labels is not None else {"app": "api"}},
                                      "spec": {"containers": [{"name": "app", "image": "api:1"}]}}, **spec}
    if selector is not None:
        s["selector"] = selector
    return {"metadata": {"name": "api", "namespace": "default"}, "spec": s}


# ----------------------------------------------------------------------------- valid objects


def test_valid_objects_pass() -> None:
    stored("Service", svc(ports=[port(80, targetPort=8080)]))
    stored("Service", svc(type="NodePort", ports=[port(80, nodePort=30080)]))
    stored("Service", svc(type="LoadBalancer", ports=[port(80)]))
    stored("Service", svc(clusterIP="None"))
    stored("Service", svc(type="ExternalName", externalName="db.example.com."))
    stored("Pod", pod())
    stored("Deployment", deploy(selector={"matchLabels": {"app": "api"}}))
    stored("ReplicaSet", {"metadata": {"name": "api-1"},
                          "spec": deploy(selector={"matchLabels": {"app": "api"}})["spec"]})
    stored("Namespace", {"metadata": {"name": "team-a"}})
    stored("ConfigMap", {"metadata": {"name": "cfg"}, "data": {"app.properties": "a=b", "KEY_1": "v"}})
    stored("Endpoints", {"metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": "10.244.1.5"}],
                                                                   "ports": [{"port": 8080}]}]})
    stored("EndpointSlice", {"metadata": {"name": "web-x"}, "addressType": "IPv4",
                             "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}],
                             "ports": [{"name": "", "port": 8080}]})
    stored("Node", {"metadata": {"name": "kind-worker"}})


# ----------------------------------------------------------------------------- metadata


def test_metadata_name_required_unless_generate_name() -> None:
    obj = svc(ports=[port()])
    del obj["metadata"]["name"]
    assert check("Service", obj) == ["metadata.name: Required value: name or generateName is required"]


def test_name_formats_per_kind() -> None:
    assert check("Pod", {"metadata": {"name": "Bad_Name"}, "spec": pod()["spec"]}) == [
        f'metadata.name: Invalid value: "Bad_Name": {DNS1123_SUBDOMAIN_MSG}']
    assert check("Namespace", {"metadata": {"name": "a.b"}}) == [
        'metadata.name: Invalid value: "a.b": must not contain dots']
    assert check("Namespace", {"metadata": {"name": "A"}}) == [
        f'metadata.name: Invalid value: "A": {DNS1123_LABEL_MSG}']
    assert check("ConfigMap", {"metadata": {"name": "my.config"}}) == []


def test_annotation_keys_are_qualified_names_case_insensitively() -> None:
    obj = svc(ports=[port()])
    obj["metadata"]["annotations"] = {"Example.com/Key": "x", "bad key": "y"}
    assert check("Service", obj) == [f'metadata.annotations: Invalid value: "bad key": {LABEL_NAME_MSG}']


# ----------------------------------------------------------------------------- R4


def test_R4_label_key_value_and_prefix_errors_with_exact_texts() -> None:
    obj = svc(ports=[port()])
    obj["metadata"]["labels"] = {"bad key": "ok", "app": "-bad", "Example.com/x": "v", "/x": "v", "a" * 64: "v"}
    assert check("Service", obj) == [
        f'metadata.labels: Invalid value: "bad key": {LABEL_NAME_MSG}',
        f'metadata.labels: Invalid value: "-bad": {LABEL_VALUE_MSG}',
        f'metadata.labels: Invalid value: "Example.com/x": prefix part {DNS1123_SUBDOMAIN_MSG}',
        'metadata.labels: Invalid value: "/x": prefix part must be non-empty',
        f'metadata.labels: Invalid value: "{"a" * 64}": name part must be no more than 63 characters',
    ]


def test_R4_uppercase_name_part_and_long_value() -> None:
    obj = svc(ports=[port()])
    obj["metadata"]["labels"] = {"MyApp": "v" * 64}
    assert check("Service", obj) == [
        f'metadata.labels: Invalid value: "{"v" * 64}": must be no more than 63 characters']


def test_R4_key_with_two_slashes() -> None:
    obj = svc(ports=[port()])
    obj["metadata"]["labels"] = {"a/b/c": "v"}
    assert check("Service", obj) == [
        'metadata.labels: Invalid value: "a/b/c": a valid label key must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
        "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional "
        "DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]


# ----------------------------------------------------------------------------- R5 (defaults feed validation)


def test_R5_target_port_zero_is_not_rejected_because_defaulting_replaces_it() -> None:
    assert check("Service", svc(ports=[port(80, targetPort=0)])) == []
    assert check("Service", svc(ports=[port(80, targetPort="")])) == []


def test_R5_session_affinity_config_with_none_is_silently_removed() -> None:
    assert check("Service", svc(ports=[port()], sessionAffinityConfig={"clientIP": {"timeoutSeconds": 1}})) == []


# ----------------------------------------------------------------------------- R6


def test_R6_aggregate_renders_one_error_bare_and_several_bracketed() -> None:
    assert check_agg("Service", svc(ports=[port(70000)])) == (
        "[spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, "
        "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive]")
    assert check_agg("Service", svc()) == "spec.ports: Required value"


def test_R6_source_wins_complex_values_render_as_json_not_go_syntax() -> None:
    msgs = check("Deployment", deploy(selector={"matchLabels": {"app": "web"}}))
    assert msgs == [
        'spec.template.metadata.labels: Invalid value: {"app":"api"}: `selector` does not match template `labels`']


def test_R6_causes_carry_reason_and_field() -> None:
    o = copy.deepcopy(svc(ports=[port(80, protocol="tcp")]))
    apply_defaults("Service", o)
    [err] = validate("Service", o)
    assert err.cause() == {"reason": "FieldValueNotSupported", "field": "spec.ports[0].protocol",
                           "message": 'Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"'}


# ----------------------------------------------------------------------------- R7


def test_R7_ports_required_unless_headless_or_externalname() -> None:
    assert check("Service", svc()) == ["spec.ports: Required value"]
    assert check("Service", svc(type="NodePort")) == ["spec.ports: Required value"]
    assert check("Service", svc(clusterIP="None")) == []
    assert check("Service", svc(type="ExternalName", externalName="db.example.com")) == []


# ----------------------------------------------------------------------------- R8


def test_R8_every_port_needs_a_name_when_there_are_several() -> None:
    assert check("Service", svc(ports=[port(80), port(443)])) == [
        "spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]


def test_R8_port_name_is_dns1123_label_and_digits_are_allowed() -> None:
    assert check("Service", svc(ports=[port(80, name="8080")])) == []
    assert check("Service", svc(ports=[port(80, name="Http")])) == [
        f'spec.ports[0].name: Invalid value: "Http": {DNS1123_LABEL_MSG}']
    assert check("Service", svc(ports=[port(80, name="web.http")])) == [
        'spec.ports[0].name: Invalid value: "web.http": must not contain dots']


def test_R8_duplicate_names_even_with_different_protocols() -> None:
    assert check("Service", svc(ports=[port(53, name="dns"), port(53, name="dns", protocol="UDP")])) == [
        'spec.ports[1].name: Duplicate value: "dns"']


# ----------------------------------------------------------------------------- R9


@pytest.mark.parametrize("value", [0, -1, 65536, 70000])
def test_R9_port_must_be_in_range(value: int) -> None:
    msgs = check("Service", svc(ports=[port(value, targetPort=8080)]))
    assert msgs == [f"spec.ports[0].port: Invalid value: {value}: {RANGE_MSG}"]


# ----------------------------------------------------------------------------- R10


@pytest.mark.parametrize("proto", ["tcp", "HTTP", "Udp"])
def test_R10_protocol_is_case_sensitive(proto: str) -> None:
    assert check("Service", svc(ports=[port(80, protocol=proto)])) == [
        f'spec.ports[0].protocol: Unsupported value: "{proto}": supported values: "SCTP", "TCP", "UDP"']


def test_R10_sctp_and_udp_are_accepted() -> None:
    assert check("Service", svc(ports=[port(80, name="a", protocol="SCTP"), port(81, name="b", protocol="UDP")])) == []


# ----------------------------------------------------------------------------- R11


def test_R11_integer_target_port_out_of_range() -> None:
    assert check("Service", svc(ports=[port(80, targetPort=70000)])) == [
        f"spec.ports[0].targetPort: Invalid value: 70000: {RANGE_MSG}"]


def test_R11_quoted_number_target_port_is_rejected() -> None:
    assert check("Service", svc(ports=[port(80, targetPort="8080")])) == [
        'spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)']


def test_R11_named_target_port_checks_run_in_order() -> None:
    assert check_agg("Service", svc(ports=[port(80, targetPort="-HTTP--12345678-")])) == (
        '[spec.ports[0].targetPort: Invalid value: "-HTTP--12345678-": must be no more than 15 characters, '
        'spec.ports[0].targetPort: Invalid value: "-HTTP--12345678-": must contain only alpha-numeric '
        "characters (a-z, 0-9), and hyphens (-), "
        'spec.ports[0].targetPort: Invalid value: "-HTTP--12345678-": must contain at least one letter (a-z), '
        'spec.ports[0].targetPort: Invalid value: "-HTTP--12345678-": must not contain consecutive hyphens, '
        'spec.ports[0].targetPort: Invalid value: "-HTTP--12345678-": must not begin or end with a hyphen]')


def test_R11_uppercase_fails_charset_and_letter_checks() -> None:
    assert check("Service", svc(ports=[port(80, targetPort="HTTP")])) == [
        'spec.ports[0].targetPort: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), '
        "and hyphens (-)",
        'spec.ports[0].targetPort: Invalid value: "HTTP": must contain at least one letter (a-z)']


def test_R11_valid_named_target_port_and_headless_tolerance() -> None:
    assert check("Service", svc(ports=[port(80, targetPort="http-alt")])) == []
    assert check("Service", svc(clusterIP="None", ports=[port(80, targetPort=9090)])) == []


# ----------------------------------------------------------------------------- R12


def test_R12_duplicate_port_protocol_pair_on_later_index() -> None:
    o = svc(ports=[port(80, name="a"), port(80, name="b")])
    apply_defaults("Service", o)
    errs = validate("Service", o)
    assert [(e.type, e.field) for e in errs] == [("Duplicate", "spec.ports[1]")]


def test_R12_same_number_different_protocol_is_valid() -> None:
    assert check("Service", svc(ports=[port(53, name="dns-tcp"), port(53, name="dns-udp", protocol="UDP")])) == []


# ----------------------------------------------------------------------------- R13


def test_R13_node_port_forbidden_for_cluster_ip() -> None:
    assert check("Service", svc(ports=[port(80, nodePort=30080)])) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]


def test_R13_duplicate_node_port() -> None:
    assert check("Service", svc(type="NodePort", ports=[port(80, name="a", nodePort=30080),
                                                        port(81, name="b", nodePort=30080)])) == [
        "spec.ports[1].nodePort: Duplicate value: 30080"]


def test_R13_node_port_range_is_not_checked_by_validation() -> None:
    assert check("Service", svc(type="NodePort", ports=[port(80, nodePort=80)])) == []


# ----------------------------------------------------------------------------- R14


def test_R14_type_supported_values() -> None:
    assert check("Service", svc(type="Ingress", ports=[port()])) == [
        'spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
        '"NodePort"']


def test_R14_externalname_requires_a_subdomain_with_optional_trailing_dot() -> None:
    assert check("Service", svc(type="ExternalName")) == ["spec.externalName: Required value"]
    assert check("Service", svc(type="ExternalName", externalName="DB.example.com")) == [
        f'spec.externalName: Invalid value: "DB.example.com": {DNS1123_SUBDOMAIN_MSG}']


def test_R14_externalname_may_not_have_cluster_ips_or_families() -> None:
    assert check("Service", svc(type="ExternalName", externalName="db.example.com", clusterIP="10.96.0.9",
                                ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack")) == [
        "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
        "spec.ipFamilies: Forbidden: may not be set for ExternalName services",
        "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services"]


@pytest.mark.parametrize("stype", ["NodePort", "LoadBalancer"])
def test_R14_headless_only_with_cluster_ip_type(stype: str) -> None:
    assert check("Service", svc(type=stype, clusterIP="None", ports=[port()])) == [
        f"spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for {stype} services"]


# ----------------------------------------------------------------------------- R15


@pytest.mark.parametrize("timeout", [0, -5, 86401])
def test_R15_client_ip_timeout_bounds(timeout: int) -> None:
    obj = svc(ports=[port()], sessionAffinity="ClientIP",
              sessionAffinityConfig={"clientIP": {"timeoutSeconds": timeout}})
    assert check("Service", obj) == [
        f"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: {timeout}: "
        "must be greater than 0 and less than 86400"]


def test_R15_affinity_values() -> None:
    assert check("Service", svc(ports=[port()], sessionAffinity="Cookie")) == [
        'spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None"']
    assert check("Service", svc(ports=[port()], sessionAffinity="ClientIP",
                                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 86400}})) == []


# ----------------------------------------------------------------------------- R16


def test_R16_service_name_is_dns1035_label() -> None:
    assert check("Service", svc(name="1web", ports=[port()])) == [
        f'metadata.name: Invalid value: "1web": {DNS1035_MSG}']
    assert check("Service", svc(name="web.v1", ports=[port()])) == [
        f'metadata.name: Invalid value: "web.v1": {DNS1035_MSG}']


# ----------------------------------------------------------------------------- R17


def test_R17_selector_errors_on_flat_path() -> None:
    assert check("Service", svc(ports=[port()], selector={"app": "my web"})) == [
        f'spec.selector: Invalid value: "my web": {LABEL_VALUE_MSG}']


# ----------------------------------------------------------------------------- cluster IPs


def test_cluster_ip_outside_service_range_is_refused_by_the_allocator_alone() -> None:
    expected = ('spec.clusterIPs: Invalid value: ["10.0.0.1"]: failed to allocate IP 10.0.0.1: the provided IP '
                "(10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/16")
    assert cluster_ip_range_error("10.0.0.1").render() == expected
    # allocation runs before ValidateService: the bad name is not reported alongside
    assert check_agg("Service", svc(name="1web", clusterIP="10.0.0.1", ports=[port()])) == expected


def test_cluster_ip_range_edges() -> None:
    assert check("Service", svc(clusterIP="10.96.0.1", ports=[port()])) == []
    assert check("Service", svc(clusterIP="10.96.255.254", ports=[port()])) == []
    # kind's Service range is 10.96.0.0/16 (the /12 kubeadm defaults to would take 10.97-10.111)
    assert check("Service", svc(clusterIP="10.97.0.1", ports=[port()])) == [
        cluster_ip_range_error("10.97.0.1").render()]


def test_cluster_ip_must_be_a_valid_ip() -> None:
    assert check("Service", svc(clusterIP="10.96.0", ports=[port()])) == [
        'spec.clusterIPs[0]: Invalid value: "10.96.0": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']
    assert check("Service", svc(clusterIP="10.96.0.010", ports=[port()])) == [
        'spec.clusterIPs[0]: Invalid value: "10.96.0.010": must not have leading 0s']


def test_ipv6_cluster_ip_on_single_stack_cluster() -> None:
    assert check("Service", svc(clusterIP="fd00::10", ports=[port()])) == [
        'spec.clusterIPs[0]: Invalid value: ["fd00::10"]: IPv6 is not configured on this cluster']


def test_service_allocation_stage_is_exported_for_the_server() -> None:
    o = svc(clusterIP="10.96.0.50", ports=[port()])
    apply_defaults("Service", o)
    assert validate_service_allocation(o) == []


def test_cluster_ip_immutable_on_update() -> None:
    old = stored("Service", svc(ports=[port()]))
    old["spec"]["clusterIP"] = "10.96.0.10"
    old["spec"]["clusterIPs"] = ["10.96.0.10"]
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.11"
    assert check("Service", new, old) == ['spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set']
    same = copy.deepcopy(old)
    same["spec"]["ports"][0]["targetPort"] = 9090
    assert check("Service", same, old) == []


def test_type_change_to_externalname_drops_cluster_ip_on_update() -> None:
    old = stored("Service", svc(ports=[port()]))
    old["spec"]["clusterIP"] = "10.96.0.10"
    old["spec"]["clusterIPs"] = ["10.96.0.10"]
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ExternalName"
    new["spec"]["externalName"] = "db.example.com"
    assert check("Service", new, old) == []


# ----------------------------------------------------------------------------- Pod


def test_pod_containers_required() -> None:
    assert check("Pod", {"metadata": {"name": "p"}, "spec": {"containers": []}}) == ["spec.containers: Required value"]


def test_pod_container_name_image_and_uniqueness() -> None:
    msgs = check("Pod", pod({"name": "", "image": ""}, {"name": "Web", "image": "x"}, {"name": "a", "image": "x"},
                            {"name": "a", "image": "x"}))
    assert msgs == [
        "spec.containers[0].name: Required value",
        "spec.containers[0].image: Required value",
        f'spec.containers[1].name: Invalid value: "Web": {DNS1123_LABEL_MSG}',
        'spec.containers[3].name: Duplicate value: "a"',
    ]


def test_pod_container_ports() -> None:
    c = {"name": "app", "image": "x", "ports": [
        {"containerPort": 0}, {"containerPort": 70000, "name": "http"}, {"containerPort": 80, "name": "http"},
        {"containerPort": 81, "name": "8080"}, {"containerPort": 82, "protocol": "ICMP"}]}
    assert check("Pod", pod(c)) == [
        "spec.containers[0].ports[0].containerPort: Required value",
        f"spec.containers[0].ports[1].containerPort: Invalid value: 70000: {RANGE_MSG}",
        'spec.containers[0].ports[2].name: Duplicate value: "http"',
        'spec.containers[0].ports[3].name: Invalid value: "8080": must contain at least one letter (a-z)',
        'spec.containers[0].ports[4].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    ]


def test_source_wins_container_port_names_are_unique_per_container_not_per_pod() -> None:
    a = {"name": "a", "image": "x", "ports": [{"containerPort": 80, "name": "http"}]}
    b = {"name": "b", "image": "x", "ports": [{"containerPort": 81, "name": "http"}]}
    assert check("Pod", pod(a, b)) == []


def test_pod_restart_and_dns_policy_keep_source_order() -> None:
    assert check("Pod", pod(restartPolicy="Sometimes", dnsPolicy="Google")) == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", '
        '"Default", "None"']


# ----------------------------------------------------------------------------- R32


def test_R32_probe_needs_exactly_one_handler() -> None:
    none = {"name": "app", "image": "x", "readinessProbe": {"periodSeconds": 5}}
    assert check("Pod", pod(none)) == [
        "spec.containers[0].readinessProbe: Required value: must specify a handler type"]
    two = {"name": "app", "image": "x", "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}
    assert check("Pod", pod(two)) == [
        "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]


def test_R32_success_threshold_must_be_1_for_liveness_and_startup_only() -> None:
    live = {"name": "app", "image": "x", "livenessProbe": {"tcpSocket": {"port": 80}, "successThreshold": 3},
            "startupProbe": {"tcpSocket": {"port": 80}, "successThreshold": 2},
            "readinessProbe": {"tcpSocket": {"port": 80}, "successThreshold": 3}}
    assert check("Pod", pod(live)) == [
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 3: must be 1",
        "spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1"]


def test_R32_negative_timings_rejected_and_zero_is_defaulted() -> None:
    c = {"name": "app", "image": "x", "readinessProbe": {"httpGet": {"port": "http"}, "initialDelaySeconds": -1,
                                                         "periodSeconds": 0, "failureThreshold": -2}}
    assert check("Pod", pod(c)) == [
        "spec.containers[0].readinessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
        "spec.containers[0].readinessProbe.failureThreshold: Invalid value: -2: must be greater than or equal to 0"]


def test_R32_probe_port_and_scheme() -> None:
    c = {"name": "app", "image": "x", "livenessProbe": {"httpGet": {"port": "8080", "scheme": "http"}}}
    assert check("Pod", pod(c)) == [
        'spec.containers[0].livenessProbe.httpGet.port: Invalid value: "8080": must contain at least one letter (a-z)',
        'spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: "http": supported values: "HTTP", "HTTPS"']


# ----------------------------------------------------------------------------- Pod update


def test_pod_update_image_is_allowed_other_fields_forbidden() -> None:
    old = stored("Pod", pod())
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert check("Pod", new, old) == []
    bad = copy.deepcopy(old)
    bad["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    assert check("Pod", bad, old) == [f"spec: Forbidden: {POD_UPDATE_FORBIDDEN_MESSAGE}"]
    assert POD_UPDATE_FORBIDDEN_MESSAGE.startswith(
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
        "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")


def test_pod_update_tolerations_additions_and_deadline() -> None:
    old = stored("Pod", pod())
    new = copy.deepcopy(old)
    new["spec"]["tolerations"].append({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"})
    new["spec"]["activeDeadlineSeconds"] = 600
    assert check("Pod", new, old) == []
    removed = copy.deepcopy(old)
    removed["spec"]["tolerations"] = removed["spec"]["tolerations"][:1]
    apply_defaults("Pod", removed)  # defaulting re-adds it, so this is still fine
    assert validate("Pod", removed, old) == []
    with_user = stored("Pod", pod(tolerations=[{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]))
    changed = copy.deepcopy(with_user)
    changed["spec"]["tolerations"][0]["key"] = "special"
    assert check("Pod", changed, with_user) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]


def test_pod_update_may_not_add_containers() -> None:
    old = stored("Pod", pod())
    new = copy.deepcopy(old)
    new["spec"]["containers"].append({"name": "side", "image": "busybox"})
    assert check("Pod", new, old) == ["spec.containers: Forbidden: pod updates may not add or remove containers"]


# ----------------------------------------------------------------------------- Deployment / ReplicaSet


def test_deployment_selector_required_also_reports_template_mismatch() -> None:
    assert check("Deployment", deploy()) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: {"app":"api"}: `selector` does not match template `labels`']


def test_deployment_empty_selector_is_invalid() -> None:
    assert check("Deployment", deploy(selector={})) == [
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment"]


def test_deployment_replicas_strategy_and_template_restart_policy() -> None:
    d = deploy(selector={"matchLabels": {"app": "api"}}, replicas=-1,
               strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert check("Deployment", d) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]


def test_deployment_strategy_type_and_percent() -> None:
    d = deploy(selector={"matchLabels": {"app": "api"}}, strategy={"type": "BlueGreen"})
    assert check("Deployment", d) == [
        'spec.strategy: Unsupported value: {"type":"BlueGreen"}: supported values: "Recreate", "RollingUpdate"']
    p = deploy(selector={"matchLabels": {"app": "api"}},
               strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50", "maxUnavailable": "120%"}})
    assert check("Deployment", p) == [
        'spec.strategy.rollingUpdate.maxSurge: Invalid value: "50": a valid percent string must be a numeric string '
        "followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%']


def test_template_pod_spec_errors_use_template_paths() -> None:
    d = deploy(selector={"matchLabels": {"app": "api"}})
    d["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    assert check("Deployment", d) == ["spec.template.spec.containers[0].image: Required value"]


def test_selector_immutable_on_update() -> None:
    old = stored("Deployment", deploy(selector={"matchLabels": {"app": "api"}}))
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "api", "tier": "be"}}
    new["spec"]["template"]["metadata"]["labels"] = {"app": "api", "tier": "be"}
    assert check("Deployment", new, old) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"api","tier":"be"}}: field is immutable']


def test_replicaset_match_expressions() -> None:
    rs = {"metadata": {"name": "rs"}, "spec": deploy(selector={
        "matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "web"]}]})["spec"]}
    assert check("ReplicaSet", rs) == []
    rs["spec"]["selector"]["matchExpressions"][0]["operator"] = "Within"
    assert check("ReplicaSet", rs) == [
        'spec.selector.matchExpressions[0].operator: Invalid value: "Within": not a valid selector operator',
        'spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Within","values":["api","web"]}]}'
        ": invalid label selector"]


# ----------------------------------------------------------------------------- other kinds


def test_configmap_keys() -> None:
    assert check("ConfigMap", {"metadata": {"name": "c"}, "data": {"bad key": "v", "..x": "v"}}) == [
        "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, "
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')",
        "data[..x]: Invalid value: \"..x\": must not start with '..'"]


def test_endpoints_validation() -> None:
    ep = {"metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                                   "ports": [{"port": 80}, {"port": 0, "name": "b"}]}, {}]}
    assert check("Endpoints", ep) == [
        'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": '
        "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        "subsets[0].ports[0].name: Required value",
        f"subsets[0].ports[1].port: Invalid value: 0: {RANGE_MSG}",
        "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`"]


def test_endpointslice_validation() -> None:
    es = {"metadata": {"name": "web-x"}, "addressType": "IP4", "endpoints": [{"addresses": []}],
          "ports": [{"name": "http", "port": 80, "protocol": "tcp"}]}
    assert check("EndpointSlice", es) == [
        'addressType: Unsupported value: "IP4": supported values: "FQDN", "IPv4", "IPv6"',
        "endpoints[0].addresses: Required value: must contain at least 1 address",
        'ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"']
    bad_ip = {"metadata": {"name": "web-x"}, "addressType": "IPv4", "endpoints": [{"addresses": ["fd00::1"]}]}
    assert check("EndpointSlice", bad_ip) == [
        'endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address']


def test_namespace_finalizer_names() -> None:
    assert check("Namespace", {"metadata": {"name": "ns"}, "spec": {"finalizers": ["custom"]}}) == [
        'spec.finalizers[0]: Invalid value: "custom": '
        "name is neither a standard finalizer name nor is it fully qualified"]


# ----------------------------------------------------------------------------- totality


def test_wrong_types_become_field_errors() -> None:
    assert check("Service", svc(ports=[{"port": "abc"}])) == [
        'spec.ports[0].port: Invalid value: "abc": must be of type integer']
    assert check("Service", svc(ports="80")) == ['spec.ports: Invalid value: "80": must be of type array']
    assert check("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": 5}]}}) == [
        "spec.containers[0].image: Invalid value: 5: must be of type string"]
    assert [e.render() for e in validate("Pod", [])] == [': Invalid value: []: must be of type object']  # type: ignore[arg-type]


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=25,
)
_KEYS = ["metadata", "name", "generateName", "labels", "annotations", "finalizers", "spec", "type", "ports", "port",
         "targetPort", "nodePort", "protocol", "selector", "matchLabels", "matchExpressions", "key", "operator",
         "values", "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "sessionAffinity",
         "sessionAffinityConfig", "clientIP", "timeoutSeconds", "externalName", "externalIPs", "containers", "image",
         "livenessProbe", "readinessProbe", "httpGet", "exec", "command", "tcpSocket", "template", "strategy",
         "rollingUpdate", "maxSurge", "maxUnavailable", "replicas", "tolerations", "data", "subsets", "addresses",
         "ip", "endpoints", "addressType", "taints", "volumes", "volumeMounts", "env", "restartPolicy"]
_shaped = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.sampled_from(["", "None", "TCP", "10.96.0.1", "a/b", "x"])
    | _json,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), kids, max_size=5),
    max_leaves=40,
)
_KINDS = ["Service", "Pod", "Deployment", "ReplicaSet", "Namespace", "Endpoints", "EndpointSlice", "Node",
          "ConfigMap", "Event", "Unknown"]


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(_KINDS), obj=st.dictionaries(st.sampled_from(_KEYS), _shaped, max_size=6),
       old=st.none() | st.dictionaries(st.sampled_from(_KEYS), _shaped, max_size=4), defaulted=st.booleans())
def test_validate_is_total_on_arbitrary_json(kind: str, obj: dict[str, Any], old: dict[str, Any] | None,
                                             defaulted: bool) -> None:
    if defaulted:
        apply_defaults(kind, obj)
    errs = validate(kind, obj, old)
    assert all(isinstance(e, FieldError) for e in errs)
    aggregate(errs)
    for e in errs:
        e.cause()


@settings(max_examples=200, deadline=None)
@given(mutation=_shaped, path=st.sampled_from([("spec",), ("spec", "ports"), ("spec", "selector"),
                                               ("spec", "sessionAffinityConfig"), ("metadata", "labels")]))
def test_validate_is_total_on_mutated_valid_service(mutation: Any, path: tuple[str, ...]) -> None:
    obj = svc(ports=[port(80)])
    target: Any = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = mutation
    apply_defaults("Service", obj)
    aggregate(validate("Service", obj))


def test_schema_table_matches_the_official_client() -> None:
    """kai_labs/sim/apimachinery/schema_data.json is generated from the kubernetes client's models; regenerate
    it with `python -m kai_labs.sim.apimachinery.schema` when the client changes."""
    import json

    from kai_labs.sim.apimachinery import schema

    assert schema.generate() == json.loads(schema._DATA.read_text())


def test_strict_decoding_names_the_unknown_field_and_wrong_type() -> None:
    from kai_labs.sim.apimachinery import schema

    err = schema.check("v1", "Service", {"spec": {"ports": [{"port": 80, "targetport": 8080}]}})
    assert err is not None and err.text() == 'strict decoding error: unknown field "spec.ports[0].targetport"'
    err = schema.check("v1", "Service", {"spec": {"ports": [{"port": "80"}]}})
    assert err is not None and err.text() == ("json: cannot unmarshal string into Go struct field "
                                              "ServicePort.spec.ports.port of type int32")
