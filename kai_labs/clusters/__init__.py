"""Clusters other than the embedded one: kind, and any kubeconfig context.

    import kai_labs
    c = kai_labs.connect("kind-kai-labs")      # the same Cluster handle as kai_labs.start()
    c.net.curl("http://web/hostname", namespace="lab-wrong-selector")   # from a client Pod

``kai_labs.start()`` picks the cluster from ``KAI_LABS_CLUSTER`` (``embedded``,
``kind`` or ``context:<name>``), so every lesson and exercise runs unchanged on
each. See :mod:`kai_labs.clusters.real` (the handle, ``cluster.net`` through
client Pods, the safety rules) and :mod:`kai_labs.clusters.kind` (``kai-labs
cluster up --kind``).
"""

from __future__ import annotations

from .real import ALLOW_ENV, CLUSTER_ENV, PodNet, connect, context_verdict, current, start, start_from_env

__all__ = ["ALLOW_ENV", "CLUSTER_ENV", "PodNet", "connect", "context_verdict", "current", "start", "start_from_env"]
