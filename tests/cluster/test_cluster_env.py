"""`eval "$(kai-labs cluster env)"`: a shell whose PATH knows nothing of the venv talks to the cluster
with this installation's kubectl (the server requires kubectl of its own minor)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

BIN = Path(sys.executable).parent


def test_cluster_env_puts_this_installations_kubectl_first(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # a decoy kubectl earlier on PATH, as a system kubectl of another minor would be
    decoy = tmp_path / "bin"
    decoy.mkdir()
    (decoy / "kubectl").write_text("#!/bin/sh\necho 'decoy kubectl' >&2\nexit 3\n")
    (decoy / "kubectl").chmod(0o755)
    env = {"HOME": os.environ.get("HOME", "/root"), "KAI_LABS_HOME": os.environ["KAI_LABS_HOME"],
           "PATH": f"{decoy}:/usr/bin:/bin", "KUBECACHEDIR": os.environ["KUBECACHEDIR"]}
    script = (f'eval "$({BIN / "kai-labs"} cluster env)" || exit 9\n'
              'command -v kubectl; command -v kai-labs\n'
              'kubectl get nodes -o name\n'
              'eval "$(kai-labs cluster env)"; echo "$PATH"\n')  # a second eval does not grow PATH
    r = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == str(BIN / "kubectl")
    assert lines[1] == str(BIN / "kai-labs")
    assert "node/kai-labs-control-plane" in lines
    assert lines[-1].split(":").count(str(BIN)) == 1
    assert lines[-1].startswith(f"{BIN}:{decoy}:")


def test_cluster_env_quotes_a_home_with_spaces(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run([str(BIN / "kai-labs"), "cluster", "env"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PATH="/usr/bin:/bin:/dir with space")).stdout
    assert out.splitlines()[0].startswith("export KUBECONFIG=")
    r = subprocess.run(["sh", "-c", out + '\nprintf "%s" "$PATH"'], capture_output=True, text=True, check=True)
    assert r.stdout == f"{BIN}:/usr/bin:/bin:/dir with space"
