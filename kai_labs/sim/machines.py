"""The node machines: one child process per embedded Node, as kind runs one container per node.

The control plane starts each node process (``python -m kai_labs.sim.node``) once the API serves, waits
for it to say ``ready``, and starts it again if it dies on its own (with a growing pause, as a container
runtime's restart policy). ``stop`` powers a node off (TERM, then KILL after a grace, as ``docker stop``)
and remembers it across restarts of the cluster; ``start`` powers it on. A node process watches its
standard input: when the control plane goes, so do the nodes.

Each node's output goes to ``<home>/nodes/<name>.log``.
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


class Machines:
    def __init__(self, home: Path, server: str, seed: int) -> None:
        self.home = home
        self.dir = home / "nodes"
        self.dir.mkdir(mode=0o700, exist_ok=True)
        self.server = server
        self.seed = seed
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._wanted: set[str] = set()
        self._closing = False

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
        out = {}
        for name in sorted(self._wanted | set(self.procs) | self.stopped()):
            p = self.procs.get(name)
            out[name] = "Running" if p is not None and p.returncode is None else (
                "Stopped" if name in self.stopped() else "Starting")
        return out

    # -- lifecycle ---------------------------------------------------------------------
    async def start_all(self, names: list[str]) -> None:
        down = self.stopped()
        todo = [n for n in names if n not in down]
        self._wanted |= set(names)
        await asyncio.gather(*(self._spawn(n) for n in todo))

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
        p = self.procs.get(name)
        if p is None or p.returncode is not None:
            await self._spawn(name)

    async def stop(self, name: str) -> None:
        self._set_stopped(self.stopped() | {name})
        await self._kill(name)

    async def shutdown(self) -> None:
        self._closing = True
        await asyncio.gather(*(self._kill(n) for n in list(self.procs)))

    async def _spawn(self, name: str, watch: bool = True) -> None:
        logf = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kai_labs.sim.node", "--home", str(self.home), "--node", name,
                "--server", self.server, "--seed", str(self.seed),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=logf)
        finally:
            logf.close()
        self.procs[name] = proc
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), READY_TIMEOUT)
        except asyncio.TimeoutError:
            line = b""
        if line.strip() != b"ready":
            log.warning("node %s did not start (see %s)", name, self.dir / f"{name}.log")
        if watch:
            self._watchers[name] = asyncio.get_running_loop().create_task(self._watch(name, proc))

    async def _watch(self, name: str, proc: asyncio.subprocess.Process) -> None:
        """A node process that ends without being asked is started again, after a growing pause."""
        pause = 1.0
        while True:
            code = await proc.wait()
            if self._closing or name in self.stopped() or name not in self._wanted or self.procs.get(name) is not proc:
                return
            log.warning("node %s exited with %s: starting it again in %.0fs", name, code, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)
            if self._closing or name in self.stopped() or name not in self._wanted:
                return
            await self._spawn(name, watch=False)  # this loop goes on watching the new process
            proc = self.procs[name]

    async def _kill(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        w = self._watchers.pop(name, None)
        if w is not None:
            w.cancel()
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()

    def pid(self, name: str) -> int | None:
        p = self.procs.get(name)
        return p.pid if p is not None and p.returncode is None else None
