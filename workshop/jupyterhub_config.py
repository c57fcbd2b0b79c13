"""JupyterHub for a workshop on one host: each learner is a Unix user with their own embedded cluster.

    sudo .venv/bin/jupyterhub -f workshop/jupyterhub_config.py        (README: "Running a workshop")

- Learners are local Unix users (`useradd -m alice`, a password with `passwd`), who log in with that
  password (PAM, JupyterHub's default). Their servers run as themselves (LocalProcessSpawner), so the hub
  must run as root; a learner can read nothing of another's (homes 0700: the course copy, the cluster's
  home ~/.kai-labs, its token and its Pods' Unix sockets).
- On first login the course's notebooks are copied into ~/kai-labs-course (never overwritten later: it
  is the learner's work). The first notebook cell, `kai_labs.start()`, starts the learner's own embedded
  cluster; it keeps running between sessions until `kai-labs cluster down` (or the host restarts).
- Everything comes from this checkout: the Python environment the hub runs in (its jupyterhub-singleuser,
  kubectl and kai-labs), and the proxy installed by `npm ci --prefix workshop`.

Settings by environment variable (for a test or a second hub on the same host):
  KAI_LABS_HUB_DIR    where the hub keeps its database, cookie secret and proxy token (default: workshop/.hub)
  KAI_LABS_HUB_PORT   the port learners open (default 8000), on KAI_LABS_HUB_IP (default: all addresses)
  KAI_LABS_HUB_USERS  comma-separated Unix users allowed in (default: any local user who can log in)
  KAI_LABS_HUB_ADMIN_TOKEN  an API token with the admin role (a service named kai-labs-admin): to create
                      learners' servers and tokens by script, as the workshop test does
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path
from typing import Any

c: Any = get_config()  # type: ignore[name-defined]  # noqa: F821 (JupyterHub's config loader provides it)

COURSE = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("KAI_LABS_HUB_DIR") or COURSE / "workshop" / ".hub")
STATE.mkdir(parents=True, exist_ok=True, mode=0o700)
COPIED = ("lessons", "exercises", "README.md")

c.JupyterHub.ip = os.environ.get("KAI_LABS_HUB_IP", "")
c.JupyterHub.port = int(os.environ.get("KAI_LABS_HUB_PORT", "8000"))
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
proxy = COURSE / "workshop" / "node_modules" / ".bin" / "configurable-http-proxy"
if proxy.exists():
    c.ConfigurableHTTPProxy.command = [str(proxy)]

users = [u.strip() for u in os.environ.get("KAI_LABS_HUB_USERS", "").split(",") if u.strip()]
if users:
    c.Authenticator.allowed_users = set(users)
else:
    c.Authenticator.allow_all = True  # any local user PAM lets in

token = os.environ.get("KAI_LABS_HUB_ADMIN_TOKEN")
if token:
    c.JupyterHub.services = [{"name": "kai-labs-admin", "api_token": token}]
    c.JupyterHub.load_roles = [{"name": "kai-labs-admin", "scopes": ["admin:users", "admin:servers", "tokens",
                                                                     "access:servers"],
                                "services": ["kai-labs-admin"]}]

c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~/kai-labs-course"
c.Spawner.default_url = "/lab/tree/lessons/01-pod-ips-are-not-an-interface.ipynb"
# this installation's kubectl and kai-labs first, as `make lab` and `cluster env` give them; the learner's
# cluster lives in their own home (KAI_LABS_HOME's default, ~/.kai-labs, 0700)
c.Spawner.environment = {"PATH": f"{BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin"}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def copy_course(spawner: Any) -> None:
    """The learner's own copy of the notebooks, made once, owned by them (their edits are theirs)."""
    user = pwd.getpwnam(spawner.user.name)
    dest = Path(user.pw_dir) / "kai-labs-course"
    if dest.exists():
        return
    dest.mkdir(mode=0o755)
    for name in COPIED:
        src = COURSE / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    for root, dirs, files in os.walk(dest):
        for n in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(n, user.pw_uid, user.pw_gid)
    os.chmod(user.pw_dir, 0o700)  # the learner's cluster home and course copy are theirs alone


c.Spawner.pre_spawn_hook = copy_course
