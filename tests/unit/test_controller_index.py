"""The controller index a Lister keeps (kai_labs/sim/clientset.py ControllerIndex): Pods by their
controller's uid, the orphans per namespace, and which controlled Pods were relabelled. The ReplicaSet
controller reads it instead of every Pod of the namespace at each sync; it must follow every change of
owner, labels and existence, or a relabelled Pod would stay counted (or an orphan never be adopted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kai_labs.sim.clientset import Lister
from kai_labs.sim.storage.store import Store


def _pod(name: str, owner: str | None, **labels: str) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "ns", "labels": labels}
    if owner:
        md["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "ReplicaSet", "name": "rs"}]
    return {"kind": "Pod", "metadata": md}


def _names(objs: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


def test_members_orphans_and_relabelled_follow_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.put("/pods", _pod("before", "u1", app="web"), "ADDED")  # there before the index
    lister = Lister(store)
    assert _names(lister.controlled_by("/pods", "ns", "u1")) == ["before"]
    # at first every controlled Pod counts as relabelled (a restart may have missed a change)
    assert _names(lister.relabelled("/pods", "ns", "u1")) == ["before"]
    lister.relabelled_seen("/pods", "ns", "u1", ["before"])
    assert lister.relabelled("/pods", "ns", "u1") == []

    store.put("/pods", _pod("b", "u1", app="web"), "ADDED")
    store.put("/pods", _pod("a", None, app="web"), "ADDED")
    store.put("/pods", _pod("other", "u2", app="web"), "ADDED")
    assert _names(lister.controlled_by("/pods", "ns", "u1")) == ["b", "before"]
    assert _names(lister.controlled_by("/pods", "ns", "")) == ["a"]
    lister.relabelled_seen("/pods", "ns", "u1", ["b"])

    # a status-only write is no relabelling; a label change is, until the controller has seen it
    pod = store.get("/pods", "ns", "b")
    assert pod is not None
    pod["status"] = {"phase": "Running"}
    store.put("/pods", pod, "MODIFIED")
    assert lister.relabelled("/pods", "ns", "u1") == []
    pod = store.get("/pods", "ns", "b")
    assert pod is not None
    pod["metadata"]["labels"] = {"app": "debug"}
    store.put("/pods", pod, "MODIFIED")
    assert _names(lister.relabelled("/pods", "ns", "u1")) == ["b"]

    # released (no controller): an orphan now, no longer ours nor relabelled for us
    pod = store.get("/pods", "ns", "b")
    assert pod is not None
    del pod["metadata"]["ownerReferences"]
    store.put("/pods", pod, "MODIFIED")
    assert _names(lister.controlled_by("/pods", "ns", "u1")) == ["before"]
    assert _names(lister.controlled_by("/pods", "ns", "")) == ["a", "b"]
    assert lister.relabelled("/pods", "ns", "u1") == []

    # adopted, then deleted
    pod = store.get("/pods", "ns", "a")
    assert pod is not None
    pod["metadata"]["ownerReferences"] = [{"uid": "u1", "controller": True}]
    store.put("/pods", pod, "MODIFIED")
    assert _names(lister.controlled_by("/pods", "ns", "u1")) == ["a", "before"]
    store.remove("/pods", "ns", "a")
    assert _names(lister.controlled_by("/pods", "ns", "u1")) == ["before"]
    assert _names(lister.controlled_by("/pods", "ns", "u2")) == ["other"]
    store.close()


def test_replicaset_syncs_of_a_big_namespace_are_batched(tmp_path: Path) -> None:
    """Each Pod status write queues its ReplicaSet; at 1,000 Pods every sync counts them all. A namespace
    with n Pods gets a sync at most every n/4000 s: the next one waits (on_later) with what changed."""
    from kai_labs.sim.clock import FakeClock
    from kai_labs.sim.controllers.manager import Controllers
    from kai_labs.sim.events import Recorder
    from kai_labs.sim.registry.allocators import Ids
    from kai_labs.sim.registry.generic import Api, rt_of

    clock = FakeClock()
    store = Store(tmp_path / "state.db")
    api = Api(store, Ids(store, 1), clock.now)
    ctl = Controllers(api, Recorder(api), set, clock=clock)
    store.subscribe(ctl.observe)
    later: list[float] = []
    ctl.on_later = later.append
    api.create(rt_of("Namespace"), "", {"metadata": {"name": "big"}})
    api.create(rt_of("ReplicaSet"), "big", {"metadata": {"name": "web"}, "spec": {
        "replicas": 400, "selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"}]}}}})
    ctl.drain()
    assert store.count_ns("/pods", "big") == 400
    later.clear()
    ctl.queue["replicaset"].add(("big", "web"))
    ctl.drain()  # within 100 ms (400/4000 s) of the last sync: put off
    assert later and 0 < later[0] <= 0.1 and not ctl.pending()
    ctl.release_deferred()
    assert ctl.queue["replicaset"] == {("big", "web")}
    store.close()
