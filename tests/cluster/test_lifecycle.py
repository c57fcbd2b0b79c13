"""Starting and stopping clusters, from the command line and Python, with every mistake answered in one line."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kai_labs.clusters import embedded as cl
from tests.manifests import documents, service, web_deployment

pytestmark = pytest.mark.cluster

KAI = [sys.executable, "-m", "kai_labs.cli"]

APP = documents(web_deployment(3, namespace="demo", container="app", declare_port=False),
                service(namespace="demo", type_="NodePort"))


def kai(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KAI_LABS_HOME=str(home))
    return subprocess.run([*KAI, *args], capture_output=True, text=True, env=env, timeout=60)


def test_up_is_idempotent_and_down_twice_is_calm(tmp_path: Path) -> None:
    r = kai("cluster", "up", "--name", "lc", home=tmp_path)
    assert r.returncode == 0 and "cluster lc is up" in r.stdout
    kubeconfig = tmp_path / "lc" / "kubeconfig"
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "lc" / "token").stat().st_mode) == 0o600
    r2 = kai("cluster", "up", "--name", "lc", home=tmp_path)
    assert r2.returncode == 0 and "cluster lc is already running" in r2.stdout
    env = kai("cluster", "env", "--name", "lc", home=tmp_path)
    assert env.stdout.splitlines()[0] == f"export KUBECONFIG={kubeconfig}"
    assert kai("cluster", "status", "--name", "lc", home=tmp_path).returncode == 0
    assert "stopped" in kai("cluster", "down", "--name", "lc", home=tmp_path).stdout
    again = kai("cluster", "down", "--name", "lc", home=tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == "cluster lc is not running"
    st = kai("cluster", "status", "--name", "lc", home=tmp_path)
    assert st.returncode == 1 and "not running" in st.stdout


def test_a_cluster_whose_home_is_deleted_stops_instead_of_lingering(tmp_path: Path) -> None:
    """rm -rf of the home (a test's temp dir, a learner wiping ~/.kai-labs) must not leave an orphan process
    holding a port and a deleted database: the process notices within a few seconds and exits."""
    import shutil
    import time

    home = tmp_path / "gone"
    r = kai("cluster", "up", "--name", "lc", home=home)
    assert r.returncode == 0, r.stderr
    pid = json.loads((home / "lc" / "server.json").read_text())["pid"]
    shutil.rmtree(home)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        # an exited process not yet reaped still answers kill(0): count a zombie as gone
        status = Path(f"/proc/{pid}/status")
        if status.exists() and "\nState:\tZ" in status.read_text():
            break
        time.sleep(0.2)
    else:
        os.kill(pid, 9)
        pytest.fail("the cluster process outlived its deleted home by 10 s")


def test_the_log_says_who_stopped_the_cluster(tmp_path: Path) -> None:
    """`cluster down` and a stray kill both send SIGTERM; cluster.log tells them apart."""
    import signal
    import time

    log = tmp_path / "lc" / "cluster.log"
    assert kai("cluster", "up", "--name", "lc", home=tmp_path).returncode == 0
    assert kai("cluster", "down", "--name", "lc", home=tmp_path).returncode == 0
    assert "received SIGTERM from `kai-labs cluster down`" in log.read_text()
    assert kai("cluster", "up", "--name", "lc", home=tmp_path).returncode == 0
    pid = json.loads((tmp_path / "lc" / "server.json").read_text())["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while "another process (not `kai-labs cluster down`)" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "received SIGTERM from another process (not `kai-labs cluster down`)" in log.read_text()
    kai("cluster", "down", "--name", "lc", home=tmp_path)


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = kai("cluster", "up", "--name", "busy", "--port", str(port), home=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip() == f"kai-labs: port {port} on 127.0.0.1 is already in use; choose another with --port"
    assert "Traceback" not in r.stderr


def test_stale_pid_file_is_ignored(tmp_path: Path) -> None:
    home = tmp_path / "stale"
    home.mkdir(mode=0o700)  # a home open to others is refused (test_home_private.py); a stale server.json is not
    (home / "server.json").write_text(json.dumps({"pid": 999999, "port": 1}))
    r = kai("cluster", "up", "--name", "stale", home=tmp_path)
    assert r.returncode == 0, r.stderr
    kai("cluster", "down", "--name", "stale", home=tmp_path)


def test_net_and_env_without_a_cluster_say_how_to_start_one(tmp_path: Path) -> None:
    for args in (("net", "curl", "http://web"), ("cluster", "env")):
        r = kai(*args, home=tmp_path)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert "kai-labs cluster up" in r.stderr


def test_restart_keeps_objects_and_the_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAI_LABS_HOME", str(tmp_path))
    c = cl.start("keep", seed=3, set_env=False)
    c.kubectl("create", "namespace", "demo", check=True)
    c.kubectl("apply", "-f", "-", input=APP, check=True)
    before = json.loads(c.kubectl("-n", "demo", "get", "svc", "web", "-o", "json").stdout)
    assert cl.down("keep")
    c2 = cl.start("keep", set_env=False)
    after = json.loads(c2.kubectl("-n", "demo", "get", "svc", "web", "-o", "json").stdout)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["spec"]["clusterIP"] == before["spec"]["clusterIP"]
    cl.down("keep")



def test_up_replaces_pre_fix_certificates_and_the_kubeconfig_carries_the_new_ca(tmp_path: Path) -> None:
    """Homes made before the X.509-strict fix hold a CA without a Subject Key Identifier and a serving certificate
    without an Authority Key Identifier: Python 3.13's default SSL context rejected them and `cluster up` never
    became ready. `up` regenerates them, and the kubeconfig it writes carries the new CA (checked strictly here,
    so on every Python)."""
    import base64
    import ssl
    import urllib.request

    from kai_labs.sim.__main__ import kubeconfig_text
    from tests.unit.test_tls import write_old_style_certs

    home = tmp_path / "lc"
    write_old_style_certs(home)
    home.chmod(0o700)  # a home open to others is refused (test_home_private.py)
    old_ca = (home / "ca.crt").read_bytes()
    (home / "kubeconfig").write_text(kubeconfig_text("lc", 1, "old-token", old_ca))
    r = kai("cluster", "up", "--name", "lc", home=tmp_path)
    try:
        assert r.returncode == 0 and "cluster lc is up" in r.stdout, r.stdout + r.stderr
        new_ca = (home / "ca.crt").read_bytes()
        assert new_ca != old_ca
        for f in ("ca.crt", "server.crt", "server.key", "kubeconfig"):
            assert stat.S_IMODE((home / f).stat().st_mode) == 0o600, f
        kc = json.loads((home / "kubeconfig").read_text())
        cluster = kc["clusters"][0]["cluster"]
        assert base64.b64decode(cluster["certificate-authority-data"]) == new_ca
        ctx = ssl.create_default_context(cadata=new_ca.decode())
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
        with urllib.request.urlopen(cluster["server"] + "/readyz", context=ctx, timeout=5) as resp:  # noqa: S310
            assert resp.status == 200
    finally:
        kai("cluster", "down", "--name", "lc", home=tmp_path)

def _fingerprint(home: Path, name: str) -> dict[str, object]:
    os.environ["KAI_LABS_HOME"] = str(home)
    c = cl.start(name, seed=42, set_env=False)
    c.kubectl("create", "namespace", "demo", check=True)
    c.kubectl("apply", "-f", "-", input=APP, check=True)
    c.kubectl("-n", "demo", "rollout", "status", "deployment/web", "--timeout=20s", check=True)
    pods = json.loads(c.kubectl("-n", "demo", "get", "pods", "-o", "json").stdout)["items"]
    svc = json.loads(c.kubectl("-n", "demo", "get", "svc", "web", "-o", "json").stdout)
    cl.down(name)
    return {"pods": sorted((p["metadata"]["name"], p["metadata"]["uid"], p["status"]["podIP"],
                            p["spec"]["nodeName"]) for p in pods),
            "svc": (svc["metadata"]["uid"], svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"])}


def test_same_seed_same_calls_same_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAI_LABS_HOME", str(tmp_path))
    a = _fingerprint(tmp_path / "a", "det")
    b = _fingerprint(tmp_path / "b", "det")
    assert a == b
    assert len(a["pods"]) == 3  # type: ignore[arg-type]


# ------------------------------------------------- running means: the pid in the home holds the home's lock


def _pid_of(home: Path) -> int:
    return int(json.loads((home / "server.json").read_text())["pid"])


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie not yet reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _sim_processes(home: Path) -> list[int]:
    """The live `python -m kai_labs.sim --home HOME` processes (Linux /proc), whoever started them."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kai_labs.sim" in argv and str(home).encode() in argv and not _gone(int(entry)):
            found.append(int(entry))
    return found


def test_a_hung_cluster_is_running_but_not_answering_and_down_stops_it(tmp_path: Path) -> None:
    """A cluster whose API does not answer (here: SIGSTOPped) is still running: `status` says so (exit 3), `env`
    still points at it, `down` stops it (SIGTERM, then SIGKILL after the grace) and `up` afterwards starts a new
    one. The old CLI called it "not running" and `down` left it alive."""
    import signal
    import time

    home = tmp_path / "lc"
    assert kai("cluster", "up", "--name", "lc", home=tmp_path).returncode == 0
    pid = _pid_of(home)
    os.kill(pid, signal.SIGSTOP)
    try:
        st = kai("cluster", "status", "--name", "lc", home=tmp_path)
        assert st.returncode == 3, st.stdout + st.stderr
        assert "running but not answering" in st.stdout and f"pid {pid}" in st.stdout, st.stdout
        assert "kai-labs cluster down" in st.stdout
        js = json.loads(kai("cluster", "status", "--name", "lc", "--json", home=tmp_path).stdout)
        assert (js["state"], js["running"], js["pid"]) == ("not answering", True, pid)
        env = kai("cluster", "env", "--name", "lc", home=tmp_path)
        assert env.returncode == 0 and env.stdout.startswith("export KUBECONFIG="), env.stderr
        assert (home / "server.json").exists()
        t0 = time.monotonic()
        dn = kai("cluster", "down", "--name", "lc", "--grace", "2", home=tmp_path)
        took = time.monotonic() - t0
        assert dn.returncode == 0, dn.stderr
        assert "did not stop within 2s of SIGTERM" in dn.stdout and "SIGKILL" in dn.stdout, dn.stdout
        assert took >= 2, f"down killed without waiting the grace ({took:.1f}s)"
        assert _gone(pid), "the hung cluster process outlived `cluster down`"
        assert not (home / "server.json").exists()
        st = kai("cluster", "status", "--name", "lc", home=tmp_path)
        assert st.returncode == 1 and "not running" in st.stdout
    finally:
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)
    again = kai("cluster", "up", "--name", "lc", home=tmp_path)
    try:
        assert again.returncode == 0 and "cluster lc is up" in again.stdout, again.stdout + again.stderr
        assert kai("cluster", "status", "--name", "lc", home=tmp_path).returncode == 0
    finally:
        kai("cluster", "down", "--name", "lc", home=tmp_path)


def test_up_under_load_never_deletes_a_live_clusters_server_json(tmp_path: Path) -> None:
    """Under load the readiness probe can time out (simulated: the process is stopped for a few seconds). `up`
    then waits for the live cluster instead of deleting its server.json and starting a second one; once it
    answers, `up` reports it as already running. The old `up` deleted server.json at once, after which every
    command called the cluster "not running" while kubectl kept working."""
    import signal
    import time

    home = tmp_path / "lc"
    assert kai("cluster", "up", "--name", "lc", home=tmp_path).returncode == 0
    info = (home / "server.json").read_text()
    pid = _pid_of(home)
    os.kill(pid, signal.SIGSTOP)
    try:
        env = dict(os.environ, KAI_LABS_HOME=str(tmp_path))
        p = subprocess.Popen([*KAI, "cluster", "up", "--name", "lc"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(3)
        assert (home / "server.json").exists(), "`up` deleted the server.json of a live cluster"
        assert (home / "server.json").read_text() == info
        assert p.poll() is None, f"`up` gave up on a live cluster after 3 s: {p.communicate()}"
        assert _sim_processes(home) == [pid], "`up` started a second cluster process on the same home"
    finally:
        os.kill(pid, signal.SIGCONT)
    out, err = p.communicate(timeout=60)
    try:
        assert p.returncode == 0, err
        assert "cluster lc is already running" in out and f"(pid {pid})" in out, out
        assert (home / "server.json").read_text() == info
        assert kai("cluster", "status", "--name", "lc", home=tmp_path).returncode == 0
    finally:
        kai("cluster", "down", "--name", "lc", home=tmp_path)


def test_up_never_leaves_a_hung_child_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster process that never becomes ready (here: one that hangs at start and ignores SIGTERM, through a
    sitecustomize on PYTHONPATH) is killed when `up` gives up, and the error says so with the log's last lines.
    The old `up` sent SIGTERM and walked away, leaving the process behind."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import signal, sys, time\n"
        "if 'kai_labs.sim' in getattr(sys, 'orig_argv', sys.argv):\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "    print('hanging at start on purpose (test)', flush=True)\n"
        "    while True:\n"
        "        time.sleep(1)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("KAI_LABS_HOME", str(tmp_path / "homes"))
    home = tmp_path / "homes" / "hung"
    try:
        with pytest.raises(cl.ClusterError) as e:
            cl.up("hung", timeout=3)
        msg = str(e.value)
        assert "did not answer within 3s" in msg and "stopped" in msg, msg
        assert "hanging at start on purpose (test)" in msg, f"the log's last lines are missing: {msg}"
        assert _sim_processes(home) == [], "`up` left its hung cluster process behind"
    finally:
        for pid in _sim_processes(home):
            os.kill(pid, 9)


def test_two_ups_at_once_start_one_cluster(tmp_path: Path) -> None:
    """Two `cluster up` on one home at the same moment (two terminals, a notebook and a shell): one cluster
    process wins the home's lock, the other `up` waits for it and reports the same pid; both succeed. The old
    `up` failed the loser with "already running" after deleting the winner's files."""
    env = dict(os.environ, KAI_LABS_HOME=str(tmp_path))
    procs = [subprocess.Popen([*KAI, "cluster", "up", "--name", "lc"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=90) for p in procs]
    try:
        assert [p.returncode for p in procs] == [0, 0], outs
        pid = _pid_of(tmp_path / "lc")
        assert all(f"(pid {pid})" in out for out, _ in outs), outs
        assert _sim_processes(tmp_path / "lc") == [pid]
    finally:
        kai("cluster", "down", "--name", "lc", home=tmp_path)


def test_up_that_cannot_write_its_kubeconfig_says_so_and_leaves_no_process(tmp_path: Path) -> None:
    """A write that fails once the API serves (a full disk, a file in the way) used to leave the process
    waiting forever on its half-started node zygote; `up` gave up after 60 s and killed it."""
    import time

    assert kai("cluster", "up", "--name", "lc", home=tmp_path).returncode == 0
    assert kai("cluster", "down", "--name", "lc", home=tmp_path).returncode == 0
    (tmp_path / "lc" / "kubeconfig.tmp").mkdir()  # write_private's temporary file cannot be created
    t = time.monotonic()
    r = kai("cluster", "up", "--name", "lc", home=tmp_path)
    took = time.monotonic() - t
    assert r.returncode != 0
    assert f"cannot write {tmp_path / 'lc' / 'kubeconfig.tmp'}: Is a directory" in r.stderr, r.stderr
    assert "did not answer" not in r.stderr and "Traceback" not in r.stderr
    assert took < 30, took  # the orderly stop, not up's 60 s patience
    st = kai("cluster", "status", "--name", "lc", home=tmp_path)
    assert st.returncode == 1 and "not running" in st.stdout
    leftover = subprocess.run(["pgrep", "-f", f"--home {tmp_path / 'lc'}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", leftover.stdout


def test_down_right_after_up_stops_the_nodes_that_are_still_starting(tmp_path: Path) -> None:
    """A node told to stop while it starts (or while it is forked) stops then, not after the grace and a
    KILL: no node log says "ready" after the control plane logged the TERM."""
    assert kai("cluster", "up", "--name", "lc", home=tmp_path).returncode == 0
    assert kai("cluster", "down", "--name", "lc", home=tmp_path).returncode == 0
    log = (tmp_path / "lc" / "cluster.log").read_text().splitlines()
    term = [ln[:23] for ln in log if "received SIGTERM" in ln][-1]
    for f in (tmp_path / "lc" / "nodes").glob("lc-*.log"):
        late = [ln for ln in f.read_text().splitlines() if " ready" in ln and ln[:23] > term]
        assert late == [], (f.name, late)
