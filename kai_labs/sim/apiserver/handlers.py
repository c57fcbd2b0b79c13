"""One handler per verb and per served subresource, as staging/src/k8s.io/apiserver/pkg/endpoints/handlers
has them (get.go, create.go, update.go, patch.go, delete.go, watch.go; the subresources' REST storage in
pkg/registry/core/pod/rest and pkg/registry/apps/deployment/storage).

``routes.py`` decides which handler a request reaches and hands it a ``Target``: the resource type, the
namespace and name from the path, and the write options every resource request checks first.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ...k8s import labels as _labels
from ..apimachinery import errors, protobuf, yamljson
from ..apimachinery import patch as _patch
from ..registry.resources import ResourceType
from ..storage.store import Event, TooOld
from . import discovery, healthz, printers
from .negotiation import (
    APPLY_YAML,
    MAX_BODY,
    OBJECT_TYPES,
    PROTOBUF,
    YAML,
    decode_yaml,
    json_response,
    media_type,
    read_body,
    strip_private,
    unsupported_media_type,
    wants_table,
    warn_headers,
)
from .options import check_delete_options, check_propagation, list_options, timeout_seconds
from .watch import WatchStream

if TYPE_CHECKING:
    from ..runtime import Runtime

Obj = dict[str, Any]


async def delete_options(request: web.Request) -> Obj:
    """The DeleteOptions a DELETE (of one object or of a collection) carries in its body, decoded by its
    media type as every other verb's body is: JSON, YAML or protobuf (``application/vnd.kubernetes.protobuf``,
    what client-go's typed clients and e2e.test send), else 415 (handlers/delete.go DeleteResource and
    DeleteCollection: ``negotiation.NegotiateInputSerializer`` then ``DecodeParameters`` of the body).
    No body, or an empty one, is no options."""
    if not request.can_read_body:
        return {}
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise errors.too_large()
    if not raw.strip():
        return {}
    ct = media_type(request)
    if ct not in OBJECT_TYPES:
        raise unsupported_media_type(OBJECT_TYPES)
    opts: Any
    if ct == PROTOBUF:
        try:
            opts = protobuf.decode(raw)
        except protobuf.ProtobufError as e:
            raise errors.bad_request(f"the protobuf body could not be decoded: {e}") from None
        if opts.get("kind") not in ("DeleteOptions", None):
            raise errors.bad_request(f"invalid DeleteOptions: the body is a {opts.get('kind')}")
    elif ct == YAML:
        try:
            opts = await decode_yaml(raw.decode("utf-8", errors="replace"))
        except yamljson.YamlError as e:
            raise errors.bad_request(f"invalid DeleteOptions: {e}") from None
    else:
        try:
            opts = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise errors.bad_request(f"invalid DeleteOptions: {e}") from None
    if not isinstance(opts, dict):
        raise errors.bad_request("invalid DeleteOptions: must be an object")
    check_delete_options(opts)
    return opts


def method_not_allowed() -> errors.ApiError:
    return errors.ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource", {})


@dataclass(frozen=True)
class Target:
    """What a resource request's path names, with its checked write options."""

    rtype: ResourceType
    ns: str | None  # None: a cluster-scoped path (all namespaces, for a namespaced type)
    name: str | None  # None: the collection
    sub: str  # "" or the subresource
    dry_run: bool
    field_validation: str

    @property
    def nsv(self) -> str:
        return self.ns or ""


class Handlers:
    def __init__(self, rt: Runtime, address: Callable[[], str]) -> None:
        self.rt = rt
        self.address = address

    # -- non-resource paths -------------------------------------------------------
    async def health(self, request: web.Request) -> web.StreamResponse:
        return healthz.respond(request, self.rt.store.health)  # etcd: whether writes commit (a full disk)

    async def version(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.rt.version_info())

    async def extension(self, request: web.Request, seg: list[str]) -> web.StreamResponse:
        return await self.rt.handle_extension(request, seg)

    async def discovery(self, request: web.Request, core: bool) -> web.StreamResponse:
        accept = request.headers.get("Accept", "")
        if "as=APIGroupDiscoveryList" in accept:
            return json_response(discovery.aggregated(core), content_type=discovery.AGG_CT)
        if core:
            return json_response(discovery.api_versions(self.address()))
        return json_response(discovery.api_group_list())

    async def openapi_root(self, request: web.Request) -> web.StreamResponse:
        return json_response(discovery.openapi_v3_root())

    async def openapi_doc(self, request: web.Request, group: str, version: str) -> web.StreamResponse:
        doc = discovery.openapi_v3_doc(group, version)
        if doc is None:
            raise errors.unknown_resource()
        return json_response(doc)

    async def api_group(self, request: web.Request, group: str) -> web.StreamResponse:
        g = discovery.api_group(group)
        if g is None:
            raise errors.unknown_resource()
        return json_response(g)

    async def resource_list(self, request: web.Request, group: str, version: str) -> web.StreamResponse:
        doc = discovery.resource_list(group, version)
        assert doc is not None
        return json_response(doc)

    # -- verbs on a collection --------------------------------------------------------
    async def list_objects(self, request: web.Request, t: Target) -> web.StreamResponse:
        q = request.query
        list_options(q, watch=False)
        rtype = t.rtype
        items = self.rt.api.list(rtype, t.ns, q.get("labelSelector", ""), q.get("fieldSelector", ""))
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
        if wants_table(request):
            table = self.table(rtype, items, request, rv)
            if cont:
                table["metadata"]["continue"] = cont
            return json_response(table)
        for it in items:
            it.pop("apiVersion", None)
            it.pop("kind", None)
        md: Obj = {"resourceVersion": rv}
        if cont:
            md["continue"] = cont
        return json_response({"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": md,
                              "items": items})

    async def create(self, request: web.Request, t: Target) -> web.StreamResponse:
        if t.rtype.namespaced and t.ns is None:
            raise method_not_allowed()
        body = await read_body(request, t.rtype.kind)
        if isinstance(body, dict) and body.get("kind") == "List":
            raise errors.bad_request("a List cannot be created: send its items one by one")
        if t.rtype.kind == "Pod" and t.rtype.group == "":
            await self._await_default_service_account(t.nsv, body)
        obj = self.rt.api.create(t.rtype, t.nsv, body, dry_run=t.dry_run, field_validation=t.field_validation)
        w = strip_private(obj)
        return json_response(obj, status=201, headers=warn_headers(w))

    async def _await_default_service_account(self, ns: str, body: Any) -> None:
        """A Pod created right after its namespace: the ServiceAccount admission plugin looks the ``default``
        ServiceAccount up again for a while before refusing the Pod (admission.go getServiceAccount: 10
        attempts 100-200 ms apart for ``default``, one for any other), since its controller makes it just
        after the namespace. Here the request waits, the controllers running meanwhile, up to 2 s."""
        loop = asyncio.get_running_loop()
        until = loop.time() + 2.0
        while self.rt.api.service_account_missing(ns, body) == "default" and loop.time() < until:
            nso = self.rt.store.peek("/namespaces", "", ns)
            if nso is None or nso["metadata"].get("deletionTimestamp"):
                return  # the create answers why
            await asyncio.sleep(0.02)

    async def delete_collection(self, request: web.Request, t: Target) -> web.StreamResponse:
        q = request.query
        rtype = t.rtype
        opts = await delete_options(request)  # deletecollection takes DeleteOptions in its body too
        prop = opts.get("propagationPolicy", q.get("propagationPolicy"))
        if opts.get("orphanDependents") is True:
            prop = "Orphan"
        check_propagation(prop)
        dr = t.dry_run or opts.get("dryRun") == ["All"]
        grace = opts.get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
        try:
            grace_i = int(grace) if grace is not None else None
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid gracePeriodSeconds: {grace}") from None
        items = self.rt.api.list(rtype, t.ns, q.get("labelSelector", ""), q.get("fieldSelector", ""))
        for it in items:
            md = it["metadata"]
            try:
                self.rt.api.delete(rtype, md.get("namespace", ""), md["name"], grace=grace_i,
                                   propagation=prop, dry_run=dr)
            except errors.ApiError as e:
                if e.code != 404:
                    raise
        return json_response({"kind": rtype.list_kind, "apiVersion": rtype.api_version,
                              "metadata": {"resourceVersion": str(self.rt.store.rv)}, "items": items})

    async def not_allowed(self, request: web.Request, t: Target) -> web.StreamResponse:
        raise method_not_allowed()

    # -- verbs on one object (and its status) -------------------------------------------
    async def get(self, request: web.Request, t: Target) -> web.StreamResponse:
        """The object (a one-row Table with ``as=Table``)."""
        assert t.name is not None
        obj = self.rt.api.get(t.rtype, t.nsv, t.name)
        if wants_table(request):
            return json_response(self.table(t.rtype, [obj], request, str(obj["metadata"]["resourceVersion"])))
        return json_response(obj)

    async def update(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None
        body = await read_body(request, t.rtype.kind)
        obj = self.rt.api.update(t.rtype, t.nsv, t.name, body, subresource=t.sub, dry_run=t.dry_run,
                                 field_validation=t.field_validation)
        return json_response(obj)

    async def patch(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None
        body = await read_body(request, patch=True)
        ct = media_type(request)
        if ct == APPLY_YAML:
            return json_response(self._apply(t.rtype, t.nsv, t.name, body, t.dry_run, t.field_validation,
                                             request.query))
        obj = self.rt.api.patch(t.rtype, t.nsv, t.name, ct, body, subresource=t.sub, dry_run=t.dry_run,
                                field_validation=t.field_validation)
        return json_response(obj)

    async def delete(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None
        q = request.query
        opts = await delete_options(request)
        grace = opts.get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
        prop = opts.get("propagationPolicy", q.get("propagationPolicy"))
        if opts.get("orphanDependents") is True:
            prop = "Orphan"
        check_propagation(prop)
        dr = t.dry_run or opts.get("dryRun") == ["All"]
        try:
            grace_i = int(grace) if grace is not None else None
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid gracePeriodSeconds: {grace}") from None
        obj, gone = self.rt.api.delete(t.rtype, t.nsv, t.name, grace=grace_i, propagation=prop, dry_run=dr,
                                       preconditions=opts.get("preconditions"))
        # always 200, whether or not the object is gone yet (a deferred deletion is not answered 202)
        return json_response(obj, status=200)

    def _apply(self, rtype: ResourceType, ns: str, name: str, body: Any, dry_run: bool, fv: str,
               q: Any) -> Obj:
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

    def table(self, rtype: ResourceType, items: list[Obj], request: web.Request, rv: str) -> Obj:
        include = request.query.get("includeObject", "Metadata")
        now = dt.datetime.fromtimestamp(self.rt.clock(), dt.timezone.utc)
        t = printers.table(rtype.kind, items, now, include_object=include)
        t["metadata"] = {"resourceVersion": rv}
        return t

    # -- subresources ---------------------------------------------------------------------
    async def log(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None
        return await self.rt.pod_log(request, t.nsv, t.name)

    async def stream(self, request: web.Request, t: Target) -> web.StreamResponse:
        """exec, attach, portforward: handed to the node's streaming server."""
        assert t.name is not None
        return await self.rt.pod_stream(request, t.sub, t.nsv, t.name)

    async def binding(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None
        body = await read_body(request, "Binding")
        return json_response(self.rt.bind(t.nsv, t.name, body), status=201)

    async def eviction(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None
        self.rt.api.delete(t.rtype, t.nsv, t.name)
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "code": 201}, status=201)

    async def not_served(self, request: web.Request, t: Target) -> web.StreamResponse:
        """Subresources discovery lists that this server does not serve (services/proxy, namespaces/finalize)."""
        raise errors.unknown_resource()

    async def scale(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None
        api = self.rt.api
        rtype, ns, name = t.rtype, t.nsv, t.name
        obj = api.get(rtype, ns, name)

        def scale_of(o: Obj) -> Obj:
            sel_field = o.get("spec", {}).get("selector")
            if rtype.kind == "ReplicationController":  # a plain label map (pkg/registry/core/replicationcontroller
                sel_field = {"matchLabels": sel_field or {}}  # /storage ScaleREST: labels.SelectorFromSet)
            sel = _labels.from_label_selector(sel_field)
            md = o["metadata"]
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {"name": md["name"], "namespace": md["namespace"], "uid": md["uid"],
                                 "resourceVersion": md["resourceVersion"],
                                 "creationTimestamp": md["creationTimestamp"]},
                    "spec": {"replicas": o.get("spec", {}).get("replicas", 1)},
                    "status": {"replicas": o.get("status", {}).get("replicas", 0), "selector": str(sel)}}

        if request.method == "GET":
            return json_response(scale_of(obj))
        if request.method == "PUT":
            new_scale = await read_body(request, "Scale")
        elif request.method == "PATCH":
            body = await read_body(request, patch=True)
            ct = media_type(request)
            cur = scale_of(obj)
            try:
                if ct == "application/json-patch+json":
                    new_scale = _patch.json_patch(cur, body)
                else:
                    new_scale = _patch.merge_patch(cur, body)
            except _patch.PatchError as e:
                raise errors.bad_request(str(e)) from None
        else:
            raise method_not_allowed()
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
        new = api.update(rtype, ns, name, obj, dry_run=t.dry_run)
        return json_response(scale_of(new))

    # -- watch ----------------------------------------------------------------------------
    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        """``?watch=true`` on a collection or an object: initial events (or the history from a
        resourceVersion), then a ``WatchStream`` until timeoutSeconds."""
        rtype, ns, name = t.rtype, t.ns, t.name
        q = request.query
        api = self.rt.api
        store = self.rt.store
        key = api.key(rtype)
        rv_n = list_options(q, watch=True)
        try:
            lsel = _labels.parse_selector(q.get("labelSelector", "")) if q.get("labelSelector") else None
            fsel = _labels.parse_field_selector(q["fieldSelector"]) if q.get("fieldSelector") else None
        except ValueError as e:  # labels.SelectorError: the same 400 a list answers
            raise errors.bad_request(str(e)) from None
        if fsel is not None:
            bad = _labels.validate_field_selector(rtype.kind, fsel)
            if bad:
                raise errors.bad_request(bad)
        table = wants_table(request)
        # unset or 0: kube-apiserver picks minRequestTimeout (1800 s) times a random factor in [1, 2)
        timeout = float(timeout_seconds(q) or 1800)
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
            return self.table(rtype, [obj], request, obj["metadata"].get("resourceVersion", ""))

        def abort() -> None:
            """The client stopped reading: a clean end cannot be written, so the connection is reset; what
            the kernel still holds for it is discarded too (SO_LINGER 0), not sent at the client's pace."""
            transport = request.transport
            if transport is None:
                return
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()

        stream = WatchStream(store, key, matches, resp.write, table=row if table else None, abort=abort,
                             name=f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural)
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
