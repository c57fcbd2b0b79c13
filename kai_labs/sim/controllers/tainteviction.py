"""The taint-eviction controller (pkg/controller/tainteviction/taint_eviction.go): Pods leave a Node
tainted ``NoExecute``.

For every Pod bound to a Node with NoExecute taints (processPodOnNode, R54):

- a taint the Pod does not tolerate: the Pod is deleted at once;
- all tolerated, some with ``tolerationSeconds``: deleted that many seconds (the smallest) after the
  controller first saw it so; a toleration without seconds tolerates forever;
- the taints gone, or the Pod gone, before the time comes: the deletion is cancelled
  (``TaintManagerEviction`` "Cancelling deletion of Pod ns/name").

A deletion records ``TaintManagerEviction`` "Marking for deletion Pod ns/name", adds the Pod condition
``DisruptionTarget`` (reason ``DeletionByTaintManager``, "Taint manager: deleting due to NoExecute
taint") and deletes with the Pod's own grace period: a Pod on a Node that cannot confirm stays
Terminating, as upstream, while its ReplicaSet already replaces it. Times run on the injected
monotonic clock (:mod:`kai_labs.sim.clock`), so tests drive them with ``FakeClock``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from ...k8s import taints as tt
from ..apimachinery import errors
from ..clientset import Client, Lister
from ..clock import Clock
from ..events import Recorder
from ..storage.store import Obj

log = logging.getLogger("kai_labs.controllers.tainteviction")

COMPONENT = "taint-eviction-controller"
_RETRIES = 5


@dataclass
class _Work:
    created_at: float
    fire_at: float


class TaintEvictionController:
    def __init__(self, lister: Lister, client: Client, recorder: Recorder, clock: Clock) -> None:
        self.lister = lister
        self.client = client
        self.rec = recorder
        self.clock = clock
        self.tainted: dict[str, list[Obj]] = {}  # node -> its NoExecute taints (taintedNodes)
        # TimedWorkerQueue: "ns/name" -> scheduled deletion, or None once done (not scheduled again)
        self.work: dict[str, _Work | None] = {}
        self._seen: dict[str, tuple[str, str]] = {}  # "ns/name" -> (nodeName, tolerations) last processed

    # -- entry points (the manager's work queue) -------------------------------------------------------
    def sync(self, what: str, key: str) -> None:
        if what == "tick":
            self.fire_due()
        elif what == "node":
            self.handle_node_update(key)
        elif what == "pod":
            ns, _, name = key.partition("/")
            self.handle_pod_update(ns, name)

    def next_deadline(self) -> float | None:
        due = [w.fire_at for w in self.work.values() if w is not None]
        return min(due) if due else None

    def watches_pod(self, pod: Obj) -> bool:
        """PodUpdated's filter: a Pod event matters when its Node is tainted, or when the Pod was seen
        before (its tolerations or Node may have changed, or it was deleted)."""
        md = pod["metadata"]
        return ((pod.get("spec") or {}).get("nodeName") in self.tainted
                or f"{md.get('namespace', '')}/{md['name']}" in self._seen)

    # -- handleNodeUpdate / handlePodUpdate ------------------------------------------------------------
    def handle_node_update(self, name: str) -> None:
        node = self.lister.peek("/nodes", "", name)
        if node is None:
            self.tainted.pop(name, None)
            return
        taints = tt.no_execute_taints((node.get("spec") or {}).get("taints"))
        if taints == self.tainted.get(name, []):
            return  # NodeUpdated: the NoExecute taints did not change
        if taints:
            self.tainted[name] = taints
        else:
            self.tainted.pop(name, None)
        pods = [p for p in self.lister.iter("/pods") if (p.get("spec") or {}).get("nodeName") == name]
        now = self.clock.monotonic()
        for pod in pods:
            key = _key(pod)
            if not taints:
                self._cancel(key)
                self._seen.pop(key, None)
                continue
            self._process_pod_on_node(pod, taints, now)

    def handle_pod_update(self, ns: str, name: str) -> None:
        key = f"{ns}/{name}"
        pod = self.lister.peek("/pods", ns, name)
        if pod is None:
            self._cancel(key)
            self.work.pop(key, None)
            self._seen.pop(key, None)
            return
        node = (pod.get("spec") or {}).get("nodeName") or ""
        mark = (node, json.dumps((pod.get("spec") or {}).get("tolerations"), sort_keys=True))
        if self._seen.get(key) == mark:
            return  # same Node and tolerations: nothing new for this controller
        taints = self.tainted.get(node)
        if not node or not taints:
            self._seen.pop(key, None)
            return
        self._process_pod_on_node(pod, taints, self.clock.monotonic())

    def _process_pod_on_node(self, pod: Obj, taints: list[Obj], now: float) -> None:
        key = _key(pod)
        spec = pod.get("spec") or {}
        self._seen[key] = (spec.get("nodeName") or "", json.dumps(spec.get("tolerations"), sort_keys=True))
        tolerated, used = tt.matching_tolerations(taints, spec.get("tolerations"))
        if not tolerated:
            self._cancel(key)
            self._add(key, now, now)  # deleted right away
            return
        seconds = tt.min_toleration_seconds(used)
        if seconds < 0:
            self._cancel(key)  # tolerates forever
            return
        start, trigger = now, now + seconds
        scheduled = self.work.get(key)
        if scheduled is not None:
            start = scheduled.created_at
            if start + seconds < trigger:
                return  # already due no later than the new deadline
            self._cancel(key)
        self._add(key, start, start + seconds)

    # -- TimedWorkerQueue --------------------------------------------------------------------------------
    def _add(self, key: str, created: float, fire: float) -> None:
        if key in self.work:
            return  # already scheduled, or done
        self.work[key] = _Work(created, fire)

    def _cancel(self, key: str) -> None:
        """CancelWork; the cancel event only when a scheduled deletion was still pending."""
        if key not in self.work:
            return
        pending = self.work.pop(key) is not None
        if pending:
            ns, _, name = key.partition("/")
            self._event(ns, name, f"Cancelling deletion of Pod {key}")

    def fire_due(self) -> None:
        now = self.clock.monotonic()
        for key, w in sorted(self.work.items(), key=lambda kv: kv[1].fire_at if kv[1] else 0.0):
            if w is None or w.fire_at > now:
                continue
            ns, _, name = key.partition("/")
            self._event(ns, name, f"Marking for deletion Pod {key}")
            ok = False
            for _ in range(_RETRIES):
                try:
                    self._add_condition_and_delete(ns, name)
                    ok = True
                    break
                except errors.ApiError as e:
                    if e.code == 404:
                        ok = True
                        break
                    if e.code != 409:
                        log.warning("cannot evict pod %s: %s", key, e)
                        break
            if ok:
                self.work[key] = None  # kept so the same Pod is not scheduled twice
            else:
                self.work.pop(key, None)

    def _add_condition_and_delete(self, ns: str, name: str) -> None:
        pod = self.lister.get("/pods", ns, name)
        if pod is None:
            raise errors.not_found("pods", name)
        status = pod.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
        want = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint"}
        old = next((c for c in conds if c.get("type") == "DisruptionTarget"), None)
        if old is None or any(old.get(k) != v for k, v in want.items()):
            new = {**want, "lastProbeTime": None,
                   "lastTransitionTime": old.get("lastTransitionTime") if old is not None and
                   old.get("status") == "True" else self.client.now()}
            status["conditions"] = [c for c in conds if c.get("type") != "DisruptionTarget"] + [new]
            self.client.update_status("Pod", pod)
        self.client.delete("Pod", ns, name)

    def _event(self, ns: str, name: str, message: str) -> None:
        """About the Pod by namespace and name only (no uid), as the controller's ObjectReference."""
        ref = {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": ns, "name": name}}
        self.rec.event(ref, "Normal", "TaintManagerEviction", message, COMPONENT)


def _key(pod: Obj) -> str:
    md = pod["metadata"]
    return f"{md.get('namespace', '')}/{md['name']}"
