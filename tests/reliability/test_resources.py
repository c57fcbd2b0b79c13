"""Thousands of objects, a hundred watches, a 50-Pod Deployment: RSS and file descriptors stay
bounded and come back; `cluster down` leaves no process or listening socket behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kai_labs.clusters import embedded as cl

from .conftest import env_int
from .rawapi import Raw, descendants, fd_count, rss_mib
from .reslib import create_objects, down_leaves_nothing, fds_settle, machines_up, settle, watch_round

OBJECTS = env_int("KAI_REL_OBJECTS", 3000)
NAME = "rel-res"


@pytest.fixture(scope="module")
def rc(kai_home: Path) -> Iterator[cl.Cluster]:
    c = cl.start(NAME, seed=3, set_env=False)
    yield c
    cl.down(NAME)


@pytest.fixture(scope="module")
def raw(rc: cl.Cluster) -> Raw:
    return Raw(cl.home_for(NAME))


def test_thousands_of_objects_and_a_hundred_watches(rc: cl.Cluster, raw: Raw) -> None:
    rc.kubectl("create", "namespace", "bulk", check=True)
    machines_up(raw.home)
    fd0 = fds_settle(raw.pid, 0, 1.0)  # steady: what the nodes' watches hold included
    took = create_objects(rc, "bulk", OBJECTS)
    t0 = time.monotonic()
    items = rc.core().list_namespaced_config_map("bulk", label_selector="bulk=yes").items
    list_s = time.monotonic() - t0
    assert len(items) == OBJECTS
    assert list_s < 10, f"listing {OBJECTS} ConfigMaps took {list_s:.1f}s"
    rss_objects = rss_mib(raw.pid)
    assert rss_objects < 400, f"RSS {rss_objects:.0f} MiB with {OBJECTS} objects"
    fd1 = fds_settle(raw.pid, fd0 + 10)
    assert fd1 <= fd0 + 10, f"fds grew from {fd0} to {fd1} after creating objects (took {took:.1f}s)"
    rv = rc.core().list_namespaced_config_map("bulk", limit=1).metadata.resource_version
    rss_rounds = []
    for _ in range(3):
        during, conns = watch_round(raw, "bulk", 100, rv)
        # counted on the API's TCP port: the fd total also moves with the node processes' own connections
        assert conns >= 100, f"100 open watches should hold 100 connections: {conns} ({during} fds)"
        after = fds_settle(raw.pid, fd1 + 10)
        assert after <= fd1 + 10, f"fds did not come back after closing 100 watches: {fd1} -> {after}"
        rss_rounds.append(rss_mib(raw.pid))
    assert rss_rounds[-1] - rss_rounds[0] < 30, f"RSS keeps growing across watch rounds: {rss_rounds}"
    assert raw.healthy()


def test_pod_servers_go_away_with_their_pods(rc: cl.Cluster, raw: Raw) -> None:
    rc.kubectl("create", "namespace", "fifty", check=True)
    nodes = descendants(raw.pid)

    def fds() -> int:  # the control plane's and the node processes'
        return sum(fd_count(p) for p in [raw.pid, *nodes])

    def pod_sockets() -> int:
        return sum(1 for p in (raw.home / "net").rglob("*") if p.is_socket())

    fd0 = fds()
    l0 = pod_sockets()
    r = rc.kubectl(
        "-n",
        "fifty",
        "create",
        "deployment",
        "big",
        "--replicas=50",
        "--image=registry.k8s.io/e2e-test-images/agnhost:2.53",
        "--",
        "/agnhost",
        "netexec",
        "--http-port=8080",
    )
    assert r.returncode == 0, r.stderr
    core = rc.core()

    def running() -> int:
        return sum(p.status.phase == "Running" for p in core.list_namespaced_pod("fifty").items)

    assert settle(lambda: running() == 50, 60), f"{running()} of 50 Pods running"
    up = fds()
    assert pod_sockets() >= l0 + 50, "each Pod's server listens on its own socket"
    rc.kubectl("-n", "fifty", "delete", "deployment", "big", check=True)
    assert settle(lambda: not core.list_namespaced_pod("fifty").items, 60), "Pods were not deleted"
    settle(lambda: fds() <= fd0 + 10, 15)
    after = fds()
    assert after <= fd0 + 10, f"fds {fd0} -> {up} with 50 Pods -> {after} after deleting them"
    assert pod_sockets() == l0, "a deleted Pod's server still listens"


def test_cluster_down_leaves_no_process_or_socket(rc: cl.Cluster) -> None:
    left = down_leaves_nothing(NAME)
    assert not left, left
