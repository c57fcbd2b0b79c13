"""The virtual network: Pod IPs mapped to Unix sockets in the cluster's private home, DNS and the service proxy.

Every Pod's app really listens, on a Unix socket ``<home>/net/<pod IP>/<port>`` (the home is the user's
own, mode 0700, so no other Unix user can reach a Pod). The directory ``<home>/net/<pod IP>`` is the Pod's
sandbox: it exists while the node that runs the Pod has it up. Every in-cluster connection goes through
netlogic's decisions (cluster DNS, kube-proxy) before a real connection is opened, and starts with a PROXY
protocol v1 line (haproxy's ``PROXY TCP4 <src> <dst> <sport> <dport>``) that tells the server the virtual
client address, as a real server would see it in its socket's peer.

Nothing listening on a Pod's port is a real refusal (R50); a REJECT rule is an immediate refusal (R44); a
DROP, an address nobody owns, or a Pod on a node that is down waits for the caller's timeout (R45). The
same module runs in the control plane (``cluster.net``) and in each node process (Pods' own clients,
probes, port-forward): both see the same sockets through the file system.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import itertools
import json
import os
import random
import shutil
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ...k8s import netlogic, netpol
from ..storage.store import Event, Obj

DNS_IP = "10.96.0.10"
NETPOL_KEY = "networking.k8s.io/networkpolicies"
_NET_KEYS = {"/services", "discovery.k8s.io/endpointslices", "/pods", "/nodes", "/namespaces"}
_POLICY_KEYS = {NETPOL_KEY, "/namespaces"}
# The cluster DNS server as NetworkPolicy sees it: kind's CoreDNS Pod (kube-system, k8s-app=kube-dns, its
# named ports dns/dns-tcp/metrics, on the control-plane node). The embedded DNS answers in-process, so this
# is the backend that a Pod's query to 10.96.0.10:53 is judged against after kube-proxy's DNAT (R115).
DNS_PEER = netpol.Peer("10.244.0.2", "kube-system", "coredns", {"k8s-app": "kube-dns"},
                       (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")), "172.18.0.2")
DNS_TIMEOUT = 5.0  # musl's resolver gives up after its timeout (5 s by default): what a blocked lookup waits
_PROXY_LINE_MAX = 108  # the PROXY protocol v1 line's bound (haproxy's proxy-protocol.txt)
_SUN_PATH_MAX = 100  # sockaddr_un.sun_path is 108 bytes on Linux; longer paths go through /proc/self/fd

# The host part of a listen address, as the Pod's network namespace sees it: a socket bound to the wildcard
# (0.0.0.0, ::) takes connections to every local address; one bound to 127.0.0.1/::1 only those to the
# loopback; one bound to the Pod IP only those to the Pod IP (Linux's inet_bind and the TCP lookup,
# net/ipv4/af_inet.c, net/ipv4/inet_hashtables.c: a listener matches on its bound address or INADDR_ANY).
ANY, LOOPBACK, POD_IP = "any", "loopback", "pod"
_PREFIX = {ANY: "", LOOPBACK: "lo-", POD_IP: "ip-"}
_UDP_MAX = 65507  # the largest UDP payload over IPv4 (65535 - 8 - 20)
UdpHandler = Callable[[bytes, tuple[str, int]], "bytes | None"]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

# the virtual client (ip, port) of the connection a server task is serving (set from the PROXY line)
PEER: contextvars.ContextVar[tuple[str, int]] = contextvars.ContextVar("kai_labs_peer", default=("127.0.0.1", 0))


class Source(Protocol):
    """Where the network reads Services, EndpointSlices, Pods, Nodes and Namespaces: the store in the control
    plane, the informer cache (sim/remote.py) in a node process."""

    def subscribe(self, fn: Callable[[Event], None]) -> Any: ...

    def iter(self, key: str, ns: str | None = None) -> Iterator[Obj]: ...


@dataclass
class PodSockets:
    namespace: str
    name: str
    node: str
    ports: dict[int, str]  # app port -> the Unix socket's path


class SocketDir:
    """``<home>/net``: one directory per Pod sandbox, one socket per listening port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700, exist_ok=True)
        self._fd: int | None = None

    def path(self, ip: str, port: int | None = None, bind: str = ANY, udp: bool = False) -> str:
        """A path short enough for sun_path: through an O_PATH descriptor of the root when the home is deep.

        ``bind`` is the host part of the app's listen address (see :func:`bind_scope`): a wildcard socket
        is ``<ip>/<port>``, a loopback-only one ``<ip>/lo-<port>``, one bound to the Pod IP ``<ip>/ip-<port>``;
        a UDP socket (a Unix datagram socket) has ``udp-`` in front."""
        tail = ip if port is None else f"{ip}/{'udp-' if udp else ''}{_PREFIX[bind]}{port}"
        full = f"{self.root}/{tail}"
        if len(full.encode()) <= _SUN_PATH_MAX:
            return full
        if self._fd is None:
            self._fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return f"/proc/self/fd/{self._fd}/{tail}"

    def sandbox_up(self, ip: str, pod: Obj | None = None) -> None:
        """The Pod's sandbox: its directory, and a note of who it is for the other nodes' routing."""
        d = self.root / ip
        d.mkdir(mode=0o700, exist_ok=True)
        if pod is not None:
            tmp = d / "pod.json.tmp"
            tmp.write_text(json.dumps(pod))
            os.replace(tmp, d / "pod.json")

    def peers(self) -> list[Obj]:
        """Every sandbox's note (other nodes' Pods, as the CNI's routes know them)."""
        out = []
        for ip in self.sandboxes():
            with contextlib.suppress(OSError, ValueError):
                out.append(json.loads((self.root / ip / "pod.json").read_text()))
        return out

    def sandbox_down(self, ip: str) -> None:
        shutil.rmtree(self.root / ip, ignore_errors=True)

    def has_sandbox(self, ip: str) -> bool:
        return (self.root / ip).is_dir()

    def sandboxes(self) -> list[str]:
        with contextlib.suppress(OSError):
            return [p.name for p in self.root.iterdir() if p.is_dir()]
        return []


def bind_scope(host: str, pod_ip: str) -> str | None:
    """Which local addresses a socket bound to ``host`` answers on: ANY, LOOPBACK or POD_IP; None when the
    address is not the Pod's (bind fails with EADDRNOTAVAIL, "cannot assign requested address").

    "localhost" resolves to 127.0.0.1 in a Pod (the runtime's /etc/hosts), as Go's and Python's listeners
    resolve it before binding."""
    h = host.strip().strip("[]").lower()
    if h in ("", "0.0.0.0", "::", "*"):
        return ANY
    if h in ("localhost", "::1", "ip6-localhost") or (h.startswith("127.") and h.count(".") == 3):
        return LOOPBACK
    if h == pod_ip:
        return POD_IP
    return None


class Network:
    def __init__(self, source: Source, seed: int, sockets: SocketDir, *, peers: bool = False) -> None:
        self.source = source
        self.sockets = sockets
        self.peers = peers  # the source holds only this node's Pods: other Pods come from their sandboxes
        self.pods: dict[str, PodSockets] = {}  # this process's Pods: pod IP -> sockets
        self._snap: netlogic.Snapshot | None = None
        self.rng = random.Random(seed)
        self.affinity = netlogic.Affinity(time.monotonic)
        self._ports = itertools.count(33000 + self.rng.randrange(20000))  # ephemeral source ports
        self._policies: tuple[list[Obj], dict[str, dict[str, str]]] | None = None
        self._noted: dict[str, Any] = {}  # pod IP -> the (labels, ports) its sandbox note carries
        source.subscribe(self._on_event)

    def _on_event(self, ev: Event) -> None:
        if ev.key in _NET_KEYS:
            self._snap = None
        if ev.key in _POLICY_KEYS:
            self._policies = None
        if ev.key == "/pods" and self.pods and ev.type != "DELETED":
            self._refresh_note(ev.obj)

    # -- NetworkPolicy ----------------------------------------------------------
    def policies(self) -> tuple[list[Obj], dict[str, dict[str, str]]]:
        """Every NetworkPolicy and each namespace's labels (the node's informers, or the store)."""
        if self._policies is None:
            pols = list(self.source.iter(NETPOL_KEY))
            nss = {n["metadata"]["name"]: dict(n["metadata"].get("labels") or {})
                   for n in self.source.iter("/namespaces")}
            self._policies = (pols, nss)
        return self._policies

    def peer_of(self, ip: str) -> netpol.Peer:
        """What the policies know of an address: a Pod (namespace, labels, named ports, node), else just the IP.
        A node process reads another node's Pod from its sandbox note, fresh each time (a relabel there is
        seen at once); its own Pods and the control plane's come from their informers."""
        pod: Obj | None = None
        if self.peers and ip not in self.pods:
            with contextlib.suppress(OSError, ValueError):
                pod = json.loads((self.sockets.root / ip / "pod.json").read_text())
        if pod is None and ip:
            pod = self.snapshot().pod_by_ip(ip)
        peer = netpol.pod_peer(pod) if isinstance(pod, dict) else None
        return peer if peer is not None and peer.ip == ip else netpol.Peer(ip)

    def judge(self, r: netlogic.Route, source_ip: str | None, protocol: str = "TCP") -> netlogic.Route:
        """The Route with the NetworkPolicy decision on the flow kube-proxy forwards (R114): a denied flow is
        dropped (the client times out, as Calico and Cilium drop by default), and the reason says why."""
        if r.action != "forward" or r.endpoint is None:
            return r
        pols, nss = self.policies()
        if not pols:
            return r
        d = netpol.decide(pols, nss, self.peer_of(source_ip or ""), self.peer_of(r.endpoint[1]), protocol,
                          r.endpoint[2])
        rule = ",".join(x for x in (r.rule, d.rule) if x)
        if d.allowed:
            return dataclasses.replace(r, reason=f"{r.reason}; {d.reason}", rule=rule) if d.reason else r
        return dataclasses.replace(r, action="drop", reason=f"{r.reason}; {d.reason}: the packets are dropped",
                                   rule=rule)

    def dns_denied(self, source_ip: str) -> netpol.Decision | None:
        """R115: a Pod whose egress policies do not let it reach kube-dns on UDP 53 gets no DNS answer."""
        pols, nss = self.policies()
        if not pols:
            return None
        d = netpol.decide(pols, nss, self.peer_of(source_ip), DNS_PEER, "UDP", 53)
        return None if d.allowed else d

    def _note_fields(self, pod: Obj) -> tuple[dict[str, str], list[Obj]]:
        return dict((pod.get("metadata") or {}).get("labels") or {}), netpol.compact_ports(pod)

    def _write_note(self, ip: str, labels: dict[str, str], ports: list[Obj], host_ip: str | None) -> None:
        path = self.sockets.root / ip / "pod.json"
        try:
            note = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        note.setdefault("metadata", {})["labels"] = labels
        note.setdefault("spec", {})["containers"] = [{"name": "ports", "ports": ports}]
        if host_ip:
            note.setdefault("status", {})["hostIP"] = host_ip
        tmp = path.with_name("pod.json.tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(note))
            os.replace(tmp, path)
            self._noted[ip] = (labels, ports)

    def _refresh_note(self, pod: Obj) -> None:
        """Keep this node's Pods' notes in step with their labels (kubectl label pod ...)."""
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or ip not in self.pods or self.pods[ip].name != pod["metadata"].get("name"):
            return
        labels, ports = self._note_fields(pod)
        if self._noted.get(ip) != (labels, ports):
            self._write_note(ip, labels, ports, (pod.get("status") or {}).get("hostIP"))

    def snapshot(self) -> netlogic.Snapshot:
        if self._snap is None:
            s = self.source
            pods = list(s.iter("/pods"))
            if self.peers:
                own = {p.get("status", {}).get("podIP") for p in pods}
                pods += [p for p in self.sockets.peers() if p.get("status", {}).get("podIP") not in own]
            self._snap = netlogic.Snapshot(
                services=list(s.iter("/services")),
                endpointslices=list(s.iter("discovery.k8s.io/endpointslices")),
                pods=pods,
                nodes=list(s.iter("/nodes")),
                namespaces=[n["metadata"]["name"] for n in s.iter("/namespaces")],
            )
        return self._snap

    # -- DNS and decisions ------------------------------------------------------
    def resolve(self, name: str, namespace: str = "default", qtype: str = "A") -> netlogic.DnsAnswer:
        return netlogic.resolve(self.snapshot(), name, namespace, qtype)

    def route(self, dest: str, namespace: str = "default", source_node: str | None = None,
              source_ip: str | None = None, pick: Callable[[Any], Any] | None = None,
              protocol: str = "TCP") -> netlogic.Route:
        r = netlogic.route(self.snapshot(), dest, namespace, source_node, source_ip,
                           pick=pick or self.rng.choice, affinity=self.affinity, protocol=protocol)
        if self.peers and r.action == "drop" and self.sockets.has_sandbox(dest.rsplit(":", 1)[0]):
            self._snap = None  # a Pod another node started since our snapshot: look again
            r = netlogic.route(self.snapshot(), dest, namespace, source_node, source_ip,
                               pick=pick or self.rng.choice, affinity=self.affinity, protocol=protocol)
        return r

    # -- the Pods of this process ---------------------------------------------------
    def register(self, ip: str, sockets: PodSockets, pod: Obj | None = None) -> None:
        self.sockets.sandbox_up(ip, pod)
        self.pods[ip] = sockets
        if pod is not None:  # what the other nodes' policies need: labels, named ports, the node's IP
            full = next((p for p in self.source.iter("/pods", sockets.namespace)
                         if p["metadata"].get("name") == sockets.name), None)
            node = next((n for n in self.source.iter("/nodes") if n["metadata"].get("name") == sockets.node), None)
            host = next((a.get("address") for a in ((node or {}).get("status") or {}).get("addresses") or []
                         if a.get("type") == "InternalIP"), None)
            labels, ports = self._note_fields(full or pod)
            self._write_note(ip, labels, ports, host)

    def unregister(self, ip: str) -> None:
        self.pods.pop(ip, None)
        self._noted.pop(ip, None)
        self.sockets.sandbox_down(ip)

    async def listen(self, ip: str, port: int, handler: Handler, bind: str = ANY
                     ) -> tuple[asyncio.AbstractServer, str]:
        """A Pod's server on ``port``: a Unix socket in its sandbox; each connection's PROXY line sets PEER.
        ``bind`` (ANY, LOOPBACK, POD_IP) says which of the Pod's addresses it answers on (R100)."""
        path = self.sockets.path(ip, port, bind)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5.0)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                writer.close()
                return
            PEER.set(_parse_proxy(line[:_PROXY_LINE_MAX]))
            await handler(reader, writer)

        server = await asyncio.start_unix_server(accept, path)
        return server, path

    async def listen_udp(self, ip: str, port: int, handler: UdpHandler, bind: str = ANY) -> asyncio.BaseTransport:
        """A Pod's UDP server on ``port``: a Unix datagram socket in its sandbox. Each datagram starts with a
        PROXY line naming its virtual source; ``handler(payload, (src ip, src port))`` returns the reply
        datagram (or None), sent back to the client's socket."""
        path = self.sockets.path(ip, port, bind, udp=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.setblocking(False)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _UdpServer(handler), sock=sock)
        return transport

    # -- connections ----------------------------------------------------------------
    async def connect(self, ip: str, port: int, timeout: float, *, namespace: str = "default",
                      source_node: str | None = None, source_ip: str | None = None
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, netlogic.Route]:
        """Open a connection to ip:port as a client in the cluster would.

        Raises ConnectionRefusedError (REJECT, nothing listening) or TimeoutError
        (DROP, nobody owns the address, the Pod's node is down) after waiting ``timeout``.
        """
        r = self.judge(self.route(f"{ip}:{port}", namespace, source_node, source_ip), source_ip)
        if r.action == "reject":
            raise _with_route(ConnectionRefusedError(r.reason), r)
        if r.action != "forward" or r.endpoint is None:
            await asyncio.sleep(timeout)
            raise _with_route(TimeoutError(r.reason), r)
        pod_name, pod_ip, pod_port = r.endpoint
        via = f"{r.service} sent it to " if r.service else ""
        try:
            reader, writer = await self.open(pod_ip, pod_port, timeout, source=source_ip or "10.244.0.1",
                                             dest=(ip, port), refused=(
                f"{via}pod {pod_name} at {pod_ip}:{pod_port}, where nothing listens: the Pod answers with a "
                f"TCP reset"))
        except OSError as e:
            raise _with_route(e, r) from None
        return reader, writer, r

    async def open(self, pod_ip: str, port: int, timeout: float, *, source: str,
                   dest: tuple[str, int] | None = None, refused: str | None = None, loopback: bool = False
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection straight to a Pod's ip:port (after any proxying), from ``source``; with ``loopback``
        to the Pod's own 127.0.0.1:port instead (its containers, port-forward).

        No sandbox at that IP: nobody answers (TimeoutError after ``timeout``). A sandbox without a socket
        on the port: ConnectionRefusedError. A socket whose node process is gone (its file stays, nobody
        accepts): nobody answers either, as packets to a powered-off machine."""
        started = time.monotonic()
        if not self.sockets.has_sandbox(pod_ip):
            await asyncio.sleep(timeout)
            raise TimeoutError(f"no host answers at {pod_ip}")
        # a connection to the loopback finds a wildcard or loopback listener; to the Pod IP a wildcard or
        # Pod-IP listener (R100)
        binds = (ANY, LOOPBACK) if loopback else (ANY, POD_IP)
        for bind in binds:
            path = self.sockets.path(pod_ip, port, bind)
            if os.path.exists(path):
                break
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), timeout)
        except FileNotFoundError:
            if refused and not loopback and os.path.exists(self.sockets.path(pod_ip, port, LOOPBACK)):
                refused += (f" (its app listens on 127.0.0.1:{port}, the Pod's own loopback, which only the "
                            "Pod's containers reach)")
            raise ConnectionRefusedError(refused or f"dial tcp {pod_ip}:{port}: connect: connection refused"
                                         ) from None
        except ConnectionRefusedError:
            await asyncio.sleep(max(0.0, timeout - (time.monotonic() - started)))
            raise TimeoutError(f"no host answers at {pod_ip}") from None
        d_ip, d_port = dest or (pod_ip, port)
        writer.write(f"PROXY TCP4 {source} {d_ip} {next(self._ports) % 28000 + 32768} {d_port}\r\n".encode())
        return reader, writer

    def peer(self, real_peer: tuple[str, int] | None = None) -> tuple[str, int]:
        """The virtual client of the connection the current server task serves."""
        return PEER.get()

    def udp(self, ip: str, port: int, *, namespace: str = "default", source_node: str | None = None,
            source_ip: str | None = None, loopback: bool = False) -> UdpFlow:
        """A UDP flow to ip:port as a client in the cluster opens one (a connected UDP socket): kube-proxy's
        rules decide once, as conntrack keeps a flow's DNAT (R101). A REJECT raises ConnectionRefusedError
        as ICMP port unreachable, which the next read reports as refused; so does a Pod with nothing on the
        port; a DROP or an address nobody owns gives a flow whose replies never come."""
        src = "127.0.0.1" if loopback else (source_ip or "10.244.0.1")
        if loopback:
            return UdpFlow(self, src, (ip, port), source_ip or ip, port, binds=(ANY, LOOPBACK))
        r = self.judge(self.route(f"{ip}:{port}", namespace, source_node, source_ip, protocol="UDP"), source_ip,
                       "UDP")
        if r.action != "forward" or r.endpoint is None:
            flow = UdpFlow(self, src, (ip, port), None, port)
            flow.rejected = r.action == "reject"  # kube-proxy's REJECT answers UDP with ICMP port unreachable
            flow.route = r
            return flow
        _, pod_ip, pod_port = r.endpoint
        flow = UdpFlow(self, src, (ip, port), pod_ip, pod_port)
        flow.route = r
        return flow


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, handler: UdpHandler) -> None:
        self.handler = handler
        self.transport: Any = None  # the selector loop's datagram transport (sendto)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        head, sep, payload = data.partition(b"\r\n")
        if not sep or not addr:
            return
        try:
            reply = self.handler(payload, _parse_proxy(head[:_PROXY_LINE_MAX]))
        except Exception:  # noqa: BLE001 - a fault of one datagram's handling never ends the server
            return
        if reply is not None and self.transport is not None:
            with contextlib.suppress(OSError):
                self.transport.sendto(reply[:_UDP_MAX], addr)

    def error_received(self, exc: Exception) -> None:  # a client that went away: nothing to do
        pass


class UdpFlow:
    """One client UDP socket, connected to a destination (Service, Pod, loopback) through its endpoint."""

    def __init__(self, net: Network, source: str, dest: tuple[str, int], pod_ip: str | None, pod_port: int,
                 binds: tuple[str, ...] = (ANY, POD_IP)) -> None:
        self.net, self.source, self.dest = net, source, dest
        self.sport = next(net._ports) % 28000 + 32768
        self.pod_ip, self.pod_port, self.binds = pod_ip, pod_port, binds
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("")  # an autobound abstract address: where the server's replies come back
        self.sock.setblocking(False)
        self.refused = False  # an ICMP port unreachable came back: the next read reports it
        self.rejected = False  # kube-proxy REJECTs the flow: every datagram gets ICMP port unreachable
        self.route: netlogic.Route | None = None

    @property
    def local(self) -> str:
        return f"{self.source}:{self.sport}"

    def _target(self) -> str | None:
        if self.pod_ip is None or not self.net.sockets.has_sandbox(self.pod_ip):
            return None
        for bind in self.binds:
            path = self.net.sockets.path(self.pod_ip, self.pod_port, bind, udp=True)
            if os.path.exists(path):
                return path
        self.refused = True  # the Pod is there, nothing listens on the port: ICMP port unreachable
        return None

    def send(self, data: bytes) -> None:
        if self.rejected:
            self.refused = True
            return
        target = self._target()
        if target is None:
            return
        head = f"PROXY UDP4 {self.source} {self.dest[0]} {self.sport} {self.dest[1]}\r\n".encode()
        try:
            self.sock.sendto(head + data[:_UDP_MAX], target)
        except (ConnectionRefusedError, FileNotFoundError):
            pass  # its node is gone: nothing answers
        except BlockingIOError:
            pass  # the receiver's queue is full: the datagram is lost, as UDP may lose it

    async def recv(self, timeout: float) -> bytes:
        """The next reply; ConnectionRefusedError after an ICMP port unreachable, TimeoutError when none
        comes within ``timeout``."""
        if self.refused:
            self.refused = False
            raise ConnectionRefusedError("connection refused")
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.sock_recv(self.sock, _UDP_MAX + 1), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError("i/o timeout") from None

    def close(self) -> None:
        self.sock.close()


def _parse_proxy(line: bytes) -> tuple[str, int]:
    parts = line.decode("ascii", errors="replace").split()
    if len(parts) == 6 and parts[0] == "PROXY":
        with contextlib.suppress(ValueError):
            return parts[2], int(parts[4])
    return ("127.0.0.1", 0)


def _with_route(exc: Exception, r: netlogic.Route) -> Exception:
    exc.route = r  # type: ignore[attr-defined]
    return exc


class PodNetView:
    """The network as one Pod sees it (the PodNet protocol images.py uses)."""

    def __init__(self, net: Network, namespace: str, pod_name: str, pod_ip: str, node_name: str) -> None:
        self.net = net
        self.namespace = namespace
        self.pod_name = pod_name
        self.pod_ip = pod_ip
        self.node_name = node_name
        self.dns_ip = DNS_IP

    def resolve(self, name: str, qtype: str = "A") -> netlogic.DnsAnswer:
        """Cluster DNS as this Pod asks it; a Pod whose egress policies cut it off from kube-dns gets no answer
        (rcode TIMEOUT: its resolver's queries are dropped, R115)."""
        if self.net.dns_denied(self.pod_ip) is not None:
            return netlogic.DnsAnswer("TIMEOUT", [], name, [])
        return self.net.resolve(name, self.namespace, qtype)

    def dns_timeout(self) -> float:
        """Seconds a lookup waits before it fails: 0 when kube-dns answers, else the resolver's timeout."""
        return DNS_TIMEOUT if self.net.dns_denied(self.pod_ip) is not None else 0.0

    def resolv_conf(self) -> str:
        return netlogic.resolv_conf(self.namespace, DNS_IP)

    async def connect(self, ip: str, port: int, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if ip.startswith("127.") or ip == "::1":
            # the Pod's own loopback: its containers share one network namespace
            try:
                return await self.net.open(self.pod_ip, port, timeout, source="127.0.0.1", dest=(ip, port),
                                           loopback=True)
            except (ConnectionRefusedError, TimeoutError):
                raise ConnectionRefusedError(f"nothing listens on {ip}:{port} inside pod {self.pod_name}"
                                             ) from None
        reader, writer, _ = await self.net.connect(ip, port, timeout, namespace=self.namespace,
                                                   source_node=self.node_name, source_ip=self.pod_ip)
        return reader, writer

    async def listen(self, port: int, handler: Handler, host: str = "") -> tuple[asyncio.AbstractServer, str]:
        """A server on host:port; OSError (EADDRNOTAVAIL) when host is none of the Pod's addresses."""
        bind = bind_scope(self.pod_ip if host == self.pod_name else host, self.pod_ip)
        if bind is None:
            raise OSError(99, f"listen tcp {host}:{port}: bind: cannot assign requested address")
        return await self.net.listen(self.pod_ip, port, handler, bind)

    def peer(self, real_peer: tuple[str, int] | None = None) -> tuple[str, int]:
        return self.net.peer(real_peer)

    def udp(self, ip: str, port: int) -> UdpFlow:
        """A UDP socket of this Pod connected to ip:port (its own loopback for 127.x)."""
        if ip.startswith("127.") or ip == "::1":
            return self.net.udp(self.pod_ip, port, source_ip=self.pod_ip, loopback=True)
        return self.net.udp(ip, port, namespace=self.namespace, source_node=self.node_name,
                            source_ip=self.pod_ip)

    async def listen_udp(self, port: int, handler: UdpHandler, host: str = "") -> asyncio.BaseTransport:
        bind = bind_scope(self.pod_ip if host == self.pod_name else host, self.pod_ip)
        if bind is None:
            raise OSError(99, f"listen udp {host}:{port}: bind: cannot assign requested address")
        return await self.net.listen_udp(self.pod_ip, port, handler, bind)
