"""Grading helpers without a cluster.

Snapshot.settled(): a grade waits until EndpointSlices agree with the Pods, readiness included.

The EndpointSlice controller publishes each endpoint's ready condition from the Pod's Ready condition (or
true with publishNotReadyAddresses), and it lags the Pod status on any cluster
(pkg/controller/endpointslice/reconciler.go via endpointutil.ShouldPodBeInEndpoints / podToEndpoint).
A grade that reads the lag as the answer says "Not yet" to a correct fix; CI caught that once.
"""

from __future__ import annotations

from typing import Any

from kai_labs.labs.kube import SERVICE_NAME_LABEL, Snapshot

LONG_AGO = "2020-01-01T00:00:00Z"


def pod(name: str, ready: bool) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running", "podIP": "10.244.0.5",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [{"state": {"running": {"startedAt": LONG_AGO}}}]}}


def svc(publish: bool = False) -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "publishNotReadyAddresses": publish}}


def sl(*eps: tuple[str, bool]) -> dict[str, Any]:
    return {"metadata": {"name": "web-abc", "labels": {SERVICE_NAME_LABEL: "web"}},
            "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": r}, "targetRef": {"name": n}}
                          for n, r in eps]}


def settled(service: dict[str, Any], pods: list[dict[str, Any]], slice_: dict[str, Any]) -> tuple[bool, str]:
    return Snapshot("ns", True, services=[service], pods=pods, slices=[slice_]).settled(now=2e9)


def test_a_slice_that_still_says_not_ready_for_a_ready_pod_is_catching_up() -> None:
    ok, why = settled(svc(), [pod("web-1", True)], sl(("web-1", False)))
    assert not ok and "catching up" in why


def test_a_slice_that_agrees_with_the_pods_is_settled() -> None:
    assert settled(svc(), [pod("web-1", True), pod("web-2", False)], sl(("web-1", True), ("web-2", False))) == \
        (True, "settled")


def test_a_slice_missing_a_pod_is_catching_up() -> None:
    ok, why = settled(svc(), [pod("web-1", True), pod("web-2", True)], sl(("web-1", True)))
    assert not ok and "catching up" in why


def test_publish_not_ready_addresses_means_the_slice_says_ready_for_an_unready_pod() -> None:
    assert settled(svc(publish=True), [pod("web-1", False)], sl(("web-1", True)))[0]
    assert not settled(svc(publish=True), [pod("web-1", False)], sl(("web-1", False)))[0]


def test_service_fqdn_follows_the_pod_search_path() -> None:
    from kai_labs.labs.checks import service_fqdn

    assert service_fqdn("web", "front") == "web.front.svc.cluster.local"
    assert service_fqdn("web.back", "front") == "web.back.svc.cluster.local"
    assert service_fqdn("web.back.svc", "front") == "web.back.svc.cluster.local"
    assert service_fqdn("WEB.back.svc.cluster.local.", "front") == "web.back.svc.cluster.local"
    assert service_fqdn("10-244-1-5.web.back.svc.cluster.local", "front") == "10-244-1-5.web.back.svc.cluster.local"
    assert service_fqdn("example.com.x", "front") == "example.com.x"
