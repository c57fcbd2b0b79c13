"""R121: Service ClusterIPs come from kind's Service range, 10.96.0.0/16, as the Service IP allocator gives
them (pkg/registry/core/service/ipallocator: dynamic addresses above the static band first); kube-dns is
10.96.0.10; the kind cluster the course creates states the same ranges."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import yaml

from kai_labs.clusters import kind
from kai_labs.sim.registry.allocators import POD_CIDR, SERVICE_CIDR, Picks, service_range_offset
from kai_labs.sim.registry.generic import rt_of
from kai_labs.sim.runtime import Runtime

KIND_SERVICES = ipaddress.ip_network("10.96.0.0/16")


def test_R121_the_static_band_is_kubernetes_min_max_formula() -> None:
    # min(max(16, size/16), 256)
    assert service_range_offset(ipaddress.IPv4Network("10.96.0.0/16")) == 256
    assert service_range_offset(ipaddress.IPv4Network("10.96.0.0/24")) == 16
    assert service_range_offset(ipaddress.IPv4Network("10.96.0.0/20")) == 256
    assert service_range_offset(ipaddress.IPv4Network("10.96.0.0/22")) == 64
    assert service_range_offset(ipaddress.IPv4Network("10.96.0.0/29")) == 0


def test_R121_dynamic_cluster_ips_take_the_upper_band_first_then_the_lower() -> None:
    net = ipaddress.IPv4Network("10.96.0.0/24")  # 254 usable, static band .1-.16
    picks = Picks(5)
    used: set[str] = set()
    for i in range(254 - 16):
        ip = ipaddress.IPv4Address(picks.pick_service_ip(net, used, "ns", f"s{i}"))
        assert int(ip) - int(net.network_address) > 16, ip
        used.add(str(ip))
    rest = {picks.pick_service_ip(net, used | {f"10.96.0.{j}" for j in range(1, k)}, "ns", "x") for k in (1, 5)}
    assert rest <= {f"10.96.0.{j}" for j in range(1, 17)}


def test_R121_services_get_cluster_ips_in_10_96_0_0_16_and_kube_dns_is_10_96_0_10(tmp_path: Path) -> None:
    assert SERVICE_CIDR == KIND_SERVICES
    assert str(POD_CIDR) == "10.244.0.0/16"

    async def main() -> None:
        rt = Runtime(tmp_path, "h", 1)
        rt.bootstrap()
        dns = rt.store.peek("/services", "kube-system", "kube-dns")
        k8s = rt.store.peek("/services", "default", "kubernetes")
        assert dns is not None and k8s is not None
        assert dns["spec"]["clusterIP"] == "10.96.0.10"
        assert k8s["spec"]["clusterIP"] == "10.96.0.1"
        for i in range(40):
            svc = rt.api.create(rt_of("Service"), "default", {
                "metadata": {"name": f"web{i}"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
            ip = ipaddress.ip_address(svc["spec"]["clusterIP"])
            assert ip in KIND_SERVICES, ip
            assert int(ip) - int(KIND_SERVICES.network_address) > 256, f"{ip} is in the static band"

    asyncio.run(main())


def test_R121_the_kind_cluster_states_the_embedded_clusters_ranges() -> None:
    net = yaml.safe_load(kind.KIND_CONFIG.format(name="x"))["networking"]
    assert net["serviceSubnet"] == str(SERVICE_CIDR) == "10.96.0.0/16"
    assert net["podSubnet"] == str(POD_CIDR) == "10.244.0.0/16"
