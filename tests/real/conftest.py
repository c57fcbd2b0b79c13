"""The real-cluster code path, exercised against the embedded cluster dressed up as a foreign context.

``foreign`` copies the embedded cluster's kubeconfig with its context renamed to
``workshop-shared`` and its server spelled ``https://localhost:<port>``: to
kai-labs that is just some cluster, so it must be refused without an opt-in and,
with one, gets the client-Pod ``cluster.net``: every resolve and curl really
runs a busybox or curlimages/curl Pod in the cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.manifests import documents, service, web_deployment

FOREIGN = "workshop-shared"


@pytest.fixture(scope="session")
def foreign_kubeconfig(cluster, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("foreign") / "config"
    shutil.copy(cluster.kubeconfig, path)
    env = dict(os.environ, KUBECONFIG=str(path))
    subprocess.run(["kubectl", "config", "rename-context", cluster.context, FOREIGN], check=True, env=env,
                   capture_output=True)
    # the same API server under another name (its certificate covers localhost): nothing says "embedded" any more
    cfg = yaml.safe_load(path.read_text())
    for c in cfg["clusters"]:
        c["cluster"]["server"] = c["cluster"]["server"].replace("127.0.0.1", "localhost")
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="session")
def foreign(foreign_kubeconfig: Path) -> Iterator[object]:
    """A PodNet handle on the embedded cluster through the foreign-looking context (opted in)."""
    import kai_labs

    c = kai_labs.connect(FOREIGN, kubeconfig=foreign_kubeconfig, allow=True)
    assert not c.embedded
    yield c


def make_namespace(cluster, name: str, labelled: bool = True) -> None:  # type: ignore[no-untyped-def]
    labels = "  labels:\n    app.kubernetes.io/created-by: kai-labs\n" if labelled else ""
    cluster.kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n{labels}",
                    check=True)


WEB = documents(
    web_deployment(2, port_name="http"),
    service(port_name="http", target_port="http"),
    service("web-headless", cluster_ip="None", port=8080, port_name="http", target_port="http"),
    service("web-nodeport", type_="NodePort", target_port="http", node_port=30080),
    service("ghost", app="ghost"),
)
