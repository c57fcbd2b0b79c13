"""Malformed and hostile requests: every client mistake is a 4xx Status with a message, never a
500, and the server keeps serving. A fixed corpus, hypothesis properties, and kubectl apply."""

from __future__ import annotations

import json
import string
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kai_labs.clusters import embedded as cl

from .conftest import env_int
from .rawapi import Raw, check, check_status, corpus, send

EXAMPLES = env_int("KAI_REL_HYPOTHESIS", 120)
HSETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def raw(cluster) -> Raw:  # type: ignore[no-untyped-def]
    return Raw(cl.home_for(cluster.name))


@pytest.fixture(scope="module")
def hns(cluster) -> str:  # type: ignore[no-untyped-def]
    """One namespace for the module (hypothesis runs many examples in it)."""
    name = "hostile"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


def _ensure(raw: Raw, ns: str, name: str) -> None:
    r = raw.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")
    if r.status_code == 404:
        r = raw.request(
            "POST", f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": name}, "data": {"a": "b"}}
        )
        assert r.status_code == 201, r.text


def run_corpus(raw: Raw, ns: str) -> tuple[int, list[str]]:
    """Sends the corpus; returns (inputs tried, problems). Health is checked after every batch of 20."""
    problems = []
    n = 0
    for i, c in enumerate(corpus(ns, "exists")):
        _ensure(raw, ns, "exists")
        n += 1
        try:
            r = send(raw, c)
        except Exception as e:  # noqa: BLE001 - a dropped connection or a hang is a finding too
            problems.append(f"{c.what}: {type(e).__name__}: {e}")
            continue
        p = check(c, r)
        if p:
            problems.append(f"{c.what}: {p}")
        if i % 20 == 19 and not raw.healthy():
            problems.append(f"the server stopped serving after {c.what}")
            break
    if not raw.healthy():
        problems.append("the server is not healthy after the corpus")
    return n, problems


def test_corpus_of_client_mistakes_gets_4xx_status(raw: Raw, hns: str) -> None:
    n, problems = run_corpus(raw, hns)
    assert n >= 250
    assert not problems, f"{len(problems)} of {n} inputs answered wrongly:\n" + "\n".join(problems[:20])


def test_body_over_3_mib_is_413(raw: Raw, hns: str) -> None:
    body = json.dumps({"metadata": {"name": "big"}, "data": {"a": "x" * (3 * 1024 * 1024)}}).encode()
    r = raw.request(
        "POST", f"/api/v1/namespaces/{hns}/configmaps", data=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413 and check_status(r) is None, r.text[:300]
    assert r.json()["reason"] == "RequestEntityTooLarge"
    assert raw.healthy()


# -- properties ---------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=25,
)
meta_keys = st.sampled_from(
    [
        "name",
        "generateName",
        "namespace",
        "labels",
        "annotations",
        "resourceVersion",
        "uid",
        "ownerReferences",
        "finalizers",
        "deletionTimestamp",
        "creationTimestamp",
    ]
)
top_keys = st.sampled_from(
    ["apiVersion", "kind", "metadata", "data", "binaryData", "immutable", "spec", "status", "items"]
)
objects = st.dictionaries(top_keys, json_values, max_size=5) | st.builds(
    lambda extra, md: {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, **extra},
    st.dictionaries(top_keys, json_values, max_size=3),
    st.dictionaries(meta_keys, json_values, max_size=4),
)


def _no_5xx(r) -> str | None:  # type: ignore[no-untyped-def]
    if r.status_code >= 500:
        return f"HTTP {r.status_code}: {r.text[:300]}"
    if r.status_code >= 400:
        return check_status(r)
    return None


@HSETTINGS
@given(obj=objects, kind=st.sampled_from(["configmaps", "services", "pods", "secrets"]))
def test_random_objects_never_500(raw: Raw, hns: str, obj: dict, kind: str) -> None:  # type: ignore[type-arg]
    r = raw.request("POST", f"/api/v1/namespaces/{hns}/{kind}", json=obj)
    assert _no_5xx(r) is None, (obj, _no_5xx(r))


@HSETTINGS
@given(
    patch=json_values,
    ct=st.sampled_from(
        ["application/merge-patch+json", "application/json-patch+json", "application/strategic-merge-patch+json"]
    ),
)
def test_random_patches_never_500(raw: Raw, hns: str, patch: object, ct: str) -> None:
    _ensure(raw, hns, "target")
    r = raw.request(
        "PATCH", f"/api/v1/namespaces/{hns}/configmaps/target", data=json.dumps(patch), headers={"Content-Type": ct}
    )
    if r.status_code == 500 and r.json().get("reason") == "" and ct.startswith("application/strategic"):
        return  # strategic merge errors the real apiserver also answers 500 (see rawapi.corpus)
    assert _no_5xx(r) is None, (patch, ct, _no_5xx(r))


@HSETTINGS
@given(
    data=st.binary(max_size=300),
    ct=st.sampled_from(
        [
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
            "application/apply-patch+yaml",
            "text/plain",
            "",
            "application/cbor",
        ]
    ),
    method=st.sampled_from(["POST", "PUT", "PATCH"]),
)
def test_random_bytes_are_4xx(raw: Raw, hns: str, data: bytes, ct: str, method: str) -> None:
    _ensure(raw, hns, "target")
    path = f"/api/v1/namespaces/{hns}/configmaps" + ("" if method == "POST" else "/target")
    r = raw.request(method, path, data=data, headers={"Content-Type": ct} if ct else {})
    assert _no_5xx(r) is None, (data, ct, method, _no_5xx(r))


@HSETTINGS
@given(name=st.text(min_size=1, max_size=80))
def test_random_names_in_paths_never_500(raw: Raw, hns: str, name: str) -> None:
    seg = quote(name, safe="")
    for method in ("GET", "DELETE"):
        r = raw.request(method, f"/api/v1/namespaces/{hns}/configmaps/{seg}")
        assert _no_5xx(r) is None, (name, method, _no_5xx(r))
    r = raw.request("POST", f"/api/v1/namespaces/{hns}/configmaps", json={"metadata": {"name": name}})
    assert _no_5xx(r) is None, (name, _no_5xx(r))
    if r.status_code == 201:  # only a valid DNS subdomain name may have been accepted
        assert all(ch in string.ascii_lowercase + string.digits + "-." for ch in name), name


selector_text = st.lists(
    st.sampled_from(list("ab=!,() .-/_9x") + ["in", "notin", "!=", "==", "metadata.name"]), max_size=12
).map("".join) | st.text(max_size=30)


@HSETTINGS
@given(
    label=selector_text,
    field=selector_text,
    watch=st.booleans(),
    rv=st.sampled_from(["", "0", "abc", "-1", "1", "1e3", "18446744073709551616"]),
    limit=st.sampled_from(["", "-1", "0", "x", "3"]),
    cont=st.sampled_from(["", "abc", "eyJzdGFydCI6IC0xfQ=="]),
)
def test_random_query_parameters_never_500(
    raw: Raw, hns: str, label: str, field: str, watch: bool, rv: str, limit: str, cont: str
) -> None:
    q = {"labelSelector": label, "fieldSelector": field, "resourceVersion": rv, "limit": limit, "continue": cont}
    if watch:
        q["watch"] = "true"
        q["timeoutSeconds"] = "1"
    r = raw.request("GET", f"/api/v1/namespaces/{hns}/configmaps", params={k: v for k, v in q.items() if v}, timeout=15)
    assert _no_5xx(r) is None, (q, _no_5xx(r))


def test_server_still_serves_after_the_properties(raw: Raw) -> None:
    assert raw.healthy()


# -- kubectl apply ------------------------------------------------------------------------------------------
BAD_MANIFESTS = [
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: UPPER\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a/../../b\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wéb\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata: [1, 2]\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata: {a: {b: c}}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: notanumber}]\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 70000}]\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {'a b': c}\n  ports: [{port: 80}]\n",
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n",
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox, bogusField: 1}]\n",
    "apiVersion: v1\nkind: Frobnicator\nmetadata: {name: f}\n",
    "apiVersion: nope/v9\nkind: ConfigMap\nmetadata: {name: f}\n",
    "kind: ConfigMap\nmetadata: {name: f}\n",
    "apiVersion: v1\nmetadata: {name: f}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: -1\n"
    "  selector: {matchLabels: {a: b}}\n"
    "  template: {metadata: {labels: {a: c}}, spec: {containers: [{name: c, image: busybox}]}}\n",
    "\x00\x01\x02 binary",
    '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}}',
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + "a" * 300 + "}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: '../etc'}\n",
]


def test_kubectl_apply_of_bad_manifests_fails_cleanly(cluster, raw: Raw, hns: str) -> None:  # type: ignore[no-untyped-def]
    bad = []
    for m in BAD_MANIFESTS:
        r = cluster.kubectl("-n", hns, "apply", "-f", "-", input=m, timeout=60)
        if r.returncode == 0:
            bad.append(f"accepted: {m[:60]!r}: {r.stdout.strip()}")
        elif "InternalError" in r.stderr or "Internal error" in r.stderr or "panic" in r.stderr or not r.stderr.strip():
            bad.append(f"{m[:60]!r}: {r.stderr.strip()[:300]}")
    assert not bad, "\n".join(bad)
    assert raw.healthy()
