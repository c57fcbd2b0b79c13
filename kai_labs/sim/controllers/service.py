"""The service controller's load-balancer half (pkg/controller/service with a cloud provider).

Without a provider (kind's default) a LoadBalancer Service's EXTERNAL-IP stays <pending> (R51). A
pool in ConfigMap kube-system/kai-labs-lb-pool (``addresses: 172.18.255.200-172.18.255.250``) plays
cloud-provider-kind / MetalLB: the first free address of the range goes into status.loadBalancer.
"""

from __future__ import annotations

import ipaddress

from ..clientset import Client, Lister
from ..events import Recorder
from ..storage.store import Obj

LB_POOL = "kai-labs-lb-pool"
COMPONENT = "service-controller"


def pool_range(text: str) -> tuple[int, int, int] | None:
    """The ``first-last`` (or single) address range of the pool as (IP version, first, last) integers;
    None when it is not one: a malformed address, or ends of two IP families (which do not compare:
    ``10.0.0.1 <= fd00::1`` raises TypeError)."""
    try:
        lo, _, hi = text.partition("-")
        first, last = ipaddress.ip_address(lo.strip()), ipaddress.ip_address((hi or lo).strip())
    except ValueError:
        return None
    if first.version != last.version:
        return None
    return first.version, int(first), int(last)


class ServiceController:
    def __init__(self, lister: Lister, client: Client, recorder: Recorder) -> None:
        self.lister = lister
        self.client = client
        self.rec = recorder

    def sync(self, svc: Obj) -> None:
        """Allocate (or clear) the load-balancer ingress of ``svc`` (a copy, updated in place)."""
        ingress = (svc.get("status", {}).get("loadBalancer") or {}).get("ingress")
        is_lb = svc.get("spec", {}).get("type") == "LoadBalancer"
        pool = self.lister.peek("/configmaps", "kube-system", LB_POOL)
        rng = ((pool or {}).get("data") or {}).get("addresses", "")
        bounds = pool_range(rng)
        if not is_lb:
            # only a load balancer this controller made is cleaned up (upstream: needsCleanup needs the
            # service.kubernetes.io/load-balancer-cleanup finalizer the provider set); an ingress written
            # through services/status by someone else (the e2e status lifecycle test) stays
            if ingress and bounds is not None and all(_in_pool(i.get("ip"), bounds) for i in ingress):
                svc["status"] = {"loadBalancer": {}}
                self.client.update_status("Service", svc)
            return
        if ingress:
            return
        if bounds is None:
            return
        version, first, last = bounds
        used = {i.get("ip") for s in self.lister.scan("/services")
                for i in (s.get("status", {}).get("loadBalancer") or {}).get("ingress") or []}
        free = next((ip for ip in (str(_address(n, version)) for n in range(first, last + 1)) if ip not in used),
                    None)
        if free is None:
            self.rec.event(svc, "Warning", "AllocationFailed", f"no free address left in {rng}", COMPONENT)
            return
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": free, "ipMode": "VIP"}]}}
        self.client.update_status("Service", svc)
        self.rec.event(svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer", COMPONENT)


def _in_pool(ip: object, bounds: tuple[int, int, int]) -> bool:
    try:
        addr = ipaddress.ip_address(str(ip))
    except ValueError:
        return False
    return addr.version == bounds[0] and bounds[1] <= int(addr) <= bounds[2]


def _address(n: int, version: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.IPv4Address(n) if version == 4 else ipaddress.IPv6Address(n)
