"""Tests for kai_labs.sim.apimachinery.protobuf: the Kubernetes protobuf request-body decoder.

Bodies are built with a tiny hand-written encoder (varints and length-delimited fields) that
mimics go-to-protobuf output (non-pointer scalars written even when zero, empty messages
for zero structs), plus real bodies captured from kubectl (tests/unit/data/*.pb.hex).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kai_labs.sim.apimachinery import protobuf as pb
from kai_labs.sim.apimachinery.protobuf import MAGIC, ProtobufError, decode, supported_kinds

DATA = Path(__file__).parent / "data"


# ----------------------------------------------------------------------------- encoder

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative numbers: two's complement, 10 bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(num: int, wt: int) -> bytes:
    return varint(num << 3 | wt)


def vi(num: int, n: int) -> bytes:
    """varint field (int32/int64/bool/enum)."""
    return key(num, 0) + varint(n)


def ld(num: int, payload: bytes) -> bytes:
    return key(num, 2) + varint(len(payload)) + payload


def s(num: int, text: str) -> bytes:
    return ld(num, text.encode())


def m(num: int, *parts: bytes) -> bytes:
    return ld(num, b"".join(parts))


def entry(num: int, k: str, value: bytes) -> bytes:
    """map<string, X> entry; value is the already-encoded field 2 (or b'')."""
    return m(num, s(1, k), value)


def envelope(api_version: str, kind: str, raw: bytes, encoding: str = "", ctype: str = "") -> bytes:
    return MAGIC + m(1, s(1, api_version), s(2, kind)) + ld(2, raw) + s(3, encoding) + s(4, ctype)


def object_meta(name: str = "", labels: dict[str, str] | None = None, **extra: bytes) -> bytes:
    """ObjectMeta the way Go writes it: every non-pointer field present, zero or not."""
    parts = [s(1, name), s(2, ""), s(3, ""), s(4, ""), s(5, ""), s(6, ""), vi(7, 0), m(8)]
    for k, v in (labels or {}).items():
        parts.append(entry(11, k, s(2, v)))
    parts.extend(extra.values())
    return m(1, *parts)


def int_or_string(num: int, value: int | str) -> bytes:
    if isinstance(value, int):
        return m(num, vi(1, 0), vi(2, value), s(3, ""))
    return m(num, vi(1, 1), vi(2, 0), s(3, value))


def container(name: str, image: str, *extra: bytes) -> bytes:
    """Container with the always-written zero fields and an empty resources struct."""
    return m(2, s(1, name), s(2, image), s(5, ""), m(8), s(13, ""), s(14, ""),
             vi(16, 0), vi(17, 0), vi(18, 0), s(20, ""), *extra)


def load_fixture(name: str) -> bytes:
    lines = [ln for ln in (DATA / name).read_text().splitlines() if ln and not ln.startswith("#")]
    return bytes.fromhex(lines[0])


# ----------------------------------------------------------------------------- objects

def test_namespace() -> None:
    raw = object_meta("foo") + m(2) + m(3, s(1, ""))
    assert decode(envelope("v1", "Namespace", raw)) == {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "foo"},
        "spec": {}, "status": {}}


def test_result_starts_with_kind_and_apiversion() -> None:
    out = decode(envelope("v1", "Namespace", object_meta("foo")))
    assert list(out)[:2] == ["kind", "apiVersion"]


def test_configmap_data_and_binary_data() -> None:
    raw = (object_meta("c") + entry(2, "a", s(2, "b")) + entry(2, "empty", s(2, ""))
           + entry(3, "bin", ld(2, b"\x00\xff")) + vi(4, 1))
    assert decode(envelope("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"},
        "data": {"a": "b", "empty": ""}, "binaryData": {"bin": "AP8="}, "immutable": True}


def test_secret_data_is_base64_and_immutable_false_is_kept() -> None:
    raw = object_meta("s") + entry(2, "k", ld(2, b"v")) + s(3, "Opaque") + vi(5, 0)
    out = decode(envelope("v1", "Secret", raw))
    assert out["data"] == {"k": "dg=="}
    assert out["type"] == "Opaque"
    assert out["immutable"] is False  # *bool: present means set


def test_deployment_as_kubectl_create_deployment() -> None:
    labels = {"app": "web"}
    raw = (object_meta("web", labels)
           + m(2,
               vi(1, 3),
               m(2, entry(1, "app", s(2, "web"))),
               m(3, object_meta("", labels),
                 m(2, container("nginx", "nginx"), s(3, ""), s(6, ""), s(8, ""), s(9, ""),
                   s(10, ""), vi(11, 0), vi(12, 0), vi(13, 0), s(16, ""), s(17, ""), s(19, ""),
                   s(24, ""))),
               m(4, s(1, "")),
               vi(5, 0), vi(7, 0))
           + m(3, vi(1, 0), vi(2, 0), vi(3, 0), vi(4, 0), vi(5, 0), vi(7, 0)))
    assert decode(envelope("apps/v1", "Deployment", raw)) == {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}},
            "strategy": {},
        },
        "status": {},
    }


def test_replicas_zero_is_kept_but_plain_zero_ints_are_dropped() -> None:
    raw = object_meta("d") + m(2, vi(1, 0), vi(5, 0), vi(6, 0))
    spec = decode(envelope("apps/v1", "Deployment", raw))["spec"]
    assert spec == {"replicas": 0, "revisionHistoryLimit": 0}


def test_service_as_kubectl_create_service_clusterip() -> None:
    port = m(1, s(1, "80-8080"), s(2, "TCP"), vi(3, 80), int_or_string(4, 8080), vi(5, 0))
    raw = (object_meta("web", {"app": "web"})
           + m(2, port, entry(2, "app", s(2, "web")), s(3, ""), s(4, "ClusterIP"), s(7, ""),
               s(8, ""), s(10, ""), s(11, ""), vi(12, 0), vi(13, 0))
           + m(3, m(1)))
    assert decode(envelope("v1", "Service", raw)) == {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                 "selector": {"app": "web"}, "type": "ClusterIP"},
        "status": {"loadBalancer": {}},
    }


def test_service_nodeport_and_string_target_port() -> None:
    port = m(1, s(1, "http"), s(2, "TCP"), vi(3, 80), int_or_string(4, "web"), vi(5, 30080))
    raw = object_meta("np") + m(2, port, s(4, "NodePort"), s(22, "Cluster"))
    spec = decode(envelope("v1", "Service", raw))["spec"]
    assert spec["ports"] == [{"name": "http", "protocol": "TCP", "port": 80,
                              "targetPort": "web", "nodePort": 30080}]
    assert spec["type"] == "NodePort" and spec["internalTrafficPolicy"] == "Cluster"


def pod_with(*container_extra: bytes, spec_extra: bytes = b"") -> dict[str, Any]:
    raw = object_meta("p") + m(2, container("c", "img", *container_extra), spec_extra)
    return decode(envelope("v1", "Pod", raw))


def test_probe_handler_is_inlined() -> None:
    probe = m(10,
              m(1, m(2, s(1, "/healthz"), int_or_string(2, 8080), s(3, ""), s(4, "HTTP"),
                     m(5, s(1, "X-A"), s(2, "b")))),
              vi(2, 5), vi(3, 1), vi(4, 10), vi(5, 1), vi(6, 3))
    exec_probe = m(11, m(1, m(1, s(1, "cat"), s(1, "/tmp/ready"))), vi(2, 0))
    grpc_probe = m(22, m(1, m(4, vi(1, 9000))))
    c = pod_with(probe, exec_probe, grpc_probe)["spec"]["containers"][0]
    assert c["livenessProbe"] == {
        "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP",
                    "httpHeaders": [{"name": "X-A", "value": "b"}]},
        "initialDelaySeconds": 5, "timeoutSeconds": 1, "periodSeconds": 10,
        "successThreshold": 1, "failureThreshold": 3}
    assert c["readinessProbe"] == {"exec": {"command": ["cat", "/tmp/ready"]}}
    assert c["startupProbe"] == {"grpc": {"port": 9000}}


def test_lifecycle_handlers() -> None:
    lc = m(12, m(1, m(3, int_or_string(1, "http"), s(2, ""))), m(2, m(4, vi(1, 5))))
    c = pod_with(lc)["spec"]["containers"][0]
    assert c["lifecycle"] == {"postStart": {"tcpSocket": {"port": "http"}},
                              "preStop": {"sleep": {"seconds": 5}}}


def test_env_sources_inline_local_object_reference() -> None:
    env = [
        m(7, s(1, "PLAIN"), s(2, "v")),
        m(7, s(1, "EMPTY"), s(2, "")),
        m(7, s(1, "FROM_SECRET"), s(2, ""), m(3, m(4, m(1, s(1, "sec")), s(2, "key"), vi(3, 1)))),
        m(7, s(1, "FROM_CM"), m(3, m(3, m(1, s(1, "cm")), s(2, "k")))),
        m(7, s(1, "FIELD"), m(3, m(1, s(1, "v1"), s(2, "metadata.name")))),
        m(7, s(1, "RES"), m(3, m(2, s(1, ""), s(2, "limits.cpu"), m(3, s(1, "1m"))))),
    ]
    env_from = m(19, s(1, "P_"), m(2, m(1, s(1, "cm2")), vi(2, 0)))
    c = pod_with(*env, env_from)["spec"]["containers"][0]
    assert c["env"] == [
        {"name": "PLAIN", "value": "v"},
        {"name": "EMPTY"},
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "key", "optional": True}}},
        {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
        {"name": "FIELD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        {"name": "RES", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
    ]
    assert c["envFrom"] == [{"prefix": "P_", "configMapRef": {"name": "cm2", "optional": False}}]


def test_resources_ports_and_volume_mounts() -> None:
    res = m(8, entry(1, "cpu", m(2, s(1, "500m"))), entry(2, "memory", m(2, s(1, "64Mi"))))
    ports = m(6, s(1, "http"), vi(2, 0), vi(3, 80), s(4, "TCP"), s(5, ""))
    mount = m(9, s(1, "data"), vi(2, 1), s(3, "/data"), s(4, ""), s(6, ""))
    c = pod_with(res, ports, mount)["spec"]["containers"][0]
    assert c["resources"] == {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}
    assert c["ports"] == [{"name": "http", "containerPort": 80, "protocol": "TCP"}]
    assert c["volumeMounts"] == [{"name": "data", "readOnly": True, "mountPath": "/data"}]


def test_volumes_inline_volume_source() -> None:
    vols = (m(1, s(1, "cfg"), m(2, m(19, m(1, s(1, "my-cm")), m(2, s(1, "a"), s(2, "a.txt")), vi(3, 420))))
            + m(1, s(1, "tmp"), m(2, m(2, s(1, "Memory"), m(2, s(1, "1Gi")))))
            + m(1, s(1, "sec"), m(2, m(6, s(1, "my-secret"), vi(4, 0))))
            + m(1, s(1, "host"), m(2, m(1, s(1, "/var/log"), s(2, "")))))
    out = decode(envelope("v1", "Pod", object_meta("p") + m(2, vols, container("c", "i"))))
    assert out["spec"]["volumes"] == [
        {"name": "cfg", "configMap": {"name": "my-cm", "items": [{"key": "a", "path": "a.txt"}],
                                      "defaultMode": 420}},
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
        {"name": "sec", "secret": {"secretName": "my-secret", "optional": False}},
        {"name": "host", "hostPath": {"path": "/var/log", "type": ""}},
    ]


def test_pod_spec_scheduling_fields() -> None:
    tol = m(22, s(1, "k"), s(2, "Exists"), s(3, ""), s(4, "NoExecute"), vi(5, 0))
    aff = m(18, m(1, m(1, m(1, m(1, s(1, "zone"), s(2, "In"), s(3, "a"), s(3, "b"))))))
    sc = m(14, vi(2, -1), vi(3, 1), vi(4, 1), vi(4, 2), vi(5, 2000))
    out = pod_with(spec_extra=tol + aff + sc + vi(4, 0) + s(8, "sa") + entry(7, "disk", s(2, "ssd")))
    spec = out["spec"]
    assert spec["tolerations"] == [{"key": "k", "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": 0}]
    assert spec["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}}
    assert spec["securityContext"] == {"runAsUser": -1, "runAsNonRoot": True,
                                       "supplementalGroups": [1, 2], "fsGroup": 2000}
    assert spec["terminationGracePeriodSeconds"] == 0
    assert spec["serviceAccountName"] == "sa"
    assert spec["nodeSelector"] == {"disk": "ssd"}


def test_negative_int32_is_a_ten_byte_varint() -> None:
    enc = vi(2, -1)
    assert len(enc) == 11  # key + 10 bytes
    c = pod_with(m(6, vi(2, -1), vi(3, -2147483648)))["spec"]["containers"][0]
    assert c["ports"] == [{"hostPort": -1, "containerPort": -2147483648}]


def test_int32_truncates_like_go() -> None:
    # a varint wider than 32 bits is truncated to int32, as Go's generated code does
    c = pod_with(m(6, vi(3, (1 << 32) + 7)))["spec"]["containers"][0]
    assert c["ports"] == [{"containerPort": 7}]


def test_packed_and_unpacked_repeated_numbers() -> None:
    packed = ld(4, varint(1) + varint(2) + varint((1 << 64) - 3))
    out = pod_with(spec_extra=m(14, packed, vi(4, 9)))
    assert out["spec"]["securityContext"] == {"supplementalGroups": [1, 2, -3, 9]}


def test_times() -> None:
    ts = 1767323045  # 2026-01-02T03:04:05Z
    meta = object_meta("e", deletion=m(9, vi(1, ts), vi(2, 999)))
    event = (meta + m(2, s(1, "Pod"), s(3, "p")) + s(3, "Started") + m(6, vi(1, ts))
             + m(7) + vi(8, 2) + m(10, vi(1, ts), vi(2, 123456789))
             + m(11, vi(1, 3), m(2, vi(1, ts))))
    out = decode(envelope("v1", "Event", event))
    assert out["metadata"] == {"name": "e", "deletionTimestamp": "2026-01-02T03:04:05Z"}
    assert out["firstTimestamp"] == "2026-01-02T03:04:05Z"
    assert "lastTimestamp" not in out  # zero Time (empty message) is JSON null
    assert out["eventTime"] == "2026-01-02T03:04:05.123456Z"
    assert out["series"] == {"count": 3, "lastObservedTime": "2026-01-02T03:04:05.000000Z"}
    assert out["involvedObject"] == {"kind": "Pod", "name": "p"}
    assert out["count"] == 2


def test_epoch_time_is_not_the_zero_time() -> None:
    out = decode(envelope("v1", "Namespace", object_meta("n", c=m(8, vi(1, 0), vi(2, 0)))))
    assert out["metadata"]["creationTimestamp"] == "1970-01-01T00:00:00Z"


def test_time_out_of_range() -> None:
    with pytest.raises(ProtobufError, match="out of range"):
        decode(envelope("v1", "Namespace", object_meta("n", c=m(9, vi(1, 1 << 62)))))


def test_owner_references_labels_annotations_finalizers() -> None:
    owner = m(13, s(1, "ReplicaSet"), s(3, "rs"), s(4, "uid-1"), s(5, "apps/v1"), vi(6, 1), vi(7, 0))
    meta = object_meta("p", {"a": "1"}, ann=entry(12, "note", s(2, "")), own=owner,
                       fin=s(14, "f1"), gen=s(2, "p-"))
    out = decode(envelope("v1", "Pod", meta))
    assert out["metadata"] == {
        "name": "p", "generateName": "p-", "labels": {"a": "1"}, "annotations": {"note": ""},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "uid": "uid-1",
                             "apiVersion": "apps/v1", "controller": True,
                             "blockOwnerDeletion": False}],
        "finalizers": ["f1"]}


def test_managed_fields() -> None:
    mf = m(17, s(1, "kubectl"), s(2, "Update"), s(3, "v1"), m(4, vi(1, 0)), s(6, "FieldsV1"),
           m(7, ld(1, b'{"f:data":{}}')))
    out = decode(envelope("v1", "ConfigMap", object_meta("c", mf=mf)))
    assert out["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Update", "apiVersion": "v1",
        "time": "1970-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}]


def test_replicaset_and_rolling_update_strategy() -> None:
    rs = object_meta("rs") + m(2, vi(1, 2), vi(4, 0),
                                m(2, m(2, s(1, "tier"), s(2, "In"), s(3, "web"))))
    out = decode(envelope("apps/v1", "ReplicaSet", rs))
    assert out["spec"] == {"replicas": 2, "selector": {"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["web"]}]}}
    dep = object_meta("d") + m(2, m(4, s(1, "RollingUpdate"),
                                    m(2, int_or_string(1, "25%"), int_or_string(2, 0))))
    assert decode(envelope("apps/v1", "Deployment", dep))["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 0}}


def test_endpoints_and_endpointslice() -> None:
    ep = object_meta("svc") + m(2, m(1, s(1, "10.0.0.1"), m(2, s(1, "Pod"), s(3, "p"))),
                               m(3, s(1, ""), vi(2, 80), s(3, "TCP")))
    assert decode(envelope("v1", "Endpoints", ep))["subsets"] == [
        {"addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "p"}}],
         "ports": [{"port": 80, "protocol": "TCP"}]}]
    sl = (object_meta("svc-abc") + s(4, "IPv4")
          + m(2, s(1, "10.0.0.1"), m(2, vi(1, 0), vi(2, 1), vi(3, 0)), s(6, "node-1"))
          + m(3, s(1, ""), s(2, "TCP"), vi(3, 80)))
    out = decode(envelope("discovery.k8s.io/v1", "EndpointSlice", sl))
    assert out["addressType"] == "IPv4"
    assert out["endpoints"] == [{"addresses": ["10.0.0.1"], "nodeName": "node-1",
                                 "conditions": {"ready": False, "serving": True, "terminating": False}}]
    assert out["ports"] == [{"name": "", "protocol": "TCP", "port": 80}]


def test_delete_options_under_any_group_version() -> None:
    raw = vi(1, 0) + m(2, s(1, "uid-1")) + s(4, "Foreground") + s(5, "All")
    for gv in ("v1", "meta.k8s.io/v1", "apps/v1"):
        assert decode(envelope(gv, "DeleteOptions", raw)) == {
            "kind": "DeleteOptions", "apiVersion": gv, "gracePeriodSeconds": 0,
            "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground", "dryRun": ["All"]}


def test_eviction_scale_binding() -> None:
    ev = object_meta("p") + m(2, vi(1, 30))
    assert decode(envelope("policy/v1", "Eviction", ev)) == {
        "kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "p"},
        "deleteOptions": {"gracePeriodSeconds": 30}}
    sc = object_meta("web") + m(2, vi(1, 5)) + m(3, vi(1, 0), s(2, ""))
    assert decode(envelope("autoscaling/v1", "Scale", sc)) == {
        "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web"},
        "spec": {"replicas": 5}, "status": {"replicas": 0}}
    b = object_meta("p") + m(2, s(1, "Node"), s(3, "node-1"))
    assert decode(envelope("v1", "Binding", b))["target"] == {"kind": "Node", "name": "node-1"}


def test_service_account() -> None:
    raw = object_meta("sa") + m(3, s(1, "pull")) + vi(4, 0)
    assert decode(envelope("v1", "ServiceAccount", raw)) == {
        "kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa"},
        "imagePullSecrets": [{"name": "pull"}], "automountServiceAccountToken": False}


def test_ephemeral_container_common_is_inlined() -> None:
    raw = object_meta("p") + m(2, m(34, m(1, s(1, "debug"), s(2, "busybox"), vi(16, 1)), s(2, "app")))
    assert decode(envelope("v1", "Pod", raw))["spec"]["ephemeralContainers"] == [
        {"name": "debug", "image": "busybox", "stdin": True, "targetContainerName": "app"}]


def test_unknown_fields_are_skipped() -> None:
    junk = (vi(99, 5) + ld(100, b"\x01\x02") + key(101, 1) + b"\x00" * 8 + key(102, 5) + b"\x00" * 4)
    raw = object_meta("foo", x=junk) + junk
    assert decode(envelope("v1", "Namespace", raw)) == {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "foo"}}
    # unknown fields in the envelope too
    assert decode(envelope("v1", "Namespace", raw) + vi(9, 1))["metadata"] == {"name": "foo"}


def test_repeated_message_field_merges_last_scalar_wins() -> None:
    raw = object_meta("a") + object_meta("b", {"x": "1"})
    assert decode(envelope("v1", "Namespace", raw))["metadata"] == {"name": "b", "labels": {"x": "1"}}


def test_embedded_json_content_type() -> None:
    body = envelope("v1", "Namespace", b'{"metadata":{"name":"j"}}', ctype="application/json")
    assert decode(body) == {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "j"}}


def test_go_duration_format() -> None:
    g = pb._go_duration
    assert [g(0), g(1), g(1500), g(2_000_000), g(1_500_000_000), g(90 * 10**9),
            g(3600 * 10**9), g(-(3723 * 10**9 + 5 * 10**8))] == [
        "0s", "1ns", "1.5\u00b5s", "2ms", "1.5s", "1m30s", "1h0m0s", "-1h2m3.5s"]


def test_supported_kinds() -> None:
    kinds = supported_kinds()
    for k in [("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
              ("v1", "ServiceAccount"), ("v1", "Pod"), ("apps/v1", "Deployment"),
              ("apps/v1", "ReplicaSet"), ("discovery.k8s.io/v1", "EndpointSlice"),
              ("autoscaling/v1", "Scale"), ("policy/v1", "Eviction"), ("v1", "Binding")]:
        assert k in kinds


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("body, match", [
    (b"", "prefix"),
    (b'{"kind":"Namespace"}', "prefix"),
    (b"k8s\x01" + m(1), "prefix"),
    (MAGIC + b"\x0a", "truncated varint"),
    (MAGIC + b"\x0a\x05ab", "past the end"),
    (MAGIC + b"\x0b", "wire type 3"),
    (MAGIC + b"\x0c", "wire type 4"),
    (MAGIC + b"\x0e", "wire type 6"),
    (MAGIC + b"\x0f", "wire type 7"),
    (MAGIC + b"\x08" + b"\xff" * 11, "longer than 10"),
    (MAGIC + b"\x00\x00", "field number 0"),
    (MAGIC + b"\x09\x00\x00", "fixed64"),
    (MAGIC + vi(1, 3), "wire type 0"),
    (MAGIC + ld(2, b""), "no kind"),
    (envelope("v1", "Widget", b""), "not supported"),
    (envelope("apps/v1", "Namespace", b""), "not supported"),
    (envelope("v1", "Namespace", b"", encoding="gzip"), "contentEncoding"),
    (envelope("v1", "Namespace", b"", ctype="application/yaml"), "contentType"),
    (envelope("v1", "Namespace", b"{", ctype="application/json"), "JSON"),
    (envelope("v1", "Namespace", vi(1, 5)), "Namespace.metadata: wire type 0"),
    (envelope("v1", "Namespace", object_meta(x=vi(1, 5))), "ObjectMeta.name: wire type 0"),
    (envelope("v1", "Namespace", object_meta(x=s(7, "x"))), "ObjectMeta.generation: wire type 2"),
    (envelope("v1", "Namespace", object_meta(x=vi(11, 1))), "map entry"),
    (envelope("v1", "Service", m(2, m(1, m(4, vi(1, 2))))), "IntOrString: invalid type 2"),
    (envelope("v1", "Service", m(2, m(1, m(4, s(1, "x"))))), "IntOrString"),
])
def test_malformed(body: bytes, match: str) -> None:
    with pytest.raises(ProtobufError, match=match):
        decode(body)


def test_protobuf_error_is_a_value_error() -> None:
    assert issubclass(ProtobufError, ValueError)
    with pytest.raises(ProtobufError):
        decode("k8s\x00")  # type: ignore[arg-type]


def test_depth_guard() -> None:
    # No schema message is recursive, so real bodies nest at most ~15 deep; the guard still
    # turns runaway nesting into a ProtobufError rather than a RecursionError.
    raw = m(1, s(1, "x"))
    with pytest.raises(ProtobufError, match="too deep"):
        pb._message("Pod", raw, 0, len(raw), {}, pb._MAX_DEPTH)


# ----------------------------------------------------------------------------- real kubectl bodies

FIXTURES = {
    "kubectl_namespace.pb.hex": {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "foo"}, "spec": {}, "status": {}},
    "kubectl_configmap.pb.hex": {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"},
        "data": {"a": "b", "empty": ""}},
    "kubectl_deployment.pb.hex": {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}},
                 "strategy": {}},
        "status": {}},
    "kubectl_deployment_command_port.pb.hex": {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "multi", "labels": {"app": "multi"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "multi"}},
                 "template": {"metadata": {"labels": {"app": "multi"}},
                              "spec": {"containers": [{"name": "busybox", "image": "busybox",
                                                       "command": ["sleep", "3600"],
                                                       "ports": [{"containerPort": 8080}],
                                                       "resources": {}}]}},
                 "strategy": {}},
        "status": {}},
    "kubectl_service_clusterip.pb.hex": {
        "kind": "Service", "apiVersion": "v1", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                 "selector": {"app": "web"}, "type": "ClusterIP"},
        "status": {"loadBalancer": {}}},
    "kubectl_service_nodeport.pb.hex": {
        "kind": "Service", "apiVersion": "v1", "metadata": {"name": "np", "labels": {"app": "np"}},
        "spec": {"ports": [{"name": "8080-80", "protocol": "TCP", "port": 8080, "targetPort": 80,
                            "nodePort": 30080}],
                 "selector": {"app": "np"}, "type": "NodePort"},
        "status": {"loadBalancer": {}}},
    "kubectl_service_headless.pb.hex": {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "headless", "labels": {"app": "headless"}},
        "spec": {"selector": {"app": "headless"}, "clusterIP": "None", "type": "ClusterIP"},
        "status": {"loadBalancer": {}}},
    "kubectl_serviceaccount.pb.hex": {
        "kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa1"}},
    "kubectl_secret.pb.hex": {
        "kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s1"}, "data": {"k": "dg=="}},
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_real_kubectl_bodies(name: str) -> None:
    assert decode(load_fixture(name)) == FIXTURES[name]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_truncated_real_bodies_raise_or_decode(name: str) -> None:
    body = load_fixture(name)
    for cut in range(len(MAGIC), len(body)):
        try:
            out = decode(body[:cut])
        except ProtobufError:
            continue
        assert isinstance(out, dict)
        json.dumps(out)


# ----------------------------------------------------------------------------- fuzz

def _check(body: bytes) -> None:
    try:
        out = decode(body)
    except ProtobufError:
        return
    assert isinstance(out, dict)
    json.dumps(out)  # always JSON-serialisable


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    _check(data)
    _check(MAGIC + data)


_TOP = sorted(supported_kinds())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_TOP), st.binary(max_size=300))
def test_fuzz_random_raw_for_each_kind(kind: tuple[str, str], raw: bytes) -> None:
    _check(envelope(kind[0], kind[1], raw))


@st.composite
def _proto_tree(draw: st.DrawFn, depth: int = 0) -> bytes:
    """Structurally valid protobuf with random field numbers/wire types (exercises schemas)."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        num = draw(st.integers(1, 45))
        choice = draw(st.integers(0, 4 if depth < 6 else 2))
        if choice == 0:
            parts.append(vi(num, draw(st.integers(-(1 << 63), (1 << 64) - 1))))
        elif choice == 1:
            parts.append(ld(num, draw(st.binary(max_size=12))))
        elif choice == 2:
            parts.append(key(num, draw(st.sampled_from([1, 5]))) + b"\x00" * 8)
        else:
            parts.append(ld(num, draw(_proto_tree(depth + 1))))
    return b"".join(parts)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_TOP), _proto_tree())
def test_fuzz_structured(kind: tuple[str, str], raw: bytes) -> None:
    _check(envelope(kind[0], kind[1], raw))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(FIXTURES)), st.data())
def test_fuzz_mutated_real_bodies(name: str, data: st.DataObject) -> None:
    body = bytearray(load_fixture(name))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(len(MAGIC), len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    _check(bytes(body))
