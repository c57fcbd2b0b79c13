"""networking.k8s.io/v1 validation details the cluster tests do not reach (registry/networking)."""

from __future__ import annotations

from kai_labs.sim.registry.networking import ingress, networkpolicy


def _np(spec: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"name": "p", "namespace": "d"}, "spec": spec}


def test_policy_types_more_than_two_prints_the_go_slice() -> None:
    errs = networkpolicy.validate(_np({"podSelector": {}, "policyTypes": ["Ingress", "Egress", "Ingress"]}), None)
    assert [e.render() for e in errs] == [
        'spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", "Ingress"}: '
        "may not specify more than two policyTypes"]


def test_cidr_parsing_is_sloppy_and_except_must_be_a_strict_subset() -> None:
    block = {"cidr": "10.0.0.5/8", "except": ["010.1.0.0/16"]}
    ok = _np({"podSelector": {}, "ingress": [{"from": [{"ipBlock": block}]}]})
    assert networkpolicy.validate(ok, None) == []  # host bits and leading zeros: ParseCIDRSloppy accepts them
    v6 = _np({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["fd00::/64"]}}]}]})
    assert [e.render() for e in networkpolicy.validate(v6, None)] == [
        'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "fd00::/64": must be a strict subset of `cidr`']


def test_an_update_keeps_accepting_a_cidr_already_stored() -> None:
    old = _np({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "bogus"}}]}]})
    assert networkpolicy.validate(old, old) == []
    assert networkpolicy.validate(old, None) != []


def test_defaults() -> None:
    obj = _np({"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]})
    networkpolicy.default(obj)
    assert obj["spec"] == {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "TCP"}]}],
                           "policyTypes": ["Ingress", "Egress"]}


def test_ingress_rules_empty_list_prints_the_empty_go_slice() -> None:
    errs = ingress.validate({"metadata": {"name": "i", "namespace": "d"}, "spec": {"rules": []}}, None)
    assert [e.render() for e in errs] == [
        "spec: Invalid value: []networking.IngressRule{}: either `defaultBackend` or `rules` must be specified"]
