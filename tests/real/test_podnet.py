"""cluster.net through client Pods, connect() and its safety rules, KAI_LABS_CLUSTER: all on the embedded
cluster seen through a foreign context (so every resolve and curl is a real Pod in the cluster)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import kai_labs
from kai_labs.clusters import real
from kai_labs.clusters.embedded import ClusterError

from .conftest import FOREIGN, WEB, make_namespace

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def demo(cluster) -> Iterator[str]:  # type: ignore[no-untyped-def]
    ns = "real-" + uuid.uuid4().hex[:6]
    make_namespace(cluster, ns)
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=WEB, check=True)
    cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", check=True)
    yield ns
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


def _client_pods(cluster, ns: str) -> list[str]:  # type: ignore[no-untyped-def]
    r = cluster.kubectl("get", "pods", "-n", ns, "-l", "kai-labs.dev/role", "-o", "name")
    return r.stdout.split()


# ------------------------------------------------------------------------------------------- safety

def test_foreign_context_is_refused_without_opt_in(foreign_kubeconfig: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(real.ALLOW_ENV, raising=False)
    with pytest.raises(ClusterError) as e:
        kai_labs.connect(FOREIGN, kubeconfig=foreign_kubeconfig)
    msg = str(e.value)
    assert "refusing to use context 'workshop-shared'" in msg
    assert f"{real.ALLOW_ENV}={FOREIGN}" in msg and "allow=True" in msg and "created-by=kai-labs" in msg


def test_opt_in_by_environment(foreign_kubeconfig: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(real.ALLOW_ENV, f"other, {FOREIGN}")
    c = kai_labs.connect(FOREIGN, kubeconfig=foreign_kubeconfig)
    assert isinstance(c.net, real.PodNet) and c.context == FOREIGN
    cfg = json.loads(Path(c.kubeconfig).read_text())  # only this context, for !kubectl cells
    assert [x["name"] for x in cfg["contexts"]] == [FOREIGN] and cfg["current-context"] == FOREIGN
    assert oct(Path(c.kubeconfig).stat().st_mode & 0o777) == "0o600"
    assert c.kubectl("get", "nodes", "-o", "name").stdout.count("node/") == 3


def test_unknown_context_and_current_context(foreign_kubeconfig: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClusterError, match="no context 'kind-nope'.*cluster up --kind"):
        kai_labs.connect("kind-nope", kubeconfig=foreign_kubeconfig)
    monkeypatch.setenv("KUBECONFIG", str(foreign_kubeconfig))
    monkeypatch.setenv(real.ALLOW_ENV, FOREIGN)
    assert kai_labs.connect().context == FOREIGN  # the current context by default


def test_embedded_context_needs_no_opt_in(cluster, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(real.ALLOW_ENV, raising=False)
    c = kai_labs.connect(cluster.context, kubeconfig=cluster.kubeconfig)
    assert c.embedded  # its own DNS and proxy
    p = kai_labs.connect(cluster.context, kubeconfig=cluster.kubeconfig, net="pod")
    assert isinstance(p.net, real.PodNet)


def test_context_verdicts(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(real.ALLOW_ENV, raising=False)
    assert real.context_verdict("kind-kai-labs", "https://127.0.0.1:40123") == "kind"
    with pytest.raises(ClusterError, match="its API server 10.0.0.5 is not on this machine"):
        real.context_verdict("kind-prod", "https://10.0.0.5:6443")
    with pytest.raises(ClusterError, match="neither the embedded"):
        real.context_verdict("gke_prod", "https://34.1.2.3")
    assert real.context_verdict("gke_prod", "https://34.1.2.3", allow=True) == "opted-in"
    monkeypatch.setenv(real.ALLOW_ENV, "gke_prod")
    assert real.context_verdict("gke_prod", "https://34.1.2.3") == "opted-in"
    assert pytest.raises(ClusterError, real.context_verdict, "gke_prod2", "https://34.1.2.3")


def test_client_pods_only_in_kai_labs_namespaces(foreign, cluster, demo: str) -> None:  # type: ignore[no-untyped-def]
    other = "plain-" + uuid.uuid4().hex[:6]
    make_namespace(cluster, other, labelled=False)
    try:
        with pytest.raises(ClusterError, match="was not created by kai-labs"):
            foreign.net.curl(f"http://web.{demo}/hostname", namespace=other)
        with pytest.raises(ClusterError, match="does not exist"):
            foreign.net.resolve("web", namespace="no-such-ns")
        assert _client_pods(cluster, other) == []
    finally:
        cluster.kubectl("delete", "namespace", other, "--wait=false")


def test_start_honours_kai_labs_cluster(foreign_kubeconfig: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KUBECONFIG", str(foreign_kubeconfig))
    monkeypatch.setenv("KAI_LABS_CLUSTER", f"context:{FOREIGN}")
    monkeypatch.delenv(real.ALLOW_ENV, raising=False)
    with pytest.raises(ClusterError, match="refusing"):
        kai_labs.start()
    monkeypatch.setenv(real.ALLOW_ENV, FOREIGN)
    c = kai_labs.start()
    assert isinstance(c.net, real.PodNet)
    assert os.environ["KUBECONFIG"] == str(c.kubeconfig)  # !kubectl cells go to the same cluster
    monkeypatch.setenv("KAI_LABS_CLUSTER", "minikube")
    with pytest.raises(ClusterError, match="embedded .*kind.*context:<"):
        kai_labs.start()


# ------------------------------------------------------------------------------------------- traffic

def test_curl_through_dns_and_the_service_proxy(foreign, cluster, demo: str) -> None:  # type: ignore[no-untyped-def]
    pods = set(cluster.kubectl("get", "pods", "-n", demo, "-l", "app=web", "-o",
                               "jsonpath={.items[*].metadata.name}").stdout.split())
    r = foreign.net.curl("http://web/hostname", namespace=demo)
    assert r.ok and r.status == 200 and r.body in pods and r.backend == r.body and r.error is None
    ip = cluster.kubectl("get", "pod", r.backend, "-n", demo, "-o", "jsonpath={.status.podIP}").stdout
    direct = foreign.net.curl(f"http://{ip}:8080/", namespace=demo)  # the backend from the remote (Pod) IP
    assert direct.ok and direct.backend == r.backend
    assert _client_pods(cluster, demo) == []  # every client Pod is deleted


@pytest.mark.parametrize("url,error,detail", [
    ("http://web:8080/hostname", "refused", "Failed to connect to web port 8080"),  # port vs targetPort
    ("http://ghost/hostname", "refused", "Failed to connect"),                       # no endpoints: REJECT
    ("http://nope/hostname", "dns", "Could not resolve host: nope"),
])
def test_curl_failures_in_the_course_vocabulary(foreign, demo: str, url: str, error: str, detail: str) -> None:  # type: ignore[no-untyped-def]
    r = foreign.net.curl(url, namespace=demo, timeout=2)
    assert not r.ok and r.status is None and r.error == error and detail in r.detail


def test_resolve_matches_the_embedded_answer(foreign, cluster, demo: str) -> None:  # type: ignore[no-untyped-def]
    for name, qtype in [("web", "A"), (f"web.{demo}", "A"), ("web-headless", "A"), ("nope", "A"),
                        ("_http._tcp.web", "SRV"), ("web", "AAAA"), (f"web.{demo}.svc.cluster.local.", "A")]:
        got = foreign.net.resolve(name, namespace=demo, type=qtype)
        want = cluster.net.resolve(name, namespace=demo, type=qtype)
        assert (got.rcode, got.fqdn, got.tried) == (want.rcode, want.fqdn, want.tried), name
        assert sorted((a.name, a.type, a.data) for a in got.answers) == sorted(
            (a.name, a.type, a.data) for a in want.answers), name


def test_route_is_an_inference_from_the_api(foreign, cluster, demo: str) -> None:  # type: ignore[no-untyped-def]
    r = foreign.net.route("web:80", namespace=demo)
    assert r.action == "forward" and r.service == f"{demo}/web" and r.endpoint[2] == 8080
    assert r.reason.startswith("inferred from the API, no packet sent") and "picks at random among the 2" in r.reason
    g = foreign.net.route("ghost:80", namespace=demo)
    assert g.action == "reject" and g.error == "refused" and "no ready" in g.reason
    bad = foreign.net.route("web:8080", namespace=demo)
    assert bad.action == "reject"
    node = json.loads(cluster.kubectl("get", "node", "kai-labs-worker", "-o", "json").stdout)
    ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    np = foreign.net.route(f"{ip}:30080", namespace=demo, source_node=None, source_ip="203.0.113.50")
    assert np.action == "forward" and np.endpoint[2] == 8080 and "NodePort" in np.reason
    h = foreign.net.route("web-headless:8080", namespace=demo)
    assert h.action == "forward" and "headless" in h.reason


def test_a_scenario_graded_through_client_pods(foreign) -> None:  # type: ignore[no-untyped-def]
    s = kai_labs.scenarios.get("wrong-selector")
    s.delete(foreign)
    s.create(foreign)
    try:
        assert not s.check(foreign, timeout=2).passed
        s.solve(foreign)
        g = s.check(foreign)
        assert g.passed, str(g)
        trace = s.inspect(foreign)
        assert next(st for st in trace.steps if st.hop == "request").status == "ok"
    finally:
        s.delete(foreign)


# ------------------------------------------------------------------------------------------- parsers

def test_parse_curl_output_is_robust() -> None:
    m = "@@kai-labs-abc@@"
    out = real.parse_curl_output(f"hello\n{m} fake line in the body\nworld\n{m} 200 0 10.96.0.20 80 \n", m)
    assert out is not None and out["body"] == f"hello\n{m} fake line in the body\nworld" and out["status"] == 200
    out = real.parse_curl_output(f"\n{m} 000 28 10.96.0.20 80 Connection timed out after 2001 milliseconds\n", m)
    assert out and out["body"] == "" and out["status"] is None and out["exitcode"] == 28
    assert out["errormsg"] == "Connection timed out after 2001 milliseconds"
    assert real.parse_curl_output("curl: (2) something broke\n", m) is None
    assert real.curl_error(28) == "timeout" and real.curl_error(6) == "dns" and real.curl_error(0) is None


def test_parse_resolve_output_follows_search_and_ndots() -> None:
    m = "@@m@@"
    conf = f"{m} conf\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
    block = lambda q, body: f"{m} query {q}\nServer:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n{body}\n{m} rc 0\n"  # noqa: E731
    nx = lambda q: block(q, f"** server can't find {q.rstrip('.')}: NXDOMAIN\n")  # noqa: E731
    log = (conf + nx("docs.ns1.svc.cluster.local.")
           + block("docs.svc.cluster.local.", "docs.svc.cluster.local\tcanonical name = example.com\n")
           + nx("docs.cluster.local.") + nx("docs."))
    a = real.parse_resolve_output(log, m, "docs")
    assert a.rcode == "NOERROR" and a.fqdn == "docs.svc.cluster.local."
    assert [(r.type, r.data) for r in a.answers] == [("CNAME", "example.com.")]
    long = "a.b.c.d.e.f"  # 5 dots: tried as is first
    log = conf + block(long + ".", f"Name:\t{long}\nAddress: 1.2.3.4\n")
    assert real.parse_resolve_output(log, m, long).tried == [long + "."]
    log = conf + block("x.ns1.svc.cluster.local.", ";; connection timed out; no servers could be reached\n")
    assert real.parse_resolve_output(log, m, "x").rcode == "SERVFAIL"




def test_current_follows_kai_labs_cluster_without_creating(cluster, foreign_kubeconfig: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from kai_labs.clusters import current

    monkeypatch.delenv("KAI_LABS_CLUSTER", raising=False)
    assert current().embedded
    monkeypatch.setenv("KUBECONFIG", str(foreign_kubeconfig))
    monkeypatch.setenv("KAI_LABS_CLUSTER", "kind")
    with pytest.raises(ClusterError, match="no kind cluster kai-labs.*cluster up --kind"):
        current()
    monkeypatch.setenv("KAI_LABS_CLUSTER", f"context:{FOREIGN}")
    monkeypatch.setenv(real.ALLOW_ENV, FOREIGN)
    assert isinstance(current().net, real.PodNet)
