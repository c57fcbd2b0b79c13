"""``kai-labs cluster up --kind``: a kind cluster for the course, wrapping the ``kind`` CLI.

One control-plane and two workers (the embedded cluster's node names, so lessons
that name ``kai-labs-worker`` work on both), progress shown while kind works, the
images the scenarios use loaded from Docker when Docker already has them (no
pulls unless asked), and the context ``kind-<name>`` that ``kai_labs.start()``
uses with ``KAI_LABS_CLUSTER=kind``. Without Docker or kind, a message says what
to install, and that the embedded cluster needs neither.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .base import CURL_IMAGE, DNS_IMAGE, ClusterError

# Every image a lesson, exercise or scenario runs, as it is spelled there (a bare name means :latest).
COURSE_IMAGES = [
    "registry.k8s.io/e2e-test-images/agnhost:2.53",
    CURL_IMAGE,
    "curlimages/curl:latest",
    DNS_IMAGE,
    "busybox:latest",
    "hashicorp/http-echo:1.0",
    "nginx:latest",
]

# kube-proxy in nftables mode, as the embedded cluster states it (kube-system/kube-proxy): `kai-labs net rules`
# and the lessons then show the same rules and verdicts on both (kind >= 0.24: networking.kubeProxyMode).
KUBE_PROXY_MODE = "nftables"

# The Service and Pod ranges, stated although they are kind's defaults (kind pkg/apis/config/v1alpha4
# default.go: serviceSubnet 10.96.0.0/16, podSubnet 10.244.0.0/16): the embedded cluster uses the same two
# (kai_labs/sim/registry/allocators.py), so ClusterIPs, Pod IPs and kube-dns's 10.96.0.10 read alike on both
# even if kind's defaults move.
SERVICE_SUBNET = "10.96.0.0/16"
POD_SUBNET = "10.244.0.0/16"

KIND_CONFIG = f"""\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: {{name}}
networking:
  kubeProxyMode: "nftables"
  serviceSubnet: "{SERVICE_SUBNET}"
  podSubnet: "{POD_SUBNET}"
nodes:
- role: control-plane
- role: worker
- role: worker
"""

INSTALL_KIND = ("kind is not installed. Install it from https://kind.sigs.k8s.io/docs/user/quick-start/#installation "
                "(a single binary, e.g. `go install sigs.k8s.io/kind@latest`, `brew install kind`, or the release "
                "download); kind also needs Docker.")
INSTALL_DOCKER = ("Docker is not installed; kind runs its nodes as Docker containers. Install Docker Desktop or "
                  "Docker Engine (https://docs.docker.com/get-docker/), start it, and try again.")
EMBEDDED_TIP = "The embedded cluster needs neither Docker nor kind: `kai-labs cluster up`."

Say = Callable[[str], None]


def _say(text: str) -> None:
    print(text, flush=True)


@dataclass
class KindResult:
    name: str
    context: str
    created: bool
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _provider() -> str:
    """The container engine kind drives (kind's own switch: KIND_EXPERIMENTAL_PROVIDER=podman|nerdctl)."""
    return os.environ.get("KIND_EXPERIMENTAL_PROVIDER", "").strip() or "docker"


def _run(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ClusterError(f"{cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise ClusterError(f"`{' '.join(cmd)}` did not finish within {timeout:.0f}s") from None


def preflight() -> tuple[str, str]:
    """(kind path, container engine path), or a ClusterError saying what to install or start."""
    kind = shutil.which("kind")
    if not kind:
        raise ClusterError(f"{INSTALL_KIND} {EMBEDDED_TIP}")
    engine = _provider()
    exe = shutil.which(engine)
    if not exe:
        msg = INSTALL_DOCKER if engine == "docker" else f"{engine} is not installed (KIND_EXPERIMENTAL_PROVIDER)."
        raise ClusterError(f"{msg} {EMBEDDED_TIP}")
    r = _run([exe, "info"], timeout=30)
    if r.returncode != 0:
        last = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise ClusterError(f"{engine} is installed but not running ({engine} info: {last[0]}). Start Docker "
                           f"Desktop (or `sudo systemctl start docker`) and try again. {EMBEDDED_TIP}")
    return kind, exe


def clusters(kind: str | None = None) -> list[str]:
    kind = kind or shutil.which("kind") or "kind"
    r = _run([kind, "get", "clusters"], timeout=60)
    if r.returncode != 0:
        raise ClusterError(f"`kind get clusters` failed: {(r.stderr or r.stdout).strip()}")
    return [ln.strip() for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("No kind clusters")]


def _stream(cmd: list[str], say: Say, prefix: str = "  ") -> int:
    """Run ``cmd``, passing each line of its output on as progress; returns its exit code."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    for raw in proc.stdout:
        for line in raw.replace("\r", "\n").splitlines():
            line = line.rstrip()
            if line:
                say(prefix + line)
    return proc.wait()


def up(name: str = "kai-labs", *, pull: bool = False, node_image: str | None = None, say: Say = _say,
       wait: str = "120s") -> KindResult:
    """Create the kind cluster ``name`` (or reuse it) and load the course's images into it."""
    kind, engine = preflight()
    t0 = time.monotonic()
    created = False
    if name in clusters(kind):
        say(f"kind cluster {name} already exists; reusing it")
    else:
        say(f"creating kind cluster {name}: 1 control-plane and 2 worker nodes (this takes about a minute)")
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="kai-labs-kind-", delete=False) as f:
            f.write(KIND_CONFIG.format(name=name))
            config = f.name
        try:
            cmd = [kind, "create", "cluster", "--name", name, "--config", config, "--wait", wait]
            if node_image:
                cmd += ["--image", node_image]
            rc = _stream(cmd, say)
        finally:
            os.unlink(config)
        if rc != 0:
            raise ClusterError(f"kind could not create cluster {name} (exit code {rc}; its output is above). "
                               f"{EMBEDDED_TIP}")
        created = True
    res = KindResult(name, f"kind-{name}", created)
    say(f"loading the course's images into {name} (from {os.path.basename(engine)}; missing ones are pulled by the "
        f"nodes when first used)")
    for image in COURSE_IMAGES:
        have = _run([engine, "image", "inspect", image], timeout=60).returncode == 0
        if not have and pull:
            say(f"  pulling {image}")
            have = _run([engine, "pull", image], timeout=600).returncode == 0
        if not have:
            res.missing.append(image)
            say(f"  - {image}: not in {os.path.basename(engine)}, skipped")
            continue
        r = _run([kind, "load", "docker-image", image, "--name", name], timeout=600)
        if r.returncode != 0:
            res.missing.append(image)
            say(f"  ! {image}: kind load failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
        else:
            res.loaded.append(image)
            say(f"  + {image}")
    res.seconds = time.monotonic() - t0
    return res


def down(name: str = "kai-labs", say: Say = _say) -> bool:
    """Delete the kind cluster ``name``; False when there was none."""
    kind, _ = preflight()
    if name not in clusters(kind):
        return False
    rc = _stream([kind, "delete", "cluster", "--name", name], say)
    if rc != 0:
        raise ClusterError(f"kind could not delete cluster {name} (exit code {rc}; its output is above)")
    return True


# ---------------------------------------------------------------------------------------------- CLI

def cli_up(name: str, pull: bool = False) -> int:
    res = up(name, pull=pull)
    verb = f"is up ({res.seconds:.0f}s)" if res.created else "is running"
    print(f"kind cluster {name} {verb}: context {res.context}")
    if res.missing:
        print(f"images not preloaded (the nodes pull them when first used): {', '.join(res.missing)}"
              + ("" if pull else "; `--pull` pulls them into Docker first"))
    print("take the course on it:")
    print("  export KAI_LABS_CLUSTER=kind        # kai_labs.start() now returns this cluster")
    print(f"  kubectl --context {res.context} get nodes")
    return 0


def cli_down(name: str) -> int:
    if down(name):
        print(f"kind cluster {name} deleted")
    else:
        print(f"there is no kind cluster named {name}")
    return 0

