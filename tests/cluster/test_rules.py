"""One test per rule family of docs/rules.md, end to end on the embedded cluster.

The unit tests pin every rule in the pure modules; these check that the running
cluster (API, controllers, kubelet, DNS, proxy, real sockets) puts them together.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import eventually as _eventually

pytestmark = pytest.mark.cluster


def eventually(pred, timeout=15.0):  # type: ignore[no-untyped-def]
    return _eventually(pred, timeout)


def apply(cluster, ns, text):  # type: ignore[no-untyped-def]
    r = cluster.kubectl("-n", ns, "apply", "-f", "-", input=text)
    assert r.returncode == 0, r.stderr
    return r


def get(cluster, ns, *what):  # type: ignore[no-untyped-def]
    r = cluster.kubectl("-n", ns, "get", *what, "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def slices(cluster, ns, svc):  # type: ignore[no-untyped-def]
    return get(cluster, ns, "endpointslices", "-l", f"kubernetes.io/service-name={svc}")["items"]




def deployment(name, labels, args, replicas=2, ports="", probe=""):  # type: ignore[no-untyped-def]
    lab = "\n".join(f"        {k}: {v}" for k, v in labels.items())
    sel = "\n".join(f"      {k}: {v}" for k, v in labels.items())
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
{sel}
  template:
    metadata:
      labels:
{lab}
    spec:
      containers:
      - name: app
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: {json.dumps(args)}
{ports}{probe}
"""


def ready_count(cluster, ns, selector, n):  # type: ignore[no-untyped-def]
    def ok():  # type: ignore[no-untyped-def]
        items = get(cluster, ns, "pods", "-l", selector)["items"]
        r = [p for p in items if any(c["type"] == "Ready" and c["status"] == "True"
                                     for c in p["status"].get("conditions", []))]
        return len(r) == n and len(items) == n
    eventually(ok)


def test_A_R1_R2_R3_selection_is_exact_and_only_with_a_selector(cluster, namespace):  # type: ignore[no-untyped-def]
    apply(cluster, namespace, deployment("web", {"app": "web"}, ["netexec", "--http-port=8080"]))
    apply(cluster, namespace, """
apiVersion: v1
kind: Service
metadata: {name: upper}
spec: {selector: {app: Web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: noselector}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {type: ExternalName, externalName: example.com, selector: {app: web}}
""")
    ready_count(cluster, namespace, "app=web", 2)
    # R1: label values are compared case-sensitively -> the placeholder slice (R26) has no endpoints
    upper = eventually(lambda: slices(cluster, namespace, "upper"))
    assert len(upper) == 1 and upper[0]["endpoints"] is None and upper[0]["ports"] is None
    time.sleep(0.2)
    assert slices(cluster, namespace, "noselector") == []  # R2
    assert slices(cluster, namespace, "ext") == []  # R3


def test_B_R9_R11_R13_validation_messages_through_kubectl(cluster, namespace):  # type: ignore[no-untyped-def]
    r = cluster.kubectl("-n", namespace, "apply", "-f", "-", input="""
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
  - {name: a, port: 0, targetPort: "8080"}
  - {name: b, port: 81, nodePort: 30080}
""")
    assert r.returncode == 1
    # kubectl lists the Status causes one per line (the message itself is "[a, b, c]", R6)
    assert 'The Service "web" is invalid: \n* spec.ports[0].port' in r.stderr
    assert "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive" in r.stderr
    assert 'spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)' in r.stderr
    assert "spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'" in r.stderr
    r = cluster.kubectl("-n", namespace, "apply", "-f", "-", input="""
apiVersion: v1
kind: Service
metadata: {name: np}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, nodePort: 8080}]}
""")
    assert ("spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of "
            "valid ports is 30000-32767") in r.stderr


def test_C_R21_R23_R24_named_ports_readiness_and_slices(cluster, namespace):  # type: ignore[no-untyped-def]
    ports8080 = "        ports: [{name: http, containerPort: 8080}]\n"
    ports9090 = "        ports: [{name: http, containerPort: 9090}]\n"
    apply(cluster, namespace, deployment("a", {"app": "web", "v": "a"}, ["netexec", "--http-port=8080"], 1,
                                         ports8080))
    apply(cluster, namespace, deployment("b", {"app": "web", "v": "b"}, ["netexec", "--http-port=9090"], 1,
                                         ports9090))
    apply(cluster, namespace, deployment("c", {"app": "web", "v": "c"}, ["netexec", "--http-port=8080"], 1))
    apply(cluster, namespace, """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
""")
    ready_count(cluster, namespace, "app=web", 3)

    def three_slices():  # type: ignore[no-untyped-def]
        s = slices(cluster, namespace, "web")
        return s if len(s) == 3 and all(x["endpoints"] for x in s) else None

    s = eventually(three_slices)
    port_lists = sorted(json.dumps(x["ports"]) for x in s)
    # R24: one slice per distinct resolved port list; R23: the pod without the name keeps a slice without ports
    assert port_lists == sorted([json.dumps([{"name": "http", "port": 8080, "protocol": "TCP"}]),
                                 json.dumps([{"name": "http", "port": 9090, "protocol": "TCP"}]), "null"])
    # traffic only reaches pods whose named port resolved (R42)
    backends = {cluster.net.curl("http://web/hostname", namespace).body.split("-")[0] for _ in range(20)}
    assert backends == {"a", "b"}


def test_D_R30_R31_readiness_probe_gates_endpoints(cluster, namespace):  # type: ignore[no-untyped-def]
    probe = ("        readinessProbe:\n          httpGet: {path: /healthz, port: 9999}\n"
             "          periodSeconds: 1\n          failureThreshold: 1\n")
    apply(cluster, namespace, deployment("web", {"app": "web"}, ["netexec", "--http-port=8080"], 2, "", probe))
    apply(cluster, namespace, """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
""")

    def unready_endpoints():  # type: ignore[no-untyped-def]
        s = slices(cluster, namespace, "web")
        eps = [e for x in s for e in (x["endpoints"] or [])]
        return eps if len(eps) == 2 else None

    eps = eventually(unready_endpoints)
    assert all(e["conditions"] == {"ready": False, "serving": False, "terminating": False} for e in eps), eps
    assert all(e["conditions"] == {"ready": False, "serving": False, "terminating": False} for e in eps)
    r = cluster.net.curl("http://web/", namespace)
    assert r.error == "refused"  # R44: no ready endpoint -> REJECT
    ev = eventually(lambda: [e for e in get(cluster, namespace, "events")["items"] if e["reason"] == "Unhealthy"])
    assert ev[0]["message"].startswith('Readiness probe failed: Get "http://10.244.')
    assert ev[0]["message"].endswith(':9999: connect: connection refused')
    cluster.kubectl("-n", namespace, "patch", "deployment", "web", "--type=json", "-p",
                    '[{"op":"replace","path":"/spec/template/spec/containers/0/readinessProbe/httpGet/port",'
                    '"value":8080}]')
    ready_count(cluster, namespace, "app=web", 2)
    assert eventually(lambda: cluster.net.curl("http://web/hostname", namespace).ok)


def test_E_R33_R35_R38_dns_search_paths_headless_externalname(cluster, namespace):  # type: ignore[no-untyped-def]
    apply(cluster, namespace, deployment("web", {"app": "web"}, ["netexec", "--http-port=8080"], 2))
    apply(cluster, namespace, """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec: {clusterIP: None, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: docs}
spec: {type: ExternalName, externalName: docs.example.com}
""")
    ready_count(cluster, namespace, "app=web", 2)
    svc = get(cluster, namespace, "svc", "web")
    a = cluster.net.resolve("web", namespace)
    assert a.rcode == "NOERROR" and [r.data for r in a.answers] == [svc["spec"]["clusterIP"]]
    assert cluster.net.resolve("web", "default").rcode == "NXDOMAIN"  # R33: short name, other namespace
    assert cluster.net.resolve(f"web.{namespace}", "default").rcode == "NOERROR"
    assert cluster.net.resolve(f"WEB.{namespace}.svc.cluster.local", "default").rcode == "NOERROR"  # R39
    pod_ips = sorted(p["status"]["podIP"] for p in get(cluster, namespace, "pods", "-l", "app=web")["items"])
    h = eventually(lambda: cluster.net.resolve("web-headless", namespace) if len(
        cluster.net.resolve("web-headless", namespace).answers) == 2 else None)
    assert sorted(r.data for r in h.answers) == pod_ips  # R35
    srv = cluster.net.resolve(f"_http._tcp.web.{namespace}.svc.cluster.local", namespace, "SRV")
    assert srv.answers and srv.answers[0].data.split()[2] == "80"  # R37 ClusterIP SRV carries the Service port
    c = cluster.net.resolve("docs", namespace)
    assert c.answers[0].type == "CNAME" and c.answers[0].data == "docs.example.com."  # R38


def test_F_R44_R46_R48_R50_R51_proxy(cluster, namespace):  # type: ignore[no-untyped-def]
    apply(cluster, namespace, deployment("web", {"app": "web"}, ["netexec", "--http-port=8080"], 3))
    apply(cluster, namespace, """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: wrong-port}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 3000}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec: {selector: {app: nothing}, ports: [{port: 80, targetPort: 8080}]}
""")
    ready_count(cluster, namespace, "app=web", 3)
    names = {p["metadata"]["name"] for p in get(cluster, namespace, "pods", "-l", "app=web")["items"]}
    eventually(lambda: cluster.net.curl("http://web/hostname", namespace).ok)
    seen = {cluster.net.curl("http://web/hostname", namespace).body for _ in range(40)}
    assert seen == names  # R46: every ready endpoint gets traffic
    assert cluster.net.curl("http://empty/", namespace).error == "refused"  # R44
    assert cluster.net.curl("http://wrong-port/", namespace).error == "refused"  # R50: DNAT to a closed port
    svc = get(cluster, namespace, "svc", "web")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    r = cluster.net.route(f"172.18.0.2:{node_port}", namespace, None, "203.0.113.50")
    assert r.action == "forward" and r.endpoint[2] == 8080  # R48: every node, even the control plane
    lb = cluster.kubectl("-n", namespace, "get", "svc", "lb").stdout.splitlines()[1].split()
    assert lb[3] == "<pending>" and lb[4].startswith("80:")  # R51


def test_F_R47_client_ip_affinity_is_sticky(cluster, namespace):  # type: ignore[no-untyped-def]
    apply(cluster, namespace, deployment("web", {"app": "web"}, ["netexec", "--http-port=8080"], 3))
    apply(cluster, namespace, """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {sessionAffinity: ClientIP, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
""")
    ready_count(cluster, namespace, "app=web", 3)
    eventually(lambda: len([e for s in slices(cluster, namespace, "web") for e in (s["endpoints"] or [])]) == 3)
    picks = {cluster.net.route("web:80", namespace, "kai-labs-worker", "10.244.1.77").endpoint for _ in range(15)}
    assert len(picks) == 1


def test_C_R21_terminating_pods_stay_in_slices_until_gone(cluster, namespace):  # type: ignore[no-untyped-def]
    apply(cluster, namespace, """
apiVersion: v1
kind: Pod
metadata: {name: slow, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: ["netexec", "--http-port=8080"]
    lifecycle: {preStop: {sleep: {seconds: 2}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
""")
    ready_count(cluster, namespace, "app=web", 1)
    cluster.kubectl("-n", namespace, "delete", "pod", "slow", "--wait=false")

    def terminating():  # type: ignore[no-untyped-def]
        eps = [e for s in slices(cluster, namespace, "web") for e in (s["endpoints"] or [])]
        return eps if eps and eps[0]["conditions"]["terminating"] else None

    eps = eventually(terminating, 3)
    assert eps[0]["conditions"]["ready"] is False
    # R43: no ready endpoint left, a serving terminating one still gets traffic
    assert cluster.net.route("web:80", namespace, "kai-labs-worker", "10.244.1.9").action == "forward"
    eventually(lambda: get(cluster, namespace, "pods")["items"] == [], 10)


def test_F_R51_load_balancer_gets_an_address_only_from_a_configured_pool(cluster, namespace):  # type: ignore[no-untyped-def]
    apply(cluster, namespace, deployment("web", {"app": "web"}, ["netexec", "--http-port=8080"], 1))
    apply(cluster, namespace, """
apiVersion: v1
kind: Service
metadata: {name: lb}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
""")
    ready_count(cluster, namespace, "app=web", 1)
    row = cluster.kubectl("-n", namespace, "get", "svc", "lb").stdout.splitlines()[1].split()
    assert row[3] == "<pending>"
    r = cluster.kubectl("-n", "kube-system", "create", "configmap", "kai-labs-lb-pool",
                        "--from-literal=addresses=172.18.255.200-172.18.255.210")
    try:
        ip = eventually(lambda: (get(cluster, namespace, "svc", "lb")["status"]["loadBalancer"].get("ingress")
                                 or [{}])[0].get("ip"))
        assert ip.startswith("172.18.255.")
        route = cluster.net.route(f"{ip}:80", namespace, None, "203.0.113.50")
        assert route.action == "forward" and route.endpoint[2] == 8080
    finally:
        if r.returncode == 0:
            cluster.kubectl("-n", "kube-system", "delete", "configmap", "kai-labs-lb-pool")
