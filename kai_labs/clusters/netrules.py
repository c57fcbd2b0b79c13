"""``cluster.net.rules(...)`` and ``kai-labs net rules``: the rules kube-proxy would program, for any cluster.

The objects (Services, EndpointSlices, Nodes, namespaces, and the ``kube-proxy`` ConfigMap
that states the proxy mode, as kind and kubeadm clusters carry it) are read with the
official client, so the same code serves the embedded cluster, kind and any context; the
rules themselves come from the pure :mod:`kai_labs.k8s.proxyrules`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kai_labs.k8s import netlogic, proxyrules

from .base import ClusterError

KUBE_PROXY_CONFIGMAP = ("kube-system", "kube-proxy")  # kubeadm's (and kind's) ConfigMap with config.conf
# kube-proxy's default on Linux when config.conf says mode: ""
# (cmd/kube-proxy/app/server_linux.go: platformApplyDefaults)
DEFAULT_MODE = "iptables"


@dataclass
class Rules:
    """The ruleset of one mode, optionally for one Service, with the lines one request takes marked."""

    mode: str
    ruleset: proxyrules.Ruleset
    node: str
    service: str | None = None
    request: str | None = None
    taken: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def text(self) -> str:
        """The rules as ``nft list table ip kube-proxy`` / ``iptables-save`` print them."""
        return self.ruleset.text

    @property
    def lines_taken(self) -> list[str]:
        """The lines the request matches, in the order the kernel meets them."""
        return [self.ruleset.lines[i].text.strip() for i in self.taken]

    def summary(self) -> str:
        """Only the Service's own rules (map elements and its chains' rules), each after its chain or map:
        the lines a lesson shows, without the fixed frame every node carries."""
        out = []
        for line in self.ruleset.lines:
            if line.rule and line.service and (self.service is None or line.service == self.service):
                text = line.text.strip().rstrip(",")
                out.append(text if text.startswith("-A ") else f"{line.chain}: {text}")
        return "\n".join(out) + "\n"

    def __str__(self) -> str:
        head = (f"# kube-proxy mode {self.mode}, node {self.node or '(none)'}"
                + (f", Service {self.service}" if self.service else ""))
        if self.request:
            head += f"\n# '>>' marks the lines a new connection to {self.request} takes"
        if self.note:
            head += f"\n# {self.note}"
        on = set(self.taken)
        if not self.request:
            return head + "\n" + self.text
        body = "\n".join((">> " if i in on else "   ") + line.text for i, line in enumerate(self.ruleset.lines))
        return head + "\n" + body + "\n"

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the text, not a repr
        p.text(str(self))


def _list(call: Any, *args: Any) -> list[dict[str, Any]]:
    from kubernetes.client.exceptions import ApiException  # late: a CLI install stays light

    try:
        resp = call(*args, _preload_content=False)
    except ApiException as e:
        if e.status in (401, 403, 404):
            return []
        raise ClusterError(f"could not read the cluster's objects: {e.reason}") from None
    items: list[dict[str, Any]] = json.loads(resp.data).get("items") or []
    return items


def snapshot(cluster: Any, namespace: str | None = None) -> netlogic.Snapshot:
    """The objects the rules are computed from, read with the official client (cluster-wide when allowed,
    else ``namespace`` only, as in a workshop where a learner may read only their own namespaces)."""
    core, disc = cluster.core(), cluster.discovery()
    services = _list(core.list_service_for_all_namespaces)
    slices = _list(disc.list_endpoint_slice_for_all_namespaces)
    if not services and namespace:
        services = _list(core.list_namespaced_service, namespace)
        slices = _list(disc.list_namespaced_endpoint_slice, namespace)
    namespaces = [str((n.get("metadata") or {}).get("name")) for n in _list(core.list_namespace)]
    if namespace and namespace not in namespaces:
        namespaces.append(namespace)
    return netlogic.Snapshot(services, slices, [], _list(core.list_node), namespaces)


def proxy_config(cluster: Any) -> dict[str, str]:
    """``mode`` and ``clusterCIDR`` from kube-system/kube-proxy's config.conf ({} when absent)."""
    from kubernetes.client.exceptions import ApiException

    ns, name = KUBE_PROXY_CONFIGMAP
    try:
        resp = cluster.core().read_namespaced_config_map(name, ns, _preload_content=False)
    except ApiException:
        return {}
    conf = (json.loads(resp.data).get("data") or {}).get("config.conf") or ""
    out: dict[str, str] = {}
    for key in ("mode", "clusterCIDR"):
        m = re.search(rf"^{key}:\s*['\"]?([^'\"\s#]*)", conf, re.MULTILINE)
        if m:
            out[key] = m.group(1)
    return out


# The Service ranges clusters start with: kind's 10.96.0.0/16, kubeadm's default 10.96.0.0/12.
SERVICE_CIDRS = ("10.96.0.0/16", "10.96.0.0/12")


def service_cidr(snap: netlogic.Snapshot) -> str:
    """The Service range the rules drop unallocated ClusterIPs of: the smallest usual range holding every
    ClusterIP (kube-proxy reads it from the ServiceCIDR objects; not every cluster serves them)."""
    ips = [ipaddress.ip_address(ip) for svc in snap.services for ip in netlogic._cluster_ips(svc)
           if netlogic._is_ipv4(ip)]
    for cidr in SERVICE_CIDRS:
        if all(ip in ipaddress.ip_network(cidr) for ip in ips):
            return cidr
    return SERVICE_CIDRS[-1]


def cluster_mode(cluster: Any) -> str:
    """The cluster's proxy mode: its kube-proxy ConfigMap's ``mode``, or kube-proxy's default."""
    mode = proxy_config(cluster).get("mode") or DEFAULT_MODE
    return mode if mode in proxyrules.MODES else DEFAULT_MODE


def _request(snap: netlogic.Snapshot, request: str, namespace: str) -> tuple[str, int] | str:
    """(ip, port) for ``web:80`` / ``http://web/x`` / ``10.96.0.20:80`` from ``namespace``, or why DNS gives
    no address (a note: no line is taken); a malformed request is a ClusterError."""
    text = request.strip()[:2048]  # learner input: bounded
    if "://" in text:
        try:
            u = urllib.parse.urlsplit(text)
            host, port = u.hostname or "", u.port or (443 if u.scheme == "https" else 80)
        except ValueError:
            raise ClusterError(f"{request!r} is not a URL with a port from 0 to 65535, e.g. http://web/") from None
    else:
        host, _, p = text.rpartition(":") if ":" in text else (text, "", "80")
        if not p.isdigit() or int(p) > 65535:
            raise ClusterError(f"{request!r} is not host:port with a port from 0 to 65535, e.g. web:80")
        port = int(p)
    if not netlogic._is_ipv4(host):
        ans = netlogic.resolve(snap, host, namespace)
        ips = [r.data for r in ans.answers if r.type == "A"]
        if not ips:
            return f"DNS: {host} does not resolve from namespace {namespace} ({ans.rcode}); no rule is taken"
        host = ips[0]
    return host, port


def rules(cluster: Any, service: str | None = None, namespace: str = "default", mode: str | None = None,
          request: str | None = None, node: str | None = None) -> Rules:
    """The rules kube-proxy would program on ``node`` for the cluster's current state.

    ``service`` keeps one Service's rules; ``request`` (``web:80``, ``http://web/``, an IP:port,
    resolved from ``namespace`` as a Pod there would) marks the lines a new connection takes;
    ``mode`` defaults to the cluster's own (:func:`cluster_mode`)."""
    if mode is not None and mode not in proxyrules.MODES:
        raise ClusterError(f'unknown proxy mode "{mode}": use nftables or iptables')
    conf = proxy_config(cluster)
    if mode is None:
        mode = conf["mode"] if conf.get("mode") in proxyrules.MODES else DEFAULT_MODE
    snap = snapshot(cluster, namespace)
    key = None
    if service:
        found = snap.service(namespace, service)
        if found is None:
            raise ClusterError(f'services "{service}" not found in namespace {namespace}')
        key = f"{namespace}/{found['metadata']['name']}"
    options = proxyrules.Options(node=node, cluster_cidr=conf.get("clusterCIDR") or proxyrules.Options.cluster_cidr,
                                 service_cidrs=(service_cidr(snap),))
    if node and node not in [str((n.get("metadata") or {}).get("name")) for n in snap.nodes]:
        raise ClusterError(f'nodes "{node}" not found')
    target = _request(snap, request, namespace) if request else None
    if isinstance(target, tuple) and node is None:  # a NodePort request is handled by the node it is sent to
        owner = snap.node_by_ip(target[0])
        if owner is not None:
            options = proxyrules.Options(node=str(owner["metadata"]["name"]), cluster_cidr=options.cluster_cidr,
                                         service_cidrs=options.service_cidrs)
    ruleset = proxyrules.rules(snap, mode, options, key)
    chosen = proxyrules.default_node(snap, options)
    out = Rules(mode, ruleset, chosen, key, request)
    if isinstance(target, str):
        out.note = target
    elif target is not None:
        req = proxyrules.Request(target[0], target[1], local_ips=frozenset(proxyrules.node_ips(snap, chosen)),
                                 pod_cidr=options.cluster_cidr)
        out.taken = ruleset.path(req)
    return out


# The packet walk lives in the course layer (kai_labs.labs.walk); kai_labs/__init__.py hands it over here, as it
# does the inspection walker (base.set_inspector), so that clusters never import the course.
Walker = Callable[..., Any]
_walker: Walker | None = None


def set_walker(fn: Walker) -> None:
    """Install the walk behind ``cluster.net.walk`` (done once, by ``kai_labs/__init__.py``)."""
    global _walker
    _walker = fn


class RulesMixin:
    """Gives a ``cluster.net`` implementation ``rules(...)``; it needs ``self.cluster``."""

    cluster: Any = None  # set when the handle is made (embedded.attach; PodNet takes it)

    def rules(self, service: str | None = None, namespace: str = "default", mode: str | None = None,
              request: str | None = None, node: str | None = None) -> Rules:
        """The rules kube-proxy would program for this cluster's current state (see :func:`rules`)."""
        if self.cluster is None:
            raise ClusterError("this net is not bound to a cluster handle; get one with kai_labs.start()")
        return rules(self.cluster, service, namespace, mode, request, node)

    def walk(self, url: str, namespace: str = "default", mode: str | None = None) -> Any:
        """Step a request to ``url`` from a Pod in ``namespace`` through DNS, kube-proxy's rules, DNAT and the
        reply (kai_labs.labs.walk); it stops at the step that fails and says why."""
        if _walker is None:
            raise ClusterError("the packet walk is not loaded: import kai_labs first")
        if self.cluster is None:
            raise ClusterError("this net is not bound to a cluster handle; get one with kai_labs.start()")
        return _walker(self.cluster, url, namespace, mode)
