"""The HTTP face of the embedded cluster: the Kubernetes REST API on aiohttp.

Paths, verbs, query parameters, content negotiation (JSON, YAML bodies, Table
responses), watch streams and Status errors follow
staging/src/k8s.io/apiserver/pkg/endpoints (installer.go, handlers/*.go).
Anything this server does not serve answers 404 as a server without that
resource would; a client's mistake is always a 4xx Status, never a 500.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from ...k8s import labels as _labels
from ..apimachinery import errors, protobuf
from ..apimachinery import patch as _patch
from ..registry.resources import ResourceType, by_plural, groups
from ..storage.store import Event, TooOld
from ..storage.store import _dumps as dumps
from . import discovery, printers
from .watch import WatchStream

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("kai_labs.apiserver")

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's default request body limit (3 MiB)
PUBLIC = {"/version", "/healthz", "/livez", "/readyz"}


class _YamlLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it before the JSON decoder sees it: timestamps stay strings
    (go-yaml v2 decodes them into interface{} as strings) and map keys become strings
    (``1`` -> "1", ``true`` -> "true"), so a key never collides with another or breaks the JSON encoder."""


_YamlLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _yaml_key(k: Any) -> str:
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    return k if isinstance(k, str) else str(k)


def _yaml_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    return {_yaml_key(loader.construct_object(k, deep=True)): loader.construct_object(v, deep=True)
            for k, v in node.value}


_YamlLoader.add_constructor("tag:yaml.org,2002:map", _yaml_mapping)


def _json(body: Any, status: int = 200, content_type: str = "application/json",
          headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(body).encode(), status=status,
                        headers={"Content-Type": content_type, **(headers or {})})


def _status_response(err: errors.ApiError) -> web.Response:
    return _json(err.status(), status=err.code, headers=err.extra_headers or None)


def _list_options(q: Any, watch: bool) -> int | None:
    """ListOptions checks of the real apiserver; returns the resourceVersion as a number (None: unset/0).

    ``ValidateListOptions`` (apimachinery/pkg/apis/meta/internalversion/validation) answers 422 Invalid
    for kind ListOptions; a resourceVersion that is not a number is the storage layer's
    ``APIObjectVersioner.ParseResourceVersion`` error, answered as 400."""
    rv = q.get("resourceVersion", "")
    match = q.get("resourceVersionMatch", "")
    errs: list[errors.FieldError] = []
    if match:
        if match not in ("Exact", "NotOlderThan"):
            errs.append(errors.FieldError("NotSupported", "resourceVersionMatch", match,
                                          'supported values: "Exact", "NotOlderThan"'))
        elif not rv:
            errs.append(errors.forbidden("resourceVersionMatch",
                                         "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        elif q.get("continue"):
            errs.append(errors.forbidden("resourceVersionMatch",
                                         "resourceVersionMatch is forbidden when continue is provided"))
        elif match == "Exact" and rv == "0":
            errs.append(errors.forbidden("resourceVersionMatch",
                                         'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if errs:
        raise errors.invalid_object("ListOptions", "meta.k8s.io", "", errs)
    if rv in ("", "0"):
        return None
    try:
        n = int(rv, 10)
        if not 0 < n < 2 ** 64 or not rv.isdigit():
            raise ValueError
    except ValueError:
        if watch:
            raise errors.bad_request(f'invalid resource version "{rv}"') from None
        raise errors.bad_request(f'resourceVersion: Invalid value: "{rv}": strconv.ParseUint: parsing '
                                 f'{json.dumps(rv)}: invalid syntax') from None
    return n


_DELETE_OPTION_TYPES = {"gracePeriodSeconds": ("int64", int), "propagationPolicy": ("string", str),
                        "orphanDependents": ("bool", bool), "dryRun": ("[]string", list),
                        "preconditions": ("v1.Preconditions", dict)}


def _go_json_kind(v: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(v), "value")


def _check_delete_options(opts: dict[str, Any]) -> None:
    """Decode DeleteOptions as the Go types do: a wrong type is a 400 and deletes nothing
    (e.g. ``"dryRun": "All"`` must not delete for real)."""
    for k, (go, py) in _DELETE_OPTION_TYPES.items():
        v = opts.get(k)
        if v is None:
            continue
        ok = isinstance(v, py) and not (py is int and isinstance(v, bool))
        if k == "dryRun" and ok:
            ok = all(isinstance(x, str) for x in v)
            if ok and any(x != "All" for x in v):
                raise errors.bad_request(f'Invalid dryRun value: "{next(x for x in v if x != "All")}"; '
                                         'supported values: "All"')
        if k == "preconditions" and ok:
            ok = all(isinstance(v.get(f), (str, type(None))) for f in ("uid", "resourceVersion"))
        if not ok:
            raise errors.bad_request(f"json: cannot unmarshal {_go_json_kind(v)} into Go struct field "
                                     f"DeleteOptions.{k} of type {go}")


def _check_propagation(prop: Any) -> None:
    """``ValidateDeleteOptions``: an unknown propagationPolicy is 422, and nothing is deleted."""
    if prop not in (None, "", "Foreground", "Background", "Orphan"):
        raise errors.invalid_object("DeleteOptions", "meta.k8s.io", "", [errors.FieldError(
            "NotSupported", "propagationPolicy", prop,
            'supported values: "Foreground", "Background", "Orphan", "nil"')])


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _strip_private(obj: dict[str, Any]) -> list[str]:
    return obj.pop("__warnings__", []) or []


def _warn_headers(warnings: list[str]) -> dict[str, str] | None:
    if not warnings:
        return None
    return {"Warning": ", ".join('299 - ' + json.dumps(w) for w in warnings)}


class ApiServer:
    def __init__(self, rt: Runtime, token: str) -> None:
        self.rt = rt
        self.token = token
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[self._middleware])
        # [\s\S]: a name with an encoded newline (%0A) must reach _dispatch too, not aiohttp's plain 404
        self.app.router.add_route("*", "/{tail:[\\s\\S]*}", self._dispatch)
        self.address = ""

    # -- plumbing ------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            # only the health and version endpoints are open, as kube-apiserver's system:public-info-viewer
            # allows (an unused "/kai-labs/v1/public" prefix exemption was removed: nothing served there)
            if request.path not in PUBLIC:
                auth = request.headers.get("Authorization", "")
                if not (auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip(), self.token)):
                    raise errors.unauthorized()
            try:
                resp: web.StreamResponse = await handler(request)
            finally:
                # group commit: whatever this request wrote is on disk before it is acknowledged
                self.rt.store.flush()
            return resp
        except errors.ApiError as e:
            return _status_response(e)
        except web.HTTPRequestEntityTooLarge:
            return _status_response(errors.too_large())
        except web.HTTPException as e:
            if e.status < 400:
                raise
            # aiohttp's own refusals (malformed requests) answered as a Status, as every error here is
            reason = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 415: "UnsupportedMediaType"}
            return _status_response(errors.ApiError(e.status, reason.get(e.status, ""), e.text or e.reason))
        except asyncio.CancelledError:
            raise
        except ConnectionResetError:  # the client hung up mid-answer; nothing to tell it
            return web.Response(status=499)
        except Exception as e:  # a bug of ours: answer like the apiserver, and keep serving
            log.exception("internal error on %s %s", request.method, request.path)
            return _status_response(errors.internal(f"{type(e).__name__}: {e}"))

    async def _body(self, request: web.Request) -> Any:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise errors.too_large() from None
        if len(raw) > MAX_BODY:
            raise errors.too_large()
        ct = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
        if ct == "application/vnd.kubernetes.protobuf":
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as e:
                raise errors.bad_request(f"the protobuf body could not be decoded: {e}") from None
        if "protobuf" in ct or "cbor" in ct:
            raise errors.unsupported_media_type(ct)
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            raise errors.bad_request("the body of the request was empty")
        if ct in ("application/yaml", "application/apply-patch+yaml"):
            try:
                return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader
            except yaml.YAMLError as e:
                raise errors.bad_request(f"error converting YAML to JSON: {e}".replace("\n", " ")) from None
            except RecursionError:  # go-yaml: "exceeded max depth of 10000"
                raise errors.bad_request("error converting YAML to JSON: yaml: exceeded max depth of 10000"
                                         ) from None
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as e:  # ValueError: also integers beyond Python's 4300 digits
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None

    # -- routing ---------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        seg = [s for s in path.split("/") if s]
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/version":
            return _json(self.rt.version_info())
        if seg and seg[0] == "kai-labs":
            return await self.rt.handle_extension(request, seg[1:])
        if path == "/api" and request.method == "GET":
            return self._discovery(request, core=True)
        if path == "/apis" and request.method == "GET":
            return self._discovery(request, core=False)
        if seg and seg[0] == "openapi":
            return self._openapi(seg[1:])
        if len(seg) >= 2 and seg[0] == "api":
            return await self._resource(request, "", seg[1], seg[2:])
        if len(seg) >= 2 and seg[0] == "apis":
            if len(seg) == 2:
                g = discovery.api_group(seg[1])
                if g is None:
                    raise errors.unknown_resource()
                return _json(g)
            return await self._resource(request, seg[1], seg[2], seg[3:])
        raise errors.unknown_resource()

    def _discovery(self, request: web.Request, core: bool) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "as=APIGroupDiscoveryList" in accept:
            return _json(discovery.aggregated(core), content_type=discovery.AGG_CT)
        if core:
            return _json(discovery.api_versions(self.address))
        return _json(discovery.api_group_list())

    def _openapi(self, seg: list[str]) -> web.Response:
        if seg == ["v3"]:
            return _json(discovery.openapi_v3_root())
        if len(seg) >= 3 and seg[0] == "v3":
            rest = seg[1:]
            if rest[0] == "api" and len(rest) == 2:
                doc = discovery.openapi_v3_doc("", rest[1])
            elif rest[0] == "apis" and len(rest) == 3:
                doc = discovery.openapi_v3_doc(rest[1], rest[2])
            else:
                doc = None
            if doc is not None:
                return _json(doc)
        raise errors.unknown_resource()

    async def _resource(self, request: web.Request, group: str, version: str, rest: list[str]
                        ) -> web.StreamResponse:
        if not any(r.version == version for r in groups().get(group, [])):
            raise errors.unknown_resource()
        if not rest:
            doc = discovery.resource_list(group, version)
            assert doc is not None
            return _json(doc)
        ns: str | None = None
        name: str | None = None
        sub = ""
        rtype: ResourceType | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and group == "" or (
                rest[0] == "namespaces" and len(rest) >= 3 and group != ""):
            cand = by_plural(group, rest[2])
            if cand is not None and cand.namespaced and cand.version == version:
                rtype, ns = cand, rest[1]
                name = rest[3] if len(rest) > 3 else None
                sub = "/".join(rest[4:])
        if rtype is None:
            cand = by_plural(group, rest[0])
            if cand is None or cand.version != version:
                raise errors.unknown_resource()
            rtype = cand
            name = rest[1] if len(rest) > 1 else None
            sub = "/".join(rest[2:])
            if rtype.namespaced and name is not None:
                raise errors.unknown_resource()
        if sub and sub not in rtype.subresources:
            raise errors.unknown_resource()
        if ns is not None and rtype.namespaced:
            self._check_path_name(ns)
        if name is not None:
            self._check_path_name(name)
        return await self._verb(request, rtype, ns, name, sub)

    @staticmethod
    def _check_path_name(name: str) -> None:
        if name in (".", "..") or "/" in name or "%" in name:
            raise errors.bad_request(f'invalid resource name "{name}": may not contain \'/\' or \'%\'')

    # -- verbs ----------------------------------------------------------------
    async def _verb(self, request: web.Request, rtype: ResourceType, ns: str | None, name: str | None,
                    sub: str) -> web.StreamResponse:
        api = self.rt.api
        q = request.query
        method = request.method
        dry_run = q.get("dryRun") == "All"
        if "dryRun" in q and q.get("dryRun") not in ("All", ""):
            raise errors.bad_request(f'Invalid dryRun value: "{q.get("dryRun")}"; supported values: "All"')
        fv = q.get("fieldValidation", "Warn")  # the apiserver's default directive
        if fv not in ("Ignore", "Warn", "Strict"):
            raise errors.bad_request(f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{fv}"')
        nsv = ns or ""

        if name is None:
            if method == "GET":
                if q.get("watch") in ("true", "1"):
                    return await self._watch(request, rtype, ns)
                return self._list(request, rtype, ns)
            if method == "POST":
                if rtype.namespaced and ns is None:
                    raise errors.ApiError(405, "MethodNotAllowed",
                                          "the server does not allow this method on the requested resource", {})
                body = await self._body(request)
                if isinstance(body, dict) and body.get("kind") == "List":
                    raise errors.bad_request("a List cannot be created: send its items one by one")
                obj = api.create(rtype, nsv, body, dry_run=dry_run, field_validation=fv)
                w = _strip_private(obj)
                return _json(obj, status=201, headers=_warn_headers(w))
            if method == "DELETE":
                return await self._delete_collection(request, rtype, ns)
            raise errors.ApiError(405, "MethodNotAllowed",
                                  "the server does not allow this method on the requested resource", {})

        if sub == "log":
            return await self.rt.pod_log(request, nsv, name)
        if sub in ("exec", "attach", "portforward"):
            return await self.rt.pod_stream(request, sub, nsv, name)
        if sub == "scale":
            return await self._scale(request, rtype, nsv, name, dry_run)
        if sub == "binding":
            body = await self._body(request)
            return _json(self.rt.bind(nsv, name, body), status=201)
        if sub == "eviction":
            obj, _ = api.delete(rtype, nsv, name)
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                         status=201)
        if sub in ("proxy", "finalize"):
            raise errors.unknown_resource()

        if method == "GET":
            if q.get("watch") in ("true", "1"):
                return await self._watch(request, rtype, ns, name)
            obj = api.get(rtype, nsv, name)
            if _wants_table(request):
                return _json(self._table(rtype, [obj], request, str(obj["metadata"]["resourceVersion"])))
            return _json(obj)
        if method == "PUT":
            body = await self._body(request)
            obj = api.update(rtype, nsv, name, body, subresource=sub, dry_run=dry_run, field_validation=fv)
            return _json(obj)
        if method == "PATCH":
            body = await self._body(request)
            ct = request.headers.get("Content-Type", "").split(";")[0].strip()
            if ct == "application/apply-patch+yaml":
                return _json(self._apply(rtype, nsv, name, body, dry_run, fv, q))
            obj = api.patch(rtype, nsv, name, ct, body, subresource=sub, dry_run=dry_run, field_validation=fv)
            return _json(obj)
        if method == "DELETE":
            opts: dict[str, Any] = {}
            if request.can_read_body:
                raw = await request.read()
                if raw.strip():
                    try:
                        opts = json.loads(raw)
                    except json.JSONDecodeError as e:
                        raise errors.bad_request(f"invalid DeleteOptions: {e}") from None
                    if not isinstance(opts, dict):
                        raise errors.bad_request("invalid DeleteOptions: must be an object")
                    _check_delete_options(opts)
            grace = opts.get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
            prop = opts.get("propagationPolicy", q.get("propagationPolicy"))
            if opts.get("orphanDependents") is True:
                prop = "Orphan"
            _check_propagation(prop)
            dr = dry_run or opts.get("dryRun") == ["All"]
            try:
                grace_i = int(grace) if grace is not None else None
            except (TypeError, ValueError):
                raise errors.bad_request(f"invalid gracePeriodSeconds: {grace}") from None
            obj, gone = api.delete(rtype, nsv, name, grace=grace_i, propagation=prop, dry_run=dr,
                                   preconditions=opts.get("preconditions"))
            # always 200, whether or not the object is gone yet (a deferred deletion is not answered 202)
            return _json(obj, status=200)
        raise errors.ApiError(405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource", {})

    def _apply(self, rtype: ResourceType, ns: str, name: str, body: Any, dry_run: bool, fv: str,
               q: Any) -> dict[str, Any]:
        """Server-side apply, simplified: create, or merge the applied fields over the live object."""
        api = self.rt.api
        if not isinstance(body, dict):
            raise errors.bad_request("the apply configuration must be an object")
        if not q.get("fieldManager"):
            raise errors.bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        try:
            api.get(rtype, ns, name)
        except errors.ApiError as e:
            if e.code != 404:
                raise
            body.setdefault("metadata", {})["name"] = name
            return api.create(rtype, ns, body, dry_run=dry_run, field_validation=fv)
        return api.patch(rtype, ns, name, "application/strategic-merge-patch+json", body, dry_run=dry_run,
                         field_validation=fv)

    def _list(self, request: web.Request, rtype: ResourceType, ns: str | None) -> web.Response:
        q = request.query
        _list_options(q, watch=False)
        items = self.rt.api.list(rtype, ns, q.get("labelSelector", ""), q.get("fieldSelector", ""))
        rv = str(self.rt.store.rv)
        cont = ""
        limit = q.get("limit")
        start = 0
        if q.get("continue"):
            try:
                tok = json.loads(base64.urlsafe_b64decode(q["continue"].encode()))
                start = int(tok["start"])
                if start < 0:  # a negative start would slice from the end of the list
                    raise ValueError(start)
            except (ValueError, KeyError, TypeError):
                raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                         "(version meta.k8s.io/v1)") from None
        if limit:
            try:
                n = int(limit)
                if not -2 ** 63 <= n < 2 ** 63:  # an int64 query parameter
                    raise ValueError(limit)
            except ValueError:
                raise errors.bad_request(f"invalid limit: {limit}") from None
            if n > 0 and len(items) - start > n:
                cont = base64.urlsafe_b64encode(json.dumps({"start": start + n, "rv": rv}).encode()).decode()
                items = items[start:start + n]
            else:
                items = items[start:]
        else:
            items = items[start:]
        if _wants_table(request):
            table = self._table(rtype, items, request, rv)
            if cont:
                table["metadata"]["continue"] = cont
            return _json(table)
        for it in items:
            it.pop("apiVersion", None)
            it.pop("kind", None)
        md: dict[str, Any] = {"resourceVersion": rv}
        if cont:
            md["continue"] = cont
        return _json({"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": md, "items": items})

    def _table(self, rtype: ResourceType, items: list[dict[str, Any]], request: web.Request,
               rv: str) -> dict[str, Any]:
        include = request.query.get("includeObject", "Metadata")
        now = dt.datetime.fromtimestamp(self.rt.clock(), dt.timezone.utc)
        t = printers.table(rtype.kind, items, now, include_object=include)
        t["metadata"] = {"resourceVersion": rv}
        return t

    async def _delete_collection(self, request: web.Request, rtype: ResourceType, ns: str | None
                                 ) -> web.Response:
        q = request.query
        _check_propagation(q.get("propagationPolicy"))
        items = self.rt.api.list(rtype, ns, q.get("labelSelector", ""), q.get("fieldSelector", ""))
        for it in items:
            md = it["metadata"]
            try:
                self.rt.api.delete(rtype, md.get("namespace", ""), md["name"],
                                   propagation=q.get("propagationPolicy"), dry_run=q.get("dryRun") == "All")
            except errors.ApiError as e:
                if e.code != 404:
                    raise
        return _json({"kind": rtype.list_kind, "apiVersion": rtype.api_version,
                      "metadata": {"resourceVersion": str(self.rt.store.rv)}, "items": items})

    async def _scale(self, request: web.Request, rtype: ResourceType, ns: str, name: str,
                     dry_run: bool) -> web.Response:
        api = self.rt.api
        obj = api.get(rtype, ns, name)

        def scale_of(o: dict[str, Any]) -> dict[str, Any]:
            sel = _labels.from_label_selector(o.get("spec", {}).get("selector"))
            md = o["metadata"]
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {"name": md["name"], "namespace": md["namespace"], "uid": md["uid"],
                                 "resourceVersion": md["resourceVersion"],
                                 "creationTimestamp": md["creationTimestamp"]},
                    "spec": {"replicas": o.get("spec", {}).get("replicas", 1)},
                    "status": {"replicas": o.get("status", {}).get("replicas", 0), "selector": str(sel)}}

        if request.method == "GET":
            return _json(scale_of(obj))
        body = await self._body(request)
        if request.method == "PUT":
            new_scale = body
        elif request.method == "PATCH":
            ct = request.headers.get("Content-Type", "").split(";")[0].strip()
            cur = scale_of(obj)
            try:
                if ct == "application/json-patch+json":
                    new_scale = _patch.json_patch(cur, body)
                else:
                    new_scale = _patch.merge_patch(cur, body)
            except _patch.PatchError as e:
                raise errors.bad_request(str(e)) from None
        else:
            raise errors.ApiError(405, "MethodNotAllowed",
                                  "the server does not allow this method on the requested resource", {})
        if not isinstance(new_scale, dict):
            raise errors.bad_request("the Scale must be an object")
        replicas = (new_scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise errors.bad_request('Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal '
                                     'string into Go struct field ScaleSpec.spec.replicas of type int32')
        if replicas < 0:
            raise errors.invalid_object("Scale", "autoscaling", name, [errors.invalid(
                "spec.replicas", replicas, "must be greater than or equal to 0")])
        rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        obj["spec"]["replicas"] = replicas
        if rv:
            obj["metadata"]["resourceVersion"] = rv
        new = api.update(rtype, ns, name, obj, dry_run=dry_run)
        return _json(scale_of(new))

    # -- watch ------------------------------------------------------------------
    async def _watch(self, request: web.Request, rtype: ResourceType, ns: str | None,
                     name: str | None = None) -> web.StreamResponse:
        q = request.query
        api = self.rt.api
        store = self.rt.store
        key = api.key(rtype)
        rv_n = _list_options(q, watch=True)
        try:
            lsel = _labels.parse_selector(q.get("labelSelector", "")) if q.get("labelSelector") else None
            fsel = _labels.parse_field_selector(q["fieldSelector"]) if q.get("fieldSelector") else None
        except ValueError as e:  # labels.SelectorError: the same 400 a list answers
            raise errors.bad_request(str(e)) from None
        if fsel is not None:
            bad = _labels.validate_field_selector(rtype.kind, fsel)
            if bad:
                raise errors.bad_request(bad)
        table = _wants_table(request)
        try:
            timeout = float(q.get("timeoutSeconds", "1800"))
        except ValueError:
            raise errors.bad_request("invalid timeoutSeconds") from None
        send_initial = q.get("sendInitialEvents") == "true"
        rv_q = q.get("resourceVersion", "")

        def matches(obj: dict[str, Any]) -> bool:
            md = obj["metadata"]
            if rtype.namespaced and ns is not None and md.get("namespace") != ns:
                return False
            if name is not None and md.get("name") != name:
                return False
            if lsel is not None and not lsel.matches(md.get("labels") or {}):
                return False
            return fsel is None or fsel.matches(obj)

        resp = web.StreamResponse(headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})

        def row(obj: dict[str, Any]) -> dict[str, Any]:
            return self._table(rtype, [obj], request, obj["metadata"].get("resourceVersion", ""))

        stream = WatchStream(store, key, matches, resp.write, table=row if table else None)
        try:
            backlog: list[Event] = []
            initial: list[dict[str, Any]] = []
            if send_initial or rv_q in ("", "0"):
                initial = [o for o in store.list(key, ns if rtype.namespaced else None) if matches(o)]
            else:
                start = int(rv_q)
                if rv_n is not None and rv_n > store.rv:
                    # the watch cache waits up to 3s for a resourceVersion it has not seen, then answers
                    # 504 "Too large resource version" (cacher.go waitUntilFreshAndBlock,
                    # storage.NewTooLargeResourceVersionError); clients retry after a second
                    loop = asyncio.get_running_loop()
                    until = loop.time() + 3.0
                    while store.rv < rv_n and loop.time() < until:
                        await asyncio.sleep(0.05)
                    if store.rv < rv_n:
                        raise errors.ApiError(
                            504, "Timeout", f"Too large resource version: {rv_n}, current: {store.rv}",
                            {"causes": [{"reason": "ResourceVersionTooLarge",
                                         "message": "Too large resource version"}], "retryAfterSeconds": 1})
                try:
                    backlog = store.since(start)
                except TooOld:
                    raise errors.gone(f"too old resource version: {start} ({store.oldest_rv})") from None
            await resp.prepare(request)
            await stream.send_initial(initial)
            if send_initial:
                await stream.send("BOOKMARK", {"kind": rtype.kind, "apiVersion": rtype.api_version,
                                               "metadata": {"resourceVersion": str(store.rv),
                                                            "annotations": {"k8s.io/initial-events-end": "true"}}})
            last_rv = store.rv if initial or send_initial or rv_q in ("", "0") else int(rv_q)
            for ev in backlog:
                if ev.key == key:
                    await stream.send_event(ev)
                last_rv = ev.rv
            await stream.run(last_rv, timeout)
            return resp
        except ConnectionResetError:  # the client went away: a normal end of a watch
            return web.Response(status=204)
        finally:
            stream.close()
