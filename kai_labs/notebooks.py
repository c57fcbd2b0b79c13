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
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from .clusters.base import path_with_tools, tools_dir

SEED = "1"
KERNEL = "python3"
CELL_TIMEOUT = 120

LAB_OVERRIDES: dict[str, dict[str, Any]] = {
    # no "Would you like to receive official Jupyter news?" toast, no update check
    "@jupyterlab/apputils-extension:notification": {"checkForUpdates": False, "fetchNews": "false"},
    # no extension-manager warning panel on first start
    "@jupyterlab/extensionmanager-extension:plugin": {"enabled": False},
    # every course notebook uses the python3 kernel: start it, never ask "Select Kernel" (the browser
    # tests saw that dialog when a notebook opened before JupyterLab had loaded its kernelspecs)
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
}




@contextmanager
def fresh_cluster_env(seed: str = SEED) -> Iterator[dict[str, str]]:
    """Environment for one notebook run: a new cluster home, the seed, this venv's bin first on PATH.

    Yields the environment; on exit stops that home's cluster and removes the home."""
    home = tempfile.mkdtemp(prefix="kai-labs-nb-")
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    env.update(KAI_LABS_HOME=home, KAI_LABS_SEED=seed,
               PATH=path_with_tools(env.get("PATH", "")), PYDEVD_DISABLE_FILE_VALIDATION="1")
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
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)
    count = 0
    for cell in nb.cells:
        for k in list(cell.metadata):
            if k not in ("tags", "jupyter"):  # jupyter: outputs_hidden / source_hidden, chosen by the author
                del cell.metadata[k]
        if cell.cell_type == "code" and (cell.metadata.get("jupyter") or {}).get("outputs_hidden"):
            # JupyterLab writes nbformat's older key beside it on every save: committed so, a save changes nothing
            cell.metadata["collapsed"] = True
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
                # a widget's view needs its state, which is not kept (above): saved, it could only ever show
                # "model not found"; its text/plain (and text/html) stand in until the cell runs again
                data = out.get("data")
                if isinstance(data, dict) and len(data) > 1:
                    data.pop("application/vnd.jupyter.widget-view+json", None)
    return nb


def execute(path: Path, seed: str = SEED, timeout: int = CELL_TIMEOUT) -> Any:
    """Execute one notebook on a fresh seeded cluster and return the cleaned notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = cast(Any, nbformat).read(str(path), as_version=4)  # nbformat has no type information
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
        text = cast(Any, nbformat).writes(nb) + "\n"
        path.write_text(text)
        print(f"wrote {path} ({time.monotonic() - t0:.1f}s)")
    return 1 if failed else 0


# the course's notebooks: what they commit as kernelspec and language_info (clean() writes it, and the
# server's pre-save hook keeps it, so opening and saving a notebook never changes it)
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL}
LANGUAGE_INFO = {"name": "python"}
COURSE_FOLDERS = frozenset({"lessons", "exercises", "solutions"})
PRE_SAVE_HOOK = "kai_labs.notebooks.keep_course_metadata"


def keep_course_metadata(model: dict[str, Any], path: str, contents_manager: Any = None, **_: Any) -> None:
    """Jupyter server pre-save hook (``ContentsManager.pre_save_hook``): a course notebook keeps its
    committed kernelspec and language_info when JupyterLab saves it.

    As soon as its kernel starts, JupyterLab writes what the kernel reports into language_info (the
    exact Python version, mimetype, lexer...) and autosave then writes the file: a learner who only
    opened a lesson would find it modified, and `git pull` would conflict. Only notebooks in a
    lessons/, exercises/ or solutions/ folder, still on the course's kernel, are touched; outputs and
    everything the learner wrote are saved as they are."""
    content = model.get("content")
    if model.get("type") != "notebook" or not isinstance(content, dict):
        return
    if Path(path).parent.name not in COURSE_FOLDERS:
        return
    md = content.setdefault("metadata", {})
    if (md.get("kernelspec") or {}).get("name", KERNEL) != KERNEL:
        return  # the learner chose another kernel: theirs to keep
    md["kernelspec"] = dict(KERNELSPEC)
    md["language_info"] = dict(LANGUAGE_INFO)


def lab_settings_path(prefix: str | None = None) -> Path:
    """Where JupyterLab 4 reads admin overrides: ``{sys.prefix}/share/jupyter/lab/settings/overrides.json``."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


TERMINAL_RC = """\
# kai-labs: start-up file of the course's JupyterLab terminals, written by
# `python -m kai_labs.notebooks install-lab-settings`. JupyterLab opens a login shell, whose
# /etc/profile resets PATH to the system's; this file reads the same start-up files a login
# shell reads, then puts this installation's kubectl and kai-labs first on PATH.
if [ -r /etc/profile ]; then . /etc/profile; fi
if [ -r "$HOME/.bash_profile" ]; then . "$HOME/.bash_profile"
elif [ -r "$HOME/.bash_login" ]; then . "$HOME/.bash_login"
elif [ -r "$HOME/.profile" ]; then . "$HOME/.profile"
fi
export PATH={tools}:"$PATH"
"""


def server_config_path(prefix: str | None = None) -> Path:
    """The environment's Jupyter server config, read by every server started from it (``jupyter --paths``).

    (Files in ``jupyter_server_config.d/`` only enable extensions; other settings there are ignored.)"""
    return Path(prefix or sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.json"


def _merge_json(path: Path, update: dict[str, dict[str, Any]]) -> None:
    """Merge ``update`` (section -> values) into the JSON object at ``path``; other keys are kept."""
    current: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            current = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            current = {}
    for section, values in update.items():
        if not isinstance(current.get(section), dict):
            current[section] = {}
        current[section].update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


def install_terminal_settings(prefix: str | None = None) -> Path | None:
    """JupyterLab terminals that find this installation's kubectl and kai-labs (README's terminal recipe).

    Writes the start-up file and sets the server's ``terminado_settings.shell_command`` to bash with it.
    Without bash, nothing is written (the terminal stays the server's default)."""
    bash = shutil.which("bash")
    if bash is None:
        return None
    root = Path(prefix or sys.prefix)
    rc = root / "etc" / "kai-labs" / "terminal.bashrc"
    rc.parent.mkdir(parents=True, exist_ok=True)
    rc.write_text(TERMINAL_RC.format(tools=shlex.quote(tools_dir())))
    conf = server_config_path(prefix)
    _merge_json(conf, {"ServerApp": {"terminado_settings": {"shell_command": [bash, "--rcfile", str(rc), "-i"]}}})
    return conf


def install_lab_settings(prefix: str | None = None) -> Path:
    """Merge kai-labs' JupyterLab overrides into the environment's overrides.json (other keys are kept),
    set up the course's terminals (install_terminal_settings) and the server's pre-save hook that keeps
    the course notebooks' metadata (keep_course_metadata)."""
    install_terminal_settings(prefix)
    _merge_json(server_config_path(prefix), {"ContentsManager": {"pre_save_hook": PRE_SAVE_HOOK}})
    path = lab_settings_path(prefix)
    _merge_json(path, LAB_OVERRIDES)
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
