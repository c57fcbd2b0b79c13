"""The running embedded cluster against hostile or mistaken API traffic (issue #13): a YAML alias bomb,
a flood of TLS connections that never finish their handshake, over-long request lines, media types and
query parameters the API does not take, and a watcher that stops reading. kubectl keeps answering
throughout, as it would against kube-apiserver."""

from __future__ import annotations

import http.client
import json
import resource
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from kai_labs.clusters import embedded as cl
from tests.manifests import YAML_ALIAS_BOMB

pytestmark = pytest.mark.cluster

LAUGHS = YAML_ALIAS_BOMB
PARTIAL_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])


class Api:
    """HTTPS to the cluster with its token and CA, one connection per request."""

    def __init__(self, name: str) -> None:
        st = cl.status(name)
        assert st.port and st.pid
        self.port, self.pid, self.home = st.port, st.pid, st.home
        self.token = (st.home / "token").read_text().strip()
        self.ctx = ssl.create_default_context(cafile=str(st.home / "ca.crt"))

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 20) -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={"Authorization": f"Bearer {self.token}", **(headers or {})})
            r = conn.getresponse()
            data = r.read()
            return r.status, json.loads(data) if data else {}
        finally:
            conn.close()

    def rss_mb(self) -> float:
        for ln in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) / 1024
        return 0.0


@pytest.fixture
def api(cluster) -> Api:  # type: ignore[no-untyped-def]
    return Api(cluster.name)


def kubectl_ok(cluster, *args: str) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    r = cluster.kubectl(*args)
    assert r.returncode == 0, r.stderr
    return time.perf_counter() - t


def test_a_yaml_alias_bomb_is_a_400_and_the_api_keeps_answering(cluster, api: Api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    rss = api.rss_mb()
    t = time.perf_counter()
    status, body = api.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", LAUGHS.encode(),
                               {"Content-Type": "application/yaml"})
    assert time.perf_counter() - t < 5
    assert status == 400 and body["reason"] == "BadRequest"
    assert "yaml: document contains excessive aliasing" in body["message"]
    assert api.rss_mb() < rss + 50
    kubectl_ok(cluster, "get", "configmaps", "-n", namespace)


def test_messages_the_api_refuses_with_kubernetes_codes(cluster, api: Api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    cms = f"/api/v1/namespaces/{namespace}/configmaps"
    status, body = api.request("POST", cms, b'{"metadata": {"name": "plain"}}', {"Content-Type": "text/plain"})
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")
    status, body = api.request("GET", cms + "?watch=true&timeoutSeconds=nan", timeout=10)
    assert (status, body["message"]) == (400, 'strconv.ParseInt: parsing "nan": invalid syntax')
    status, body = api.request("GET", cms + "?labelSelector=" + "a%20in%20(")
    assert status == 400 and body["message"].startswith("unable to parse requirement")
    status, body = api.request("GET", cms + "?x=" + "a" * 20_000)
    assert (status, body["kind"], body["message"]) == (431, "Status", "431 Request Header Fields Too Large")
    status, body = api.request("GET", cms, headers={"X-Big": "a" * 20_000})
    assert status == 431 and body["kind"] == "Status"


def test_half_open_tls_connections_are_closed_and_kubectl_is_served(cluster, api: Api) -> None:  # type: ignore[no-untyped-def]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
    kubectl_ok(cluster, "get", "--raw", "/version")
    rss = api.rss_mb()
    socks = []
    t0 = time.monotonic()
    for i in range(1500):  # raw sockets that send nothing, and some half a ClientHello
        s = socket.create_connection(("127.0.0.1", api.port))
        if i % 3 == 0:
            s.sendall(PARTIAL_HELLO)
        s.setblocking(False)
        socks.append(s)
    try:
        for _ in range(3):
            assert kubectl_ok(cluster, "get", "--raw", "/version") < 5
        assert api.rss_mb() < rss + 30  # ~300 KB each used to be held: 1,500 -> 450 MB
        closed: set[int] = set()
        while len(closed) < len(socks) and time.monotonic() - t0 < 20:
            for i, s in enumerate(socks):
                if i not in closed and _closed_by_peer(s):
                    closed.add(i)
            time.sleep(0.2)
        assert len(closed) == len(socks)
        assert time.monotonic() - t0 < 15  # the handshake timeout is a few seconds (Go's: 32 s)
    finally:
        for s in socks:
            s.close()
    kubectl_ok(cluster, "get", "--raw", "/version")


def _closed_by_peer(s: socket.socket) -> bool:
    try:
        while True:
            if s.recv(65536) == b"":
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_a_watcher_that_stops_reading_is_closed_while_others_keep_up(cluster, api: Api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    """cacheWatcher: a watcher that cannot take events within its budget is terminated; its client would list
    and watch again. A watcher that reads sees every event."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", api.port))
    tls_sock = api.ctx.wrap_socket(stalled, server_hostname="127.0.0.1")
    tls_sock.sendall((f"GET {path}?watch=true&timeoutSeconds=300 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: Bearer {api.token}\r\n\r\n").encode())
    reader = http.client.HTTPSConnection("127.0.0.1", api.port, context=api.ctx, timeout=60)
    reader.request("GET", f"{path}?watch=true&timeoutSeconds=120", headers={"Authorization": f"Bearer {api.token}"})
    live = reader.getresponse()
    time.sleep(0.5)
    status, _ = api.request("POST", path, json.dumps({"metadata": {"name": "big"}}).encode(),
                            {"Content-Type": "application/json"})
    assert status == 201
    payload = "x" * 10_000  # ~10 KB events: the stalled client's socket buffers fill, then its watcher's
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=api.ctx, timeout=20)
    log_file = api.home / "cluster.log"
    seen = n = 0
    t0 = time.monotonic()
    try:
        # writes go on (as a busy cluster's do) until the server gives up on the stalled watcher
        while "watcher close due to unresponsiveness" not in log_file.read_text(errors="replace"):
            assert time.monotonic() - t0 < 60, "the stalled watcher was never closed"
            for _ in range(50):
                n += 1
                conn.request("PATCH", f"{path}/big", body=json.dumps({"data": {"n": str(n), "pad": payload}}),
                             headers={"Authorization": f"Bearer {api.token}",
                                      "Content-Type": "application/merge-patch+json"})
                r = conn.getresponse()
                r.read()
                assert r.status == 200
                while seen < n + 1:  # the reading watcher keeps up (ADDED, then each MODIFIED)
                    assert live.readline(), "the reading watcher was closed"
                    seen += 1
            time.sleep(0.2)
    finally:
        conn.close()
    # the stalled watcher was closed: its connection ends (dropped) once it reads what was already sent
    tls_sock.settimeout(2)
    ended = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            try:
                chunk = tls_sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                ended = True
                break
    except (OSError, ssl.SSLError):  # reset: the server dropped it
        ended = True
    finally:
        tls_sock.close()
        reader.close()
    assert ended
    assert seen == n + 1
