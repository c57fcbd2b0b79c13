"""Tests for kai_labs.sim.node.images: emulated containers on real loopback sockets behind a fake PodNet."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

from kai_labs.sim.node import images, tools
from kai_labs.sim.node.images import Container
from tests.unit.fakenet import NS, Ans, FakeNet, Rec, World  # noqa: F401

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


@dataclass
class Running:
    c: Container
    logs: list[str]


async def start(world: World, name: str, ip: str, spec: dict[str, Any], env: dict[str, str] | None = None) -> Running:
    logs: list[str] = []
    c = Container({"metadata": {"name": name, "namespace": NS}}, {"name": "app", **spec}, FakeNet(world, name, ip),
                  logs.append, env)
    await c.start()
    for port, real in c.bound.items():
        world.endpoints[(ip, port)] = real
    return Running(c, logs)


async def curl(world: World, *args: str) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    net = FakeNet(world, "client", "10.244.0.5")
    code = await tools.run(["curl", *args], net, out.append, err.append)
    return code, "".join(out), "".join(err)


def go(fn: Any) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), 15))


# --------------------------------------------------------------------------- image names and argv

def test_image_names_and_pull_errors():
    assert images.image_error("nginx") is None
    assert images.image_error("docker.io/library/nginx:1.27") is None
    assert images.image_error("registry.k8s.io/e2e-test-images/agnhost:2.53") is None
    assert images.image_error("k8s.gcr.io/pause:3.9") is None
    assert images.image_error("busybox:1.36@sha256:" + "0" * 64) is None
    msg = images.image_error("redis:7")
    assert msg is not None and msg.startswith('Failed to pull image "redis:7": ')
    assert '"docker.io/library/redis:7"' in msg and "kai-labs' embedded cluster can run only: " in msg
    assert all(s in msg for s in images.SUPPORTED_IMAGES)


def test_command_args_precedence():
    argv = images.container_argv
    assert argv("nginx", None, None) == ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]
    assert argv("nginx", None, ["sh", "-c", "x"]) == ["/docker-entrypoint.sh", "sh", "-c", "x"]
    assert argv("busybox", ["sleep"], ["10"]) == ["sleep", "10"]
    assert argv("busybox", None, None) == ["sh"]
    assert argv("curlimages/curl", None, ["-s", "http://web"]) == ["/entrypoint.sh", "-s", "http://web"]
    assert argv(AGNHOST, None, ["netexec"]) == ["/agnhost", "netexec"]
    assert argv("hashicorp/http-echo", ["/http-echo"], ["-text=hi"]) == ["/http-echo", "-text=hi"]
    assert images.expand_env_refs("$(A)-$$(A)-$(B)", {"A": "x"}) == "x-$(A)-$(B)"


def test_listen_ports_from_command_line_not_container_port():
    world = World()

    def ports(spec: dict[str, Any]) -> list[int]:
        return Container({"metadata": {"name": "p"}}, {"name": "c", **spec}, FakeNet(world, "p", "10.0.0.1"),
                         lambda s: None).listen_ports
    assert ports({"image": AGNHOST, "args": ["netexec", "--http-port=9000"],
                  "ports": [{"containerPort": 80}]}) == [9000]
    assert ports({"image": AGNHOST, "args": ["netexec"]}) == [8080]
    assert ports({"image": AGNHOST, "args": ["serve-hostname"]}) == [9376]
    assert ports({"image": AGNHOST, "args": ["pause"]}) == []
    assert ports({"image": "nginx"}) == [80]
    assert ports({"image": "hashicorp/http-echo", "args": ["-listen", ":8080", "-text", "x"]}) == [8080]
    assert ports({"image": "hashicorp/http-echo", "args": ["-text=x"]}) == [5678]
    assert ports({"image": "busybox", "command": ["sleep", "3600"]}) == []


# --------------------------------------------------------------------------- servers

def test_nginx_welcome_404_and_logs():
    async def t() -> None:
        world = World()
        web = await start(world, "web-0", "10.244.1.10", {"image": "nginx:1.27"})
        world.records["web.default.svc.cluster.local"] = [Rec("web.default.svc.cluster.local", "A", 30, "10.244.1.10")]
        code, out, _ = await curl(world, "-s", "http://web/")
        assert code == 0 and out == images.NGINX_WELCOME and len(out) == 615
        code, out, _ = await curl(world, "-s", "-i", "http://web/nope")
        assert out.startswith("HTTP/1.1 404 Not Found\r\nServer: nginx/1.27.3\r\n")
        assert out.endswith("<center><h1>404 Not Found</h1></center>\r\n"
                            "<hr><center>nginx/1.27.3</center>\r\n</body>\r\n</html>\r\n")
        assert web.logs[0] == (
            "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration")
        assert any(line.endswith("[notice] 1#1: nginx/1.27.3") for line in web.logs)
        access = [ln for ln in web.logs if ln.startswith("10.244.0.5 - - [")]
        assert re.fullmatch(r'10\.244\.0\.5 - - \[[^\]]+\] "GET / HTTP/1\.1" 200 615 "-" "curl/[\d.]+" "-"', access[0])
        assert ' "GET /nope HTTP/1.1" 404 153 ' in access[1]
        assert any('[error] 29#29: *2 open() "/usr/share/nginx/html/nope" failed (2: No such file or directory)' in ln
                   for ln in web.logs)
        await web.c.stop()
        assert await web.c.wait() == 0
        assert (await curl(world, "-s", "http://10.244.1.10/"))[0] == 7
    go(t)


def test_netexec_endpoints():
    async def t() -> None:
        world = World()
        ne = await start(world, "netexec-0", "10.244.1.11", {"image": AGNHOST, "args": ["netexec", "--http-port=8080"]})
        web = await start(world, "web-0", "10.244.1.10", {"image": "nginx"})
        base = "http://10.244.1.11:8080"
        assert (await curl(world, "-s", base + "/hostname"))[1] == "netexec-0"
        assert (await curl(world, "-s", base + "/hostName"))[1] == "netexec-0"
        assert re.fullmatch(r"10\.244\.0\.5:\d+", (await curl(world, "-s", base + "/clientip"))[1])
        assert (await curl(world, "-s", "-w", " %{http_code}", base + "/echo?msg=hello&code=201"))[1] == "hello 201"
        assert (await curl(world, "-s", "-w", "%{http_code}", base + "/healthz"))[1] == "200"
        assert re.match(r"NOW: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC m=\+",
                        (await curl(world, "-s", base + "/"))[1])
        _, out, _ = await curl(world, "-s",
                               base + "/dial?request=hostname&host=10.244.1.11&port=8080&protocol=http&tries=2")
        assert json.loads(out) == {"responses": ["netexec-0", "netexec-0"]}
        _, out, _ = await curl(world, "-s", base + "/dial?request=/&host=10.244.1.10&port=80")
        assert "Welcome to nginx!" in json.loads(out)["responses"][0]
        _, out, _ = await curl(world, "-s", base + "/dial?request=hostname&host=10.244.9.9&port=80")
        assert json.loads(out) == {
            "errors": ['Get "http://10.244.9.9:80/hostname": dial tcp 10.244.9.9:80: connect: connection refused']}
        code, out, _ = await curl(world, "-s", "-w", "%{http_code}", base + "/dial?host=x&port=80")
        assert out == "request parameter not specified. <nil>\n400"
        _, out, _ = await curl(world, "-s", base + "/shell?cmd=id")
        assert "not emulated" in json.loads(out)["error"]
        assert any(ln.endswith("Started HTTP server on port 8080") for ln in ne.logs)
        assert any(ln.endswith("GET /echo?msg=hello&code=201") for ln in ne.logs)
        assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d GET /clientip",
                            [ln for ln in ne.logs if "clientip" in ln][0])
        code, _, err = await curl(world, "-sS", base + "/exit?code=3")
        assert (code, err) == (52, "curl: (52) Empty reply from server\n")
        assert await ne.c.wait() == 3
        await web.c.stop()
        await ne.c.stop()
        assert await ne.c.wait() == 3  # stop after exit keeps the first exit code
    go(t)


def test_netexec_healthz_without_udp_and_serve_hostname():
    async def t() -> None:
        world = World()
        ne = await start(world, "n", "10.244.1.12", {"image": AGNHOST, "args": ["netexec", "--udp-port=-1"]})
        assert (await curl(world, "-s", "-w", "%{http_code}", "http://10.244.1.12:8080/healthz"))[1] == "412"
        sh = await start(world, "sh-0", "10.244.1.13", {"image": AGNHOST, "args": ["serve-hostname"]})
        assert (await curl(world, "-s", "http://10.244.1.13:9376/"))[1] == "sh-0"
        assert sh.logs[0].endswith("Serving on port 9376.")
        assert re.search(r"HTTP request from 10\.244\.0\.5:\d+$", sh.logs[1])
        bad = await start(world, "b", "10.244.1.14", {"image": AGNHOST, "args": ["frobnicate"]})
        assert await bad.c.wait() == 1 and bad.logs[0] == 'Error: unknown command "frobnicate" for "agnhost"'
        for r in (ne, sh):
            await r.c.stop()
        assert await ne.c.wait() == 143
    go(t)


def test_http_echo():
    async def t() -> None:
        world = World()
        he = await start(world, "echo-0", "10.244.1.20", {"image": "hashicorp/http-echo:1.0",
                                                          "args": ["-listen=:8080", "-text=hello world"]})
        code, out, _ = await curl(world, "-s", "-i", "http://10.244.1.20:8080/any/path")
        assert out.startswith("HTTP/1.1 200 OK\r\nX-App-Name: http-echo\r\nX-App-Version: 1.0.0\r\nDate: ")
        assert out.endswith("Content-Type: text/plain; charset=utf-8\r\n\r\nhello world\n")
        assert (await curl(world, "-s", "http://10.244.1.20:8080/health"))[1] == '{"status":"ok"}\n'
        assert he.logs[0].endswith("[INFO] server is listening on :8080")
        assert re.search(
            r' 10\.244\.1\.20:8080 10\.244\.0\.5:\d+ "GET /any/path HTTP/1\.1" 200 12 "curl/[\d.]+" [\d.]+µs$',
            he.logs[1])
        env = await start(world, "e", "10.244.1.21", {"image": "hashicorp/http-echo"}, env={"ECHO_TEXT": "from env"})
        assert env.c.listen_ports == [5678]
        assert (await curl(world, "-s", "http://10.244.1.21:5678/"))[1] == "from env\n"
        missing = await start(world, "m", "10.244.1.22", {"image": "hashicorp/http-echo"})
        assert await missing.c.wait() == 127 and missing.logs == ["Missing -text option OR ENV var TEXT is empty!"]
        code, _, err = await he.c.exec(["sh"])
        assert code == 126 and 'exec: "sh": executable file not found in $PATH' in err
        await he.c.stop()
        await env.c.stop()
    go(t)


# --------------------------------------------------------------------------- client containers

def test_client_containers_run_once():
    async def t() -> None:
        world = World()
        web = await start(world, "web-0", "10.244.1.10", {"image": "nginx"})
        world.records["web.default.svc.cluster.local"] = [Rec("web.default.svc.cluster.local", "A", 30, "10.244.1.10")]
        bb = await start(world, "bb", "10.244.2.1", {
            "image": "busybox:1.36", "command": ["sh", "-c"],
            "args": ["echo hi $(NAME); wget -qO- http://web | grep -c nginx; exit 3"],
            "env": [{"name": "NAME", "value": "kai"}]})
        assert await bb.c.wait() == 3 and bb.logs == ["hi kai", "6"]
        cu = await start(world, "cu", "10.244.2.2", {"image": "curlimages/curl:8.11.1", "args": ["-s", "http://web"]})
        assert await cu.c.wait() == 0 and "<title>Welcome to nginx!</title>" in cu.logs
        fail = await start(world, "f", "10.244.2.3", {"image": "curlimages/curl", "args": ["-sS", "http://nosuch"]})
        assert await fail.c.wait() == 6 and fail.logs == ["curl: (6) Could not resolve host: nosuch"]
        shell = await start(world, "s", "10.244.2.4", {
            "image": "curlimages/curl", "args": ["sh", "-c", "nslookup web >/dev/null || echo lookup-failed"]})
        # busybox nslookup exits 1 (see tools tests)
        assert await shell.c.wait() == 0 and shell.logs == ["lookup-failed"]
        plain = await start(world, "p", "10.244.2.5", {"image": "busybox"})
        assert await plain.c.wait() == 0 and plain.logs == []
        missing = await start(world, "x", "10.244.2.6", {"image": "busybox", "command": ["frob"]})
        assert (await missing.c.wait() == 128
                and 'exec: "frob": executable file not found' in (missing.c.start_error or ""))
        await web.c.stop()
    go(t)


def test_long_running_commands_pause_and_exec():
    async def t() -> None:
        world = World()
        sleeper = await start(world, "sl", "10.244.3.1", {"image": "busybox", "command": ["sleep", "infinity"]})
        pause = await start(world, "pa", "10.244.3.2", {"image": AGNHOST, "args": ["pause"]})
        kpause = await start(world, "kp", "10.244.3.3", {"image": "registry.k8s.io/pause:3.10"})
        await asyncio.sleep(0.05)
        waiter = asyncio.ensure_future(sleeper.c.wait())
        await asyncio.sleep(0.01)
        assert not waiter.done() and pause.logs == ["Paused"] and kpause.logs == []
        code, out, err = await sleeper.c.exec(["cat", "/etc/resolv.conf"])
        assert code == 0 and out.startswith("search default.svc.cluster.local") and err == ""
        assert await sleeper.c.exec(["hostname"]) == (0, "sl\n", "")
        assert await sleeper.c.exec(["sh", "-c", "echo $GREETING >&2; exit 5"]) == (5, "", "\n")
        assert (await sleeper.c.exec(["curl", "web"]))[0] == 126  # busybox has no curl
        await sleeper.c.stop()
        await sleeper.c.stop()  # idempotent
        assert await waiter == 137
        await pause.c.stop()
        assert await pause.c.wait() == 2
        await kpause.c.stop()
        assert await kpause.c.wait() == 0
    go(t)
