"""A scripted learner who uses only kubectl (and a client Pod), per scenario (issue #14, part 4).

It reads the scenario's ticket (`kai-labs scenario show`), investigates with kubectl alone (get -o json, logs,
a busybox client Pod's wget), decides which hop is broken from what kubectl showed, states it with
`kai-labs scenario diagnose`, fixes it with kubectl, and grades with `kai-labs scenario check`. No course
helper reads the cluster for it: the decision below is made from kubectl's output only, so every exercise can
be done on any cluster with kubectl. The mystery is solved the same way, without knowing its variant.
It also runs each scenario's own "look" commands (spec.yaml diagnose.look) and checks they show what they
claim.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kai_labs.labs import diagnose as dg
from kai_labs.labs import scenario as sc

pytestmark = pytest.mark.cluster

BIN = Path(sys.executable).parent
NAMES = sc.names()


class Learner:
    """A terminal with KUBECONFIG set, as `eval "$(kai-labs cluster env)"` leaves it."""

    def __init__(self, kubeconfig: Path) -> None:
        self.env = dict(os.environ, KUBECONFIG=str(kubeconfig), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
        self.log: list[str] = []

    def sh(self, cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert cmd.startswith(("kubectl ", "kai-labs scenario ")), cmd  # nothing but kubectl and the scenario CLI
        self.log.append(cmd)
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=self.env, timeout=90)
        if check:
            assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
        return r

    def json(self, cmd: str) -> Any:
        return json.loads(self.sh(cmd + " -o json").stdout)


def _unschedulable(pod: dict[str, Any]) -> bool:
    """kubectl get pod -o json: Pending, and the scheduler said it has no node for it (PodScheduled=False)."""
    return (pod.get("status") or {}).get("phase") == "Pending" and any(
        c.get("type") == "PodScheduled" and c.get("status") == "False"
        for c in (pod.get("status") or {}).get("conditions") or [])


def _labels(o: dict[str, Any]) -> dict[str, str]:
    return dict((o.get("metadata") or {}).get("labels") or {})


def investigate(me: Learner, ns: str, client_ns: str, client: str | None) -> tuple[str, str, list[str]]:
    """(hop, because, fix commands): the learner's reasoning, from kubectl output alone."""
    svc = me.json(f"kubectl get svc web -n {ns}")
    dep = me.json(f"kubectl get deploy web -n {ns}")
    pods = me.json(f"kubectl get pods -n {ns} -l '!run'")["items"]
    for _ in range(30):  # a Pod still starting (scheduled, containers being created) is not a diagnosis yet, and
        # the EndpointSlice may not list it yet: look again (on a busy machine the rollout outlasts `create`)
        if not any((p.get("status") or {}).get("phase") == "Pending" and not _unschedulable(p) for p in pods):
            break
        time.sleep(1)
        pods = me.json(f"kubectl get pods -n {ns} -l '!run'")["items"]
    slices = me.json(f"kubectl get endpointslices -n {ns} -l kubernetes.io/service-name=web")["items"]
    tpl = dep["spec"]["template"]
    labels = dict(tpl["metadata"]["labels"])
    container = tpl["spec"]["containers"][0]
    sel = svc["spec"].get("selector") or {}
    sp = svc["spec"]["ports"][0]
    if client:
        cdep = me.json(f"kubectl get deploy {client} -n {client_ns}")
        url = next(e["value"] for e in cdep["spec"]["template"]["spec"]["containers"][0]["env"]
                   if e["name"] == "WEB_URL")
        u = urlsplit(url)
        me.sh(f"kubectl logs deploy/{client} -n {client_ns} --tail=3")
        host, port = u.hostname or "", u.port or 80
        if "." not in host and client_ns != ns:
            fixed = f"http://web.{ns}.svc.cluster.local{u.path}"
            return ("dns", f"the frontend in {client_ns} asks for the short name {host}, which means {client_ns}",
                    [f"kubectl set env deployment/{client} -n {client_ns} WEB_URL={fixed}"])
        if svc["spec"].get("clusterIP") == "None":
            if port != int(sp["targetPort"]):
                fixed = f"http://web:{sp['targetPort']}{u.path}"
                return ("port", f"headless: nothing translates, the frontend dials {port} but the Pods serve "
                        f"{sp['targetPort']}", [f"kubectl set env deployment/{client} -n {client_ns} WEB_URL={fixed}"])
        elif port not in [p["port"] for p in svc["spec"]["ports"]]:
            return ("port", f"the frontend dials {port}; the Service offers {sp['port']}",
                    [f"kubectl set env deployment/{client} -n {client_ns} WEB_URL=http://web{u.path}"])
    if int(dep["spec"].get("replicas", 1)) == 0 or not pods:
        return "pods", "the Deployment runs 0 replicas", [f"kubectl scale deployment web -n {ns} --replicas=2"]
    if not any(all(_labels(p).get(k) == v for k, v in sel.items()) for p in pods):
        new = json.dumps({"spec": {"selector": labels}})
        return ("selector", f"the selector {sel} matches none of the Pods' labels {labels}",
                [f"kubectl patch svc web -n {ns} --type=merge -p '{new}'"])
    names = {p["metadata"]["name"] for p in pods if p["metadata"].get("ownerReferences")
             and all(_labels(p).get(k) == v for k, v in labels.items())}
    strangers = [(e.get("targetRef") or {}).get("name") for s in slices for e in s.get("endpoints") or []
                 if (e.get("targetRef") or {}).get("name") not in names]
    if strangers:
        new = json.dumps({"spec": {"selector": labels}})
        return ("selector", f"the EndpointSlice also holds {strangers}: the selector {sel} is too broad",
                [f"kubectl patch svc web -n {ns} --type=merge -p '{new}'"])
    pending = [p for p in pods if _unschedulable(p)]
    if pending and len(pending) == len(pods):
        # no Pod runs anywhere: the scheduler's events say why; the nodes' labels say which selector fails
        ev = me.sh(f"kubectl get events -n {ns} --field-selector reason=FailedScheduling").stdout
        nodes = me.json("kubectl get nodes")["items"]
        wanted = tpl["spec"].get("nodeSelector") or {}
        missing = {k: v for k, v in wanted.items() if not any(_labels(n).get(k) == v for n in nodes)}
        assert "node affinity/selector" in ev and missing, (ev, wanted)
        patch = json.dumps([{"op": "remove", "path": "/spec/template/spec/nodeSelector"}])
        return ("pods", f"the Pods are Pending: FailedScheduling, no node carries {missing}",
                [f"kubectl patch deploy web -n {ns} --type=json -p '{patch}'"])
    log = me.sh(f"kubectl logs deploy/web -n {ns} --tail=20").stdout
    m = re.search(r"port (\d+)", log, re.I) or re.search(r":(\d+)", log)
    listens = int(m.group(1)) if m else None
    crashing = [c for p in pods for c in (p.get("status") or {}).get("containerStatuses") or []
                if ((c.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
                or (c.get("state") or {}).get("terminated") or (c.get("lastState") or {}).get("terminated")]
    if crashing:
        # the container exits at start: its log says why
        bad = re.search(r"unknown flag: (--[\w-]+)", log)
        assert bad, log
        args = [a for a in container.get("args") or [] if not a.startswith(bad.group(1))]
        patch = json.dumps([{"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": args}])
        return ("readiness", f"the Pods are in CrashLoopBackOff: the container's log says {bad.group(0)}",
                [f"kubectl patch deploy web -n {ns} --type=json -p '{patch}'"])
    if not all(c.get("ready") for p in pods for c in (p.get("status") or {}).get("containerStatuses") or []):
        probe_port = container["readinessProbe"]["httpGet"]["port"]
        want = next((p["containerPort"] for p in container.get("ports") or [] if p.get("name") == probe_port),
                    probe_port)
        args = [re.sub(r"--http-port=\d+", f"--http-port={want}", a) for a in container.get("args") or []]
        patch = json.dumps([{"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": args}])
        return ("readiness", f"the Pods are not Ready: the probe checks {want}, the app listens on {listens}",
                [f"kubectl patch deploy web -n {ns} --type=json -p '{patch}'"])
    pols = me.json(f"kubectl get networkpolicy -n {ns}")["items"]
    egress = [p for p in pols if "Egress" in p["spec"].get("policyTypes", [])
              and not any(q.get("port") == 53 for r in p["spec"].get("egress") or [] for q in r.get("ports") or [])]
    if egress and client:
        # the frontend says "bad address": its egress policy lets nothing reach DNS
        me.sh(f"kubectl logs deploy/{client} -n {client_ns} --tail=3")  # "bad address 'web'", once it has tried
        rule = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
        patch = json.dumps([{"op": "add", "path": "/spec/egress/-", "value": rule}])
        name_ = egress[0]["metadata"]["name"]
        return ("networkpolicy", f"the frontend logs bad address: {name_} allows it no DNS (nothing on port 53)",
                [f"kubectl patch networkpolicy {name_} -n {ns} --type=json -p '{patch}'"])
    deny = [p for p in pols if not p["spec"].get("podSelector") and "Ingress" in p["spec"].get("policyTypes", [])
            and not p["spec"].get("ingress")]
    if deny and client and listens is not None:
        # everything is in place, the frontend's requests time out, and a policy isolates every Pod: allow the
        # frontend's Pods (by their labels) on the Pods' port, keeping the deny
        them = me.json(f"kubectl get deploy {client} -n {client_ns}")["spec"]["template"]["metadata"]["labels"]
        allow = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "web-from-frontend", "namespace": ns},
                 "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"],
                          "ingress": [{"from": [{"podSelector": {"matchLabels": them}}],
                                       "ports": [{"protocol": "TCP", "port": listens}]}]}}
        return ("networkpolicy", f"NetworkPolicy {deny[0]['metadata']['name']} selects every Pod for ingress with "
                "no rule, and the frontend's requests time out",
                [f"kubectl apply -f - <<'EOF'\n{json.dumps(allow)}\nEOF"])
    loop = re.search(r"listening on (127\.\d+\.\d+\.\d+|localhost):(\d+)", log)
    if loop:
        # ready endpoints, the right port, yet refused: the app is bound to the Pod's loopback
        args = [a.replace(f"{loop.group(1)}:", ":") for a in container.get("args") or []]
        patch = json.dumps([{"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": args}])
        return ("app", f"the app's log says it is listening on {loop.group(1)}:{loop.group(2)}, the Pod's loopback",
                [f"kubectl patch deploy web -n {ns} --type=json -p '{patch}'"])
    tp = sp.get("targetPort")
    if isinstance(tp, str):
        cnames = [p.get("name") for p in container.get("ports") or []]
        if tp not in cnames:
            patch = json.dumps([{"op": "replace", "path": "/spec/template/spec/containers/0/ports/0/name",
                                 "value": tp}])
            return ("targetPort", f"targetPort names {tp}, the container's port is named {cnames}",
                    [f"kubectl patch deploy web -n {ns} --type=json -p '{patch}'"])
    if listens is not None and tp != listens:
        patch = json.dumps([{"op": "replace", "path": "/spec/ports/0/targetPort", "value": listens}])
        return ("targetPort", f"the app's log says it listens on {listens}; targetPort is {tp}",
                [f"kubectl patch svc web -n {ns} --type=json -p '{patch}'"])
    raise AssertionError("the scripted learner found nothing broken:\n" + "\n".join(me.log))


@pytest.mark.parametrize("name", NAMES)
def test_a_kubectl_only_learner_solves_it(cluster: Any, name: str) -> None:
    sc.get(name).delete(cluster)
    me = Learner(cluster.kubeconfig)
    me.sh(f"kai-labs scenario create {name} --seed 1")
    show = json.loads(me.sh(f"kai-labs scenario show {name} --json").stdout)
    ns = show["namespaces"][0]
    client_ns = show["namespaces"][-1]
    # the client, if the ticket comes from one: a Deployment that calls web through its WEB_URL
    deploys = me.json(f"kubectl get deploy -n {client_ns}")["items"]
    client = next((d["metadata"]["name"] for d in deploys for c in d["spec"]["template"]["spec"]["containers"]
                   if any(e["name"] == "WEB_URL" for e in c.get("env") or [])), None)
    # a client Pod, as the exercise's step 1 shows: the request fails before the fix
    me.sh(f"kubectl run client -n {client_ns} --image=busybox --restart=Never --labels=run=client -- sleep 3600")
    me.sh(f"kubectl wait pod/client -n {client_ns} --for=condition=Ready --timeout=30s")
    url = f"http://web.{ns}/hostname" if client is None else None
    if url:
        # until one request fails or reaches a stranger: a too-broad selector's one stranger among three
        # endpoints is missed by six random picks 9 % of the time, by twenty 0.03 %
        before = []
        for _ in range(20):
            before.append(me.sh(f"kubectl exec client -n {client_ns} -- wget -qO- -T 2 {url}", check=False))
            if not (before[-1].returncode == 0 and before[-1].stdout.startswith("web-")):
                break
        assert not all(r.returncode == 0 and r.stdout.startswith("web-") for r in before), before
    hop, because, fixes = investigate(me, ns, client_ns, client)
    r = me.sh(f"kai-labs scenario diagnose {name} {hop} --because {json.dumps(because)}", check=False)
    assert r.returncode == 0, f"diagnosed {hop} ({because}):\n{r.stdout}{r.stderr}"
    for cmd in fixes:
        me.sh(cmd)
    me.sh(f"kubectl rollout status deploy/web -n {ns} --timeout=60s")
    r = me.sh(f"kai-labs scenario check {name}", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    if url:
        for _ in range(6):
            after = me.sh(f"kubectl exec client -n {client_ns} -- wget -qO- -T 2 {url}")
            assert after.stdout.startswith("web-"), after.stdout


@pytest.mark.parametrize("name", [n for n in NAMES if sc.get(n).diagnose_spec.get("look")])
def test_each_scenarios_look_commands_show_what_they_claim(cluster: Any, name: str) -> None:
    s = sc.get(name).reset(cluster)
    me = Learner(cluster.kubeconfig)
    for look in s.diagnose_spec["look"]:
        cmd = dg._fmt(look["cmd"], s)
        out = me.sh(cmd).stdout
        assert dg._fmt(str(look["shows"]), s) in out, f"{cmd}:\n{out}"
