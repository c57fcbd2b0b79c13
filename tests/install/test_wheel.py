"""The package as a user gets it: a wheel built from this tree, installed alone in a fresh venv
(pinned by constraints.txt, no repository on sys.path, the CLI extra only) runs `--version`,
`cluster up`, a scenario round trip and `cluster down`; the notebooks' extra is not pulled in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kai_labs

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.install


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_a_wheel_installed_alone_runs_the_cluster_and_a_scenario(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(KAI_LABS_HOME=str(tmp_path / "home"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
            tmp_path, env)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("kai_labs-*.whl")
    assert wheel.name.startswith(f"kai_labs-{kai_labs.__version__}-")
    venv = tmp_path / "venv"
    assert run([sys.executable, "-m", "venv", str(venv)], tmp_path, env).returncode == 0
    r = run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
             str(wheel)], tmp_path, env)
    assert r.returncode == 0, r.stderr[-2000:]
    kai = str(venv / "bin" / "kai-labs")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    try:
        version = run([kai, "--version"], tmp_path, env)
        assert version.stdout.strip() == f"kai-labs {kai_labs.__version__}"
        # the installed package, not this checkout; and a CLI install does not pull in IPython
        probe = run([str(venv / "bin" / "python"), "-c", "import kai_labs, importlib.util as u; "
                     "print(kai_labs.__file__); print(u.find_spec('IPython') is None)"], tmp_path, env)
        where, no_ipython = probe.stdout.split()
        assert where.startswith(str(venv)) and no_ipython == "True", probe.stdout + probe.stderr
        up = run([kai, "cluster", "up", "--seed", "1"], tmp_path, env, timeout=120)
        assert up.returncode == 0, up.stderr
        assert run([kai, "scenario", "create", "wrong-selector"], tmp_path, env).returncode == 0
        broken = run([kai, "scenario", "check", "wrong-selector"], tmp_path, env)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert run([kai, "scenario", "solve", "wrong-selector"], tmp_path, env).returncode == 0
        fixed = run([kai, "scenario", "check", "wrong-selector"], tmp_path, env)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        # the developer-only tool says where it works instead of looking for files next to the package
        build = run([kai, "build-exercises"], tmp_path, env)
        assert build.returncode == 1 and "checkout of the course repository" in build.stderr
        assert "Traceback" not in build.stderr
    finally:
        run([kai, "cluster", "down"], tmp_path, env, timeout=60)
