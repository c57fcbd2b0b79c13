"""The kernel tests: kube-proxy's rules (kai_labs/k8s/proxyrules) loaded into real network namespaces.

They need root, ``ip``, ``nft`` and ``iptables-restore`` (``sh scripts/install-kernel-tools.sh``).
Elsewhere they skip and say why; with KAI_LABS_REQUIRE_KERNEL=1 (CI) a missing tool fails instead.
"""

from __future__ import annotations

import os
import shutil

import pytest

PROVEN: list[str] = []  # "mode/shape" for each shape whose verdicts the kernel gave


def _tool(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.path.exists(p)), None)


def missing_reason() -> str | None:
    """Why the kernel tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "the kernel tests need root (network namespaces, nft, iptables-restore)"
    absent = [t for t in ("ip", "nft", "iptables-restore") if _tool(t) is None]
    if absent:
        return f"{', '.join(absent)} not installed: run sh scripts/install-kernel-tools.sh"
    return None


@pytest.fixture(scope="session")
def kernel_tools() -> dict[str, str]:
    reason = missing_reason()
    if reason:
        if os.environ.get("KAI_LABS_REQUIRE_KERNEL") == "1":
            pytest.fail(f"KAI_LABS_REQUIRE_KERNEL=1 but {reason}")
        pytest.skip(reason)
    return {t: str(_tool(t)) for t in ("ip", "nft", "iptables-restore")}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if PROVEN:
        proven = sorted({p.split("/", 1)[1] for p in PROVEN})
        modes = sorted({p.split("/", 1)[0] for p in PROVEN})
        shapes = [p for p in proven if not p.startswith("scenario ")]
        states = [p for p in proven if p.startswith("scenario ")]
        terminalreporter.write_line(
            f"kernel: proven in a real kernel, modes {' and '.join(modes)} ({len(PROVEN)} runs): "
            f"{len(shapes)} Service shapes ({', '.join(shapes) or 'none'}); "
            f"{len(states)} scenario states ({', '.join(s.removeprefix('scenario ') for s in states) or 'none'})")
