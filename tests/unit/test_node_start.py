"""A node process told to stop while it is still starting stops at once (node/__main__.run).

Before, `cluster down` right after `cluster up` waited the supervisor's whole grace (5 s) and then
SIGKILLed nodes whose informers were still waiting for the API: the TERM was only looked at once the
start was over. Here the "API" is a Unix socket that accepts and never answers, so the start cannot end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kai_labs.sim.machines import STOP_GRACE


def test_a_node_stops_on_term_while_its_informers_still_wait_for_the_api(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "nodes").mkdir(parents=True, mode=0o700)
    (home / "token").write_text("t0ken\n")
    api = str(tmp_path / "api.sock")
    mute = socket.socket(socket.AF_UNIX)
    mute.bind(api)
    mute.listen(16)  # accepts, never answers
    z = subprocess.Popen([sys.executable, "-m", "kai_labs.sim.node", "--home", str(home), "--seed", "1"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert z.stdin is not None and z.stdout is not None
        z.stdin.write(f"spawn n1 {api}\n")
        z.stdin.flush()
        started = z.stdout.readline().split()
        assert started[:2] == ["started", "n1"], started
        pid = int(started[2])
        time.sleep(0.5)  # inside node.start(): listing through a socket that never answers
        os.kill(pid, signal.SIGTERM)
        line = z.stdout.readline().split()  # the zygote reports the exit (code 0, not -9 after the grace)
        assert line == ["exited", "n1", str(pid), "0"], line
        log = (home / "nodes" / "n1.log").read_text()
        assert "stopped while starting" in log
    finally:
        if z.stdin is not None:
            z.stdin.close()
        try:
            z.wait(timeout=STOP_GRACE + 5)
        except subprocess.TimeoutExpired:
            z.kill()
        mute.close()
