"""coordination.k8s.io/v1 Lease through the registry (kai_labs/sim/registry/coordination/lease.py): what a
kubelet writes is accepted and read back as kube-apiserver would; mistakes get its answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kai_labs.sim.apimachinery import errors, schema
from kai_labs.sim.registry.allocators import Ids
from kai_labs.sim.registry.generic import Api, rt_of
from kai_labs.sim.registry.resources import by_plural
from kai_labs.sim.storage.store import Store


@pytest.fixture
def api(tmp_path: Path) -> Api:
    store = Store(tmp_path / "state.db")
    a = Api(store, Ids(store, 1), lambda: 1_700_000_000.0)
    a.create(rt_of("Namespace"), "", {"metadata": {"name": "kube-node-lease"}})
    return a


def _lease(spec: dict[str, Any], name: str = "kai-labs-worker") -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name,
                                                            "uid": "00000000-0000-0000-0000-000000000001"}]},
            "spec": spec}


def test_served_as_a_namespaced_coordination_kind() -> None:
    rt = by_plural("coordination.k8s.io", "leases")
    assert rt is not None and (rt.kind, rt.version, rt.namespaced, rt.short_names) == ("Lease", "v1", True, ())


def test_a_kubelet_lease_round_trips_with_micro_times_in_utc(api: Api) -> None:
    got = api.create(rt_of("Lease"), "kube-node-lease", _lease({
        "holderIdentity": "kai-labs-worker", "leaseDurationSeconds": 40,
        "renewTime": "2025-01-01T13:00:00.250000+01:00"}), field_validation="Strict")
    assert got["spec"] == {"holderIdentity": "kai-labs-worker", "leaseDurationSeconds": 40,
                           "renewTime": "2025-01-01T12:00:00.250000Z"}
    got["spec"]["renewTime"] = "2025-01-01T12:00:10.000001Z"
    again = api.update(rt_of("Lease"), "kube-node-lease", "kai-labs-worker", got, field_validation="Strict")
    assert again["spec"]["renewTime"] == "2025-01-01T12:00:10.000001Z"


@pytest.mark.parametrize(("spec", "message"), [
    ({"leaseDurationSeconds": 0}, 'Lease.coordination.k8s.io "kai-labs-worker" is invalid: '
                                  "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"),
    ({"leaseTransitions": -1}, 'Lease.coordination.k8s.io "kai-labs-worker" is invalid: '
                               "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"),
])
def test_validation_messages(api: Api, spec: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.ApiError) as e:
        api.create(rt_of("Lease"), "kube-node-lease", _lease(spec))
    assert (e.value.code, e.value.message) == (422, message)


@pytest.mark.parametrize(("renew", "why"), [
    ("2025-01-01T12:00:00Z", 'cannot parse "Z" as ".000000"'),  # MicroTime needs its six digits
    ("yesterday", 'cannot parse "yesterday" as "2006"'),
])
def test_a_micro_time_that_does_not_parse_is_a_decode_error(api: Api, renew: str, why: str) -> None:
    with pytest.raises(errors.ApiError) as e:
        api.create(rt_of("Lease"), "kube-node-lease", _lease({"renewTime": renew}))
    assert e.value.code == 400
    assert e.value.message == (f'Lease in version "v1" cannot be handled as a Lease: parsing time "{renew}" as '
                               f'"2006-01-02T15:04:05.000000Z07:00": {why}')


def test_strict_decoding_knows_the_lease_fields(api: Api) -> None:
    err = schema.check("coordination.k8s.io/v1", "Lease", _lease({"holderIdentity": "x", "renewtime": "x"}))
    assert err is not None and err.unknown == ["spec.renewtime"]
    err = schema.check("coordination.k8s.io/v1", "Lease", _lease({"leaseDurationSeconds": "40"}))
    assert err is not None and err.type_error == ("json: cannot unmarshal string into Go struct field "
                                                  "LeaseSpec.spec.leaseDurationSeconds of type int32")


def test_coordinated_leader_election_fields_are_dropped_with_the_gate_off(api: Api) -> None:
    got = api.create(rt_of("Lease"), "kube-node-lease", _lease({"holderIdentity": "a", "strategy": "Whatever",
                                                               "preferredHolder": "b"}))
    assert got["spec"] == {"holderIdentity": "a"}
