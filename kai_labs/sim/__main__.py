"""The embedded cluster's process: ``python -m kai_labs.sim --home DIR``.

Started in the background by ``kai-labs cluster up`` (kai_labs/clusters/embedded.py);
holds ``<home>/lock`` (an exclusive flock, with its pid written in the file) for
its whole life, which is what "running" means to the CLI; binds 127.0.0.1 only,
writes the kubeconfig and ``server.json`` once the API answers, and stops cleanly
on SIGTERM. The home must be the user's own with mode 0700 and the token a private
file (issue 13): anything else is refused with one sentence.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import signal
import socket
import stat
import sys
import threading
import time
from pathlib import Path

from aiohttp import web

from .apimachinery import errors, schema
from .apiserver import serving, tls
from .apiserver.server import ApiServer
from .runtime import Runtime
from .storage.store import StoreError

STOP_NOTE = "stop-request"  # written by `cluster down` just before it sends SIGTERM


def kubeconfig_text(name: str, port: int, token: str, ca_pem: bytes) -> str:
    ctx = name
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": ctx, "preferences": {},
        "clusters": [{"name": ctx, "cluster": {"server": f"https://127.0.0.1:{port}",
                                               "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": ctx, "user": {"token": token}}],
        "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": ctx, "namespace": "default"}}],
    }, indent=2) + "\n"


# Exit codes `kai-labs cluster up` acts on (kai_labs/clusters/embedded.py keeps the same numbers).
RC_ALREADY_RUNNING = 2
RC_NOT_PRIVATE = 4


class NotPrivate(Exception):
    """The home or the token is not the user's own and private: one sentence saying how to fix it."""


def check_home(home: Path) -> None:
    """The home holds the token, the CA key and the kubeconfig: it must be ours, mode 0700 (kai-labs cluster up
    checks KAI_LABS_HOME above it too; this guards a direct ``python -m kai_labs.sim --home``)."""
    st = os.stat(home)
    if st.st_uid != os.geteuid():
        raise NotPrivate(f"{home} belongs to another user (uid {st.st_uid}), and a cluster home holds the cluster's "
                         f"token and keys: use a directory of your own")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise NotPrivate(f"{home} is open to other users (mode {mode:04o}) and holds the cluster's token and keys: "
                         f"make it private with `chmod 700 {home}`")


def take_lock(home: Path, wait: float = 1.0) -> int | None:
    """Take the home's lock for the life of this process and write our pid into it; None if another process holds
    it. "Running" means exactly this for `kai-labs cluster status/down/up`, which probe the lock with a shared
    flock for an instant: retrying for ``wait`` seconds keeps such a probe from failing a start."""
    fd = os.open(home / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.02)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o600)  # a lock file made by an older version was 0644
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd  # never closed: the kernel releases the lock when this process ends, however it ends


def load_or_make_token(path: Path) -> str:
    """The API token: a new one is created with O_CREAT|O_EXCL, mode 0600 (never through a symbolic link, never
    over a file someone planted meanwhile); an existing one is used only when it is ours, a regular file, and
    neither group- nor world-accessible. A token another user could plant or read is refused."""
    fix = "delete it and `kai-labs cluster up` makes a new one"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotPrivate(f"{path} is a symbolic link, which kai-labs never follows for the cluster's "
                             f"secrets: {fix}") from None
        raise NotPrivate(f"cannot read {path} ({e.strerror}): {fix}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode):
            raise NotPrivate(f"{path} is not a regular file: {fix}")
        if st.st_uid != os.geteuid():
            raise NotPrivate(f"{path} belongs to another user (uid {st.st_uid}), so it may have been planted: {fix}")
        if mode & 0o077:
            raise NotPrivate(f"{path} is open to other users (mode {mode:04o}), so its secret may be known to "
                             f"them: {fix}")
        token = f.read(4096).decode("ascii", "replace").strip()
    if not token or not token.isprintable() or " " in token:
        raise NotPrivate(f"{path} does not hold a usable token: {fix}")
    return token


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


async def serve(home: Path, name: str, seed: int | None, port: int | None) -> int:
    token = load_or_make_token(home / "token")
    info_file = home / "server.json"
    with contextlib.suppress(FileNotFoundError):
        (home / STOP_NOTE).unlink()  # a note left by a `down` that had to SIGKILL us
    if port is None:
        port = 0
        with contextlib.suppress(OSError, ValueError, KeyError):
            prev = int(json.loads(info_file.read_text())["port"])
            if _port_free(prev):
                port = prev
    rt = Runtime(home, name, seed)
    server = ApiServer(rt, token)
    runner = serving.make_runner(server.app)
    await runner.setup()
    ssl_ctx = tls.server_context(home)
    site = serving.TLSSite(runner, "127.0.0.1", port, ssl_ctx)  # bounded TLS handshakes (serving.py)
    try:
        await site.start()
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            print(f"kai-labs: port {port} on 127.0.0.1 is already in use; choose another with --port",
                  file=sys.stderr)
            await runner.cleanup()
            return 3
        raise
    bound = site.port
    server.address = f"127.0.0.1:{bound}"
    # the node processes' zygote, once we own the port: its imports overlap the rest of our start
    zygote = asyncio.ensure_future(rt.machines.prepare())
    # the loopback socket: the cluster's own node processes reach the API here (with the token, as on TCP),
    # as kube-apiserver's own components use its loopback client; a Unix socket in the 0700 home, no TLS
    loopback = rt.loopback_path()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(loopback)
    await web.UnixSite(runner, loopback).start()
    rt.start()
    # the node machines, once the API they watch serves; they come up while we report ready, as kind's
    # workers join after its control plane answers
    rt.start_nodes_soon(zygote)
    threading.Thread(target=_preload, daemon=True).start()
    try:
        tls.write_private(home / "kubeconfig", kubeconfig_text(name, bound, token, (home / "ca.crt").read_bytes()))
        tls.write_private(info_file, json.dumps({"pid": os.getpid(), "port": bound, "name": name,
                                              "seed": rt.ids.seed}) + "\n")
    except OSError:
        # a full disk (or a file in the way): stop what started, in order, before saying so (main); left to
        # asyncio.run's cancellation, the zygote's half-made process kept this process alive
        await rt.stop_nodes()
        await runner.cleanup()
        await rt.stop()
        raise
    logging.getLogger("kai_labs").info("cluster %s serving on 127.0.0.1:%s", name, bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _l, ctx: logging.getLogger("kai_labs").error(
        "unhandled in the event loop: %s", ctx.get("message"), exc_info=ctx.get("exception")))
    def on_signal(sig: signal.Signals) -> None:
        # say who stopped us: a stray `pkill` and `cluster down` look alike otherwise (both send SIGTERM);
        # `cluster down` leaves a note first (kai_labs.clusters.embedded.down)
        who = "another process (not `kai-labs cluster down`)"
        with contextlib.suppress(OSError, ValueError, KeyError):
            note = json.loads((home / STOP_NOTE).read_text())
            who = f"`kai-labs cluster down` (pid {int(note['pid'])})"
        with contextlib.suppress(OSError):
            (home / STOP_NOTE).unlink()
        logging.getLogger("kai_labs").info("received %s from %s: stopping", sig.name, who)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    watchdog = asyncio.create_task(_exit_when_home_goes(home, stop))
    await stop.wait()
    watchdog.cancel()
    await rt.stop_nodes()  # first: their watches end before the API's connections are cut
    await runner.cleanup()
    await rt.stop()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(info_file)
    logging.getLogger("kai_labs").info("cluster %s stopped", name)
    return 0


async def _exit_when_home_goes(home: Path, stop: asyncio.Event, every: float = 2.0) -> None:
    """Stop when the cluster's home is deleted (or replaced): nothing could reach or stop us any more.

    A test's temp dir removed without `cluster down`, or a learner wiping ~/.kai-labs by hand, used to
    leave an orphan process holding a port and a deleted database.
    """
    ino = os.stat(home).st_ino
    while not stop.is_set():
        await asyncio.sleep(every)
        try:
            same = os.stat(home).st_ino == ino
        except OSError:
            same = False
        if not same:
            logging.getLogger("kai_labs").warning("the cluster home %s is gone: stopping", home)
            stop.set()


RC_STORE = 5  # the store is damaged, lost writes, or has no room to start


def store_sentence(e: StoreError | errors.DiskFull, name: str) -> str:
    """What to print when the store refuses to start: what is wrong, and the way out (a damaged store or a
    lost write-ahead log: `cluster reset`, which starts a new, empty cluster; a full disk: free space)."""
    if isinstance(e, StoreError) and e.reset:
        flag = "" if name == "kai-labs" else f" --name {name}"
        return f"{e}; `kai-labs cluster reset{flag}` starts the cluster afresh (its objects are lost)"
    return str(e)


def _preload() -> None:
    schema.preload()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kai_labs.sim")
    p.add_argument("--home", required=True)
    p.add_argument("--name", default="kai-labs")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--port", type=int, default=None)
    a = p.parse_args(argv)
    home = Path(a.home)
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        check_home(home)
    except NotPrivate as e:
        print(f"kai-labs: {e}", file=sys.stderr)
        return RC_NOT_PRIVATE
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if take_lock(home) is None:
        print(f"kai-labs: cluster {a.name} is already running from {home}", file=sys.stderr)
        return RC_ALREADY_RUNNING
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    except (ImportError, ValueError, OSError):
        pass
    import faulthandler

    faulthandler.enable()  # a fatal signal leaves its traceback in cluster.log
    try:
        return asyncio.run(serve(home, a.name, a.seed, a.port))
    except (StoreError, errors.DiskFull) as e:  # the store cannot start as it is: one sentence, no traceback
        print(f"kai-labs: {store_sentence(e, a.name)}", file=sys.stderr)
        return RC_STORE
    except OSError as e:  # a file of the home could not be written: one sentence too
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            print(f"kai-labs: {errors.disk_full(str(home)).message}", file=sys.stderr)
        else:
            print(f"kai-labs: cannot write {e.filename or home}: {e.strerror or e}", file=sys.stderr)
        return RC_STORE
    except NotPrivate as e:
        print(f"kai-labs: {e}", file=sys.stderr)
        return RC_NOT_PRIVATE
    except BaseException:
        logging.getLogger("kai_labs").exception("the cluster process is stopping on an error")
        raise


if __name__ == "__main__":
    sys.exit(main())
