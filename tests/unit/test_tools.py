"""Tests for kai_labs.sim.node.tools: the emulated sh, curl, wget and nslookup over real loopback sockets."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from kai_labs.sim.node import tools
from kai_labs.sim.node.images import Container
from tests.unit.fakenet import NS, Ans, FakeNet, Rec, World  # noqa: F401

# --------------------------------------------------------------------------- fake virtual network

def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS}, "spec": {}}


async def serve(world: World, name: str, ip: str, image: str, args: list[str] | None = None,
                svc: str | None = None, svc_ip: str | None = None, logs: list[str] | None = None) -> Container:
    spec: dict[str, Any] = {"name": "app", "image": image}
    if args:
        spec["args"] = args
    c = Container(pod(name), spec, FakeNet(world, name, ip), (logs if logs is not None else []).append)
    await c.start()
    for app_port, real in c.bound.items():
        world.endpoints[(ip, app_port)] = real
        if svc_ip:
            world.endpoints[(svc_ip, 80 if svc else app_port)] = real
    if svc and svc_ip:
        world.a(f"{svc}.{NS}.svc.cluster.local", svc_ip)
    return c


async def run(argv: list[str], net: FakeNet, image: str = "curlimages/curl", **kw: Any) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    code = await tools.run(argv, net, out.append, err.append, image=image, **kw)
    return code, "".join(out), "".join(err)


async def sh(script: str, net: FakeNet, image: str = "curlimages/curl", **kw: Any) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    code = await tools.run_script(script, net, out.append, err.append, image=image, **kw)
    return code, "".join(out), "".join(err)


async def web_world() -> tuple[World, FakeNet, list[Container]]:
    """nginx behind service web (10.96.0.20:80); netexec behind service echo (10.96.0.30:80)."""
    world = World()
    web = await serve(world, "web-0", "10.244.1.10", "nginx:1.27", svc="web", svc_ip="10.96.0.20")
    ne = await serve(world, "echo-0", "10.244.1.11", "registry.k8s.io/e2e-test-images/agnhost:2.53",
                     ["netexec", "--http-port=8080"], svc="echo", svc_ip="10.96.0.30")
    world.endpoints[("10.96.0.30", 80)] = ne.bound[8080]
    world.a("nothing.default.svc.cluster.local", "10.96.0.99")  # a Service with no endpoints (REJECT)
    world.a("blackhole.default.svc.cluster.local", "10.96.0.98")
    world.drop.add("10.96.0.98")
    world.records["ext.default.svc.cluster.local"] = [Rec("ext.default.svc.cluster.local", "CNAME", 30, "example.com.")]
    world.records["_http._tcp.web.default.svc.cluster.local"] = [
        Rec("_http._tcp.web.default.svc.cluster.local", "SRV", 30, "0 100 80 web.default.svc.cluster.local.")]
    return world, FakeNet(world), [web, ne]


def go(coro_fn: Any) -> Any:
    async def main() -> Any:
        world, net, containers = await web_world()
        try:
            return await asyncio.wait_for(coro_fn(world, net), 15)
        finally:
            for c in containers:
                await c.stop()
    return asyncio.run(main())


# --------------------------------------------------------------------------- curl

def test_curl_get_body_and_verbose():
    async def t(world: World, net: FakeNet) -> None:
        code, out, err = await run(["curl", "-s", "http://web"], net)
        assert code == 0 and "<title>Welcome to nginx!</title>" in out and err == ""
        code, out, err = await run(["curl", "-sv", "web/"], net)
        lines = err.splitlines()
        for want in ["* Host web:80 was resolved.", "* IPv6: (none)", "* IPv4: 10.96.0.20",
                     "*   Trying 10.96.0.20:80...", "* Connected to web (10.96.0.20) port 80", "> GET / HTTP/1.1",
                     "> Host: web", f"> User-Agent: curl/{tools.CURL_VERSION}", "> Accept: */*", "> ",
                     "< HTTP/1.1 200 OK", "< Server: nginx/1.27.3", "< Content-Length: 615", "< ",
                     "* Connection #0 to host web left intact"]:
            assert want in lines, want
        assert lines.index("> GET / HTTP/1.1") < lines.index("< HTTP/1.1 200 OK")
    go(t)


def test_curl_write_out_include_head_and_fail():
    async def t(world: World, net: FakeNet) -> None:
        code, out, _ = await run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\\n", "http://web/nope"], net)
        assert (code, out) == (0, "404\n")
        code, out, _ = await run(["curl", "-si", "http://web/"], net)
        assert out.startswith("HTTP/1.1 200 OK\r\nServer: nginx/1.27.3\r\n") and "\r\n\r\n<!DOCTYPE html>" in out
        code, out, _ = await run(["curl", "-sI", "http://web/"], net)
        assert out.startswith("HTTP/1.1 200 OK\r\n") and "<html>" not in out and 'ETag: "' in out
        code, out, err = await run(["curl", "-sSf", "http://web/missing"], net)
        assert (code, out, err) == (22, "", "curl: (22) The requested URL returned error: 404\n")
        code, out, _ = await run(["curl", "-s", "http://web/missing"], net)
        assert code == 0 and "<title>404 Not Found</title>" in out and "nginx/1.27.3" in out
    go(t)


def test_curl_progress_meter_when_not_a_tty():
    async def t(world: World, net: FakeNet) -> None:
        _, _, err = await run(["curl", "http://web"], net)
        assert err.startswith("  % Total    % Received % Xferd  Average Speed")
        _, _, err = await run(["curl", "http://web"], net, tty=True)
        assert err == ""
    go(t)


def test_curl_dns_failure_refused_and_timeouts():
    async def t(world: World, net: FakeNet) -> None:
        assert await run(["curl", "http://nosuch"], net) == (6, "", "curl: (6) Could not resolve host: nosuch\n")
        assert (await run(["curl", "-s", "http://nosuch"], net))[0] == 6
        assert (await run(["curl", "-s", "http://nosuch"], net))[2] == ""
        code, _, err = await run(["curl", "-sS", "http://nothing"], net)
        assert code == 7
        assert re.fullmatch(
            r"curl: \(7\) Failed to connect to nothing port 80 after \d+ ms: Could not connect to server\n", err)
        code, _, err = await run(["curl", "-sSv", "http://nothing:8080/"], net)
        assert re.search(
            r"\* connect to 10\.96\.0\.99 port 8080 from 10\.244\.0\.5 port \d+ failed: Connection refused", err)
        code, _, err = await run(["curl", "-sS", "--max-time", "0.3", "http://blackhole"], net)
        assert code == 28 and re.fullmatch(r"curl: \(28\) Connection timed out after \d+ milliseconds\n", err)
        code, _, err = await run(["curl", "-sS", "--connect-timeout", "0.2", "http://blackhole"], net)
        assert code == 28
        assert re.fullmatch(
            r"curl: \(28\) Failed to connect to blackhole port 80 after \d+ ms: Timeout was reached\n", err)
        # ExternalName: a CNAME to a non-cluster name has no A record in the cluster
        assert (await run(["curl", "-sS", "http://ext"], net))[:2] == (6, "")
    go(t)


def test_curl_post_headers_redirect_and_usage():
    async def t(world: World, net: FakeNet) -> None:
        code, out, err = await run(["curl", "-sv", "-X", "PUT", "-H", "X-Test: 1", "-d", "a=b",
                                    "http://echo/echo?msg=hi"], net)
        assert (code, out) == (0, "hi")
        assert "> PUT /echo?msg=hi HTTP/1.1" in err and "> X-Test: 1" in err and "> Content-Length: 3" in err
        code, out, _ = await run(["curl", "-sL", "http://echo/redirect?location=/echo%3Fmsg%3Dmoved"], net)
        assert (code, out) == (0, "moved")
        code, out, _ = await run(["curl", "-s", "-w", "%{http_code}", "http://echo/redirect?location=/x"], net)
        assert out.endswith("302") and '<a href="/x">Found</a>.' in out
        assert await run(["curl"], net) == (
            2, "", "curl: no URL specified\ncurl: try 'curl --help' or 'curl --manual' for more information\n")
        code, _, err = await run(["curl", "--bogus", "http://web"], net)
        assert code == 2 and err.startswith("curl: option --bogus: is unknown\n")
        code, _, err = await run(["curl", "-sS", "https://web:80"], net)
        assert code == 35 and "curl: (35)" in err and "plain HTTP" in err
    go(t)


# --------------------------------------------------------------------------- wget

def test_wget_variants():
    async def t(world: World, net: FakeNet) -> None:
        code, out, err = await run(["wget", "-qO-", "http://web"], net)
        assert code == 0 and "Welcome to nginx!" in out and err == ""
        code, out, err = await run(["wget", "-O-", "-T", "2", "http://web"], net)
        assert code == 0 and err.startswith("Connecting to web (10.96.0.20:80)\nwriting to stdout\n")
        assert err.endswith("written to stdout\n")
        assert await run(["wget", "-qO-", "http://nosuch"], net) == (1, "", "wget: bad address 'nosuch'\n")
        assert await run(["wget", "-qO-", "http://nothing"], net) == (
            1, "", "wget: can't connect to remote host (10.96.0.99): Connection refused\n")
        assert await run(["wget", "-q", "-T", "0.3", "-O-", "http://blackhole"], net) == (
            1, "", "wget: download timed out\n")
        code, _, err = await run(["wget", "--spider", "http://web"], net)
        assert (code, err) == (0, "Connecting to web (10.96.0.20:80)\nremote file exists\n")
        code, _, err = await run(["wget", "-qO-", "http://web/missing"], net)
        assert (code, err) == (1, "wget: server returned error: HTTP/1.1 404 Not Found\n")
        fs: dict[str, str] = {}
        code, _, err = await run(["wget", "http://web"], net, fs=fs)
        assert code == 0 and "saving to 'index.html'" in err and "Welcome" in fs["index.html"]
        code, _, _ = await run(["wget", "-qO-", "http://web"], net, image="nginx")
        assert code == 127
    go(t)


# --------------------------------------------------------------------------- nslookup

def test_nslookup_short_name_walks_search_list():
    async def t(world: World, net: FakeNet) -> None:
        code, out, _ = await run(["nslookup", "web"], net)
        assert code == 1  # busybox: the NXDOMAIN answers for the other search domains set exit code 1
        assert out == (
            "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n"
            "Name:\tweb.default.svc.cluster.local\nAddress: 10.96.0.20\n\n"
            "** server can't find web.svc.cluster.local: NXDOMAIN\n\n"
            "** server can't find web.cluster.local: NXDOMAIN\n\n"
            "*** Can't find web.default.svc.cluster.local: No answer\n\n"
            "** server can't find web.svc.cluster.local: NXDOMAIN\n\n"
            "** server can't find web.cluster.local: NXDOMAIN\n\n")
    go(t)


def test_nslookup_fqdn_nxdomain_srv_cname():
    async def t(world: World, net: FakeNet) -> None:
        code, out, _ = await run(["nslookup", "web.default.svc.cluster.local"], net)
        assert code == 0 and "Name:\tweb.default.svc.cluster.local\nAddress: 10.96.0.20\n" in out
        code, out, _ = await run(["nslookup", "web.default"], net)  # a dot: no search list in busybox
        assert code == 1 and "** server can't find web.default: NXDOMAIN\n" in out
        code, out, _ = await run(["nslookup", "-type=SRV", "_http._tcp.web.default.svc.cluster.local"], net)
        assert code == 0
        assert "_http._tcp.web.default.svc.cluster.local\tservice = 0 100 80 web.default.svc.cluster.local\n" in out
        code, out, _ = await run(["nslookup", "ext.default.svc.cluster.local"], net)
        assert "ext.default.svc.cluster.local\tcanonical name = example.com\n" in out
        code, out, _ = await run(["nslookup", "-timeout=1", "web", "10.0.0.1"], net)
        assert code == 1 and out == ";; connection timed out; no servers could be reached\n\n"
    go(t)


# --------------------------------------------------------------------------- sh

def test_sh_basics_quotes_vars_and_exit_codes():
    async def t(world: World, net: FakeNet) -> None:
        assert await sh("echo hello 'a  b' \"x $HOSTNAME\"; exit 4", net) == (4, "hello a  b x client\n", "")
        assert await sh("X=1; echo ${X}$X; false || echo $?; true && echo ok", net) == (0, "11\n1\nok\n", "")
        assert (await sh("hostname; echo -n hi", net))[1] == "client\nhi"
        code, out, _ = await sh("cat /etc/resolv.conf", net)
        assert out.startswith("search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10")
        _, out, _ = await sh("env", net, env={"FOO": "bar"})
        assert "FOO=bar\n" in out and "HOSTNAME=client\n" in out
        assert await sh("echo $(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)", net) == (
            0, "default\n", "")
        assert await sh("for i in $(seq 1 3); do echo n$i; done", net) == (0, "n1\nn2\nn3\n", "")
        assert await sh("if [ \"$A\" = \"\" ]; then echo empty; else echo full; fi", net) == (0, "empty\n", "")
        assert await sh("curl -s web | grep -c title; curl -s web >/dev/null 2>&1 && echo quiet", net) == (
            0, "1\nquiet\n", "")
        assert (await sh("echo 'unterminated", net))[0] == 2
    go(t)


def test_sh_loops_bounded_by_sleep_and_until():
    async def t(world: World, net: FakeNet) -> None:
        code, out, _ = await sh("while true; do echo tick; sleep 0.01; exit 3; done", net)
        assert (code, out) == (3, "tick\n")
        script = "n=0; until nslookup web.default.svc.cluster.local >/dev/null; do sleep 0.01; done; echo ready"
        assert await sh(script, net) == (0, "ready\n", "")
        spin = asyncio.ensure_future(sh("while true; do true; done", net))  # runs until stopped, as a real one
        await asyncio.sleep(0.05)  # meanwhile the event loop still serves this test
        assert not spin.done()
        spin.cancel()
        task = asyncio.ensure_future(sh("sleep infinity", net))
        await asyncio.sleep(0.05)
        assert not task.done()
        task.cancel()
    go(t)


def test_unknown_command_and_image_tool_sets():
    async def t(world: World, net: FakeNet) -> None:
        code, out, err = await sh("foo bar", net)
        assert code == 127 and err.startswith("sh: foo: not found\n") and "not available in this emulated image" in err
        code, _, err = await sh("nslookup web", net, image="nginx")  # debian nginx: dash, no nslookup
        assert code == 127 and err.startswith("sh: 1: nslookup: not found\n")
        assert (await sh("curl -s web >/dev/null", net, image="busybox"))[0] == 127
        assert await run(["sh", "-c", "echo $0 $1", "x", "y"], net) == (0, "x y\n", "")
        assert await run(["sleep", "0.01"], net) == (0, "", "")
        assert await run(["sleep", "x"], net) == (1, "", "sleep: invalid number 'x'\n")
    go(t)
