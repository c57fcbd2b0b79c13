"""Unit checks of the streaming pieces without a cluster: SPDY framing and the emulated terminal."""

from __future__ import annotations

import asyncio
import struct
import zlib

from kai_labs.sim.node import streaming as streams
from kai_labs.sim.node import ttyshell


class FakeWs:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)


class FakeNet:
    namespace, pod_name, pod_ip, node_name, dns_ip = "ns1", "tmp", "10.244.1.5", "n1", "10.96.0.10"

    def resolv_conf(self) -> str:
        return "search ns1.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"


def test_spdy_dictionary_is_the_draft3_one() -> None:
    assert len(streams.SPDY_DICT) == 1423
    assert streams.SPDY_DICT.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert streams.SPDY_DICT.endswith(b"utf-,*,enq=0.")


def _client_syn(comp: zlib._Compress, sid: int, headers: dict[str, str], flags: int = 0) -> bytes:
    raw = struct.pack(">I", len(headers))
    for k, v in headers.items():
        raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    block = comp.compress(raw) + comp.flush(zlib.Z_SYNC_FLUSH)
    payload = struct.pack(">IIH", sid, 0, 0) + block
    return struct.pack(">HHI", 0x8003, 1, (flags << 24) | len(payload)) + payload


def test_spdy_syn_stream_reply_ping_and_data() -> None:
    async def main() -> None:
        ws = FakeWs()
        got = []
        srv = streams.SpdyServer(ws, got.append)  # type: ignore[arg-type]
        comp = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, streams.SPDY_DICT)
        frames = _client_syn(comp, 1, {"streamtype": "error", "port": "80", "requestid": "0"})
        frames += _client_syn(comp, 3, {"streamtype": "data", "port": "80", "requestid": "0"})
        frames += struct.pack(">HHI", 0x8003, 6, 4) + struct.pack(">I", 7)  # PING 7
        frames += struct.pack(">II", 3, 5) + b"hello"
        for i in range(0, len(frames), 7):  # frames split across WebSocket messages
            assert srv.feed(frames[i:i + 7])
        await asyncio.sleep(0)
        assert [s.headers["streamtype"] for s in got] == ["error", "data"]
        assert got[1].data.get_nowait() == b"hello"
        srv.close(got[1])
        await srv.shutdown()
        kinds = [struct.unpack(">H", f[2:4])[0] if f[0] & 0x80 else "data" for f in ws.sent]
        assert kinds == [2, 2, 6, "data"]  # SYN_REPLY x2, PING echo, FIN
        assert ws.sent[2][8:] == struct.pack(">I", 7)
        assert ws.sent[3] == struct.pack(">II", 3, 1 << 24)
        inflate = zlib.decompressobj(zdict=streams.SPDY_DICT)
        assert inflate.decompress(ws.sent[0][12:]) == b"\x00\x00\x00\x00"  # empty reply headers

    asyncio.run(main())


def test_prompts_follow_the_images() -> None:
    assert ttyshell.prompt("curlimages/curl", "/home/curl_user", "/home/curl_user", "curl_user") == "~ $ "
    assert ttyshell.prompt("busybox", "/", "/root", "root") == "/ # "
    assert ttyshell.prompt("nginx:1.27", "/", "/root", "root") == "# "
    assert ttyshell.is_interactive_shell(["sh"], "busybox")
    assert not ttyshell.is_interactive_shell(["sh", "-c", "echo"], "busybox")
    assert not ttyshell.is_interactive_shell(["sh"], "hashicorp/http-echo")


def test_terminal_line_editing_and_exit() -> None:
    async def main() -> tuple[int, str]:
        out: list[str] = []
        sh = ttyshell.Shell(FakeNet(), "curlimages/curl", {}, {}, tty=True, out=out.append, err=out.append)
        task = asyncio.ensure_future(sh.run())
        for keys in (b"echo helo\x7fo\r", b"\x1b[Ahostname\r", b"exit 5\r"):  # an arrow key is ignored
            await asyncio.sleep(0.02)
            sh.feed(keys)
        return await task, "".join(out)

    code, text = asyncio.run(main())
    assert code == 5
    assert text.startswith("~ $ echo helo\b \bo\r\nhelo\r\n~ $ hostname\r\ntmp\r\n~ $ exit 5\r\n")


def test_pipe_shell_reads_lines_until_eof() -> None:
    async def main() -> tuple[int, str]:
        out: list[str] = []
        sh = ttyshell.Shell(FakeNet(), "busybox", {}, {}, tty=False, out=out.append, err=out.append)
        task = asyncio.ensure_future(sh.run())
        sh.feed(b"cat /etc/resolv.conf | grep search\nfalse")
        sh.close_stdin()
        return await task, "".join(out)

    code, text = asyncio.run(main())
    assert (code, text) == (1, "search ns1.svc.cluster.local svc.cluster.local cluster.local\n")


def test_exec_output_waits_for_a_slow_client_instead_of_queueing_without_bound() -> None:
    """A command writing faster than kubectl reads is held back at BACKLOG_MAX bytes (a full pipe)."""

    class SlowWs(FakeWs):
        async def send_bytes(self, data: bytes) -> None:
            await asyncio.sleep(0.01)
            self.sent.append(data)

    async def main() -> tuple[int, int]:
        session = streams.ChannelSession(SlowWs(), "v5.channel.k8s.io")  # type: ignore[arg-type]
        peak = 0
        for _ in range(64):  # 64 MiB offered, 64 KiB a write, waiting when told to
            for _ in range(16):
                session.send(streams.STDOUT, b"x" * 65536)
                peak = max(peak, session._backlog)  # noqa: SLF001 (what is queued)
                await session.drain()
            if len(session.ws.sent) > 40:  # type: ignore[attr-defined]
                break
        sent = len(session.ws.sent)  # type: ignore[attr-defined]
        await session.finish(None)
        return peak, sent

    peak, sent = asyncio.run(main())
    assert sent > 40
    assert peak <= streams.BACKLOG_MAX + 65537
