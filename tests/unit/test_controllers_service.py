"""The service controller's load-balancer pool (R51): kai_labs/sim/controllers/service.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kai_labs.sim.clientset import Client, Lister
from kai_labs.sim.controllers.service import LB_POOL, ServiceController, pool_range
from kai_labs.sim.events import Recorder
from kai_labs.sim.registry.allocators import Ids
from kai_labs.sim.registry.generic import Api, rt_of
from kai_labs.sim.storage.store import Store


def test_pool_range_parses_one_family_only() -> None:
    assert pool_range("172.18.255.200-172.18.255.202") == (4, 0xAC12FFC8, 0xAC12FFCA)
    assert pool_range("172.18.255.200") == (4, 0xAC12FFC8, 0xAC12FFC8)
    assert pool_range("fd00::1-fd00::2") == (6, 0xFD000000000000000000000000000001, 0xFD000000000000000000000000000002)
    assert pool_range("") is None
    assert pool_range("not-an-address") is None
    # ends of two families do not compare (IPv4Address <= IPv6Address raises TypeError): not a range
    assert pool_range("172.18.255.200-fd00::5") is None
    assert pool_range("fd00::5-172.18.255.200") is None


@pytest.fixture
def cluster(tmp_path: Path) -> tuple[Api, ServiceController]:
    store = Store(tmp_path / "state.db")
    api = Api(store, Ids(store, 1), lambda: 1_700_000_000.0)
    for ns in ("default", "kube-system"):
        api.create(rt_of("Namespace"), "", {"metadata": {"name": ns}})
    return api, ServiceController(Lister(store), Client(api), Recorder(api))


def _lb(api: Api, name: str) -> dict[str, Any]:
    return api.create(rt_of("Service"), "default", {
        "metadata": {"name": name},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]}})


def _pool(api: Api, addresses: str) -> None:
    api.create(rt_of("ConfigMap"), "kube-system", {"metadata": {"name": LB_POOL}, "data": {"addresses": addresses}})


def _ingress(api: Api, name: str) -> Any:
    return api.get(rt_of("Service"), "default", name)["status"].get("loadBalancer", {}).get("ingress")


def test_R51_mixed_family_pool_leaves_the_service_pending(cluster: tuple[Api, ServiceController]) -> None:
    api, ctl = cluster
    _pool(api, "172.18.255.200-fd00::5")
    ctl.sync(_lb(api, "web"))  # raised TypeError before
    assert _ingress(api, "web") is None


def test_R51_pool_hands_out_free_addresses_then_reports_exhaustion(cluster: tuple[Api, ServiceController]) -> None:
    api, ctl = cluster
    _pool(api, "172.18.255.200-172.18.255.201")
    for name in ("a", "b", "c"):
        ctl.sync(_lb(api, name))
    assert _ingress(api, "a") == [{"ip": "172.18.255.200", "ipMode": "VIP"}]
    assert _ingress(api, "b") == [{"ip": "172.18.255.201", "ipMode": "VIP"}]
    assert _ingress(api, "c") is None
    reasons = {e["reason"] for e in api.list(rt_of("Event"), "default")}
    assert reasons == {"EnsuredLoadBalancer", "AllocationFailed"}


def test_R51_ipv6_pool(cluster: tuple[Api, ServiceController]) -> None:
    api, ctl = cluster
    _pool(api, "fd00::10-fd00::11")
    ctl.sync(_lb(api, "v6"))
    assert _ingress(api, "v6") == [{"ip": "fd00::10", "ipMode": "VIP"}]
