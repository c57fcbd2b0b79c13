"""``kai-labs node list|stop|start``: power the embedded cluster's node machines off and on.

Each embedded Node runs in its own process (its kubelet and its Pods), as kind runs each node in its own
container; ``node stop`` is kind's ``docker stop <node>``: the kubelet stops posting, the node lifecycle
controller marks it NotReady and taints it, its Pods' endpoints turn not ready and, once their toleration
runs out, the Pods are evicted and their controllers replace them on the nodes that are left.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from . import embedded as cl
from .base import ClusterError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    n = sub.add_parser("node", help="stop and start the embedded cluster's nodes (as `docker stop` does for kind)")
    ns = n.add_subparsers(dest="action", metavar="ACTION")
    for action, help_ in (("list", "each node's machine: Running or Stopped"),
                          ("stop", "power a node off: its kubelet and Pods stop"),
                          ("start", "power a node on again")):
        p = ns.add_parser(action, help=help_)
        p.add_argument("--name", default="kai-labs", help="cluster name (default kai-labs)")
        if action != "list":
            p.add_argument("node", help="the Node's name, e.g. kai-labs-worker")
        p.set_defaults(func=_run, node_action=action)


def call(name: str, method: str, path: str) -> dict[str, Any]:
    """One request to the embedded cluster's machines endpoint."""
    c = cl.attach(name, set_env=False)
    net = c.net
    assert isinstance(net, cl.EmbeddedNet)
    req = urllib.request.Request(f"{net.server}/kai-labs/v1/machines{path}", method=method, data=b"" if method ==
                                 "POST" else None, headers={"Authorization": f"Bearer {net.token}"})
    try:
        with urllib.request.urlopen(req, timeout=30, context=net.ctx) as r:  # noqa: S310
            out: dict[str, Any] = json.loads(r.read())
            return out
    except urllib.error.HTTPError as e:
        try:
            msg = json.loads(e.read()).get("message", str(e))
        except ValueError:
            msg = str(e)
        raise ClusterError(msg) from None
    except OSError as e:
        raise ClusterError(f"the cluster {name} does not answer ({e})") from None


def _run(a: argparse.Namespace) -> int:
    if a.node_action == "list":
        machines = call(a.name, "GET", "")["machines"]
        print(f"{'NODE':<28} MACHINE")
        for node, state in machines.items():
            print(f"{node:<28} {state}")
        return 0
    call(a.name, "POST", f"/{a.node}/{a.node_action}")
    if a.node_action == "stop":
        print(f"node {a.node} stopped: its kubelet no longer posts; watch `kubectl get nodes -w`")
    else:
        print(f"node {a.node} started")
    return 0
