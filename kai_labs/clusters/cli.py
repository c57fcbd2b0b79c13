"""``kai-labs cluster ...`` and ``kai-labs net ...``."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict

from . import embedded as cl
from . import kind
from .real import current


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = sub.add_parser("cluster", help="start, stop and inspect the embedded cluster")
    cs = c.add_subparsers(dest="action", metavar="ACTION")

    def add(name: str, help_: str, func: object) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = cs.add_parser(name, help=help_)
        p.add_argument("--name", default="kai-labs", help="cluster name (default kai-labs)")
        p.set_defaults(func=func)
        return p

    up = add("up", "start the embedded cluster (reuses a running one)", _up)
    up.add_argument("--seed", type=int, default=None, help="make names, IPs and ports reproducible")
    up.add_argument("--port", type=int, default=None, help="API port on 127.0.0.1 (default: a free one)")
    up.add_argument("--kind", action="store_true", help="create a kind cluster instead (needs Docker and kind)")
    up.add_argument("--pull", action="store_true", help="with --kind: pull the course's images into Docker first")
    dn = add("down", "stop the cluster (state is kept): SIGTERM, then SIGKILL if it has not stopped after --grace",
             _down)
    dn.add_argument("--grace", type=float, default=10.0, metavar="SECONDS",
                    help="how long a cluster gets to stop on SIGTERM before SIGKILL (default 10)")
    dn.add_argument("--kind", action="store_true", help="delete the kind cluster instead")
    st = add("status", "is the cluster running? (exit 0: running, 1: stopped, 3: running but not answering or "
                       "starting)", _status)
    st.add_argument("--json", action="store_true")
    add("env", "print the shell lines that point kubectl at this cluster: "
               "eval \"$(kai-labs cluster env)\" (KUBECONFIG, and this installation's kubectl first on PATH)", _env)
    lg = add("logs", "print the cluster process log", _logs)
    lg.add_argument("--tail", type=int, default=50)
    add("reset", "stop the cluster and wipe its state", _reset)
    c.set_defaults(func=lambda a: (c.print_help(), 2)[1])

    n = sub.add_parser("net", help="DNS, routing and HTTP as a Pod in the cluster sees them")
    ns_ = n.add_subparsers(dest="action", metavar="ACTION")
    for name, help_ in (("resolve", "DNS lookup from a namespace"), ("route", "the service proxy's decision"),
                        ("curl", "a real HTTP request through DNS and the service proxy")):
        p = ns_.add_parser(name, help=help_)
        p.add_argument("target", help={"resolve": "name, e.g. web or web.demo.svc.cluster.local",
                                       "route": "destination, e.g. web:80 or 10.96.0.20:80",
                                       "curl": "URL, e.g. http://web/hostname"}[name])
        p.add_argument("-n", "--namespace", default="default")
        p.add_argument("--name", default="kai-labs", help="cluster name")
        p.add_argument("--json", action="store_true")
        if name == "resolve":
            p.add_argument("--type", default="A")
        if name == "route":
            p.add_argument("--source-node", default=None)
            p.add_argument("--source-ip", default=None)
        if name == "curl":
            p.add_argument("--timeout", type=float, default=2.0)
        p.set_defaults(func={"resolve": _resolve, "route": _route, "curl": _curl}[name])
    r = ns_.add_parser("rules", help="the rules kube-proxy would program (nftables table or iptables-save)")
    r.add_argument("service", nargs="?", default=None, help="only this Service's rules (in -n NAMESPACE)")
    r.add_argument("-n", "--namespace", default="default")
    r.add_argument("--mode", choices=("nftables", "iptables"), default=None,
                   help="kube-proxy's mode (default: the cluster's own, from kube-system/kube-proxy)")
    r.add_argument("--request", default=None, metavar="URL",
                   help="mark the lines a new connection takes, e.g. web:80 or http://web/ (resolved from -n)")
    r.add_argument("--node", default=None, help="the node whose rules to show (default: the first)")
    r.add_argument("--name", default="kai-labs", help="cluster name")
    r.set_defaults(func=_rules)
    n.set_defaults(func=lambda a: (n.print_help(), 2)[1])


def _up(a: argparse.Namespace) -> int:
    if a.kind:
        return kind.cli_up(a.name, pull=a.pull)
    was = cl.status(a.name, probe=None)
    t0 = time.monotonic()
    st = cl.up(a.name, a.seed, a.port)
    dt = time.monotonic() - t0
    verb = "is already running" if was.running and was.pid == st.pid else f"is up ({dt:.2f}s)"
    print(f"cluster {a.name} {verb}: https://127.0.0.1:{st.port} (pid {st.pid})")
    print(f"kubeconfig: {st.kubeconfig}")
    print(f"use it:     export KUBECONFIG={st.kubeconfig}   (or: eval \"$(kai-labs cluster env)\")")
    print("then:       kubectl get nodes")
    return 0


def _down(a: argparse.Namespace) -> int:
    if getattr(a, "kind", False):
        return kind.cli_down(a.name)
    grace = a.grace if a.grace >= 0 else 0.0
    how = cl.stop(a.name, grace)
    kept = f"state kept in {cl.home_for(a.name)}; `cluster reset` wipes it"
    if how == "not running":
        print(f"cluster {a.name} is not running")
    elif how == "killed":
        print(f"cluster {a.name} stopped: it did not stop within {grace:g}s of SIGTERM, so it and every process it "
              f"started got SIGKILL ({kept})")
    else:
        print(f"cluster {a.name} stopped ({kept})")
    return 0


def _status(a: argparse.Namespace) -> int:
    st = cl.status(a.name)
    rc = {"running": 0, "stopped": 1}.get(st.state, 3)
    if a.json:
        print(json.dumps({"name": st.name, "state": st.state, "running": st.running, "answering": st.answering,
                          "pid": st.pid, "port": st.port, "why": st.why or None, "home": str(st.home),
                          "kubeconfig": str(st.kubeconfig)}))
    elif st.state == "running":
        print(f"cluster {a.name}: running on https://127.0.0.1:{st.port} (pid {st.pid}); kubeconfig {st.kubeconfig}"
              + (f"\n  {st.why}" if st.why else ""))
    elif st.state == "stopped":
        print(f"cluster {a.name}: not running (start it with `kai-labs cluster up`)")
    elif st.state == "starting":
        print(f"cluster {a.name}: starting (pid {st.pid}): {st.why}; see `kai-labs cluster logs`")
    else:
        print(f"cluster {a.name}: running but not answering (pid {st.pid}): {st.why}; a loaded cluster answers "
              f"again soon, a hung one does not: `kai-labs cluster down` stops it (SIGTERM, then SIGKILL) and keeps "
              f"its state")
    return rc


def _env(a: argparse.Namespace) -> int:
    st = cl.status(a.name, probe=None)
    if not st.running:
        raise cl.ClusterError(f"cluster {a.name} is not running; start it with `kai-labs cluster up`")
    if st.port is None:
        raise cl.ClusterError(f"cluster {a.name} is running (pid {st.pid}) but {st.why}; wait a moment, or see "
                              f"`kai-labs cluster status`")
    cl.check_kubeconfig(st)
    # POSIX sh (bash, zsh, dash): the kubectl of this installation comes first, since the cluster requires
    # kubectl of its own minor and a JupyterLab terminal's login shell has reset PATH to the system's
    print(f"export KUBECONFIG={shlex.quote(str(st.kubeconfig))}")
    print(f"export PATH={shlex.quote(cl.path_with_tools())}")
    return 0


def _logs(a: argparse.Namespace) -> int:
    path = cl.home_for(a.name) / "cluster.log"
    if not path.exists():
        raise cl.ClusterError(f"no log yet for cluster {a.name} ({path})")
    lines = path.read_text(errors="replace").splitlines()
    sys.stdout.write("\n".join(lines[-a.tail:]) + "\n")
    return 0


def _reset(a: argparse.Namespace) -> int:
    cl.reset(a.name)
    print(f"cluster {a.name} stopped and its state wiped")
    return 0


def _handle(a: argparse.Namespace) -> cl.Cluster:
    """KAI_LABS_CLUSTER=kind|context:<name>, else the embedded cluster."""
    return current(a.name, set_env=False)


def _resolve(a: argparse.Namespace) -> int:
    ans = _handle(a).net.resolve(a.target, a.namespace, a.type)
    if a.json:
        print(json.dumps(asdict(ans), indent=2))
    else:
        print(f"{ans.rcode} {ans.fqdn}")
        for r in ans.answers:
            print(f"  {r.name}\t{r.ttl}\tIN\t{r.type}\t{r.data}")
    return 0 if ans.rcode == "NOERROR" else 1


def _route(a: argparse.Namespace) -> int:
    r = _handle(a).net.route(a.target, a.namespace, a.source_node, a.source_ip)
    if a.json:
        print(json.dumps(asdict(r), indent=2))
    else:
        where = f" -> {r.endpoint[0]} {r.endpoint[1]}:{r.endpoint[2]}" if r.endpoint else ""
        print(f"{r.action.upper()}{where}\n  {r.reason}")
    return 0 if r.action == "forward" else 1


def _rules(a: argparse.Namespace) -> int:
    sys.stdout.write(str(_handle(a).net.rules(a.service, a.namespace, a.mode, a.request, a.node)))
    return 0


def _curl(a: argparse.Namespace) -> int:
    r = _handle(a).net.curl(a.target, a.namespace, a.timeout)
    if a.json:
        print(json.dumps(asdict(r), indent=2))
    elif r.ok or r.status:
        sys.stdout.write(r.body if r.body.endswith("\n") or not r.body else r.body + "\n")
        print(f"# HTTP {r.status} from pod {r.backend}", file=sys.stderr)
    else:
        print(f"curl: {r.error}: {r.detail}", file=sys.stderr)
    return 0 if r.ok else 1


_ = os
