"""The API's URL grammar on aiohttp's UrlDispatcher, registered per resource type as
staging/src/k8s.io/apiserver/pkg/endpoints/installer.go registers it:

    /healthz /livez /readyz /version                  health and version (open without a token)
    /api  /apis  /apis/{group}                         discovery
    /openapi/v3  /openapi/v3/api/v1  /openapi/v3/apis/{group}/{version}
    /api/v1  /apis/{group}/{version}                   APIResourceList
    {prefix}/namespaces/{namespace}/{plural}           namespaced collection: list|watch, create, deletecollection
    {prefix}/namespaces/{namespace}/{plural}/{name}    object: get|watch, update, patch, delete
    {prefix}/namespaces/{namespace}/{plural}/{name}/{subresource}
    {prefix}/{plural}                                  all namespaces (namespaced types) or cluster-scoped collection
    {prefix}/{plural}/{name}[/{subresource}]           cluster-scoped objects
    /kai-labs/...                                      the embedded cluster's own extension (cluster.net)

Each verb has its handler (``handlers.py``); a method a path does not serve answers 405
MethodNotAllowed, a path nothing serves 404 NotFound, both as Status. Paths are matched after
empty segments and a trailing slash are dropped and percent-escapes decoded, as before
(``/api/v1//pods/`` is ``/api/v1/pods``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web
from yarl import URL

from ..apimachinery import errors
from ..registry.resources import ResourceType, groups
from .handlers import Handlers, Target
from .options import check_path_name, write_options

Response = Awaitable[web.StreamResponse]
Endpoint = Callable[[web.Request, dict[str, str]], Response]  # (request, path variables)
Verb = Callable[[web.Request, Target], Response]

SEGMENT = "[^/]+"  # any name: one checked by check_path_name, never aiohttp's narrower default
# answered only at exactly these paths (a trailing slash allowed), never at e.g. //api
_EXACT = {"/healthz", "/livez", "/readyz", "/version", "/api", "/apis"}


async def _unreachable(request: web.Request) -> web.StreamResponse:
    raise AssertionError("routes are served through Grammar.serve")


class Grammar:
    """aiohttp's UrlDispatcher holding the paths; each route's endpoint gets the path variables."""

    def __init__(self) -> None:
        self.router = web.UrlDispatcher()
        self._endpoints: dict[web.AbstractRoute, Endpoint] = {}

    def add(self, method: str, path: str, endpoint: Endpoint) -> None:
        self._endpoints[self.router.add_route(method, path, _unreachable)] = endpoint

    def add_resource(self, path: str, endpoints: dict[str, Endpoint]) -> None:
        resource = self.router.add_resource(path)
        for method, endpoint in endpoints.items():
            self._endpoints[resource.add_route(method, _unreachable)] = endpoint

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """Resolve the decoded path, without empty segments or a trailing slash, and call its endpoint;
        a path nothing serves (or /api, /apis asked with another method than GET) is a 404 Status."""
        seg = [s for s in request.path.split("/") if s]
        path = "/" + "/".join(seg)
        if path in _EXACT and path != (request.path.rstrip("/") or "/"):
            raise errors.unknown_resource()
        url = URL.build(path="/" + "/".join(quote(s, safe="") for s in seg), encoded=True)
        match = await self.router.resolve(request.clone(rel_url=url))
        if match.http_exception is not None:
            raise errors.unknown_resource()
        return await self._endpoints[match.route](request, dict(match))


def core_or_group(group: str, version: str) -> str:
    return f"/api/{version}" if group == "" else f"/apis/{group}/{version}"


# Deprecated types: every request to them carries a Warning header, whatever its answer (KEP-4974,
# keps/sig-network/4974-deprecate-endpoints: kube-apiserver v1.33+ warns on every read and write of v1
# Endpoints; kubectl prints it as "Warning: ..."). Added when the response is prepared (server.py), so
# watch streams and errors carry it too.
DEPRECATED: dict[tuple[str, str, str], str] = {
    ("", "v1", "endpoints"): "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
}
WARNINGS_KEY: web.RequestKey[list[str]] = web.RequestKey("kai_labs.warnings", list)


def _target_endpoint(verb: Verb, rtype: ResourceType, scoped: bool, sub: str) -> Endpoint:
    """A handler that checks the path's names and the write options (in kube-apiserver's order)
    before the verb sees them."""
    deprecated = DEPRECATED.get((rtype.group, rtype.version, rtype.plural))

    async def handle(request: web.Request, v: dict[str, str]) -> web.StreamResponse:
        if deprecated is not None:
            request[WARNINGS_KEY] = [deprecated]
        ns = v["namespace"] if scoped else None
        name = v.get("name")
        if ns is not None:
            check_path_name(ns)
        if name is not None:
            check_path_name(name)
        dry_run, fv = write_options(request.query)
        return await verb(request, Target(rtype, ns, name, sub, dry_run, fv))

    return handle


def _watch_or(h: Handlers, verb: Verb) -> Verb:
    """GET serves two verbs: ``?watch=true`` (or 1) is a watch, anything else ``verb`` (list or get)."""
    async def handle(request: web.Request, t: Target) -> web.StreamResponse:
        if request.query.get("watch") in ("true", "1"):
            return await h.watch(request, t)
        return await verb(request, t)

    return handle


def _add(g: Grammar, path: str, verbs: dict[str, Verb], rtype: ResourceType, scoped: bool, sub: str,
         fallback: Verb) -> None:
    """The path's verbs; any other method reaches ``fallback`` (405) after the same checks."""
    if "*" not in verbs:
        verbs = {**verbs, "*": fallback}
    g.add_resource(path, {m: _target_endpoint(v, rtype, scoped, sub) for m, v in verbs.items()})


def _install_resource(g: Grammar, h: Handlers, rtype: ResourceType) -> None:
    collection: dict[str, Verb] = {"GET": _watch_or(h, h.list_objects), "POST": h.create,
                                   "DELETE": h.delete_collection}
    item: dict[str, Verb] = {"GET": _watch_or(h, h.get), "PUT": h.update, "PATCH": h.patch, "DELETE": h.delete}
    # subresources with a handler of their own (any method reaches it, as before); any other
    # subresource the type lists (status) takes the object's verbs with the subresource set
    own: dict[str, dict[str, Verb]] = {
        "scale": {"*": h.scale}, "log": {"*": h.log}, "binding": {"*": h.binding},
        "eviction": {"*": h.eviction}, "exec": {"*": h.stream}, "attach": {"*": h.stream},
        "portforward": {"*": h.stream}, "proxy": {"*": h.not_served}, "finalize": {"*": h.not_served}}
    prefix = core_or_group(rtype.group, rtype.version)
    base = f"{prefix}/namespaces/{{namespace:{SEGMENT}}}/{rtype.plural}" if rtype.namespaced \
        else f"{prefix}/{rtype.plural}"
    na = h.not_allowed
    _add(g, base, collection, rtype, rtype.namespaced, "", na)
    _add(g, f"{base}/{{name:{SEGMENT}}}", item, rtype, rtype.namespaced, "", na)
    for sub in rtype.subresources:
        _add(g, f"{base}/{{name:{SEGMENT}}}/{sub}", own.get(sub, item), rtype, rtype.namespaced, sub, na)
    if rtype.namespaced:  # the collection across all namespaces (list, watch, deletecollection)
        _add(g, f"{prefix}/{rtype.plural}", collection, rtype, False, "", na)


def _bind(fn: Callable[..., Response], *args: Any) -> Endpoint:
    async def handle(request: web.Request, v: dict[str, str]) -> web.StreamResponse:
        return await fn(request, *args)

    return handle


def build(h: Handlers) -> Grammar:
    g = Grammar()
    for p in ("/healthz", "/livez", "/readyz"):
        g.add("*", p, _bind(h.health))
    g.add("*", "/version", _bind(h.version))

    async def extension(request: web.Request, v: dict[str, str]) -> web.StreamResponse:
        tail = v.get("tail", "")
        return await h.extension(request, tail.split("/") if tail else [])

    g.add("*", "/kai-labs", extension)
    g.add("*", "/kai-labs/{tail:[\\s\\S]+}", extension)
    g.add("GET", "/api", _bind(h.discovery, True))
    g.add("GET", "/apis", _bind(h.discovery, False))
    g.add("*", "/openapi/v3", _bind(h.openapi_root))

    async def openapi_doc(request: web.Request, v: dict[str, str]) -> web.StreamResponse:
        return await h.openapi_doc(request, v.get("group", ""), v["version"])

    g.add("*", f"/openapi/v3/api/{{version:{SEGMENT}}}", openapi_doc)
    g.add("*", f"/openapi/v3/apis/{{group:{SEGMENT}}}/{{version:{SEGMENT}}}", openapi_doc)
    for group, types in groups().items():
        if group:
            g.add("*", f"/apis/{group}", _bind(h.api_group, group))
        for version in dict.fromkeys(r.version for r in types):
            g.add("*", core_or_group(group, version), _bind(h.resource_list, group, version))
        for rtype in types:
            _install_resource(g, h, rtype)
    return g
