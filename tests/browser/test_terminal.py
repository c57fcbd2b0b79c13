"""A JupyterLab terminal, as `make lab` and Binder open it: README's terminal recipe works there.

JupyterLab starts terminals as login shells, and Debian's /etc/profile resets PATH, so without the
course's terminal settings `kai-labs` is "command not found" and `kubectl` is whatever the system has.
Driven through the server's own terminal API (REST + the terminado WebSocket), no browser needed."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest
import websocket  # websocket-client, a dependency of the official kubernetes client

from .conftest import Lab

BIN = Path(sys.executable).parent
DONE = "kai-labs-terminal-test-done"


def run_in_terminal(lab: Lab, command: str, timeout: float = 90.0) -> str:
    """Type ``command`` into a new terminal and return what it printed up to the end marker."""
    name = lab.api("POST", "/api/terminals")["name"]
    url = lab.url.replace("http://", "ws://") + f"/terminals/websocket/{name}?token={lab.token}"
    ws = websocket.create_connection(url, timeout=timeout)
    out: list[str] = []
    try:
        # the marker is printed by the shell, not echoed from the input: split it so the echo never matches
        ws.send(json.dumps(["stdin", f"{command}; echo kai-labs-terminal-test-'done'\r"]))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg[0] == "stdout":
                out.append(msg[1])
                if re.search(rf"^{DONE}\r?$", "".join(out), re.M):
                    break
        else:
            pytest.fail(f"the terminal did not finish within {timeout:.0f}s:\n{''.join(out)[-2000:]}")
    finally:
        ws.close()
        lab.api("DELETE", f"/api/terminals/{name}")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", "".join(out)).replace("\r", "")  # without bash's terminal modes


def test_readme_terminal_recipe_works_in_a_jupyterlab_terminal(lab_server: Lab) -> None:
    out = run_in_terminal(lab_server, 'command -v kai-labs kubectl; kai-labs cluster up >/dev/null '
                                      '&& eval "$(kai-labs cluster env)" && kubectl get nodes -o name')
    lines = out.splitlines()
    assert str(BIN / "kai-labs") in lines, out
    assert str(BIN / "kubectl") in lines, out
    assert "node/kai-labs-control-plane" in lines, out
