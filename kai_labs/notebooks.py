"""Lesson notebooks: regenerate their outputs deterministically, install JupyterLab settings.

    python -m kai_labs.notebooks run lessons/*.ipynb      # re-execute, write outputs back
    python -m kai_labs.notebooks install-lab-settings     # quiet JupyterLab (no news, no update checks,
                                                           # no kernel dialog)

Each notebook runs on a fresh embedded cluster: a new temporary ``KAI_LABS_HOME``
and ``KAI_LABS_SEED=1``, so names, IPs and ports are the same on every run. The
cluster is stopped afterwards. nbclient/nbformat (JupyterLab's dependencies) are
imported lazily: nothing else in the package needs them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SEED = "1"
KERNEL = "python3"
CELL_TIMEOUT = 120
SANITIZE = Path(__file__).resolve().parent.parent / "lessons" / "nbval-sanitize.cfg"

LAB_OVERRIDES: dict[str, dict[str, Any]] = {
    # no "Would you like to receive official Jupyter news?" toast, no update check
    "@jupyterlab/apputils-extension:notification": {"checkForUpdates": False, "fetchNews": "false"},
    # no extension-manager warning panel on first start
    "@jupyterlab/extensionmanager-extension:plugin": {"enabled": False},
    # every course notebook uses the python3 kernel: start it, never ask "Select Kernel" (the browser
    # tests saw that dialog when a notebook opened before JupyterLab had loaded its kernelspecs)
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
}


def _bin_dir() -> str:
    return os.path.dirname(sys.executable)


@contextmanager
def fresh_cluster_env(seed: str = SEED) -> Iterator[dict[str, str]]:
    """Environment for one notebook run: a new cluster home, the seed, this venv's bin first on PATH.

    Yields the environment; on exit stops that home's cluster and removes the home."""
    home = tempfile.mkdtemp(prefix="kai-labs-nb-")
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    env.update(KAI_LABS_HOME=home, KAI_LABS_SEED=seed,
               PATH=_bin_dir() + os.pathsep + env.get("PATH", ""), PYDEVD_DISABLE_FILE_VALIDATION="1")
    try:
        yield env
    finally:
        subprocess.run([sys.executable, "-m", "kai_labs.cli", "cluster", "down"], env=env, capture_output=True,
                       check=False)
        shutil.rmtree(home, ignore_errors=True)


def clean(nb: Any) -> Any:
    """Strip what changes between runs but teaches nothing (timing metadata, stream chunking).

    Execution counts are renumbered 1, 2, 3... in cell order: nbval refuses cells with
    outputs and no execution count ("unrun reference cell")."""
    keep_nb = {"kernelspec", "language_info"}
    for k in list(nb.metadata):
        if k not in keep_nb:
            del nb.metadata[k]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL}
    nb.metadata["language_info"] = {"name": "python"}
    count = 0
    for cell in nb.cells:
        for k in list(cell.metadata):
            if k != "tags":
                del cell.metadata[k]
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            merged: list[Any] = []
            for out in cell.get("outputs", []):  # %%bash and ! cells stream in arbitrary chunks
                if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                        and merged[-1].get("name") == out.get("name")):
                    merged[-1]["text"] += out["text"]
                else:
                    merged.append(out)
            cell.outputs = merged
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = count
                if isinstance(out.get("metadata"), dict):
                    out["metadata"] = {}
    return nb


def execute(path: Path, seed: str = SEED, timeout: int = CELL_TIMEOUT) -> Any:
    """Execute one notebook on a fresh seeded cluster and return the cleaned notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    with fresh_cluster_env(seed) as env:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)  # the kernel inherits this process's environment
        try:
            client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, allow_errors=False,
                                    resources={"metadata": {"path": str(path.parent)}})
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return clean(nb)


def run(paths: Sequence[Path], seed: str = SEED) -> int:
    import nbformat

    failed = 0
    for path in paths:
        t0 = time.monotonic()
        try:
            nb = execute(path, seed)
        except Exception as e:  # noqa: BLE001 (report and go on with the next notebook)
            print(f"FAIL {path}: {type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}")
            failed += 1
            continue
        text = nbformat.writes(nb) + "\n"
        path.write_text(text)
        print(f"wrote {path} ({time.monotonic() - t0:.1f}s)")
    return 1 if failed else 0


def lab_settings_path(prefix: str | None = None) -> Path:
    """Where JupyterLab 4 reads admin overrides: ``{sys.prefix}/share/jupyter/lab/settings/overrides.json``."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def install_lab_settings(prefix: str | None = None) -> Path:
    """Merge kai-labs' JupyterLab overrides into the environment's overrides.json (other keys are kept)."""
    path = lab_settings_path(prefix)
    current: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            current = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            current = {}
    for plugin, values in LAB_OVERRIDES.items():
        current.setdefault(plugin, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kai_labs.notebooks", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute notebooks on fresh seeded clusters and write their outputs back")
    r.add_argument("paths", nargs="+", type=Path)
    r.add_argument("--seed", default=SEED)
    s = sub.add_parser("install-lab-settings", help="write JupyterLab overrides.json into this environment")
    s.add_argument("--prefix", default=None, help="environment prefix (default: sys.prefix)")
    a = p.parse_args(argv)
    if a.cmd == "run":
        missing = [x for x in a.paths if not x.exists()]
        if missing:
            print("no such notebook: " + ", ".join(map(str, missing)), file=sys.stderr)
            return 2
        return run(a.paths, a.seed)
    print(f"wrote {install_lab_settings(a.prefix)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
