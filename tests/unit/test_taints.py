"""Taints and tolerations (kai_labs/k8s/taints.py, R52-R54) and the scheduler's TaintToleration and
NodeUnschedulable filters that use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kai_labs.k8s import taints as tt
from kai_labs.sim.clientset import Client, Lister
from kai_labs.sim.events import Recorder
from kai_labs.sim.registry.allocators import Ids
from kai_labs.sim.registry.generic import Api, rt_of
from kai_labs.sim.scheduler import Scheduler
from kai_labs.sim.storage.store import Store

NO_EXEC = {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}


@pytest.mark.parametrize(("toleration", "tolerated"), [
    ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoExecute"}, True),
    ({"key": "dedicated", "value": "gpu"}, True),                      # empty operator is Equal, empty effect all
    ({"key": "dedicated", "value": "cpu", "effect": "NoExecute"}, False),
    ({"key": "dedicated", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),                                    # every key, every effect
    ({"operator": "Exists", "effect": "NoSchedule"}, False),           # every key, but not this effect
    ({"key": "other", "operator": "Exists"}, False),
    ({"key": "dedicated", "operator": "Gt", "value": "1"}, False),     # alpha operators: off, match nothing
])
def test_R52_toleration_matching(toleration: dict[str, Any], tolerated: bool) -> None:
    assert tt.tolerates_taint(toleration, NO_EXEC) is tolerated


def test_R53_first_untolerated_schedule_blocking_taint() -> None:
    taints = [{"key": "soft", "effect": "PreferNoSchedule"}, {"key": "a", "effect": "NoSchedule"},
              {"key": "b", "value": "1", "effect": "NoExecute"}]
    assert tt.find_untolerated_taint(taints, []) == taints[1]  # PreferNoSchedule never filters
    assert tt.find_untolerated_taint(taints, [{"key": "a", "operator": "Exists"}]) == taints[2]
    assert tt.find_untolerated_taint(taints, [{"operator": "Exists"}]) is None
    assert tt.untolerated_reason(taints[2]) == "node(s) had untolerated taint {b: 1}"
    assert tt.untolerated_reason({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}) == \
        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def test_R53_matching_tolerations_uses_the_first_match_per_taint() -> None:
    taints = [{"key": "x", "effect": "NoExecute"}, {"key": "y", "effect": "NoExecute"}]
    first = {"key": "x", "operator": "Exists", "tolerationSeconds": 60}
    anything = {"operator": "Exists"}
    assert tt.matching_tolerations(taints, [first, anything]) == (True, [first, anything])
    assert tt.matching_tolerations(taints, [first]) == (False, [])
    assert tt.matching_tolerations([], []) == (True, [])


@pytest.mark.parametrize(("seconds", "expected"), [
    ([60, 30], 30.0), ([None], tt.FOREVER), ([None, 45], 45.0), ([0, 100], 0.0), ([-5], 0.0), ([], 0.0)])
def test_R54_min_toleration_seconds(seconds: list[int | None], expected: float) -> None:
    used = [{"operator": "Exists", **({"tolerationSeconds": s} if s is not None else {})} for s in seconds]
    assert tt.min_toleration_seconds(used) == expected


# -- the scheduler --------------------------------------------------------------------------------------

@pytest.fixture
def sched(tmp_path: Path) -> tuple[Api, Scheduler]:
    store = Store(tmp_path / "state.db")
    api = Api(store, Ids(store, 1), lambda: 1_700_000_000.0)
    api.create(rt_of("Namespace"), "", {"metadata": {"name": "default"}})
    return api, Scheduler(Lister(store), Client(api), Recorder(api))


def _pod(api: Api, name: str, tolerations: list[dict[str, Any]] | None = None) -> None:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    api.create(rt_of("Pod"), "default", {"metadata": {"name": name}, "spec": spec})


def _placed(api: Api, name: str) -> tuple[str, str]:
    pod = api.get(rt_of("Pod"), "default", name)
    cond = next((c for c in pod["status"].get("conditions") or [] if c["type"] == "PodScheduled"), {})
    return pod["spec"].get("nodeName") or "", cond.get("message", "")


def test_R53_scheduler_keeps_pods_off_untolerated_taints(sched: tuple[Api, Scheduler]) -> None:
    """A key-less Exists toleration limited to NoSchedule does not tolerate a NoExecute taint (the
    scheduler took any key-less Exists toleration for a match, whatever its effect)."""
    api, s = sched
    api.create(rt_of("Node"), "", {"metadata": {"name": "n1"}, "spec": {"taints": [NO_EXEC]}})
    _pod(api, "p", [{"operator": "Exists", "effect": "NoSchedule"}])
    s.schedule("default", "p")
    assert _placed(api, "p") == ("", "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.")
    _pod(api, "q", [{"operator": "Exists"}])
    s.schedule("default", "q")
    assert _placed(api, "q")[0] == "n1"


def test_R53_cordoned_node_takes_only_pods_tolerating_unschedulable(sched: tuple[Api, Scheduler]) -> None:
    api, s = sched
    api.create(rt_of("Node"), "", {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}})
    _pod(api, "p")
    s.schedule("default", "p")
    assert _placed(api, "p") == ("", "0/1 nodes are available: 1 node(s) were unschedulable.")
    _pod(api, "ds", [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}])
    s.schedule("default", "ds")
    assert _placed(api, "ds")[0] == "n1"
