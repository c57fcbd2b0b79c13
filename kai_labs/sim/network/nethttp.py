"""The ``cluster.net`` operations of the embedded cluster, as JSON in and out.

``resolve`` asks cluster DNS as a Pod of a namespace would; ``route`` is the
kube-proxy decision without a byte sent; ``curl`` sends a real HTTP request
through DNS, the service proxy and the Pod's real socket.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any
from urllib.parse import urlsplit

from ..apimachinery import errors
from . import http1
from .fabric import Network

DEFAULT_SOURCE = "10.244.1.254"  # the address cluster.net's requests come from when no client Pod is named


def _str(body: dict[str, Any], key: str, default: str | None = None) -> str:
    v = body.get(key, default)
    if not isinstance(v, str) or not v:
        raise errors.bad_request(f"{key} must be a non-empty string")
    return v


def resolve(net: Network, body: dict[str, Any]) -> dict[str, Any]:
    name = _str(body, "name")
    ns = _str(body, "namespace", "default")
    qtype = _str(body, "type", "A").upper()
    a = net.resolve(name, ns, qtype)
    return {"rcode": a.rcode, "fqdn": a.fqdn, "tried": list(a.tried),
            "answers": [{"name": r.name, "type": r.type, "ttl": r.ttl, "data": r.data} for r in a.answers]}


def _route_dict(r: Any) -> dict[str, Any]:
    return {"action": r.action, "endpoint": list(r.endpoint) if r.endpoint else None, "reason": r.reason,
            "service": r.service, "error": r.error,
            "candidates": [list(c) for c in r.candidates]}


def route(net: Network, body: dict[str, Any]) -> dict[str, Any]:
    dest = _str(body, "dest")
    ns = _str(body, "namespace", "default")
    src_node = body.get("source_node")
    src_ip = body.get("source_ip")
    if src_node is not None and not isinstance(src_node, str) or src_ip is not None and not isinstance(src_ip, str):
        raise errors.bad_request("source_node and source_ip must be strings")
    try:
        # the flow kube-proxy forwards, then NetworkPolicy's word on it (R114), for the client cluster.net acts as
        return _route_dict(net.judge(net.route(dest, ns, src_node, src_ip), src_ip or DEFAULT_SOURCE))
    except ValueError as e:
        raise errors.bad_request(f"bad destination {dest!r}: expected host:port, e.g. web:80 ({e})") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


async def curl(net: Network, body: dict[str, Any], default_node: str) -> dict[str, Any]:
    url = _str(body, "url")
    ns = _str(body, "namespace", "default")
    timeout = body.get("timeout", 2.0)
    if not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
        raise errors.bad_request("timeout must be a number of seconds between 0 and 60")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme != "http":
        return {"ok": False, "status": None, "body": "", "error": "refused", "backend": None,
                "detail": f"only http:// is served by emulated Pods, not {parts.scheme}://"}
    host = parts.hostname or ""
    try:
        port = parts.port or 80
    except ValueError:
        raise errors.bad_request(f"bad port in {url}") from None
    src_node = body.get("source_node") or default_node
    src_ip = body.get("source_ip") or DEFAULT_SOURCE
    started = time.monotonic()
    if _is_ip(host):
        ip = host
    elif (denied := net.dns_denied(src_ip)) is not None:
        return {"ok": False, "status": None, "body": "", "error": "dns", "backend": None,
                "detail": f"Could not resolve host: {host} (its DNS queries to kube-dns are dropped: {denied.reason})"}
    else:
        ans = net.resolve(host, ns, "A")
        ips = [r.data for r in ans.answers if r.type == "A"]
        if ans.rcode != "NOERROR" or not ips:
            return {"ok": False, "status": None, "body": "", "error": "dns", "backend": None,
                    "detail": f"Could not resolve host: {host} ({ans.rcode} for {ans.fqdn or host})"}
        ip = ips[0]
    try:
        reader, writer, r = await net.connect(ip, port, float(timeout), namespace=ns, source_node=src_node,
                                              source_ip=src_ip)
    except ConnectionRefusedError as e:
        refused = getattr(e, "route", None)
        return {"ok": False, "status": None, "body": "", "error": "refused",
                "backend": refused.endpoint[0] if refused is not None and refused.endpoint else None,
                "detail": f"Failed to connect to {host} port {port}: Connection refused ({e})"}
    except (TimeoutError, asyncio.TimeoutError) as e:
        return {"ok": False, "status": None, "body": "", "error": "timeout", "backend": None,
                "detail": f"Connection timed out after {int(timeout * 1000)} milliseconds ({e})"}
    backend = r.endpoint[0] if r.endpoint else None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        req = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: kai-labs/0.1\r\nAccept: */*\r\n"
               f"Connection: close\r\n\r\n")
        writer.write(req.encode())
        await writer.drain()
        # one deadline for the whole exchange: a server trickling bytes cannot stretch it
        deadline = max(started + float(timeout), time.monotonic() + 0.05)
        resp = await http1.read_response(reader, "GET", deadline=deadline)
    except (asyncio.TimeoutError, TimeoutError):
        return {"ok": False, "status": None, "body": "", "error": "timeout", "backend": backend,
                "detail": f"Operation timed out after {int(timeout * 1000)} milliseconds with 0 bytes received"}
    except http1.EmptyReply:
        return {"ok": False, "status": None, "body": "", "error": None, "backend": backend, "detail": ""}
    except OSError as e:
        return {"ok": False, "status": None, "body": "", "error": "refused", "backend": backend,
                "detail": f"Recv failure: {e}"}
    finally:
        writer.close()
    status = resp.status
    return {"ok": 200 <= status < 400, "status": status,
            "body": resp.body.decode("utf-8", errors="replace"), "error": None, "backend": backend, "detail": ""}
