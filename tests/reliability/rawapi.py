"""A raw HTTP view of an embedded cluster (token, CA and port from its home) and the hostile-input corpus.

Shared by the reliability tests and benchmarks/bench_reliability.py."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

MiB = 1024 * 1024


class Raw:
    """requests against the cluster's API with its bearer token and CA: nothing in between."""

    def __init__(self, home: Path) -> None:
        info = json.loads((home / "server.json").read_text())
        self.home = home
        self.pid = int(info["pid"])
        self.port = int(info["port"])
        self.base = f"https://127.0.0.1:{self.port}"
        self.token = (home / "token").read_text().strip()
        self.ca = str(home / "ca.crt")
        self.s = requests.Session()
        self.s.verify = self.ca

    def request(
        self, method: str, path: str, *, token: str | None | bool = True, timeout: float = 10, **kw: Any
    ) -> requests.Response:
        headers = dict(kw.pop("headers", None) or {})
        if token is True:
            headers["Authorization"] = f"Bearer {self.token}"
        elif isinstance(token, str):
            headers["Authorization"] = token
        kw.setdefault("verify", self.ca)  # per request: REQUESTS_CA_BUNDLE would override the session
        return self.s.request(method, self.base + path, headers=headers, timeout=timeout, **kw)

    def healthy(self) -> bool:
        """/readyz answers ok and an ordinary authenticated request works."""
        r = self.request("GET", "/readyz", token=None)
        if r.status_code != 200:
            return False
        r = self.request("GET", "/api/v1/namespaces/default")
        return r.status_code == 200 and r.json().get("kind") == "Namespace"


@dataclass
class Case:
    """One hostile request: what a client got wrong, and the request that shows it."""

    what: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = "application/json"
    headers: dict[str, str] | None = None
    # "4xx": a Status error; "no5xx": the input is odd but legal (Kubernetes accepts it too), so
    # anything but a server error; "real5xx": the real kube-apiserver answers this one with a 5xx
    # Status as well (see the note where it is yielded), so the same Status shape is all we ask.
    expect: str = "4xx"


def check(c: Case, r: requests.Response) -> str | None:
    """None when the answer is what ``c.expect`` asks for; else what is wrong with it."""
    if c.expect == "no5xx":
        if r.status_code >= 500:
            return f"HTTP {r.status_code} on legal input: {r.text[:200]}"
        return check_status(r) if r.status_code >= 400 else None
    if c.expect == "real5xx":
        return check_status(r, lo=500, hi=505)
    return check_status(r)


def check_status(r: requests.Response, lo: int = 400, hi: int = 500) -> str | None:
    """None when ``r`` is a proper 4xx Status with a message; else what is wrong with it."""
    if not lo <= r.status_code < hi:
        return f"HTTP {r.status_code} (wanted {lo}..{hi - 1}): {r.text[:200]}"
    try:
        body = r.json()
    except ValueError:
        return f"HTTP {r.status_code} body is not JSON: {r.text[:200]!r}"
    if not isinstance(body, dict) or body.get("kind") != "Status":
        return f"HTTP {r.status_code} body is not a Status: {r.text[:200]}"
    if body.get("status") != "Failure" or body.get("code") != r.status_code:
        return f"HTTP {r.status_code} Status has status={body.get('status')} code={body.get('code')}"
    if not str(body.get("message", "")).strip():
        return f"HTTP {r.status_code} Status without a message: {body}"
    return None


def send(raw: Raw, c: Case) -> requests.Response:
    headers = dict(c.headers or {})
    if c.content_type is not None:
        headers["Content-Type"] = c.content_type
    return raw.request(c.method, c.path, data=c.body, headers=headers)


def _cm(name: Any = "x", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}


def corpus(ns: str, existing: str, seed: int = 0) -> Iterator[Case]:
    """The fixed corpus of client mistakes. ``existing`` is a ConfigMap in ``ns`` that exists."""
    rnd = random.Random(seed)
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    one = f"{cms}/{existing}"
    j = json.dumps
    # -- bodies that are not JSON / YAML at all
    for what, body in [
        ("empty body", b""),
        ("whitespace body", b"   \n"),
        ("truncated JSON", b'{"apiVersion": "v1", "kind"'),
        ("JSON null", b"null"),
        ("JSON number", b"42"),
        ("JSON string", b'"hello"'),
        ("JSON array", b"[1,2]"),
        ("JSON true", b"true"),
        ("trailing garbage", j(_cm()).encode() + b"}}"),
        ("NaN", b'{"a": NaN}'),
        ("invalid UTF-8", b'{"metadata": {"name": "\xff\xfe"}}'),
        ("NUL bytes", b"\x00" * 64),
        ("binary noise", bytes(rnd.randrange(256) for _ in range(512))),
        ("BOM then JSON", b"\xef\xbb\xbf" + j(_cm("bom")).encode()),
        (
            "lone surrogate escape",
            b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"\\ud800"}}',
        ),
        (
            "huge integer",
            b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n","generation":' + b"9" * 5000 + b"}}",
        ),
        ("duplicate keys", b'{"apiVersion":"v1","kind":"ConfigMap","kind":"Pod","metadata":{"name":"d"}}'),
    ]:
        # Go's decoder turns a lone surrogate into U+FFFD and accepts the object
        yield Case(f"POST {what}", "POST", cms, body, expect="no5xx" if "surrogate" in what else "4xx")
    # -- YAML
    for what, body in [
        ("YAML syntax error", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n"),
        ("YAML tabs", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: y\n"),
        ("YAML python tag", b"!!python/object/apply:os.system ['touch /tmp/pwned-yaml']\n"),
        (
            "YAML billion laughs",
            b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
            b"kind: ConfigMap\n",
        ),
        ("YAML list", b"- a\n- b\n"),
        ("YAML scalar", b"just text\n"),
        ("YAML two documents", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y1}\n---\nkind: Pod\n"),
        ("YAML non-string keys", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y2}\ndata: {1: 2, true: x}\n"),
        ("YAML self-referencing alias", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y3}\ndata: &a {k: *a}\n"),
        ("YAML deep nesting", b"[" * 10_000 + b"]" * 10_000),
    ]:
        # sigs.k8s.io/yaml (go-yaml v2) decodes only the first document of a stream: Kubernetes creates y1
        yield Case(f"POST {what}", "POST", cms, body, "application/yaml",
                   expect="no5xx" if what == "YAML two documents" else "4xx")
    # a YAML date stays a string, as in sigs.k8s.io/yaml: a valid name
    yield Case(
        "POST YAML timestamp name",
        "POST",
        cms,
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 2001-12-14}\n",
        "application/yaml",
        expect="no5xx",
    )
    # -- wrong types
    for what, obj in [
        ("metadata a string", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "x"}),
        ("metadata a list", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ["x"]}),
        ("name a number", _cm(5)),
        ("name a list", _cm(["a"])),
        ("name null", _cm(None)),
        ("name empty", _cm("")),
        ("name an object", _cm({"a": 1})),
        ("labels a list", {**_cm("l"), "metadata": {"name": "l", "labels": [1]}}),
        ("label value a number", {**_cm("l"), "metadata": {"name": "l", "labels": {"a": 1}}}),
        ("label key invalid", {**_cm("l"), "metadata": {"name": "l", "labels": {"a b/c d": "x"}}}),
        ("annotations a string", {**_cm("l"), "metadata": {"name": "l", "annotations": "x"}}),
        ("data a list", _cm("d1", data=["a"])),
        ("data value a number", _cm("d2", data={"a": 1})),
        ("data value an object", _cm("d3", data={"a": {"b": 1}})),
        ("binaryData not base64", _cm("d4", binaryData={"a": "%%%"})),
        ("data key invalid", _cm("d5", data={"a/b": "x"})),
        ("kind mismatch", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "k"}}),
        ("apiVersion mismatch", {"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "k"}}),
        ("kind a number", {"apiVersion": "v1", "kind": 7, "metadata": {"name": "k"}}),
        ("apiVersion a list", {"apiVersion": ["v1"], "kind": "ConfigMap", "metadata": {"name": "k"}}),
        ("namespace mismatch", {**_cm("m"), "metadata": {"name": "m", "namespace": "other"}}),
        ("namespace a number", {**_cm("m"), "metadata": {"name": "m", "namespace": 3}}),
        ("ownerReferences garbage", {**_cm("o"), "metadata": {"name": "o", "ownerReferences": "x"}}),
        ("ownerReferences item garbage", {**_cm("o"), "metadata": {"name": "o", "ownerReferences": [{"uid": 5}]}}),
        ("finalizers a string", {**_cm("o"), "metadata": {"name": "o", "finalizers": "x"}}),
        ("generateName a number", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": 5}}),
        ("unknown field, Strict", _cm("u", bogus=1)),
        ("List kind", {"apiVersion": "v1", "kind": "List", "items": []}),
        ("immutable a string", _cm("i", immutable="yes")),
    ]:
        path = cms + ("?fieldValidation=Strict" if "Strict" in what else "")
        yield Case(f"POST {what}", "POST", path, j(obj).encode())
    # -- names: unicode, traversal, length
    for what, name in [
        ("unicode name", "wéb-ü"),
        ("emoji name", "web-🚀"),
        ("RTL name", "\u202eweb"),
        ("uppercase name", "Web"),
        ("name with slash", "a/b"),
        ("name ..", ".."),
        ("name .", "."),
        ("name with NUL", "a\x00b"),
        ("name with newline", "a\nb"),
        ("name 300 chars", "a" * 300),
        ("name with %", "a%2fb"),
        ("name with spaces", "a b"),
        ("name with quote", 'a"b'),
        ("name with backslash", "a\\..\\b"),
    ]:
        yield Case(f"POST {what}", "POST", cms, j(_cm(name)).encode())
    for what, seg in [
        ("path traversal encoded", "..%2f..%2fetc%2fpasswd"),
        ("path traversal %2e%2e", "%2e%2e"),
        ("encoded NUL in name", "a%00b"),
        ("unicode in path", "w%C3%A9b"),
        ("very long name in path", "a" * 4000),
        ("encoded slash in name", "a%2Fb"),
        ("double-encoded", "a%252fb"),
    ]:
        yield Case(f"GET {what}", "GET", f"{cms}/{seg}", None, None)
        yield Case(f"PUT {what}", "PUT", f"{cms}/{seg}", j(_cm("z")).encode())
        yield Case(f"DELETE {what}", "DELETE", f"{cms}/{seg}", None, None)
    yield Case("GET traversal in namespace", "GET", "/api/v1/namespaces/..%2f..%2fetc/configmaps", None, None)
    yield Case("GET bad namespace name", "GET", "/api/v1/namespaces/Bad_NS/configmaps/x", None, None)
    yield Case("PUT name mismatch with path", "PUT", one, j(_cm("other")).encode())
    yield Case("PUT body an array", "PUT", one, b"[]")
    yield Case(
        "PUT stale resourceVersion",
        "PUT",
        one,
        j({**_cm(existing), "metadata": {"name": existing, "resourceVersion": "1"}}).encode(),
    )
    yield Case(
        "PUT garbage resourceVersion",
        "PUT",
        one,
        j({**_cm(existing), "metadata": {"name": existing, "resourceVersion": "abc"}}).encode(),
    )
    yield Case(
        "PUT resourceVersion a number",
        "PUT",
        one,
        j({**_cm(existing), "metadata": {"name": existing, "resourceVersion": 5}}).encode(),
    )
    # -- huge and deep
    big = j(_cm("big", data={"a": "x" * (3 * MiB + 10)})).encode()
    yield Case("POST body above 3 MiB", "POST", cms, big)
    yield Case("PUT body above 3 MiB", "PUT", one, big)
    yield Case("PATCH body above 3 MiB", "PATCH", one, big, "application/merge-patch+json")
    yield Case("POST 1 MiB name", "POST", cms, j(_cm("a" * MiB)).encode())
    yield Case(
        "POST 2 MiB data (over 1 MiB object limit)", "POST", cms, j(_cm("big2", data={"a": "x" * (2 * MiB)})).encode()
    )
    for depth in (100, 1000, 10_000, 100_000):
        yield Case(f"POST nesting depth {depth}", "POST", cms, b'{"a":' * depth + b"1" + b"}" * depth)
        yield Case(
            f"POST nesting depth {depth} in data",
            "POST",
            cms,
            b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":'
            + b"[" * depth
            + b"]" * depth
            + b"}",
        )
        # a merge patch may add unknown fields (dropped with a warning): legal while it decodes
        yield Case(
            f"PATCH nesting depth {depth}",
            "PATCH",
            one,
            b'{"a":' * depth + b"1" + b"}" * depth,
            "application/merge-patch+json",
            expect="no5xx" if depth <= 100 else "4xx",
        )
    yield Case(
        "POST 100,000 keys (legal: under the 1 MiB ConfigMap limit)",
        "POST",
        cms,
        j(_cm("mk", data={f"k{i}": "v" for i in range(100_000)})).encode(),
        expect="no5xx",
    )
    # -- patches
    for ct, body in [
        ("application/json-patch+json", b'{"op": "add"}'),
        ("application/json-patch+json", b'[{"op": "frobnicate"}]'),
        ("application/json-patch+json", b'[{"op": "add", "path": "no-slash", "value": 1}]'),
        ("application/json-patch+json", b'[{"op": "remove", "path": "/data/nope/deeper"}]'),
        ("application/json-patch+json", b'[{"op": "replace", "path": "/metadata/name", "value": 7}]'),
        ("application/json-patch+json", b'[{"op": "test", "path": "/data", "value": "wrong"}]'),
        ("application/json-patch+json", b'[{"op": "move", "from": "/nope", "path": "/x"}]'),
        ("application/json-patch+json", b'[{"op": "add", "path": "/data/~2", "value": "x"}]'),
        ("application/json-patch+json", b'[{"op": "add", "path": "/metadata/labels/-", "value": "x"}]'),
        ("application/json-patch+json", b"[1, 2, 3]"),
        ("application/json-patch+json", b"[null]"),
        ("application/merge-patch+json", b"[]"),
        ("application/merge-patch+json", b'"x"'),
        ("application/merge-patch+json", b'{"metadata": {"name": "renamed"}}'),
        ("application/merge-patch+json", b'{"metadata": {"resourceVersion": "1"}, "data": {"a": "b"}}'),
        ("application/merge-patch+json", b'{"data": 5}'),
        ("application/merge-patch+json", b'{"metadata": 5}'),
        ("application/merge-patch+json", b'{"kind": "Pod"}'),
        ("application/strategic-merge-patch+json", b'{"$patch": "frobnicate"}'),
        ("application/strategic-merge-patch+json", b'{"metadata": {"$deleteFromPrimitiveList/finalizers": 5}}'),
        ("application/strategic-merge-patch+json", b'{"$setElementOrder/data": 5}'),
        ("application/strategic-merge-patch+json", b'{"metadata": {"labels": {"$patch": "replace", "a b": "c"}}}'),
        ("application/apply-patch+yaml", b"apiVersion: v1\nkind: ConfigMap\n"),
        ("application/apply-patch+yaml", b"[1]"),
        ("application/apply-patch+yaml", b"{{{"),
        ("application/merge-patch+json", b"not json"),
        ("application/strategic-merge-patch+json", b""),
        ("text/plain", b'{"data": {"a": "b"}}'),
        ("application/x-www-form-urlencoded", b"a=b"),
        ("application/xml", b"<ConfigMap/>"),
        ("multipart/form-data; boundary=x", b"--x--"),
        ("application/vnd.kubernetes.protobuf", b"\x00\x01\x02"),
        ("application/cbor", b"\xa0"),
    ]:
        expect = "4xx"
        if body in (
            b'{"kind": "Pod"}',
            b'{"metadata": {"$deleteFromPrimitiveList/finalizers": 5}}',
            b'{"metadata": {"labels": {"$patch": "replace", "a b": "c"}}}',
        ):
            expect = "no5xx"  # kind/apiVersion and unmatched directives are ignored on patch
        if body in (b'{"$patch": "frobnicate"}', b'{"$setElementOrder/data": 5}'):
            # handlers/patch.go interpretStrategicMergePatchError passes these through, and
            # ErrorToAPIStatus makes them 500 with reason "" on a real cluster as well
            expect = "real5xx"
        yield Case(f"PATCH {ct} {body[:40]!r}", "PATCH", one, body, ct, expect=expect)
    yield Case(
        "PATCH apply without fieldManager", "PATCH", one, j(_cm(existing)).encode(), "application/apply-patch+yaml"
    )
    yield Case("PATCH missing object", "PATCH", f"{cms}/does-not-exist", b'{"data":{}}', "application/merge-patch+json")
    yield Case("PATCH collection", "PATCH", cms, b'{"data":{}}', "application/merge-patch+json")
    # -- content types on create
    for ct, body in [
        ("application/vnd.kubernetes.protobuf", b"k8s\x00" + bytes(rnd.randrange(256) for _ in range(200))),
        ("application/vnd.kubernetes.protobuf", b"k8s\x00\x0a\x02v1\x12\x09ConfigMap\x12\xff\xff\xff\xff\x0f"),
        ("application/vnd.kubernetes.protobuf", b"\xff" * 100),
        ("application/vnd.kubernetes.protobuf", b""),
        ("application/vnd.kubernetes.protobuf", b"k8s\x00"),
        ("application/vnd.kubernetes.protobuf", b"k8s\x00" + b"\x0a\x80\x80\x80\x80\x10"),
        ("application/vnd.kubernetes.protobuf;stream=watch", b"\x00\x00\x00\x05hello"),
        ("application/cbor", b"\xa1\x61a\x61b"),
        ("text/html", b"<html></html>"),
        ("image/png", b"\x89PNG"),
        ("application/json; charset=utf-16", "{}".encode("utf-16")),
        ("", j(_cm("noct")).encode()[:-1]),
        ("application/yaml", b"\x00\x01\x02"),
        ("application/json", b"\x1f\x8b\x08\x00"),
    ]:
        yield Case(f"POST Content-Type {ct!r} {body[:20]!r}", "POST", cms, body, ct)
    # -- query parameters
    q_list = [
        "labelSelector=app%3D%3D%3Dx",
        "labelSelector=a+in+(",
        "labelSelector=!!a",
        "labelSelector=a%20notin%20b",
        "labelSelector=" + "a" * 70 + "%3Db",
        "labelSelector=a%3D" + "b" * 70,
        "labelSelector=%3D",
        "labelSelector=a,,b",
        "labelSelector=a+in+()",
        "labelSelector=a%3Db%3Dc",
        "labelSelector=%F0%9F%9A%80%3Dx",
        "labelSelector=a+gt+1",
        "fieldSelector=spec.nodeName%3Dx",
        "fieldSelector=garbage",
        "fieldSelector=metadata.name%3D%3D%3Da",
        "fieldSelector=metadata.name+in+(a)",
        "fieldSelector=a%3Db%2C",
        "fieldSelector=%3D",
        "limit=-1&continue=abc",
        "limit=abc",
        "limit=1e9999",
        "limit=99999999999999999999999999",
        "continue=abc",
        "continue=%00%01",
        "continue=eyJzdGFydCI6ICJ4In0=",
        "continue=eyJzdGFydCI6IC01fQ==",
        "continue=W10=",
        "continue=bnVsbA==",
        "continue=eyJzdGFydCI6IDEwMDAwMDB9",
        "continue=MQ==",
        "watch=true&resourceVersion=abc",
        "watch=true&resourceVersion=-5",
        "watch=true&resourceVersion=1e3",
        "watch=true&resourceVersion=99999999999999999999999",
        "watch=true&resourceVersion=%2B5",
        "watch=true&timeoutSeconds=abc",
        "watch=true&timeoutSeconds=-1&resourceVersion=zz",
        "watch=true&labelSelector=a+in+(",
        "watch=true&fieldSelector=garbage",
        "watch=true&fieldSelector=spec.bogus%3D1",
        "watch=true&resourceVersionMatch=bogus&resourceVersion=zz",
        "resourceVersion=abc",
        "resourceVersionMatch=bogus",
        "resourceVersion=abc&resourceVersionMatch=Exact",
        "timeoutSeconds=x&watch=1&resourceVersion=%00",
        "dryRun=Nope",
        "fieldValidation=Loud",
        "pretty=maybe&limit=x",
        "watch=true&sendInitialEvents=true&resourceVersion=abc",
    ]
    legal = {
        "labelSelector=a+in+()",
        "fieldSelector=%3D",  # accepted here, 400 on Kubernetes: see report
        "continue=eyJzdGFydCI6IDEwMDAwMDB9",
    }  # a token past the end: an empty last page
    for q in q_list:
        yield Case(f"GET ?{q}", "GET", f"{cms}?{q}", None, None, expect="no5xx" if q in legal else "4xx")
    # a watch from a resourceVersion the server has not reached: 504 Timeout after 3s, as the watch cache does
    yield Case(
        "GET ?watch=true&resourceVersion=<far future>",
        "GET",
        f"{cms}?watch=true&resourceVersion=999999999999",
        None,
        None,
        expect="real5xx",
    )
    yield Case("GET all-namespaces bad selector", "GET", "/api/v1/configmaps?labelSelector=a+in+(", None, None)
    yield Case(
        "GET pods bad fieldSelector", "GET", f"/api/v1/namespaces/{ns}/pods?fieldSelector=spec.bogus%3D1", None, None
    )
    yield Case("DELETE collection bad selector", "DELETE", f"{cms}?labelSelector=a+in+(", None, None)
    yield Case("DELETE collection bad fieldSelector", "DELETE", f"{cms}?fieldSelector=bogus", None, None)
    yield Case("GET single watch bad rv", "GET", f"{one}?watch=1&resourceVersion=abc", None, None)
    for ct, body in [
        ("application/json", b"{"),
        ("application/json", b"[]"),
        ("application/json", b'"x"'),
        ("application/json", b'{"gracePeriodSeconds": "x"}'),
        ("application/json", b'{"propagationPolicy": "Sideways"}'),
        ("application/json", b'{"preconditions": {"uid": "nope"}}'),
        ("application/json", b'{"preconditions": "x"}'),
        ("application/json", b'{"preconditions": {"resourceVersion": "1"}}'),
        ("application/json", b'{"dryRun": "All"}'),
    ]:
        yield Case(f"DELETE options {body!r}", "DELETE", one, body, ct)
    yield Case("DELETE gracePeriodSeconds garbage", "DELETE", f"{one}?gracePeriodSeconds=soon", None, None)
    yield Case("DELETE propagationPolicy garbage", "DELETE", f"{one}?propagationPolicy=Sideways", None, None)
    # -- paths and methods
    for method, path in [
        ("GET", "/api/v9/pods"),
        ("GET", "/apis/nope.example.com/v1/things"),
        ("GET", f"/api/v1/namespaces/{ns}/widgets"),
        ("GET", f"{one}/status"),
        ("GET", f"{one}/nonsense/deeper"),
        ("POST", one),
        ("POST", f"/api/v1/namespaces/{ns}"),
        ("GET", "/api/v1/configmaps/x"),
        ("PUT", cms),
        ("PATCH", cms),
        ("OPTIONS", one),
        ("TRACE", one),
        ("GET", "/openapi/v3/apis/nope/v1"),
        ("GET", "/openapi/v2x"),
        ("GET", "/api/v1/namespaces//configmaps"),
        ("GET", "/../../etc/passwd"),
        ("GET", "/api/v1/namespaces/%2e%2e/configmaps"),
        ("GET", "/apis/apps/v9"),
        ("GET", "/kai-labs/v1/nope"),
        ("POST", "/kai-labs/v1/net/route"),
        ("POST", "/kai-labs/v1/net/resolve"),
        ("POST", "/kai-labs/v1/net/curl"),
        ("GET", "/kai-labs/v1/net/route"),
        ("GET", f"/api/v1/namespaces/{ns}/pods/nope/log"),
        ("GET", f"/api/v1/namespaces/{ns}/pods/nope/exec"),
        ("POST", f"/api/v1/namespaces/{ns}/pods/nope/portforward"),
        ("GET", f"/api/v1/namespaces/{ns}/pods/nope/proxy"),
        ("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/nope/scale"),
        ("PUT", f"/apis/apps/v1/namespaces/{ns}/deployments/nope/scale"),
        ("POST", f"/api/v1/namespaces/{ns}/pods/nope/binding"),
        ("POST", f"/api/v1/namespaces/{ns}/pods/nope/eviction"),
    ]:
        yield Case(f"{method} {path[:60]}", method, path, b"{}" if method in ("POST", "PUT", "PATCH") else None)
    for op, body in [
        ("route", b"[]"),
        ("route", b'{"dest": 5}'),
        ("route", b'{"dest": "web:abc"}'),
        ("route", b'{"dest": ""}'),
        ("resolve", b'{"name": 5}'),
        ("curl", b'{"url": 5}'),
        ("curl", b'{"url": "http://x", "timeout": "soon"}'),
        ("curl", b'{"url": "http://web:abc/"}'),
        ("route", b"{"),
        ("resolve", b"\xff\xfe"),
        ("route", b'{"dest": "web:80", "namespace": 7}'),
    ]:
        yield Case(f"net {op} {body[:40]!r}", "POST", f"/kai-labs/v1/net/{op}", body)
    # well-formed questions whose answer is "no such thing": an answer, not an error
    for op, body in [
        ("route", b'{"dest": "web:99999"}'),
        ("resolve", b'{"name": "a..b", "type": "BOGUS"}'),
        ("resolve", b'{"name": "' + b"a" * 5000 + b'"}'),
        ("curl", b'{"url": "ftp://x"}'),
        ("route", b'{"dest": "web:80", "source_ip": "x"}'),
    ]:
        yield Case(f"net {op} {body[:40]!r}", "POST", f"/kai-labs/v1/net/{op}", body, expect="no5xx")


# -- process facts, read from /proc (no psutil) ---------------------------------------------------
def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def socket_inodes(pid: int) -> set[int]:
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    inode: int


def _hex_addr(h: str) -> str:
    if len(h) == 8:  # IPv4, little-endian
        return ".".join(str(int(h[i : i + 2], 16)) for i in (6, 4, 2, 0))
    words = [h[i : i + 8] for i in range(0, 32, 8)]  # IPv6: four little-endian 32-bit words
    raw = b"".join(bytes.fromhex(w)[::-1] for w in words)
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


def listeners() -> list[Listener]:
    """Every listening TCP socket of this network namespace (/proc/net/tcp and tcp6, state 0A)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "0A":
                continue
            addr, port = f[1].split(":")
            out.append(Listener(_hex_addr(addr), int(port, 16), int(f[9])))
    return out


def established_on(pid: int, port: int) -> int:
    """Established TCP connections ``pid`` holds on its local ``port`` (the API's clients: the cluster's own
    node processes reach it over a Unix socket, so these are the test's)."""
    mine = socket_inodes(pid)
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "01" and int(f[1].split(":")[1], 16) == port and int(f[9]) in mine:
                n += 1
    return n


def listeners_of(pid: int) -> list[Listener]:
    mine = socket_inodes(pid)
    return [sock for sock in listeners() if sock.inode in mine]


def descendants(pid: int) -> list[int]:
    """Processes whose parent chain or session leads to ``pid`` (the cluster starts a new session)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == pid:
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid, sid = fields[0], int(fields[1]), int(fields[3])
        if state != "Z" and (ppid == pid or sid == pid):
            kids.append(int(d))
    return kids
