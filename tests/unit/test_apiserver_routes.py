"""The API's URL grammar (kai_labs/sim/apiserver/routes.py): each verb and subresource reaches its
handler with the namespace, name and subresource of the path; what nothing serves answers the same
404 Status as before the grammar moved onto aiohttp's router; a method a path does not serve is 405."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from kai_labs.sim.apiserver.handlers import Handlers, Target
from kai_labs.sim.apiserver.server import ApiServer
from kai_labs.sim.runtime import Runtime

AUTH = {"Authorization": "Bearer tok"}
NOT_FOUND = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": "the server could not find the requested resource", "reason": "NotFound",
             "details": {}, "code": 404}
NOT_ALLOWED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "the server does not allow this method on the requested resource",
               "reason": "MethodNotAllowed", "details": {}, "code": 405}

VERBS = ["list_objects", "watch", "create", "delete_collection", "get", "update", "patch", "delete", "scale",
         "log", "stream", "binding", "eviction"]
NS = "/api/v1/namespaces/default"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"

# (method, path, handler, namespace, name, subresource)
CASES = [
    ("GET", f"{NS}/pods", "list_objects", "default", None, ""),
    ("GET", f"{NS}/pods?watch=true", "watch", "default", None, ""),
    ("GET", f"{NS}/pods?watch=1", "watch", "default", None, ""),
    ("POST", f"{NS}/pods", "create", "default", None, ""),
    ("DELETE", f"{NS}/pods", "delete_collection", "default", None, ""),
    ("GET", "/api/v1/pods", "list_objects", None, None, ""),
    ("GET", "/api/v1/pods?watch=true", "watch", None, None, ""),
    ("POST", "/api/v1/pods", "create", None, None, ""),  # the handler answers 405 (no namespace)
    ("GET", f"{NS}/pods/p", "get", "default", "p", ""),
    ("GET", f"{NS}/pods/p?watch=true", "watch", "default", "p", ""),
    ("PUT", f"{NS}/pods/p", "update", "default", "p", ""),
    ("PATCH", f"{NS}/pods/p", "patch", "default", "p", ""),
    ("DELETE", f"{NS}/pods/p", "delete", "default", "p", ""),
    ("GET", f"{NS}/pods/p/status", "get", "default", "p", "status"),
    ("PUT", f"{NS}/pods/p/status", "update", "default", "p", "status"),
    ("PATCH", f"{NS}/pods/p/status", "patch", "default", "p", "status"),
    ("GET", f"{NS}/pods/p/log", "log", "default", "p", "log"),
    ("GET", f"{NS}/pods/p/exec", "stream", "default", "p", "exec"),
    ("POST", f"{NS}/pods/p/attach", "stream", "default", "p", "attach"),
    ("GET", f"{NS}/pods/p/portforward", "stream", "default", "p", "portforward"),
    ("POST", f"{NS}/pods/p/binding", "binding", "default", "p", "binding"),
    ("POST", f"{NS}/pods/p/eviction", "eviction", "default", "p", "eviction"),
    ("GET", f"{DEPLOY}/d/scale", "scale", "default", "d", "scale"),
    ("PATCH", f"{DEPLOY}/d/scale", "scale", "default", "d", "scale"),
    ("GET", "/apis/apps/v1/deployments", "list_objects", None, None, ""),
    ("GET", "/api/v1/nodes", "list_objects", None, None, ""),
    ("GET", "/api/v1/nodes/n1", "get", None, "n1", ""),
    ("PATCH", "/api/v1/nodes/n1/status", "patch", None, "n1", "status"),
    ("GET", "/api/v1/namespaces", "list_objects", None, None, ""),
    ("GET", "/api/v1/namespaces/default", "get", None, "default", ""),
    ("PUT", "/api/v1/namespaces/default/status", "update", None, "default", "status"),
    ("GET", "/api/v1/namespaces/default/pods/", "list_objects", "default", None, ""),  # a trailing slash
    ("GET", "/api/v1//namespaces/default//pods", "list_objects", "default", None, ""),  # empty segments
]

UNKNOWN = ["/", "/nope", "/api/v2", "/api/v2/pods", "/apis/nope", "/apis/apps/v2", "/apis/apps/v1/pods",
           "/api/v1/nopes", f"{NS}/nopes", f"{NS}/pods/p/nope", f"{NS}/pods/p/status/x", "/api/v1/pods/p",
           f"{NS}/nodes", "/api/v1/namespaces/default/bogus", f"{NS}/services/s/proxy",
           "/api/v1/namespaces/default/finalize", "/openapi", "/openapi/v2", "/openapi/v3/api/v2", "//api"]


def _serve(tmp_path: Path, requests: list[tuple[str, str]]) -> list[tuple[int, Any]]:
    async def main() -> list[tuple[int, Any]]:
        rt = Runtime(tmp_path, "r", 1)
        rt.bootstrap()
        server = ApiServer(rt, "tok")
        out: list[tuple[int, Any]] = []
        async with TestClient(TestServer(server.app)) as client:
            base = str(client.server.make_url("/")).rstrip("/")
            for method, path in requests:
                r = await client.session.request(method, URL(base + path, encoded=True), headers=AUTH)
                ct = r.headers.get("Content-Type", "")
                out.append((r.status, await r.json() if ct.startswith("application/json") else await r.text()))
        return out

    return asyncio.run(main())


def test_each_verb_reaches_its_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for verb in VERBS:
        async def record(self: Handlers, request: web.Request, t: Target, verb: str = verb) -> web.Response:
            return web.json_response({"handler": verb, "ns": t.ns, "name": t.name, "sub": t.sub,
                                      "kind": t.rtype.kind})
        monkeypatch.setattr(Handlers, verb, record)
    got = _serve(tmp_path, [(m, p) for m, p, *_ in CASES])
    for (method, path, verb, ns, name, sub), (status, body) in zip(CASES, got, strict=True):
        assert status == 200, (method, path, body)
        assert (body["handler"], body["ns"], body["name"], body["sub"]) == (verb, ns, name, sub), (method, path)


def test_unknown_paths_answer_the_same_404_status(tmp_path: Path) -> None:
    got = _serve(tmp_path, [("GET", p) for p in UNKNOWN] + [("DELETE", p) for p in UNKNOWN])
    for path, (status, body) in zip(UNKNOWN * 2, got, strict=True):
        assert (status, body) == (404, NOT_FOUND), path


def test_a_method_a_path_does_not_serve_is_405_and_non_resource_paths_answer(tmp_path: Path) -> None:
    got = _serve(tmp_path, [("PUT", f"{NS}/pods"), ("POST", f"{NS}/pods/p"), ("POST", "/api/v1/pods"),
                            ("PUT", f"{DEPLOY}/d/scale?dryRun=nope"), ("GET", f"{NS}/pods/a%25b"),
                            ("POST", "/api"), ("GET", "/healthz/"), ("GET", "/openapi/v3/apis/apps/v1"),
                            ("GET", "/apis/apps"), ("GET", "/api/v1")])
    assert got[0] == (405, NOT_ALLOWED)
    assert got[1] == (405, NOT_ALLOWED)
    assert got[2] == (405, NOT_ALLOWED)
    assert got[3][0] == 400 and got[3][1]["message"] == 'Invalid dryRun value: "nope"; supported values: "All"'
    assert got[4][0] == 400 and "may not contain" in got[4][1]["message"]
    assert got[5] == (404, NOT_FOUND)
    assert got[6] == (200, "ok")
    assert got[7][0] == 200 and "paths" in got[7][1]
    assert got[8][1]["kind"] == "APIGroup" and got[8][1]["name"] == "apps"
    assert got[9][1]["kind"] == "APIResourceList" and got[9][1]["groupVersion"] == "v1"
