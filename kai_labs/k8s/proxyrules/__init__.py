"""The rules kube-proxy would program for a cluster's current state, in both of its modes.

Pure functions of API objects (Services, EndpointSlices, Nodes, in a
:class:`kai_labs.k8s.netlogic.Snapshot`): :func:`rules` gives a :class:`Ruleset` whose text is
what ``nft list table ip kube-proxy`` (nftables mode) or ``iptables-save`` (iptables mode)
shows on a node, with kube-proxy's chain names and hashes, and whose :meth:`Ruleset.path`
gives the lines one request takes. Which endpoints are usable comes from
:mod:`kai_labs.k8s.netlogic` (R42-R47), so the rules and the embedded proxy's verdicts agree.
Sources: see :mod:`.model`, :mod:`.nftables`, :mod:`.iptables` (rules R75-R84 of docs/rules.md).
"""

from __future__ import annotations

from kai_labs.k8s.netlogic import Snapshot

from . import iptables, nftables
from .model import MODES, Endpoint, Options, ServicePort, default_node, node_ips, service_ports
from .ruleset import Line, Request, Ruleset

__all__ = ["MODES", "Endpoint", "Line", "Options", "Request", "Ruleset", "ServicePort", "default_node",
           "node_ips", "rules", "service_ports"]


def rules(snap: Snapshot, mode: str = "nftables", options: Options | None = None,
          service: str | None = None) -> Ruleset:
    """The ruleset of ``mode`` ("nftables" or "iptables") for ``snap`` on one node."""
    if mode == "nftables":
        return nftables.render(snap, options, service)
    if mode == "iptables":
        return iptables.render(snap, options, service)
    raise ValueError(f'unknown proxy mode {mode!r}: kube-proxy modes here are "nftables" and "iptables"')
