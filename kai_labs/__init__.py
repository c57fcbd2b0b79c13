"""kai-labs: Road of Kubernetes 03 (Services), with an embedded cluster.

    import kai_labs
    c = kai_labs.start()          # the embedded cluster, KUBECONFIG set for !kubectl
    c.net.curl("http://web", namespace="demo")
    c = kai_labs.connect("kind-kai-labs")   # the same handle on a real cluster (kai_labs.clusters)
"""

__version__ = "0.2.0"  # the one version source: pyproject.toml reads it, `kai-labs --version` prints it

from .clusters import connect, start
from .clusters.base import Cluster, ClusterError, set_inspector
from .clusters.embedded import attach
from .clusters.netrules import set_walker
from .labs import Grade, Scenario, Trace, draw, grade, inspect, panel, scenarios
from .labs.walk import walk as _walk

# Cluster.inspect(...) follows a Service with the course's walker; clusters never import the course themselves
set_inspector(inspect)
set_walker(_walk)  # cluster.net.walk(url, namespace=...): the packet walk, from the course layer too

__all__ = ["Cluster", "ClusterError", "Grade", "Scenario", "Trace", "attach", "connect", "draw", "grade", "inspect",
           "panel", "scenarios", "start"]
