"""A cluster home is private: KAI_LABS_HOME and the cluster's directory are the user's own with mode 0700, and
the token, kubeconfig and server.json the cluster and the CLI read are the user's own, mode 0600, never a
symbolic link. Anything else is refused with one sentence that says how to fix it (issue 13)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kai_labs.clusters import embedded as cl

pytestmark = pytest.mark.cluster

KAI = [sys.executable, "-m", "kai_labs.cli"]


def kai(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KAI_LABS_HOME=str(home))
    env.pop("KUBECONFIG", None)
    return subprocess.run([*KAI, *args], capture_output=True, text=True, env=env, timeout=60)


def refused(r: subprocess.CompletedProcess[str], *words: str) -> str:
    """One sentence on stderr, a non-zero exit, no traceback; returns the sentence."""
    assert r.returncode != 0, r.stdout
    msg = r.stderr.strip()
    assert msg and "Traceback" not in msg, msg
    assert len(msg.splitlines()) == 1, f"one sentence, not {msg!r}"
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    return msg


def test_a_kai_labs_home_open_to_other_users_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    refused(kai("cluster", "up", "--name", "lc", home=shared), str(shared), "mode 0755", f"chmod 700 {shared}")
    assert not (shared / "lc" / "token").exists(), "a token was written into a home other users can read"
    shared.chmod(0o700)
    (shared / "lc").mkdir(mode=0o700)
    (shared / "lc").chmod(0o750)
    refused(kai("cluster", "up", "--name", "lc", home=shared), f"chmod 700 {shared / 'lc'}")
    refused(kai("cluster", "status", "--name", "lc", home=shared), f"chmod 700 {shared / 'lc'}")
    refused(kai("cluster", "down", "--name", "lc", home=shared), f"chmod 700 {shared / 'lc'}")
    assert not (shared / "lc" / "token").exists()


def test_a_fresh_kai_labs_home_is_made_0700_all_the_way_down(tmp_path: Path) -> None:
    """`up` creates a missing KAI_LABS_HOME (and the directories above it it must create) 0700, not 0755."""
    base = tmp_path / "a" / "b"
    r = kai("cluster", "up", "--name", "lc", home=base)
    try:
        assert r.returncode == 0, r.stderr
        for d in (tmp_path / "a", base, base / "lc"):
            assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
        assert stat.S_IMODE((base / "lc" / "token").stat().st_mode) == 0o600
    finally:
        kai("cluster", "down", "--name", "lc", home=base)


def _planted(home: Path) -> Path:
    (home / "lc").mkdir(parents=True, mode=0o700)
    token = home / "lc" / "token"
    token.write_text("planted-token\n")
    return token


def test_a_token_other_users_can_read_is_refused(tmp_path: Path) -> None:
    token = _planted(tmp_path)
    token.chmod(0o644)
    msg = refused(kai("cluster", "up", "--name", "lc", home=tmp_path), str(token), "mode 0644")
    assert "cluster reset" in msg or "delete" in msg, msg
    assert token.read_text() == "planted-token\n"
    assert not (tmp_path / "lc" / "server.json").exists(), "a cluster started with a token others could read"


def test_a_token_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("planted-token\n")
    elsewhere.chmod(0o600)
    (tmp_path / "lc").mkdir(mode=0o700)
    (tmp_path / "lc" / "token").symlink_to(elsewhere)
    refused(kai("cluster", "up", "--name", "lc", home=tmp_path), str(tmp_path / "lc" / "token"), "symbolic link")
    assert not (tmp_path / "lc" / "server.json").exists()


def test_a_token_planted_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("a file another user owns needs root to make (CI runs as root)")
    token = _planted(tmp_path)
    token.chmod(0o600)
    os.chown(token, 65534, 65534)
    refused(kai("cluster", "up", "--name", "lc", home=tmp_path), str(token), "belongs to another user")
    assert not (tmp_path / "lc" / "server.json").exists()


def test_the_files_the_cli_reads_must_be_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kubeconfig, server.json and token of a running cluster: one group/world-readable is refused by the
    commands that read it, and accepted again once private."""
    assert kai("cluster", "up", "--name", "lc", home=tmp_path).returncode == 0
    home = tmp_path / "lc"
    monkeypatch.setenv("KAI_LABS_HOME", str(tmp_path))
    try:
        (home / "kubeconfig").chmod(0o644)
        refused(kai("cluster", "env", "--name", "lc", home=tmp_path), str(home / "kubeconfig"), "mode 0644")
        (home / "kubeconfig").chmod(0o600)
        assert kai("cluster", "env", "--name", "lc", home=tmp_path).returncode == 0
        (home / "server.json").chmod(0o604)
        refused(kai("cluster", "status", "--name", "lc", home=tmp_path), str(home / "server.json"), "mode 0604")
        (home / "server.json").chmod(0o600)
        assert kai("cluster", "status", "--name", "lc", home=tmp_path).returncode == 0
        (home / "token").chmod(0o640)
        with pytest.raises(cl.ClusterError, match="mode 0640"):
            cl.attach("lc", set_env=False)
        (home / "token").chmod(0o600)
        assert cl.attach("lc", set_env=False).kubectl("get", "nodes").returncode == 0
    finally:
        for f in ("kubeconfig", "server.json", "token"):
            if (home / f).exists():
                (home / f).chmod(0o600)
        assert kai("cluster", "down", "--name", "lc", home=tmp_path).returncode == 0
