"""The default scheduler: binds each unassigned Pod to a Node, as kube-scheduler would decide.

Filters in the words of its plugins (NodeUnschedulable, TaintToleration, NodeAffinity's
nodeSelector, NodeResourcesFit's pod count) and, when nothing fits, the FitError text
(pkg/scheduler/framework/types.go) as a PodScheduled=False condition and a FailedScheduling
event. Scoring spreads the Pods of one owner, then all Pods, over the Nodes (the outcome of
PodTopologySpread's and NodeResourcesBalancedAllocation's defaults on equal Nodes), ties by name.
Pods that fit nowhere are kept in ``unschedulable`` and retried when a Node changes or a Pod goes.
"""

from __future__ import annotations

from ...k8s import taints
from ..clientset import Client, Lister
from ..controllers.util import controller_uid, pod_active
from ..events import Recorder
from ..storage.store import Obj

COMPONENT = "default-scheduler"


class Scheduler:
    def __init__(self, lister: Lister, client: Client, recorder: Recorder) -> None:
        self.lister = lister
        self.client = client
        self.rec = recorder
        self._load: dict[tuple[str, str], int] | None = None  # pods per (node, owner uid or "*"), per pass
        self.unschedulable: set[tuple[str, str]] = set()  # retried when capacity frees up

    def new_pass(self) -> None:
        """Forget the counted load: the next Pod recounts it (once per queue pass)."""
        self._load = None

    def schedule(self, ns: str, name: str) -> None:
        pod = self.lister.get("/pods", ns, name)
        if pod is None or pod.get("spec", {}).get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return
        all_nodes = list(self.lister.iter("/nodes"))
        load = self._load if self._load is not None else self._count_load()
        wanted = pod["spec"].get("nodeSelector") or {}
        reasons: dict[str, int] = {}
        nodes = []
        for n in all_nodes:
            why = self._unfit(n, pod, wanted, load)
            if why:
                reasons[why] = reasons.get(why, 0) + 1
            else:
                nodes.append(n)
        if not nodes:
            # the scheduler's FitError text (pkg/scheduler/framework/types.go: FitError.Error)
            detail = ", ".join(sorted(f"{c} {r}" for r, c in reasons.items()))
            msg = f"0/{len(all_nodes)} nodes are available: {detail}."
            old = [c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
            conds = [c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                          "lastTransitionTime": self.client.now(), "reason": "Unschedulable", "message": msg})
            if not old or old[0].get("message") != msg or old[0].get("status") != "False":
                pod.setdefault("status", {})["conditions"] = conds
                self.client.update_status("Pod", pod)
                self.rec.event(pod, "Warning", "FailedScheduling", msg, COMPONENT)
            self.unschedulable.add((ns, name))
            return
        self.unschedulable.discard((ns, name))
        owner = controller_uid(pod) or ""
        names = [n["metadata"]["name"] for n in nodes]
        best = min(names, key=lambda n: (load.get((n, owner), 0) if owner else 0, load.get((n, "*"), 0), n))
        self.bind(pod, best)
        load[(best, owner)] = load.get((best, owner), 0) + 1
        load[(best, "*")] = load.get((best, "*"), 0) + 1

    def _count_load(self) -> dict[tuple[str, str], int]:
        load: dict[tuple[str, str], int] = {}
        for p in self.lister.scan("/pods"):
            nn = p.get("spec", {}).get("nodeName")
            if nn and pod_active(p):
                k = (nn, controller_uid(p) or "")
                load[k] = load.get(k, 0) + 1
                load[(nn, "*")] = load.get((nn, "*"), 0) + 1
        self._load = load
        return load

    @staticmethod
    def _unfit(node: Obj, pod: Obj, wanted: dict[str, str], load: dict[tuple[str, str], int]) -> str:
        """Why a node cannot take the pod, in the scheduler plugins' words ("" when it fits)."""
        tolerations = pod.get("spec", {}).get("tolerations")
        if node.get("spec", {}).get("unschedulable") and not taints.tolerations_tolerate_taint(
                tolerations, {"key": taints.TAINT_UNSCHEDULABLE, "effect": taints.NO_SCHEDULE}):
            return "node(s) were unschedulable"  # NodeUnschedulable: ErrReasonUnschedulable
        untolerated = taints.find_untolerated_taint(node.get("spec", {}).get("taints"), tolerations)
        if untolerated is not None:
            return taints.untolerated_reason(untolerated)  # TaintToleration (R53)
        labels = node["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in wanted.items()):
            return "node(s) didn't match Pod's node affinity/selector"
        try:
            cap = int(node.get("status", {}).get("allocatable", {}).get("pods", "110"))
        except ValueError:
            cap = 110
        if load.get((node["metadata"]["name"], "*"), 0) >= cap:
            return "Too many pods"
        return ""

    def bind(self, pod: Obj, node: str) -> Obj:
        """pods/binding: the registry sets nodeName and PodScheduled; the Scheduled event follows."""
        md = pod["metadata"]
        new = self.client.bind(pod, node)
        self.rec.event(new, "Normal", "Scheduled", f"Successfully assigned {md['namespace']}/{md['name']} to {node}",
                       COMPONENT)
        return new

