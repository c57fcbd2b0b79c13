"""The kubelet's own server (kubelet :10250 in Kubernetes, pkg/kubelet/server/server.go), on a Unix socket.

The API server proxies pods/log, pods/exec, pods/attach and pods/portforward here, as kube-apiserver does
to the kubelet of the Pod's node (pkg/registry/core/pod/rest/log.go and subresources.go). Paths follow the
kubelet's: ``/containerLogs/{ns}/{pod}/{container}``, ``/exec/{ns}/{pod}``, ``/attach/{ns}/{pod}``,
``/portForward/{ns}/{pod}``. The socket lives in the cluster's 0700 home: only the cluster's user reaches it.

A request the kubelet refuses before a WebSocket upgrade answers with its Status both as the JSON body and
in the ``X-Kai-Labs-Status`` header (the API server's WebSocket client only sees headers on a refused
upgrade).
"""

from __future__ import annotations

import datetime as dt
import json
import time

from aiohttp import web

from ..apimachinery import errors
from ..network.fabric import Network
from . import streaming
from .kubelet import Kubelet

STATUS_HEADER = "X-Kai-Labs-Status"


def refusal(e: errors.ApiError) -> web.Response:
    body = json.dumps(e.status(), separators=(",", ":"))
    return web.Response(status=e.code, text=body, content_type="application/json",
                        headers={STATUS_HEADER: body})


class KubeletServer:
    """What ``streaming.handle`` needs (kubelet, net) and the routes the API server calls."""

    def __init__(self, kubelet: Kubelet, net: Network) -> None:
        self.kubelet = kubelet
        self.net = net
        self.app = web.Application(client_max_size=1 << 20)
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self.logs)
        self.app.router.add_get("/exec/{ns}/{pod}", self.stream)
        self.app.router.add_get("/attach/{ns}/{pod}", self.stream)
        self.app.router.add_get("/portForward/{ns}/{pod}", self.stream)
        self.runner: web.AppRunner | None = None

    async def start(self, path: str) -> None:
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.UnixSite(self.runner, path).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def stream(self, request: web.Request) -> web.StreamResponse:
        sub = {"exec": "exec", "attach": "attach", "portForward": "portforward"}[request.path.split("/")[1]]
        try:
            return await streaming.handle(self, request, sub, request.match_info["ns"], request.match_info["pod"])
        except errors.ApiError as e:
            return refusal(e)

    async def logs(self, request: web.Request) -> web.StreamResponse:
        """The container's log. 404 with reason NotFound when this kubelet runs no such container."""
        ns, name, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        q = request.query
        buf = self.kubelet.logs(ns, name, container)
        if buf is None:
            return refusal(errors.not_found("pods", name))
        previous = q.get("previous") == "true"
        if previous and not buf.previous:
            return refusal(errors.bad_request(f'previous terminated container "{container}" in pod "{name}" '
                                              f"not found"))
        lines = list(buf.previous if previous else buf.lines)
        if q.get("tailLines"):
            try:
                n = int(q["tailLines"])
            except ValueError:
                return refusal(errors.bad_request("invalid tailLines"))
            lines = lines[-n:] if n > 0 else []
        stamps = q.get("timestamps") == "true"

        def fmt(t: float, line: str) -> str:
            if not stamps:
                return line + "\n"
            return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z ") + line + "\n"

        if q.get("follow") != "true":
            return web.Response(text="".join(fmt(t, s) for t, s in lines), content_type="text/plain")
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        for t, s in lines:
            await resp.write(fmt(t, s).encode())
        start = len(buf.lines)
        async for line in self.kubelet.follow(buf, start):
            await resp.write(fmt(time.time(), line).encode())
        return resp

