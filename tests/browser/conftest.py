"""JupyterLab in a real browser: the server, chromium (driven by Playwright) and helpers.

The server starts the way ``make lab`` starts it: ``python -m kai_labs.notebooks
install-lab-settings``, then ``jupyter lab --no-browser`` with a random token on a
free port, ``--allow-root`` when root, ``root_dir`` = the repository, ``PATH``
starting with the venv's bin and ``KAI_LABS_HOME`` a temporary directory (so the
kernels' ``kai_labs.start()`` starts a private cluster that is stopped at the end).

What a learner would not have: JupyterLab's user settings and workspaces live in
temporary directories, and autosave is off there, so running the course's
notebooks in the browser never writes their outputs back into the repository
(the server's log must show no "Saving file"; the ``.ipynb_checkpoints`` folders
JupyterLab makes when it opens a notebook are removed again).

Skips, with the reason, when Debian's chromium (``scripts/install-browser-deps.sh``)
or the ``playwright`` package is missing. Screenshots go to ``artifacts/browser/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = Path(os.environ.get("KAI_LABS_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "artifacts" / "browser"
VIEWPORT = {"width": 1366, "height": 768}  # a common laptop window

# generous: 2 slow cores, a cold JupyterLab, a kernel that starts a cluster
T_SERVER = 90.0  # seconds for `jupyter lab` to answer
T_UI = 60_000  # ms for the page, a notebook, the kernel to come up
T_RUN = 180_000  # ms for a whole notebook to run

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    url: str
    token: str
    env: dict[str, str]
    log: Path

    def api(self, method: str, path: str) -> Any:
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def open_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"


@pytest.fixture(scope="session")
def chromium() -> Path:
    # CI (.ci/run) sets KAI_LABS_REQUIRE_BROWSER=1: there a missing browser is a failure, not a skip
    missing = pytest.fail if os.environ.get("KAI_LABS_REQUIRE_BROWSER") == "1" else pytest.skip
    if not CHROMIUM.exists():
        missing(f"browser tests need Debian's chromium at {CHROMIUM}: run scripts/install-browser-deps.sh "
                "(apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing("browser tests need the `playwright` package: pip install playwright")
    return CHROMIUM


@pytest.fixture(scope="module")
def lab(chromium: Path, lab_server: Lab) -> Lab:
    """The JupyterLab server, for tests that open it in the browser."""
    return lab_server


@pytest.fixture(scope="module")
def lab_server() -> Iterator[Lab]:
    """A JupyterLab server on a free port with a random token; stopped (kernels, cluster, files) afterwards.

    Needs no browser: tests of the server's own APIs (terminals) use it directly."""
    tmp = Path(tempfile.mkdtemp(prefix="kai-labs-browser-"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    settings = tmp / "user-settings"
    # learner-invisible test settings: no autosave, so the repository's notebooks are never rewritten
    (settings / "@jupyterlab" / "docmanager-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(
        json.dumps({"autosave": False}))
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    env.pop("KAI_LABS_SEED", None)
    env.update(KAI_LABS_HOME=str(tmp / "home"), PATH=str(BIN) + os.pathsep + env.get("PATH", ""),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), PYDEVD_DISABLE_FILE_VALIDATION="1")
    subprocess.run([sys.executable, "-m", "kai_labs.notebooks", "install-lab-settings"], env=env, check=True,
                   capture_output=True, timeout=60)
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--ServerApp.token={token}", f"--ServerApp.root_dir={ROOT}", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = ARTIFACTS / "jupyterlab.log"
    checkpoints = {d: d.exists() for d in (ROOT / "lessons" / ".ipynb_checkpoints",
                                           ROOT / "exercises" / ".ipynb_checkpoints")}
    with log.open("wb") as logf:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
    the_lab = Lab(f"http://127.0.0.1:{port}", token, env, log)
    try:
        deadline = time.monotonic() + T_SERVER
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                the_lab.api("GET", "/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer within {T_SERVER:.0f}s:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield the_lab
    finally:
        try:  # kernels first (they own the cluster's clients), then the server, then the cluster
            for k in the_lab.api("GET", "/api/kernels") or []:
                the_lab.api("DELETE", f"/api/kernels/{k['id']}")
        except (OSError, urllib.error.URLError, ValueError):
            pass
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        subprocess.run([sys.executable, "-m", "kai_labs.cli", "cluster", "down"], env=env, capture_output=True,
                       check=False, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
        for d, existed in checkpoints.items():  # JupyterLab makes one when it opens a notebook
            if not existed:
                shutil.rmtree(d, ignore_errors=True)
    saved = [line for line in log.read_text(errors="replace").splitlines()
             if "Saving file at" in line and "Saving file at /artifacts/" not in line]  # test copies may be
    assert not saved, f"JupyterLab wrote files in the repository: {saved}"


# Module scope: Playwright's sync API keeps an asyncio loop running in this thread while it is open,
# and later tests that call asyncio.run() would fail if it outlived the browser tests.
@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="kai-labs-chromium-")
    with sync_playwright() as p:
        # a persistent context is the only way to give chromium a fresh --user-data-dir of our own
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT,
            device_scale_factor=1, color_scheme="light", timeout=T_UI)
        ctx.set_default_timeout(T_UI)
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Any, lab: Lab, request: pytest.FixtureRequest) -> Iterator[Any]:
    """One tab; console errors and page errors are collected in ``page.kai_errors``."""
    pg = browser.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.kai_errors = errors
    pg.kai_dialogs = []
    try:
        yield pg
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            shot(pg, f"{request.node.name}-FAILED")
        pg.close()
        (ARTIFACTS / f"{request.node.name}-console.log").write_text("\n".join(errors + pg.kai_dialogs) + "\n")
        for d in pg.kai_dialogs:
            warnings.warn(f"JupyterLab showed a dialog while opening a notebook: {d[:200]}", stacklevel=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def shot(page: Any, name: str, locator: Any = None) -> Path:
    """A screenshot under artifacts/browser/ (the whole window, or one element)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    (locator or page).screenshot(path=str(path))
    return path


# ---------------------------------------------------------------- notebook helpers


def open_notebook(page: Any, lab: Lab, notebook: str) -> Any:
    """Open a notebook in a fresh JupyterLab window and wait until its kernel has started and is idle.

    If JupyterLab asks which kernel to use, the default (Python 3) is taken and the
    dialog is recorded in ``page.kai_dialogs``."""
    page.goto(lab.open_url(notebook), wait_until="domcontentloaded")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").filter(has=page.locator(".jp-Notebook")).first
    panel.wait_for(state="visible")
    state = page.wait_for_function(
        """() => {
          if (document.querySelector('.jp-Dialog')) return 'dialog';
          const ind = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
          return ind && ind.dataset.status === 'idle' ? 'idle' : false;
        }""", timeout=T_UI, polling=100).json_value()
    if state == "dialog":
        page.kai_dialogs.append(page.locator(".jp-Dialog").first.text_content() or "")
        shot(page, "kernel-dialog")
        page.locator(".jp-Dialog .jp-mod-accept").click()
    # the server agrees: a kernel for this notebook, idle
    wait_for(lambda: any(s["path"] == notebook and s["kernel"] and s["kernel"]["execution_state"] == "idle"
                         for s in lab.api("GET", "/api/sessions")), T_UI / 1000, f"an idle kernel for {notebook}")
    wait_idle(page)
    return panel


def wait_idle(page: Any, timeout: float = T_UI) -> None:
    """The notebook's kernel reports idle (the toolbar's execution indicator)."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']") \
        .first.wait_for(state="attached", timeout=timeout)


# an exception as IPython shows it (not a command's stderr, such as kubectl's "Error from server")
ERROR_RE = r"Traceback \(most recent call last\)|Cell In\[\d+\], line \d+"

PROMPTS_JS = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  return Array.from(nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')).map(p => p.textContent.trim());
}"""


def run_all(page: Any, timeout: float = T_RUN) -> list[str]:
    """Run > Run All Cells, then wait until every code cell has an execution count and the kernel is idle.

    Returns the input prompts. Run All stops at the first error, so a cell left
    without a count is an error in an earlier cell."""
    wait_idle(page)
    menu(page, "Run", "Run All Cells")
    # every prompt "[n]:" (none "[*]:" or "[ ]:") and the kernel idle
    page.wait_for_function(
        """() => {
          const ERROR_RE = new RegExp(""" + json.dumps(ERROR_RE) + """, 'm');
          const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
          if (!nb) return false;
          const ind = nb.querySelector('.jp-Notebook-ExecutionIndicator');
          const prompts = Array.from(nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
            .map(p => p.textContent.trim());
          const errors = nb.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
          const tb = Array.from(errors).some(e => ERROR_RE.test(e.textContent));
          if (tb) return true;  // an exception: stop waiting, the caller reports it
          return ind && ind.dataset.status === 'idle' && prompts.length > 0
            && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
        }""", timeout=timeout, polling=250)
    return page.evaluate(PROMPTS_JS)


def error_outputs(page: Any) -> list[str]:
    """Texts of outputs that are exceptions (tracebacks), not plain stderr."""
    texts = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
        .map(e => e.textContent)""")
    return [t for t in texts if re.search(ERROR_RE, t, re.M)]


def menu(page: Any, top: str, label: str) -> None:
    """Click a top menu and then one of its items, both by their visible labels."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(top)}$")).first.click()
    item = page.locator(".lm-Menu .lm-Menu-item:not(.lm-mod-disabled)").filter(
        has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(label)}$"))).first
    item.wait_for(state="visible")
    item.click()


def submenu(page: Any, top: str, sub: str, label: str) -> None:
    """Top menu -> submenu -> item (for example Settings -> Theme -> JupyterLab Dark)."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(top)}$")).first.click()
    for name in (sub, label):
        item = page.locator(".lm-Menu .lm-Menu-item:not(.lm-mod-disabled)").filter(
            has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(name)}$"))).first
        item.wait_for(state="visible")
        item.hover() if name == sub else item.click()


def set_theme(page: Any, theme: str) -> None:
    """Settings -> Theme -> ``theme``; waits until JupyterLab has applied it."""
    if page.locator(f"body[data-jp-theme-name='{theme}']").count():
        return
    light = "true" if "Light" in theme else "false"
    submenu(page, "Settings", "Theme", theme)
    # the attributes change first; wait until the theme's stylesheet really paints the page
    page.wait_for_function(
        """([name, light]) => {
          const b = document.body;
          if (b.dataset.jpThemeName !== name || b.dataset.jpThemeLight !== light) return false;
          // the theme's variables are in place: resolve --jp-layout-color0 to rgb() on a probe element
          const probe = document.createElement('div');
          probe.style.color = 'var(--jp-layout-color0)';
          b.appendChild(probe);
          const rgb = (getComputedStyle(probe).color.match(/\\d+/g) || []).map(Number);
          probe.remove();
          const dark = rgb.length >= 3 && rgb[0] + rgb[1] + rgb[2] < 3 * 128;
          return dark === (light === 'false');
        }""", arg=[theme, light], timeout=T_UI, polling=100)


CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"


def cell(page: Any, index: int) -> Any:
    """The notebook's cell at ``index``, scrolled into view (so that its editor exists)."""
    c = page.locator(CELLS).nth(index)
    c.scroll_into_view_if_needed()
    c.locator(".cm-content").or_(c.locator(".jp-MarkdownOutput")).first.wait_for(state="visible")
    return c


def cell_index(notebook: str, text: str) -> int:
    """Index (markdown cells counted) of the first cell in the file on disk whose source contains ``text``.

    JupyterLab creates a cell's editor only when it scrolls into view, so cells are
    found by position, not by the text on screen."""
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    return next(i for i, c in enumerate(cells) if text in "".join(c["source"]))


def replace_source(page: Any, target: Any, source: str) -> None:
    """Put ``source`` into a cell's editor (select all, insert text: no auto-closing brackets to fight)."""
    target.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)


def run_cell(page: Any, target: Any, timeout: float = T_RUN) -> str:
    """Run one cell (Ctrl+Enter keeps it selected) and wait for its execution count; returns the prompt."""
    target.locator(".cm-content").click()
    before = target.locator(".jp-InputArea-prompt").text_content() or ""
    page.keyboard.press("Control+Enter")
    prompt = target.locator(".jp-InputArea-prompt")
    page.wait_for_function(
        "([el, before]) => /^\\[\\d+\\]:$/.test(el.textContent.trim()) && el.textContent.trim() !== before.trim()",
        arg=[prompt.element_handle(), before], timeout=timeout, polling=100)
    wait_idle(page, timeout)
    return (prompt.text_content() or "").strip()


def insert_cell_below(page: Any, target: Any, source: str) -> Any:
    """A new code cell after ``target`` holding ``source``; returns it."""
    target.locator(".jp-InputPrompt").click()  # select this cell
    page.keyboard.press("Escape")  # command mode
    page.keyboard.press("b")
    new = page.locator(f"{CELLS}.jp-mod-active")
    new.wait_for(state="visible")
    index = page.evaluate("([sel, el]) => Array.from(document.querySelectorAll(sel)).indexOf(el)",
                          [CELLS, new.element_handle()])
    new.locator(".cm-content").click()
    page.keyboard.insert_text(source)
    return page.locator(CELLS).nth(index)


def wait_for(cond: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)
