"""The API server's client of the kubelets: pods/log, exec, attach and portforward, proxied to the node.

As kube-apiserver (pkg/registry/core/pod/rest/log.go, subresources.go; pkg/kubelet/client): the API server
checks the Pod, finds its node, and hands the request to that node's kubelet server
(``sim/node/server.py``, a Unix socket in the cluster's home). WebSocket sessions are relayed message by
message, so kubectl speaks the same v5.channel.k8s.io / SPDY-over-WebSocket protocols end to end.

A node that is down answers nothing: the request fails as kube-apiserver's does when it cannot dial the
kubelet (``dial tcp <node IP>:10250: ...``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from ..apimachinery import errors
from ..network.fabric import SocketDir

STATUS_HEADER = "X-Kai-Labs-Status"  # the kubelet's Status on a refused upgrade (node/server.py)
KUBELET_PORT = 10250
DIAL_TIMEOUT = 10.0


def _unreachable(node_ip: str, path: str, why: str) -> errors.ApiError:
    return errors.ApiError(500, "", f'Get "https://{node_ip}:{KUBELET_PORT}{path}": dial tcp {node_ip}:'
                                    f"{KUBELET_PORT}: {why}")


def _from_status(text: str | None, fallback: int) -> errors.ApiError:
    try:
        st = json.loads(text or "")
        return errors.ApiError(int(st.get("code", fallback)), str(st.get("reason", "")), str(st.get("message", "")),
                               st.get("details"))
    except (ValueError, TypeError, AttributeError):
        return errors.ApiError(fallback, "", text or "the kubelet refused the request")


class KubeletClient:
    def __init__(self, sockets: SocketDir) -> None:
        self.sockets = sockets
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def _session(self, node: str) -> aiohttp.ClientSession:
        s = self._sessions.get(node)
        if s is None or s.closed:
            s = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=self.sockets.path(node)),
                                      timeout=aiohttp.ClientTimeout(total=None, sock_connect=DIAL_TIMEOUT))
            self._sessions[node] = s
        return s

    async def close(self) -> None:
        for s in self._sessions.values():
            await s.close()
        self._sessions.clear()

    async def logs(self, request: web.Request, node: str, node_ip: str, ns: str, name: str,
                   container: str) -> web.StreamResponse | None:
        """The log as the kubelet serves it; None when the kubelet runs no such container (yet)."""
        path = f"/containerLogs/{ns}/{name}/{container}"
        query = {k: v for k, v in request.query.items() if k in ("follow", "previous", "tailLines", "timestamps")}
        try:
            r = await asyncio.wait_for(self._session(node).get("http://kubelet" + path, params=query), DIAL_TIMEOUT)
        except (aiohttp.ClientConnectionError, OSError):
            raise _unreachable(node_ip, path, "connect: no route to host") from None
        except asyncio.TimeoutError:
            raise _unreachable(node_ip, path, "i/o timeout") from None
        try:
            if r.status == 404:
                return None
            if r.status != 200:
                raise _from_status(await r.text(), r.status)
            if request.query.get("follow") != "true":
                return web.Response(body=await r.read(), content_type="text/plain")
            resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await resp.prepare(request)
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                async for chunk in r.content.iter_any():
                    await resp.write(chunk)
            return resp
        finally:
            r.release()

    async def stream(self, request: web.Request, node: str, node_ip: str, sub: str, ns: str,
                     name: str) -> web.StreamResponse:
        path = {"exec": "/exec", "attach": "/attach", "portforward": "/portForward"}[sub] + f"/{ns}/{name}"
        url = "http://kubelet" + path + ("?" + request.query_string if request.query_string else "")
        session = self._session(node)
        upgrade = (request.headers.get("Upgrade", "").lower() == "websocket"
                   and "upgrade" in request.headers.get("Connection", "").lower())
        try:
            if not upgrade:  # the kubelet explains what it wants (a WebSocket) in its Status
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=DIAL_TIMEOUT)) as r:
                    raise _from_status(await r.text(), r.status)
            protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
            upstream = await session.ws_connect(url, protocols=protocols, max_msg_size=0, autoping=True,
                                                timeout=aiohttp.ClientWSTimeout(ws_close=5.0))
        except aiohttp.WSServerHandshakeError as e:
            raise _from_status(e.headers.get(STATUS_HEADER) if e.headers else None, e.status) from None
        except (aiohttp.ClientConnectionError, OSError):
            raise _unreachable(node_ip, path, "connect: no route to host") from None
        except asyncio.TimeoutError:
            raise _unreachable(node_ip, path, "i/o timeout") from None
        ws = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (), autoping=True,
                                   max_msg_size=0)
        await ws.prepare(request)
        await _relay(ws, upstream)
        return ws


async def _relay(client: web.WebSocketResponse, kubelet: aiohttp.ClientWebSocketResponse) -> None:
    async def pump(src: Any, dst: Any) -> None:
        async for msg in src:
            if msg.type == WSMsgType.BINARY:
                await dst.send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                await dst.send_str(msg.data)
            else:
                break

    up = asyncio.ensure_future(pump(client, kubelet))
    down = asyncio.ensure_future(pump(kubelet, client))
    try:
        await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        if down.done():  # the kubelet ended the session: everything it sent has been passed on
            up.cancel()
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(down), 5.0)
    except (ConnectionError, aiohttp.ClientError):
        pass
    finally:
        for t in (up, down):
            t.cancel()
            with contextlib.suppress(BaseException):
                await t
        with contextlib.suppress(Exception):
            await kubelet.close()
        with contextlib.suppress(Exception):
            await client.close()
