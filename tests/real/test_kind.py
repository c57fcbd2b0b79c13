"""`kai-labs cluster up/down --kind` against stand-in `kind` and `docker` executables.

The stand-ins (shell scripts the test writes into a tmp dir, the only directory on
PATH) record their arguments, keep a list of clusters in a file, and fail on
demand (FAKE_FAIL=create|load|delete, FAKE_DOCKER_DOWN=1).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kai_labs import cli
from kai_labs.clusters import kind
from kai_labs.clusters.embedded import ClusterError

KIND = r"""#!/bin/sh
echo "kind $*" >> "$FAKE_LOG"
case "$1 $2" in
  "get clusters")
    if [ -s "$FAKE_CLUSTERS" ]; then /bin/cat "$FAKE_CLUSTERS"; else echo "No kind clusters found." >&2; fi ;;
  "create cluster")
    [ "$FAKE_FAIL" = create ] && { echo "ERROR: failed to create cluster: node(s) already exist" >&2; exit 1; }
    while [ $# -gt 0 ]; do
      case "$1" in --name) name="$2"; shift ;; --config) /bin/cat "$2" > "$FAKE_LOG.config" ;; esac; shift
    done
    echo "Creating cluster \"$name\" ..." >&2
    printf ' \342\234\223 Ensuring node image (kindest/node:v1.33.1) \360\237\226\274\n' >&2
    echo " ✓ Preparing nodes" >&2
    echo "Set kubectl context to \"kind-$name\""
    echo "$name" >> "$FAKE_CLUSTERS" ;;
  "delete cluster")
    [ "$FAKE_FAIL" = delete ] && exit 1
    echo "Deleting cluster \"$4\" ..." >&2
    /bin/grep -vx "$4" "$FAKE_CLUSTERS" > "$FAKE_CLUSTERS.new"; /bin/mv "$FAKE_CLUSTERS.new" "$FAKE_CLUSTERS" ;;
  "load docker-image")
    [ "$FAKE_FAIL" = load ] && { echo "ERROR: failed to load image: command \"docker save\" failed" >&2; exit 1; }
    echo "Image: \"$3\" with ID \"sha256:0\" not yet present on node \"x-worker\", loading..." >&2 ;;
  *) echo "unknown command $*" >&2; exit 2 ;;
esac
"""

DOCKER = r"""#!/bin/sh
echo "docker $*" >> "$FAKE_LOG"
case "$1" in
  info)
    if [ -n "$FAKE_DOCKER_DOWN" ]; then
      echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
      exit 1
    fi
    echo "Server Version: 28.2.2" ;;
  image) /bin/grep -qx "$3" "$FAKE_IMAGES" ;;
  pull) echo "$2" >> "$FAKE_IMAGES" ;;
  *) exit 2 ;;
esac
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name, text in (("kind", KIND), ("docker", DOCKER)):
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(0o755)
    log, clusters, images = tmp_path / "log", tmp_path / "clusters", tmp_path / "images"
    clusters.write_text("")
    images.write_text("registry.k8s.io/e2e-test-images/agnhost:2.53\ncurlimages/curl:8.11.1\nbusybox:1.36\n")
    monkeypatch.setenv("PATH", str(bin_))
    monkeypatch.delenv("KIND_EXPERIMENTAL_PROVIDER", raising=False)
    for k, v in (("FAKE_LOG", log), ("FAKE_CLUSTERS", clusters), ("FAKE_IMAGES", images)):
        monkeypatch.setenv(k, str(v))
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    monkeypatch.delenv("FAKE_DOCKER_DOWN", raising=False)

    class Fake:
        path = bin_

        def calls(self) -> list[str]:
            return log.read_text().splitlines() if log.exists() else []

        def config(self) -> str:
            return Path(str(log) + ".config").read_text()

        def clusters(self) -> list[str]:
            return clusters.read_text().split()

    return Fake()


def test_up_creates_three_nodes_and_loads_what_docker_has(fake) -> None:  # type: ignore[no-untyped-def]
    said: list[str] = []
    res = kind.up("course", say=said.append)
    assert res.created and res.context == "kind-course" and fake.clusters() == ["course"]
    create = next(c for c in fake.calls() if c.startswith("kind create cluster"))
    assert "--name course" in create and "--wait 120s" in create
    assert fake.config().count("- role: control-plane") == 1 and fake.config().count("- role: worker") == 2
    assert "name: course" in fake.config()
    loads = [c.split()[3] for c in fake.calls() if c.startswith("kind load docker-image")]
    assert loads == ["registry.k8s.io/e2e-test-images/agnhost:2.53", "curlimages/curl:8.11.1", "busybox:1.36"]
    assert all(c.endswith("--name course") for c in fake.calls() if c.startswith("kind load"))
    assert "hashicorp/http-echo:1.0" in res.missing and not any(c.startswith("docker pull") for c in fake.calls())
    assert any("Ensuring node image" in s for s in said)  # kind's progress is passed on
    assert any(s.startswith("  + busybox:1.36") for s in said)


def test_up_reuses_an_existing_cluster_and_pull_fills_docker(fake) -> None:  # type: ignore[no-untyped-def]
    kind.up("course", say=lambda s: None)
    before = len(fake.calls())
    res = kind.up("course", pull=True, say=lambda s: None)
    later = fake.calls()[before:]
    assert not res.created and not any("create cluster" in c for c in later)
    assert "docker pull hashicorp/http-echo:1.0" in later and res.missing == []
    assert len(res.loaded) == len(kind.COURSE_IMAGES)


def test_create_failure_is_one_clear_error(fake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FAKE_FAIL", "create")
    with pytest.raises(ClusterError, match=r"kind could not create cluster course \(exit code 1.*kai-labs cluster up"):
        kind.up("course", say=lambda s: None)
    assert not any(c.startswith("kind load") for c in fake.calls())


def test_a_failed_load_is_reported_not_fatal(fake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FAKE_FAIL", "load")
    said: list[str] = []
    res = kind.up("course", say=said.append)
    assert res.created and res.loaded == [] and "busybox:1.36" in res.missing
    assert any("kind load failed" in s for s in said)


def test_down_deletes_only_an_existing_cluster(fake) -> None:  # type: ignore[no-untyped-def]
    assert kind.down("course", say=lambda s: None) is False
    assert not any("delete" in c for c in fake.calls())
    kind.up("course", say=lambda s: None)
    assert kind.down("course", say=lambda s: None) is True
    assert "kind delete cluster --name course" in fake.calls() and fake.clusters() == []


def test_missing_kind(fake) -> None:  # type: ignore[no-untyped-def]
    (fake.path / "kind").unlink()
    with pytest.raises(ClusterError) as e:
        kind.up("course")
    assert "kind is not installed" in str(e.value) and "kind.sigs.k8s.io" in str(e.value)
    assert "embedded cluster needs neither Docker nor kind" in str(e.value)


def test_missing_docker(fake) -> None:  # type: ignore[no-untyped-def]
    (fake.path / "docker").unlink()
    with pytest.raises(ClusterError, match="Docker is not installed.*embedded cluster needs neither"):
        kind.up("course")


def test_docker_not_running(fake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FAKE_DOCKER_DOWN", "1")
    with pytest.raises(ClusterError, match="docker is installed but not running.*Cannot connect to the Docker daemon"):
        kind.up("course")
    assert not any(c.startswith("kind create") for c in fake.calls())


def test_cli_up_and_down(fake, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["cluster", "up", "--kind", "--name", "course"]) == 0
    out = capsys.readouterr().out
    assert "kind cluster course is up" in out and "context kind-course" in out and "KAI_LABS_CLUSTER=kind" in out
    assert cli.main(["cluster", "down", "--kind", "--name", "course"]) == 0
    assert "kind cluster course deleted" in capsys.readouterr().out
    (fake.path / "kind").unlink()
    assert cli.main(["cluster", "up", "--kind"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kai-labs: kind is not installed") and "Traceback" not in err


def test_start_with_kai_labs_cluster_kind_creates_missing_cluster(fake, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # no kind-course context in the kubeconfig and kind cannot create one: the learner is told why
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "empty-kubeconfig"))
    monkeypatch.setenv("KAI_LABS_CLUSTER", "kind")
    monkeypatch.setenv("FAKE_FAIL", "create")
    monkeypatch.setenv("PATH", str(fake.path) + os.pathsep + os.path.dirname(os.sys.executable))
    import kai_labs

    with pytest.raises(ClusterError, match="kind could not create cluster course"):
        kai_labs.start("course")
