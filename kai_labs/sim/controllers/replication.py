"""The ReplicationController manager (pkg/controller/replication): upstream runs the ReplicaSet controller
over ReplicationControllers through conversion adapters (replication_controller.go NewReplicationManager,
conversion.go), so here it is the same controller with the kind's key, owner reference, event component
("replication-controller") and selector (a plain label map, ``labels.SelectorFromSet``)."""

from __future__ import annotations

from ...k8s import labels
from ..storage.store import Obj
from .replicaset import ReplicaSetController


class ReplicationManager(ReplicaSetController):
    KEY = "/replicationcontrollers"
    KIND = "ReplicationController"
    API_VERSION = "v1"
    COMPONENT = "replication-controller"
    STATUS_TERMINATING = False

    def selector(self, obj: Obj) -> labels.Selector:
        sel = obj["spec"].get("selector") or {}
        if not sel:  # an empty selector selects nothing here (validation refuses one)
            return labels.nothing()
        return labels.from_label_selector({"matchLabels": sel})
