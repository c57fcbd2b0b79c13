"""NetworkPolicy on the embedded cluster (issue #18 part 2, R99, R110-R115), with the real kubectl: served
(discovery, defaults, validation with kube-apiserver's texts, get/describe) and enforced by the nodes' network
as a conforming CNI would (ingress default deny, a labelled client, namespaceSelector, UDP, egress that cuts
DNS and the port-53 allow that restores it), explained by ``net route``."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.helpers import eventually

pytestmark = pytest.mark.cluster

BAD = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {matchLabels: {"a b": x}}
  policyTypes: [Ingress, Sideways]
  ingress:
  - from:
    - {}
    - ipBlock: {cidr: 10.0.0.0/33}
    - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24, 10.0.0.0/16]}
      podSelector: {}
    ports: [{port: 0}, {port: http, endPort: 90}, {endPort: 5}, {port: 90, endPort: 80}, {protocol: ICMP}]
"""

EXPECTED_ERRORS = [
    '* spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    '* spec.ingress[0].ports[1].endPort: Invalid value: 90: may not be specified when `port` is non-numeric',
    '* spec.ingress[0].ports[2].endPort: Invalid value: 5: may not be specified when `port` is not specified',
    '* spec.ingress[0].ports[3].endPort: Invalid value: 80: must be greater than or equal to `port`',
    '* spec.ingress[0].ports[4].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
    '* spec.ingress[0].from[0]: Required value: must specify a peer',
    '* spec.ingress[0].from[1].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, '
    '(e.g. 10.9.8.0/24 or 2001:db8::/64)',
    '* spec.ingress[0].from[2].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`',
    '* spec.ingress[0].from[2].ipBlock.except[1]: Invalid value: "10.0.0.0/16": must be a strict subset of `cidr`',
    '* spec.ingress[0].from[2]: Forbidden: may not specify both ipBlock and another peer',
    '* spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
]


def test_served_discovery_defaults_validation_get_describe(cluster, namespace):  # type: ignore[no-untyped-def]
    res = cluster.kubectl("api-resources", "--api-group=networking.k8s.io", check=True).stdout
    assert any(line.split()[:5] == ["networkpolicies", "netpol", "networking.k8s.io/v1", "true", "NetworkPolicy"]
               for line in res.splitlines()), res
    bad = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=BAD)
    assert bad.returncode == 1
    assert bad.stderr.startswith('The NetworkPolicy "bad" is invalid: \n'), bad.stderr
    assert [line for line in bad.stderr.splitlines() if line.startswith("* spec.ingress") or
            line.startswith("* spec.policyTypes")] == EXPECTED_ERRORS
    good = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web}\nspec:\n"
            "  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: 8080}]}]\n"
            "  egress: [{to: [{namespaceSelector: {}}]}]\n---\n"
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec:\n  podSelector: {}\n")
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=good, check=True)
    obj = json.loads(cluster.kubectl("-n", namespace, "get", "netpol", "web", "-o", "json", check=True).stdout)
    assert obj["spec"]["policyTypes"] == ["Ingress", "Egress"]  # SetDefaults_NetworkPolicy
    assert obj["spec"]["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert obj["metadata"]["generation"] == 1
    deny = json.loads(cluster.kubectl("-n", namespace, "get", "netpol", "deny", "-o", "json", check=True).stdout)
    assert deny["spec"]["policyTypes"] == ["Ingress"]
    table = cluster.kubectl("-n", namespace, "get", "netpol", check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert table[1].split()[:2] == ["deny", "<none>"] and table[2].split()[:2] == ["web", "app=web"]
    desc = cluster.kubectl("-n", namespace, "describe", "netpol", "deny", check=True).stdout
    assert "<none> (Selected pods are isolated for ingress connectivity)" in desc
    assert "Policy Types: Ingress" in desc
    typo = cluster.kubectl("-n", namespace, "apply", "-f", "-",
                           input=good.replace("podSelector: {}", "podSelecter: {}"))
    assert 'unknown field "spec.podSelecter"' in typo.stderr


APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080", "--udp-port=8081"]
        ports: [{name: http, containerPort: 8080}, {name: echo-udp, containerPort: 8081, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}, {name: udp, port: 81, targetPort: 8081, protocol: UDP}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  containers: [{name: c, image: busybox, command: ["sleep", "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: other}
spec:
  containers: [{name: c, image: busybox, command: ["sleep", "3600"]}]
"""


def _policy(name: str, spec: str) -> str:
    return f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n{spec}"


def test_enforced_ingress_egress_dns_udp_and_explained(cluster, namespace):  # type: ignore[no-untyped-def]
    ns = namespace

    def run(pod: str, *cmd: str, pod_ns: str = ns):  # type: ignore[no-untyped-def]
        return cluster.kubectl("-n", pod_ns, "exec", pod, "--", *cmd, timeout=30)

    def wget(pod: str, url: str, pod_ns: str = ns):  # type: ignore[no-untyped-def]
        return run(pod, "wget", "-qO-", "-T", "1", url, pod_ns=pod_ns)

    def apply(text: str) -> None:
        cluster.kubectl("-n", ns, "apply", "-f", "-", input=text, check=True)

    apply(APP)
    assert cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", "--timeout=60s").returncode == 0
    assert cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/client", "pod/other",
                           "--timeout=60s").returncode == 0
    pods = json.loads(cluster.kubectl("-n", ns, "get", "pods", "-l", "app=web", "-o", "json", check=True).stdout)
    web_ip = pods["items"][0]["status"]["podIP"]
    client_ip = json.loads(cluster.kubectl("-n", ns, "get", "pod", "client", "-o", "json",
                                           check=True).stdout)["status"]["podIP"]
    svc, direct = f"http://web.{ns}/hostname", f"http://{web_ip}:8080/hostname"
    assert wget("client", svc).stdout.startswith("web-") and wget("other", direct).returncode == 0

    # ingress default deny: through the Service (judged after DNAT) and to the Pod IP, both time out
    apply(_policy("deny-all", "  podSelector: {}\n"))
    r = eventually(lambda: (x := wget("client", svc)).returncode == 1 and x)
    assert r.stdout == "" and "wget: download timed out" in r.stderr
    assert "wget: download timed out" in wget("other", direct).stderr
    route = cluster.net.route(f"{web_ip}:8080", ns, source_ip=client_ip)
    assert route.action == "drop" and route.error == "timeout"
    assert (f"denied: NetworkPolicy {ns}/deny-all isolates {pods['items'][0]['metadata']['name']} for ingress and "
            f"no rule allows {client_ip} (client) on TCP 8080") in route.reason

    # allow a labelled client on the named port: the client passes, the other Pod still times out
    apply(_policy("allow-client", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
                  "  - from: [{podSelector: {matchLabels: {role: client}}}]\n    ports: [{port: http}]\n"))
    eventually(lambda: wget("client", svc).stdout.startswith("web-"))
    assert wget("client", direct).stdout.startswith("web-")
    assert "download timed out" in wget("other", svc).stderr
    route = cluster.net.route(f"web.{ns}:80", ns, source_ip=client_ip)
    assert route.action == "forward" and f"allowed by NetworkPolicy {ns}/allow-client ingress rule 1" in route.reason

    # UDP: nothing allows UDP 8081 yet, so no reply; allowing the named UDP port lets the datagram through
    def udp(pod: str):  # type: ignore[no-untyped-def]
        return run(pod, "sh", "-c", f"echo hostname | nc -u -w 1 web.{ns} 81").stdout
    assert udp("client") == ""
    apply(_policy("allow-udp", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
                  "  - from: [{podSelector: {matchLabels: {role: client}}}]\n"
                  "    ports: [{port: echo-udp, protocol: UDP}]\n"))
    eventually(lambda: udp("client").startswith("web-"))
    assert udp("other") == ""

    # namespaceSelector: a Pod of another namespace reaches web only once its namespace carries the label
    other_ns = "t-" + uuid.uuid4().hex[:8]
    cluster.kubectl("apply", "-f", "-", check=True, input=(
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {other_ns}\n  labels:\n"
        f"    app.kubernetes.io/created-by: kai-labs\n---\napiVersion: v1\nkind: Pod\nmetadata:\n"
        f"  name: visitor\n  namespace: {other_ns}\nspec:\n  containers: [{{name: c, image: busybox, "
        f"command: [sleep, '3600']}}]\n"))
    try:
        assert cluster.kubectl("-n", other_ns, "wait", "--for=condition=Ready", "pod/visitor",
                               "--timeout=60s").returncode == 0
        apply(_policy("allow-team", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
                      "  - from: [{namespaceSelector: {matchLabels: {team: blue}}}]\n"))
        assert "download timed out" in wget("visitor", direct, pod_ns=other_ns).stderr
        cluster.kubectl("label", "namespace", other_ns, "team=blue", check=True)
        eventually(lambda: wget("visitor", direct, pod_ns=other_ns).stdout.startswith("web-"))
    finally:
        cluster.kubectl("delete", "namespace", other_ns, "--wait=false")

    # egress default deny for the client: DNS times out (busybox's texts), then port 53 restores it
    apply(_policy("client-egress", "  podSelector: {matchLabels: {role: client}}\n  policyTypes: [Egress]\n"))
    r = eventually(lambda: (x := run("client", "nslookup", "web")).returncode == 1 and x, timeout=15)
    assert r.stdout == ";; connection timed out; no servers could be reached\n\n"
    r = wget("client", "http://web/hostname")
    assert r.returncode == 1 and "wget: bad address 'web'" in r.stderr
    apply(_policy("allow-dns", "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n"
                  "  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]\n"))
    eventually(lambda: f"Name:\tweb.{ns}.svc.cluster.local" in run("client", "nslookup", "web").stdout)
    r = wget("client", "http://web/hostname")  # the name resolves; the client's egress to 8080 is still denied
    assert "download timed out" in r.stderr
    route = cluster.net.route(f"web.{ns}:80", ns, source_ip=client_ip)
    assert route.action == "drop" and "isolate client for egress" in route.reason


INGRESS = """
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: CLASS}
spec:
  controller: k8s.io/ingress-nginx
  parameters: {kind: IngressParameters, apiGroup: k8s.example.com, name: p}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: CLASS
  tls: [{hosts: [a.example.com], secretName: tls}]
  rules:
  - host: a.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
  - host: b.example.com
    http:
      paths:
      - {path: /api, pathType: Exact, backend: {service: {name: api, port: {name: http}}}}
"""


def test_ingress_and_ingressclass_served_as_objects(cluster, namespace):  # type: ignore[no-untyped-def]
    cls = f"c-{namespace}"
    try:
        cluster.kubectl("-n", namespace, "apply", "-f", "-", input=INGRESS.replace("CLASS", cls), check=True)
        rows = cluster.kubectl("-n", namespace, "get", "ing", check=True).stdout.splitlines()
        assert rows[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
        assert rows[1].split()[:5] == ["web", cls, "a.example.com,b.example.com", "80,", "443"]
        rows = cluster.kubectl("get", "ingressclass", cls, check=True).stdout.splitlines()
        assert rows[0].split() == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
        assert rows[1].split()[:3] == [cls, "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/p"]
        params = json.loads(cluster.kubectl("get", "ingressclass", cls, "-o", "json", check=True).stdout)
        assert params["spec"]["parameters"]["scope"] == "Cluster"  # SetDefaults_IngressClass
        bare = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bare}\nspec: {}\n"
        bad = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=bare)
        assert bad.stderr == ('The Ingress "bare" is invalid: spec: Invalid value: []networking.IngressRule(nil): '
                              "either `defaultBackend` or `rules` must be specified\n")
        moved = cluster.kubectl("apply", "-f", "-", input=(
            f"apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: {cls}}}\n"
            "spec: {controller: example.com/other}\n"))
        assert (f'The IngressClass "{cls}" is invalid: spec.controller: Invalid value: "example.com/other": '
                "field is immutable") in moved.stderr
    finally:
        cluster.kubectl("delete", "ingressclass", cls, "--ignore-not-found")


def test_a_relabelled_pod_on_another_node_is_judged_by_its_new_labels(cluster, namespace):  # type: ignore[no-untyped-def]
    """The client's node reads the server's labels from the sandbox note its own node keeps current (R99)."""
    ns = namespace
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=APP, check=True)
    assert cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", "--timeout=60s").returncode == 0
    assert cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/client", "--timeout=60s").returncode == 0
    pods = json.loads(cluster.kubectl("-n", ns, "get", "pods", "-o", "json", check=True).stdout)["items"]
    client_node = next(p["spec"]["nodeName"] for p in pods if p["metadata"]["name"] == "client")
    far = [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == "web"
           and p["spec"]["nodeName"] != client_node]
    if not far:
        pytest.skip("both web Pods landed on the client's node")
    name, ip = far[0]["metadata"]["name"], far[0]["status"]["podIP"]

    def reach() -> str:
        return cluster.kubectl("-n", ns, "exec", "client", "--", "wget", "-qO-", "-T", "1",
                               f"http://{ip}:8080/hostname", timeout=30).stdout
    cluster.kubectl("-n", ns, "apply", "-f", "-", check=True,
                    input=_policy("lock", "  podSelector: {matchLabels: {locked: 'yes'}}\n"))
    assert reach() == name
    cluster.kubectl("-n", ns, "label", "pod", name, "locked=yes", check=True)
    eventually(lambda: reach() == "")
    cluster.kubectl("-n", ns, "label", "pod", name, "locked-", check=True)
    eventually(lambda: reach() == name)
