"""A node, its Pods and an outside client as network namespaces joined by veth links.

Layout (all addresses exist only inside these namespaces)::

    outside 192.168.50.2 ── veth ── 192.168.50.1  node  (node IP 172.18.0.2 on lo; br0 10.244.0.1/16)
                                                    │ br0
                             pod-a 10.244.1.10 ─────┼───── pod-b 10.244.1.11 ─── pod-c 10.244.1.12

(or the Pods and addresses of a real embedded cluster: ``NetLab(tools, pods={name: (ip, ports)})``).
Each Pod runs a tiny TCP server that answers ``<pod>:<port>`` on its ports and closes. The node namespace is
where the generated ruleset is loaded: connections from the node itself take the OUTPUT hooks,
connections from ``outside`` arrive through PREROUTING and are forwarded.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

NODE_IP = "172.18.0.2"
POD_IPS = {"pod-a": "10.244.1.10", "pod-b": "10.244.1.11", "pod-c": "10.244.1.12"}
SERVER_PORTS = (8080, 9090)
_LABS = itertools.count()

SERVER = textwrap.dedent("""
    import selectors, socket, sys
    name, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
    sel = selectors.DefaultSelector()
    for port in ports:
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port)); s.listen(64); s.setblocking(False); sel.register(s, selectors.EVENT_READ, port)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            conn, _ = key.fileobj.accept()
            conn.sendall(f"{name}:{key.data}\\n".encode()); conn.close()
""")

CLIENT = textwrap.dedent("""
    import json, socket, sys
    host, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    out = []
    for _ in range(count):
        try:
            with socket.create_connection((host, port), timeout=timeout) as s:
                out.append(s.recv(100).decode().strip() or "empty")
        except ConnectionRefusedError:
            out.append("refused")
        except (TimeoutError, socket.timeout):
            out.append("timeout")
        except OSError as e:
            out.append(f"error:{e.strerror}")
    print(json.dumps(out))
""")


@dataclass
class NetLab:
    """The namespaces, the servers, and how to run things inside them."""

    tools: dict[str, str]
    pods: dict[str, tuple[str, tuple[int, ...]]] = field(
        default_factory=lambda: {pod: (ip, SERVER_PORTS) for pod, ip in POD_IPS.items()})
    prefix: str = field(default_factory=lambda: f"kp{os.getpid() % 100000}{next(_LABS)}")
    namespaces: list[str] = field(default_factory=list)
    servers: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def node(self) -> str:
        return f"{self.prefix}-node"

    @property
    def outside(self) -> str:
        return f"{self.prefix}-out"

    def ns(self, pod: str) -> str:
        return f"{self.prefix}-p{list(self.pods).index(pod)}"  # Pod names can be longer than a netns name may be

    def ip(self, *args: str, ns: str | None = None) -> None:
        cmd = [self.tools["ip"], *(["-n", ns] if ns else []), *args]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=10)

    def run_in(self, ns: str, *cmd: str, input: str | None = None, timeout: float = 60) -> str:  # noqa: A002
        proc = subprocess.run([self.tools["ip"], "netns", "exec", ns, *cmd], input=input, capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} in {ns} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def up(self) -> None:
        for ns in (self.node, self.outside, *(self.ns(p) for p in self.pods)):
            self.ip("netns", "add", ns)
            self.namespaces.append(ns)
            self.ip("link", "set", "lo", "up", ns=ns)
        node = self.node
        self.ip("addr", "add", f"{NODE_IP}/32", "dev", "lo", ns=node)
        self.ip("link", "add", "br0", "type", "bridge", ns=node)
        self.ip("addr", "add", "10.244.0.1/16", "dev", "br0", ns=node)
        self.ip("link", "set", "br0", "up", ns=node)
        self.ip("route", "add", "10.96.0.0/12", "dev", "br0", ns=node)  # the Service range: routed, never answered
        self.run_in(node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for i, (pod, (addr, _)) in enumerate(self.pods.items()):
            host = f"veth{i}"
            self.ip("link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", self.ns(pod), ns=node)
            self.ip("link", "set", host, "master", "br0", "up", ns=node)
            self.ip("addr", "add", f"{addr}/16", "dev", "eth0", ns=self.ns(pod))
            self.ip("link", "set", "eth0", "up", ns=self.ns(pod))
            self.ip("route", "add", "default", "via", "10.244.0.1", ns=self.ns(pod))
        self.ip("link", "add", "ext1", "type", "veth", "peer", "name", "ext0", "netns", self.outside, ns=node)
        self.ip("addr", "add", "192.168.50.1/24", "dev", "ext1", ns=node)
        self.ip("link", "set", "ext1", "up", ns=node)
        self.ip("addr", "add", "192.168.50.2/24", "dev", "ext0", ns=self.outside)
        self.ip("link", "set", "ext0", "up", ns=self.outside)
        self.ip("route", "add", "default", "via", "192.168.50.1", ns=self.outside)
        for pod, (_, ports) in self.pods.items():
            proc = subprocess.Popen([self.tools["ip"], "netns", "exec", self.ns(pod), sys.executable, "-c", SERVER,
                                     pod, *map(str, ports)], stdout=subprocess.PIPE, text=True)
            self.servers.append(proc)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", f"{pod}'s server"

    def down(self) -> None:
        for proc in self.servers:
            proc.kill()
            proc.wait(timeout=10)
        for ns in self.namespaces:
            subprocess.run([self.tools["ip"], "netns", "del", ns], capture_output=True, timeout=10)
        self.namespaces.clear()

    def load(self, mode: str, text: str) -> None:
        """Replace the node's rules with ``text`` (``nft -f`` / ``iptables-restore``)."""
        self.flush()
        if mode == "nftables":
            self.run_in(self.node, self.tools["nft"], "-f", "-", input=text)
        else:
            self.run_in(self.node, self.tools["iptables-restore"], input=text)

    def flush(self) -> None:
        self.run_in(self.node, self.tools["nft"], "flush", "ruleset")
        self.run_in(self.node, "sh", "-c", "command -v conntrack >/dev/null && conntrack -F || true")

    def connect(self, host: str, port: int, count: int = 1, *, src: str = "node", timeout: float = 1.0) -> list[str]:
        """``count`` new TCP connections to host:port from the node or from ``outside``."""
        ns = self.node if src == "node" else self.outside
        out = self.run_in(ns, sys.executable, "-c", CLIENT, host, str(port), str(count), str(timeout),
                          timeout=count * (timeout + 1) + 10)
        return list(json.loads(out))
