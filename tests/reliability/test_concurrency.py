"""20+ sessions (official client threads, kubectl processes, raw watch streams) on the same and on
different objects at once: no lost update, 409 on stale resourceVersions, watches complete and in order."""

from __future__ import annotations

import json

import pytest

from .loadlib import Load, pct, run_load


def test_stale_resource_version_is_409_conflict(cluster, namespace) -> None:  # type: ignore[no-untyped-def]
    from kubernetes.client.rest import ApiException

    core = cluster.core()
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"n": "0"}})
    stale = core.read_namespaced_config_map("c", namespace)
    core.patch_namespaced_config_map("c", namespace, {"data": {"n": "1"}})
    stale.data = {"n": "lost?"}
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map("c", namespace, stale)
    assert e.value.status == 409
    body = json.loads(e.value.body)
    assert body["kind"] == "Status" and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    # kubectl replace with the stale copy: the same Conflict, nothing written
    stale_doc = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "resourceVersion": stale.metadata.resource_version},
            "data": {"n": "lost?"},
        }
    )
    r = cluster.kubectl("-n", namespace, "replace", "-f", "-", input=stale_doc)
    assert r.returncode != 0 and "the object has been modified" in r.stderr, r.stderr
    # a stale precondition on delete and on a JSON patch "test" op fail the same way
    with pytest.raises(ApiException) as e:
        core.delete_namespaced_config_map(
            "c", namespace, body={"preconditions": {"resourceVersion": stale.metadata.resource_version}}
        )
    assert e.value.status == 409
    assert core.read_namespaced_config_map("c", namespace).data == {"n": "1"}


def test_many_sessions_lose_no_update_and_watches_see_everything(cluster, namespace) -> None:  # type: ignore[no-untyped-def]
    load = Load()
    assert load.sessions >= 20
    res = run_load(cluster, namespace, load)
    assert not res.hung, f"sessions still running after the deadline (deadlock?): {res.hung}"
    assert not res.errors, res.errors[:5]
    assert res.counter == res.counter_expected, (
        f"lost update: counter is {res.counter}, {res.counter_expected} increments were acknowledged"
    )
    assert res.conflicts > 0, "concurrent read-modify-write loops should have met 409 Conflicts"
    assert not res.watch_problems, res.watch_problems[:5]
    assert res.watch_events > 0
    assert pct(res.client_latency_ms, 99) < 5000, "p99 client latency above 5s"
