"""The node machines: one process per embedded Node, as kind runs one container per node.

The control plane starts a zygote (``python -m kai_labs.sim.node``) once the API serves; the zygote forks
one process per Node, so the modules' memory is shared between them (see ``sim/node/__main__.py``).
Each node process says ``ready`` once its kubelet serves; one that dies on its own is started again after
a growing pause (as a container runtime's restart policy). ``stop`` powers a node off (TERM, then KILL
after a grace, as ``docker stop``) and is remembered across restarts of the cluster; ``start`` powers it
on. When the control plane goes, the zygote's stdin closes and it stops the nodes; a node whose zygote is
gone stops by itself.

Each node's output goes to ``<home>/nodes/<name>.log``, the zygote's to ``<home>/nodes/zygote.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

log = logging.getLogger("kai_labs.machines")

STOP_GRACE = 5.0  # docker stop's default is 10 s; our kubelet needs less to stop its Pods
READY_TIMEOUT = 30.0
RESTART_PAUSE_MAX = 30.0


class Machines:
    def __init__(self, home: Path, seed: int) -> None:
        self.home = home
        self.dir = home / "nodes"
        self.dir.mkdir(mode=0o700, exist_ok=True)
        self.server = ""  # the API's URL, once it serves (start_all)
        self.seed = seed
        self.pids: dict[str, int] = {}
        self._wanted: set[str] = set()
        self._ready: dict[str, asyncio.Future[bool]] = {}
        self._exited: dict[int, asyncio.Future[int]] = {}
        self._pause: dict[str, float] = {}
        self._zygote: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._lock = asyncio.Lock()

    # -- state that survives a restart -------------------------------------------------
    def _stopped_file(self) -> Path:
        return self.dir / "stopped.json"

    def stopped(self) -> set[str]:
        with contextlib.suppress(OSError, ValueError):
            return set(json.loads(self._stopped_file().read_text()))
        return set()

    def _set_stopped(self, names: set[str]) -> None:
        tmp = self._stopped_file().with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(names)) + "\n")
        os.replace(tmp, self._stopped_file())

    def status(self) -> dict[str, str]:
        down = self.stopped()
        return {name: "Running" if name in self.pids else ("Stopped" if name in down else "Starting")
                for name in sorted(self._wanted | down)}

    def pid(self, name: str) -> int | None:
        return self.pids.get(name)

    # -- the zygote ----------------------------------------------------------------------
    async def prepare(self) -> None:
        """Start the zygote early: its imports overlap the control plane's own start."""
        async with self._lock:
            await self._ensure_zygote()

    async def _ensure_zygote(self) -> None:
        if self._zygote is not None and self._zygote.returncode is None:
            return
        logf = open(self.dir / "zygote.log", "ab")  # noqa: SIM115 (the child keeps it)
        try:
            self._zygote = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kai_labs.sim.node", "--home", str(self.home), "--seed", str(self.seed),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=logf)
        finally:
            logf.close()
        self._reader = asyncio.get_running_loop().create_task(self._read(self._zygote))

    async def _read(self, zygote: asyncio.subprocess.Process) -> None:
        assert zygote.stdout is not None
        while True:
            line = await zygote.stdout.readline()
            if not line:
                break
            parts = line.decode(errors="replace").split()
            if len(parts) == 3 and parts[0] == "started":
                self.pids[parts[1]] = int(parts[2])
            elif len(parts) == 2 and parts[0] == "ready":
                fut = self._ready.get(parts[1])
                if fut is not None and not fut.done():
                    fut.set_result(True)
            elif len(parts) == 4 and parts[0] == "exited":
                self._on_exit(parts[1], int(parts[2]), int(parts[3]))
        await zygote.wait()
        for name, pid in list(self.pids.items()):  # its children follow it (they watch their parent)
            self._on_exit(name, pid, -1)
        if not self._closing:
            log.warning("the node zygote exited with %s: starting it again", zygote.returncode)
            await asyncio.sleep(1.0)
            for name in sorted(self._wanted - self.stopped()):
                asyncio.get_running_loop().create_task(self._spawn(name))

    def _on_exit(self, name: str, pid: int, code: int) -> None:
        if self.pids.get(name) == pid:
            del self.pids[name]
        fut = self._exited.pop(pid, None)
        if fut is not None and not fut.done():
            fut.set_result(code)
        ready = self._ready.get(name)
        if ready is not None and not ready.done():
            ready.set_result(False)
        if self._closing or name in self.stopped() or name not in self._wanted or fut is not None:
            return  # asked for (stop, remove, shutdown)
        pause = self._pause.get(name, 1.0)
        self._pause[name] = min(pause * 2, RESTART_PAUSE_MAX)
        log.warning("node %s exited with %s: starting it again in %.0fs", name, code, pause)
        asyncio.get_running_loop().call_later(pause, lambda: asyncio.ensure_future(self._spawn(name)))

    # -- lifecycle ---------------------------------------------------------------------
    async def start_all(self, names: list[str], server: str) -> None:
        self.server = server
        self._wanted |= set(names)
        down = self.stopped()
        await asyncio.gather(*(self._spawn(n) for n in names if n not in down))

    async def add(self, name: str) -> None:
        """A new Node for the embedded kubelet: its machine starts."""
        if name in self._wanted or self._closing:
            return
        self._wanted.add(name)
        if name not in self.stopped():
            await self._spawn(name)

    async def remove(self, name: str) -> None:
        self._wanted.discard(name)
        await self._kill(name)
        self._set_stopped(self.stopped() - {name})

    async def start(self, name: str) -> None:
        self._set_stopped(self.stopped() - {name})
        self._wanted.add(name)
        self._pause.pop(name, None)
        await self._spawn(name)

    async def stop(self, name: str) -> None:
        self._set_stopped(self.stopped() | {name})
        await self._kill(name)

    async def shutdown(self) -> None:
        self._closing = True
        await asyncio.gather(*(self._kill(n) for n in list(self.pids)))
        z = self._zygote
        if z is not None and z.returncode is None:
            if z.stdin is not None:
                z.stdin.close()
            try:
                await asyncio.wait_for(z.wait(), STOP_GRACE + 1)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    z.kill()
                await z.wait()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader

    async def _spawn(self, name: str) -> bool:
        """Start ``name``'s process unless it runs; True once it is ready."""
        async with self._lock:
            if self._closing or not self.server or name not in self._wanted or name in self.stopped():
                return name in self.pids
            fut = self._ready.get(name)
            if fut is None or fut.done():  # not starting already (a second start must not make a twin)
                if name in self.pids:
                    return True
                await self._ensure_zygote()
                z = self._zygote
                assert z is not None and z.stdin is not None
                fut = asyncio.get_running_loop().create_future()
                self._ready[name] = fut
                log.info("starting node %s", name)
                z.stdin.write(f"spawn {name} {self.server}\n".encode())
                await z.stdin.drain()
        try:
            ok = await asyncio.wait_for(asyncio.shield(fut), READY_TIMEOUT)
        except asyncio.TimeoutError:
            ok = False
        if not ok:
            log.warning("node %s did not start (see %s)", name, self.dir / f"{name}.log")
        else:
            self._pause.pop(name, None)
        return ok

    async def _kill(self, name: str) -> None:
        pid = self.pids.get(name)
        if pid is None:
            return
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._exited[pid] = fut
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(fut), STOP_GRACE)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(fut, STOP_GRACE)
