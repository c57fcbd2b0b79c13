"""A learner's mistakes at the CLI and in Python: one clear message, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import kai_labs
from kai_labs.clusters import embedded as cl

BIN = Path(sys.executable).parent


def cli(*args: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KAI_LABS_HOME=str(home))
    env.pop("KUBECONFIG", None)
    return subprocess.run([str(BIN / "kai-labs"), *args], capture_output=True, text=True, env=env, timeout=timeout)


def clean(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    msg = r.stderr.strip()
    assert msg, "no message at all"
    assert len(msg.splitlines()) <= 6, f"a message, not a dump: {msg}"
    for w in words:
        assert w.lower() in msg.lower(), f"{w!r} not in {msg!r}"


@pytest.fixture
def empty_home(tmp_path: Path) -> Path:
    return tmp_path


def test_no_cluster(empty_home: Path) -> None:
    clean(cli("net", "route", "web:80", home=empty_home), "cluster up")
    clean(cli("net", "curl", "http://web", home=empty_home), "cluster up")
    clean(cli("cluster", "env", home=empty_home), "not running")
    clean(cli("cluster", "logs", home=empty_home), "no log")
    clean(cli("scenario", "check", "wrong-selector", home=empty_home))


def test_python_with_no_cluster(empty_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAI_LABS_HOME", str(empty_home))
    with pytest.raises(kai_labs.ClusterError, match="cluster up"):
        kai_labs.attach("nope")
    net = cl.EmbeddedNet(
        "https://127.0.0.1:9",
        "t",
        cl._ssl.__wrapped__ if hasattr(cl._ssl, "__wrapped__") else __import__("ssl").create_default_context(),
    )
    with pytest.raises(kai_labs.ClusterError, match="does not answer"):
        net.route("web:80")


def test_unknown_scenario_and_bad_route(cluster) -> None:  # type: ignore[no-untyped-def]
    home = cl.home_for(cluster.name).parent
    clean(cli("scenario", "check", "nope", "--name", cluster.name, home=home), "nope")
    clean(cli("scenario", "create", "nope", "--name", cluster.name, home=home), "nope")
    r = cli("net", "route", "web:abc", "--name", cluster.name, home=home)
    clean(r, "abc")
    clean(cli("net", "curl", "ftp://x", "--name", cluster.name, home=home))
    r = cli("net", "route", "web:99999", "--name", cluster.name, home=home)
    assert "Traceback" not in r.stderr, r.stderr


def test_port_in_use(empty_home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = cli("cluster", "up", "--name", "busy", "--port", str(port), home=empty_home)
        clean(r, str(port))
    cl_home = empty_home / "busy"
    env_home = os.environ.get("KAI_LABS_HOME")
    os.environ["KAI_LABS_HOME"] = str(empty_home)
    try:
        cl.down("busy")
    finally:
        if env_home is None:
            os.environ.pop("KAI_LABS_HOME")
        else:
            os.environ["KAI_LABS_HOME"] = env_home
    assert cl_home.exists()


def test_second_cluster_with_the_same_name(empty_home: Path) -> None:
    r = cli("cluster", "up", "--name", "twice", home=empty_home)
    assert r.returncode == 0, r.stderr
    try:
        r2 = cli("cluster", "up", "--name", "twice", home=empty_home)
        assert r2.returncode == 0 and "already running" in r2.stdout, (r2.stdout, r2.stderr)
        # a second server process on the same home (not through `cluster up`) must refuse, clearly
        p = subprocess.run(
            [sys.executable, "-m", "kai_labs.sim", "--home", str(empty_home / "twice"), "--name", "twice"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        clean(p, "twice")
    finally:
        r = cli("cluster", "down", "--name", "twice", home=empty_home)
        assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- where the cluster lives


def test_no_writable_home_says_to_set_kai_labs_home(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAI_LABS_HOME", "KUBECONFIG")}
    env["HOME"] = str(tmp_path / "does-not-exist" / "at-all")
    (tmp_path / "does-not-exist").write_text("a file, so nothing can be made below it")
    r = subprocess.run([str(BIN / "kai-labs"), "cluster", "up"], capture_output=True, text=True, env=env,
                       timeout=60)
    clean(r, "cannot create", "KAI_LABS_HOME")


def test_a_home_owned_by_another_user_is_refused_and_never_signalled(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a directory another user owns needs root (CI runs as root)")
    theirs = tmp_path / "theirs"
    (theirs / "kai-labs").mkdir(parents=True)
    # a server.json naming a live process (this test's own): `down` must not signal it
    (theirs / "kai-labs" / "server.json").write_text(f'{{"pid": {os.getpid()}, "port": 1}}')
    for d in (theirs, theirs / "kai-labs"):
        os.chown(d, 65534, 65534)
    clean(cli("cluster", "up", home=theirs), "belongs to another user", "KAI_LABS_HOME")
    clean(cli("cluster", "down", home=theirs), "belongs to another user")
    assert not (theirs / "kai-labs" / "token").exists()


def test_make_venv_names_a_python_that_does_not_run_and_remakes_a_broken_venv(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "make-venv.sh"
    broken = tmp_path / "python3"
    broken.symlink_to(tmp_path / "gone" / "python3.11")  # a pyenv version that was removed
    r = subprocess.run(["sh", str(script), str(broken), str(tmp_path / "v")], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "PYTHON=" in r.stderr, r.stderr
    # a .venv whose interpreter went away is made again with a Python that works
    venv = tmp_path / "v"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(tmp_path / "gone" / "python3.11")
    r = subprocess.run(["sh", str(script), sys.executable, str(venv)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "no longer runs" in r.stderr
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "pass"]).returncode == 0
