"""Emulated programs under budgets: a container's memory limit (and the OOM kill), CPU pacing and the CFS
quota, bounded output, and busybox's own messages instead of Python errors (kai_labs.sim.node.tools and
images.Container, kai_labs.k8s.quantity)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kai_labs.k8s.qos import oom_score_adj, pod_qos
from kai_labs.k8s.quantity import QuantityError, parse_quantity, quantity_milli_value, quantity_value
from kai_labs.sim.node import images, tools, ttyshell
from kai_labs.sim.node.images import Container
from tests.unit.fakenet import FakeNet, World

T = TypeVar("T")
MiB = 1024 * 1024


def go(coro: Awaitable[T], timeout: float = 30.0) -> T:
    """Run ``coro`` with a bound: code that used to spin for ever fails the test instead of hanging it."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


async def sh(script: str, image: str = "busybox", limit: int | None = None,
             **kw: Any) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    if limit is not None:
        kw["cgroup"] = tools.Cgroup(limit)
    code = await tools.run(["sh", "-c", script], FakeNet(World()), out.append, err.append, image=image, **kw)
    return code, "".join(out), "".join(err)


async def run(argv: list[str], image: str = "busybox", **kw: Any) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    code = await tools.run(argv, FakeNet(World()), out.append, err.append, image=image, **kw)
    return code, "".join(out), "".join(err)


class Counter:
    """A stdout that keeps only sizes: how much came, and the largest single write."""

    def __init__(self) -> None:
        self.total = 0
        self.largest = 0
        self.tail = ""

    def write(self, text: str) -> None:
        self.total += len(text)
        self.largest = max(self.largest, len(text))
        self.tail = (self.tail + text)[-16:]


def container(spec: dict[str, Any], logs: list[str] | None = None) -> Container:
    net: Any = FakeNet(World(), "p")  # programs without ports: the fake needs no sandbox to listen in
    return Container({"metadata": {"name": "p", "namespace": "default"}}, {"name": "c", **spec}, net,
                     (logs if logs is not None else []).append)


# --------------------------------------------------------------------------- quantities

@pytest.mark.parametrize("text,value", [
    ("256Mi", 268435456), ("1Gi", 1073741824), ("1G", 10**9), ("128974848", 128974848), ("129e6", 129000000),
    ("123Mi", 128974848), ("1E3", 1000), ("0.5Gi", 536870912), ("1.5k", 1500), ("100m", 1), (".5", 1),
    ("1Ki", 1024), ("0", 0), ("+2M", 2000000), ("1e-999999", 1),
])
def test_quantity_values_as_the_kubelet_reads_them(text: str, value: int) -> None:
    assert quantity_value(parse_quantity(text)) == value


def test_quantity_milli_values_for_cpu() -> None:
    assert [quantity_milli_value(parse_quantity(t)) for t in ("100m", "1", "0.25", "1500m", "1n")] == [
        100, 1000, 250, 1500, 1]


@pytest.mark.parametrize("text,error", [
    ("abc", "quantities must match the regular expression"), ("1.2.3", "quantities must match"),
    ("", "quantities must match"), ("1e", "unable to parse quantity's suffix"),
    ("1Mi5", "unable to parse quantity's suffix"), ("5ki", "unable to parse quantity's suffix"),
])
def test_quantity_errors_are_apimachinerys(text: str, error: str) -> None:
    with pytest.raises(QuantityError, match=error.replace("(", r"\(")):
        parse_quantity(text)


def test_hostile_quantities_are_clamped_not_computed() -> None:
    t0 = time.monotonic()
    assert quantity_value(parse_quantity("1e999999999")) == 2**63 - 1
    assert quantity_value(parse_quantity("9" * 100_000)) == 2**63 - 1
    assert quantity_value(parse_quantity("8Ei")) == 2**63 - 1  # BinarySI is capped at int64
    assert quantity_value(parse_quantity("1." + "0" * 100_000 + "1")) == 2
    assert time.monotonic() - t0 < 1.0


def test_container_cgroup_from_resources_limits() -> None:
    def cg(limits: dict[str, Any] | None) -> tools.Cgroup:
        return images.container_cgroup({"resources": {"limits": limits}} if limits is not None else {})
    assert cg({"memory": "64Mi"}).limit == 64 * MiB
    assert cg({"memory": 1000000}).limit == 1000000  # a bare JSON number is a quantity too
    assert cg(None).limit == tools.DEFAULT_MEMORY_LIMIT == 256 * MiB
    assert cg({"memory": "0"}).limit == tools.DEFAULT_MEMORY_LIMIT  # 0: the kubelet sets no limit
    assert cg({"memory": "lots"}).limit == tools.DEFAULT_MEMORY_LIMIT
    assert cg({"cpu": "100m"}).cpu_quota == pytest.approx(0.01)  # 10 ms of each 100 ms period
    assert cg({"cpu": "1m"}).cpu_quota == pytest.approx(0.001)  # milliCPUToQuota's 1 ms minimum
    assert cg({"memory": "1Gi"}).cpu_quota is None


def test_pod_qos_and_oom_score_adjustments() -> None:
    def pod(*resources: dict[str, Any]) -> dict[str, Any]:
        return {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]}}
    both = {"cpu": "100m", "memory": "64Mi"}
    assert pod_qos(pod({})) == "BestEffort"
    assert pod_qos(pod({"limits": both})) == "Guaranteed"  # requests default to limits
    assert pod_qos(pod({"limits": both, "requests": both})) == "Guaranteed"
    assert pod_qos(pod({"limits": {"memory": "64Mi"}})) == "Burstable"  # no CPU limit
    assert pod_qos(pod({"limits": both}, {})) == "Burstable"  # one container without limits
    assert pod_qos(pod({"requests": {"memory": "0"}})) == "BestEffort"  # zero does not count
    gib = 1 << 30
    assert oom_score_adj(pod({}), {}, gib) == 1000
    assert oom_score_adj(pod({"limits": both}), {"resources": {"limits": both}}, gib) == -997
    burst = {"resources": {"requests": {"memory": "256Mi"}}}
    assert oom_score_adj(pod(burst["resources"]), burst, gib) == 750
    assert oom_score_adj(pod({"requests": {"memory": "2Gi"}}), {"resources": {"requests": {"memory": "2Gi"}}},
                         gib) == 3
    assert oom_score_adj(pod({"requests": {"cpu": "1"}}), {"resources": {"requests": {"cpu": "1"}}}, gib) == 999


def test_a_full_node_kills_the_worst_container_first() -> None:
    """The node's containers together past the node's share: the OOM killer picks by badness (usage plus
    the QoS adjustment), so a BestEffort container goes before a Guaranteed one that asks; a victim still
    exiting stops further kills."""
    node = tools.Cgroup(32 * MiB)
    besteffort = tools.Cgroup(64 * MiB, parent=node, oom_score_adj=1000)
    guaranteed = tools.Cgroup(64 * MiB, parent=node, oom_score_adj=-997)
    killed: list[str] = []
    besteffort.on_oom.append(lambda: killed.append("besteffort"))
    besteffort.charge(4 * MiB)
    guaranteed.charge(20 * MiB)
    guaranteed.charge(10 * MiB)  # 34 MiB: over the node's 32
    assert killed == ["besteffort"] and not guaranteed.oom_killed
    with pytest.raises(tools.OutOfMemory):
        besteffort.charge(1 * MiB)  # its processes are dying: no more memory for them
    guaranteed.charge(5 * MiB)  # over again, but a victim is still exiting: no second kill
    assert not guaranteed.oom_killed
    besteffort.detach()  # gone: the node counts only what is left
    with pytest.raises(tools.OutOfMemory):
        guaranteed.charge(4 * MiB)  # now it is the worst (the only one) and the node is full
    assert guaranteed.oom_killed


# --------------------------------------------------------------------------- printf

def test_printf_without_a_conversion_prints_the_format_once() -> None:
    """`printf hello world` (busybox printf_main: the format is used again only while it consumes
    arguments): "hello", exit 0. It used to loop for ever inside the cluster's event loop."""
    assert go(run(["printf", "hello", "world"]), timeout=5) == (0, "hello", "")
    assert go(sh("printf 'a\\n' b c d; printf '%s-' 1 2 3")) == (0, "a\n1-2-3-", "")


@pytest.mark.parametrize("argv,expected", [
    # busybox testsuite/printf.tests
    (["printf", "%d\\n", "1", "-", "2", "bad", "3", "123bad", "4"],
     (1, "1\n0\n2\n0\n3\n0\n4\n", "printf: invalid number '-'\nprintf: invalid number 'bad'\n"
                                  "printf: invalid number '123bad'\n")),
    (["printf", "%", "a", "b"], (1, "", "printf: %: invalid format\n")),
    (["printf", "%r", "a"], (1, "", "printf: %r: invalid format\n")),
    (["printf", "|%23.12f|\\n", "5.25"], (0, "|         5.250000000000|\n", "")),
    (["printf", "|%*.*f|\\n", "23", "12", "5.25"], (0, "|         5.250000000000|\n", "")),
    (["printf", "|%*f|\\n", "-23", "5.25"], (0, "|5.250000               |\n", "")),
    (["printf", "|%.*f|\\n", "-12", "5.25"], (0, "|5.250000|\n", "")),
    (["printf", "%0*d\\n", "2", "1"], (0, "01\n", "")),
    (["printf", "%0 d\\n", "2"], (0, " 2\n", "")),
    (["printf", "%d\\n", "'x", '"y'], (0, "120\n121\n", "")),
    (["printf", "%b", "a\\tb", "c\\\\d\\n"], (0, "a\tbc\\d\n", "")),
    (["printf", "%s\\c", "foo", "bar"], (0, "foo", "")),
    (["printf", "%x %#o %#x %u %d\\n", "255", "8", "255", "-1", "0x10"],
     (0, "ff 010 0xff 18446744073709551615 16\n", "")),
    (["printf", "%d", "99999999999999999999"], (1, "0", "printf: invalid number '99999999999999999999'\n")),
    (["printf", "%99999999999d", "1"], (0, "", "")),  # printf(3) fails with EOVERFLOW: nothing
])
def test_printf_follows_busybox(argv: list[str], expected: tuple[int, str, str]) -> None:
    assert go(run(argv)) == expected


def test_printf_as_the_shell_builtin_reports_as_sh() -> None:
    assert go(sh("printf '%d\\n' x")) == (1, "0\n", "sh: invalid number 'x'\n")
    assert go(sh("printf")) == (2, "", "sh: usage: printf FORMAT [ARGUMENT...]\n")


def test_printf_width_streams_its_padding() -> None:
    """`printf '%1500000000s' x` writes 1.5 GB as busybox would, in pipe-sized pieces, holding none of it."""
    async def t() -> tuple[int, Counter, tools.Cgroup]:
        out, cg = Counter(), tools.Cgroup(16 * MiB)
        code = await tools.run(["printf", "%1500000000s", "x"], FakeNet(World()), out.write, lambda s: None,
                               image="busybox", cgroup=cg)
        return code, out, cg
    code, out, cg = go(t())
    assert code == 0 and out.total == 1500000000 and out.tail.endswith("   x")
    assert out.largest <= tools.OUTPUT_CHUNK
    assert cg.peak < 1 * MiB


def test_huge_precisions_stream_their_zeros() -> None:
    async def t() -> Counter:
        out = Counter()
        await tools.run(["printf", "%.100000000d|%.50000000f", "7", "1"], FakeNet(World()), out.write,
                        lambda s: None, image="busybox", cgroup=tools.Cgroup(16 * MiB))
        return out
    out = go(t())
    assert out.total == 100000000 + 1 + 50000000 + 2 and out.largest <= tools.OUTPUT_CHUNK
    assert out.tail == "0" * 16


# --------------------------------------------------------------------------- memory limit

def test_doubling_a_variable_is_oom_killed_at_the_limit() -> None:
    """`x=a; while true; do x=$x$x; done` grows until the limit, then the cgroup's OOM killer: 137, and the
    doubling that would pass the limit is never built."""
    cg = tools.Cgroup(16 * MiB)
    code, out, err = go(sh("x=a; while true; do x=$x$x; done", cgroup=cg))
    assert (code, out, err) == (137, "", "")
    assert cg.oom_killed and 8 * MiB <= cg.peak <= 16 * MiB
    assert cg.usage == 0  # the process's variables went with it


def test_captures_count_against_the_limit() -> None:
    assert go(sh("x=$(printf '%50000000s' x); echo never", limit=16 * MiB)) == (137, "", "")
    assert go(sh("seq 100000000 | wc -l", limit=16 * MiB))[0] == 137
    assert go(sh("for i in $(seq 10000000); do :; done", limit=16 * MiB))[0] == 137
    code, out, _ = go(sh("x=$(seq 1000); echo $x | wc -c", limit=16 * MiB))
    assert code == 0 and out.strip() == "3893"


def test_files_are_charged_to_the_container_and_kept() -> None:
    cg = tools.Cgroup(8 * MiB)
    fs = tools.ContainerFiles(cg)
    assert go(sh("printf '%1000000s' x > /tmp/f; cat /tmp/f | wc -c", fs=fs)) == (0, "1000000\n", "")
    held = cg.usage
    assert held == tools.cost("/tmp/f", " " * 999999 + "x")  # the file stays when the process ends; nothing else
    assert go(sh("while true; do cat /tmp/f >> /tmp/g; done", fs=fs))[0] == 137
    assert cg.oom_killed and cg.peak <= 8 * MiB


def test_seq_streams_and_yields() -> None:
    """`seq 300000000` does not build its output: it writes pipe-sized chunks and other tasks keep running."""
    async def t() -> tuple[Counter, int]:
        out, ticks = Counter(), [0]

        async def other() -> None:
            while True:
                await asyncio.sleep(0.001)
                ticks[0] += 1
        bg = asyncio.ensure_future(other())
        task = asyncio.ensure_future(tools.run(["seq", "300000000"], FakeNet(World()), out.write,
                                               lambda s: None, image="busybox", cgroup=tools.Cgroup(16 * MiB)))
        await asyncio.sleep(0.5)
        assert not task.done()
        task.cancel()
        bg.cancel()
        return out, ticks[0]
    out, ticks = go(t())
    assert out.total > 100000 and out.largest <= tools.OUTPUT_CHUNK
    assert ticks >= 10


def test_a_slow_reader_holds_the_writer_back() -> None:
    """With a ``drain`` (the exec stream's back-pressure) a long output waits for its reader after each
    chunk, as a writer blocks on a full pipe: nothing piles up between them."""
    async def t() -> tuple[int, int]:
        pending: list[str] = []
        most = [0]

        def out(text: str) -> None:
            pending.append(text)
            most[0] = max(most[0], sum(map(len, pending)))

        async def drain() -> None:
            await asyncio.sleep(0.001)  # the client reads what is there
            pending.clear()
        code = await tools.run(["seq", "200000"], FakeNet(World()), out, lambda s: None, image="busybox",
                               drain=drain)
        return code, most[0]
    code, most = go(t())
    assert code == 0 and most <= tools.OUTPUT_CHUNK


def test_seq_follows_busybox() -> None:
    assert go(run(["seq", "3"])) == (0, "1\n2\n3\n", "")
    assert go(run(["seq", "1", "0.5", "2"])) == (0, "1.0\n1.5\n2.0\n", "")
    assert go(run(["seq", "-w", "8", "10"])) == (0, "08\n09\n10\n", "")
    assert go(run(["seq", "-s,", "3"])) == (0, "1,2,3\n", "")
    assert go(run(["seq", "3", "-1", "1"])) == (0, "3\n2\n1\n", "")
    assert go(run(["seq", "5", "1"])) == (0, "", "")
    code, out, err = go(run(["seq", "x"]))
    assert (code, out) == (1, "") and "Usage: seq [-w] [-s SEP] [FIRST [INC]] LAST" in err


# --------------------------------------------------------------------------- CPU

def test_a_busy_loop_runs_until_stopped_and_leaves_the_loop_to_others() -> None:
    """`while true; do :; done` runs, as a real one does, until it is stopped; meanwhile other tasks get their
    turn (the loop paces itself every TIME_SLICE)."""
    async def t() -> tuple[bool, int, float]:
        ticks = [0]

        async def other() -> None:
            while True:
                await asyncio.sleep(0.001)
                ticks[0] += 1
        bg = asyncio.ensure_future(other())
        cg = tools.Cgroup()
        spin = asyncio.ensure_future(sh("while true; do :; done", cgroup=cg))
        await asyncio.sleep(1.0)
        running = not spin.done()
        spin.cancel()
        bg.cancel()
        return running, ticks[0], cg.cpu_seconds
    running, ticks, cpu = go(t())
    assert running and ticks >= 20 and cpu > 0.1


def test_a_cpu_limit_throttles_like_a_cfs_quota() -> None:
    """limits.cpu 100m: 10 ms of each 100 ms period, then the container waits for the next one."""
    async def t() -> tools.Cgroup:
        c = container({"image": "busybox", "command": ["sh", "-c", "while true; do :; done"],
                       "resources": {"limits": {"cpu": "100m"}}})
        await c.start()
        await asyncio.sleep(1.0)
        await c.stop()
        return c.cgroup
    cg = go(t())
    assert cg.throttled >= 5 and cg.cpu_seconds < 0.5


# --------------------------------------------------------------------------- the container's fate

def test_the_container_ends_oomkilled_137() -> None:
    async def t() -> tuple[int, str, str]:
        c = container({"image": "busybox", "command": ["sh", "-c", "echo start; x=a; while true; do x=$x$x; done"],
                       "resources": {"limits": {"memory": "16Mi"}}})
        await c.start()
        code = await c.wait()
        return code, c.termination_reason(code), c.termination_reason(0)
    assert go(t()) == (137, "OOMKilled", "OOMKilled")


def test_ordinary_exits_are_completed_or_error() -> None:
    async def t(cmd: str) -> tuple[int, str]:
        c = container({"image": "busybox", "command": ["sh", "-c", cmd]})
        await c.start()
        code = await c.wait()
        return code, c.termination_reason(code)
    assert go(t("printf hello world")) == (0, "Completed")
    assert go(t("exit 3")) == (3, "Error")


def test_an_exec_over_the_limit_takes_the_container_with_it() -> None:
    """exec'd processes share the container's cgroup; the kubelet asks for memory.oom.group, so the OOM kill
    of an exec ends the whole container: the exec gets 137, the container 137 / OOMKilled."""
    async def t() -> tuple[int, int, str]:
        c = container({"image": "busybox", "command": ["sleep", "3600"],
                       "resources": {"limits": {"memory": "16Mi"}}})
        await c.start()
        exec_code, _, _ = await c.exec(["sh", "-c", "x=$(seq 100000000)"])
        code = await asyncio.wait_for(c.wait(), 5)
        return exec_code, code, c.termination_reason(code)
    assert go(t()) == (137, 137, "OOMKilled")


def test_an_exec_within_the_limit_gives_its_memory_back() -> None:
    async def t() -> tuple[int, int, bool]:
        c = container({"image": "busybox", "command": ["sleep", "3600"],
                       "resources": {"limits": {"memory": "16Mi"}}})
        await c.start()
        await asyncio.sleep(0)
        before = c.cgroup.usage  # the main process's environment
        for _ in range(5):  # 5 x 5 MB, one after another, in a 16 MiB container
            code, _, _ = await c.exec(["sh", "-c", "x=$(printf '%5000000s' y)"])
            assert code == 0
        usage = c.cgroup.usage - before
        await c.stop()
        return code, usage, c.cgroup.oom_killed
    assert go(t()) == (0, 0, False)


def test_an_interactive_shell_over_the_limit_ends_137() -> None:
    """`kubectl exec -it POD -- sh`, then a line that grows past the limit: the shell is killed (137) and its
    variables are given back; the prompt never comes again."""
    async def t() -> tuple[int, str, int]:
        cg = tools.Cgroup(16 * MiB)
        out: list[str] = []
        shell = ttyshell.Shell(FakeNet(World()), "busybox", {}, tools.ContainerFiles(cg), tty=False,
                               out=out.append, err=out.append)
        shell.feed(b"echo hi\nx=a; while true; do x=$x$x; done\necho never\n")
        code = await shell.run()
        return code, "".join(out), cg.usage
    assert go(t()) == (137, "hi\n", 0)


def test_an_exec_probe_reads_at_most_10_kib() -> None:
    async def t() -> tuple[int, int]:
        c = container({"image": "busybox", "command": ["sleep", "3600"]})
        await c.start()
        code, out, _ = await c.exec(["seq", "100000"])
        await c.stop()
        return code, len(out)
    assert go(t()) == (0, images.EXEC_OUTPUT_LIMIT)


def test_log_lines_are_cut_at_16_kib() -> None:
    """A program that never writes a newline cannot grow the log buffer: containerd cuts lines at 16 KiB."""
    logs: list[str] = []
    log = images.LineLog(logs.append)
    for _ in range(100):
        log.write("x" * 1000)
    assert [len(x) for x in logs] == [images.MAX_LOG_LINE] * 6 and len(log.buf) == 100000 - 6 * 16384
    log.write("y\nz" + "w" * 40000 + "\nend")
    log.flush()
    assert [len(x) for x in logs[6:]] == [100000 - 6 * 16384 + 1, 16384, 16384, 40001 - 32768, 3]


# --------------------------------------------------------------------------- messages, not Python errors

@pytest.mark.parametrize("image,argv,expected", [
    ("busybox", ["sh", "-c", "test 1 -eq x"], (2, "", "sh: x: bad number\n")),
    ("busybox", ["sh", "-c", "[ 1 -eq x ]"], (2, "", "sh: x: bad number\n")),
    ("busybox", ["sh", "-c", "[ x -lt 2 ] || echo $?"], (0, "2\n", "sh: x: bad number\n")),
    ("busybox", ["sh", "-c", "test '' -eq 1"], (2, "", "sh: bad number\n")),
    ("busybox", ["sh", "-c", "test 99999999999999999999 -gt 1"], (2, "", "sh: 99999999999999999999: out of range\n")),
    ("busybox", ["sh", "-c", "test ' 5 ' -eq 5"], (0, "", "")),
    ("busybox", ["sh", "-c", "[ 1 -eq 1"], (2, "", "sh: missing ]\n")),
    ("busybox", ["test", "1", "-eq", "x"], (2, "", "test: x: bad number\n")),  # the applet, exec'd directly
    ("busybox", ["[", "1", "-eq", "x", "]"], (2, "", "[: x: bad number\n")),
    ("nginx", ["sh", "-c", "test 1 -eq x"], (2, "", "sh: 1: test: Illegal number: x\n")),  # dash
    ("nginx", ["test", "1", "-eq", "x"], (2, "", "test: invalid integer 'x'\n")),  # coreutils
])
def test_test_reports_bad_numbers_as_the_real_tools(image: str, argv: list[str],
                                                   expected: tuple[int, str, str]) -> None:
    assert go(run(argv, image=image)) == expected


@pytest.mark.parametrize("image,argv,code,err", [
    ("curlimages/curl", ["curl", "http://web:abc/"], 3,
     "curl: (3) URL rejected: Port number was not a decimal number between 0 and 65535\n"),
    ("curlimages/curl", ["curl", "http://[::1/"], 3, "curl: (3) URL rejected: Bad IPv6 address\n"),
    ("curlimages/curl", ["curl", "-m", "nan", "web"], 2,
     "curl: option --max-time: expected a proper numerical parameter\n"
     "curl: try 'curl --help' or 'curl --manual' for more information\n"),
    ("busybox", ["wget", "http://web:99999/"], 1, "wget: bad port spec 'web:99999'\n"),
    ("busybox", ["nslookup", "-timeout=x", "web"], 1, "nslookup: invalid number 'x'\n"),
    ("busybox", ["head", "-n", "x"], 1, "head: invalid number 'x'\n"),
    ("busybox", ["sh", "-c", "exit 99999999999"], 2, "sh: exit: Illegal number: 99999999999\n"),
    ("busybox", ["sh", "-c", "exit ²"], 2, "sh: exit: Illegal number: ²\n"),
])
def test_bad_arguments_get_the_tools_messages(image: str, argv: list[str], code: int, err: str) -> None:
    assert go(run(argv, image=image)) == (code, "", err)


def test_deep_nesting_is_one_sentence() -> None:
    for script in ["(" * 2000 + "true" + ")" * 2000, "echo " + "$(echo " * 100 + "x" + ")" * 100,
                   "x='sh -c \"$x\"'; export x; sh -c \"$x\""]:
        code, out, err = go(sh(script))
        assert code == 2 and err.endswith("kai-labs: commands nested too deeply (the emulated sh runs scripts, "
                                          f"$( ) and sh -c at most {tools.MAX_NESTING} levels inside each other)\n")


def test_a_pattern_with_nested_repetition_is_refused_not_run() -> None:
    t0 = time.monotonic()
    code, _, err = go(sh("echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac | grep '(a*)*b'"))
    assert code == 2 and "repeats a group that repeats inside" in err
    assert time.monotonic() - t0 < 2.0
    assert go(sh("echo ab | grep 'a*b'")) == (0, "ab\n", "")


# --------------------------------------------------------------------------- fuzzing

_TOKENS = ["echo", "printf", "seq", "test", "[", "]", "cat", "grep", "head", "tail", "wc", "env", "export", "unset",
           "exit", "sh", "-c", "sleep", "0", "true", "false", ":", "x=a", "x=$x$x", "$x", "${x}", "${x:-d}", "$(",
           ")", "`", "'", '"', "|", "||", "&&", ";", "\n", ">", ">>", "<", "2>&1", "/tmp/f", "/dev/null",
           "while", "do", "done", "for", "i", "in", "if", "then", "else", "fi", "until", "{", "}", "(", "!", "-eq",
           "-lt", "=", "%s", "%d", "%99999s", "%*d", "%b", "%.9999f", "\\", "\\c", "-n", "-e", "1", "-1", "0x1f",
           "99999999999999999999", "x", "%", "1e308", "inf", "nan", "-w", "-s", "wget", "nslookup", "http://a:b/",
           "-T", "hostname", "date", "#", "$?", "$#", "$@", "$1", "(a*)*b", "-v", "100000"]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(_TOKENS) | st.text(max_size=6), max_size=30))
def test_fuzzed_scripts_end_with_a_status_within_budget(tokens: list[str]) -> None:
    """Whatever a learner types: an exit status (never a Python exception), memory within the limit and every
    byte a process held given back when it ends (only files stay), and no step holding the loop long."""
    script = " ".join(tokens)

    async def t() -> None:
        cg = tools.Cgroup(4 * MiB)
        fs = tools.ContainerFiles(cg)
        gaps: list[float] = []

        async def beat() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0)
                now = time.monotonic()
                gaps.append(now - last)
                last = now
        bg = asyncio.ensure_future(beat())
        task = asyncio.ensure_future(tools.run(["sh", "-c", script], FakeNet(World()), lambda s: None,
                                               lambda s: None, image="busybox", fs=fs))
        done, _ = await asyncio.wait([task], timeout=0.3)
        if not done:
            task.cancel()
            await asyncio.wait([task])
        else:
            assert isinstance(task.result(), int)
            assert cg.usage == sum(tools.cost(k, v) for k, v in fs.items())
        bg.cancel()
        assert cg.peak <= cg.limit
        assert max(gaps, default=0.0) < 1.0, script
    go(t())
