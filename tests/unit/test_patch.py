"""Merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kai_labs.sim.apimachinery.patch import PatchError, json_patch, merge_patch, patch_meta, strategic_merge
from kai_labs.sim.registry.strategy import STRATEGIES

# --- RFC 7386 (appendix A examples) ------------------------------------------------


@pytest.mark.parametrize("original, patch, result", [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_rfc7386(original: dict, patch: dict, result: dict) -> None:
    before = copy.deepcopy(original)
    assert merge_patch(original, patch) == result
    assert original == before


def test_merge_patch_not_an_object() -> None:
    with pytest.raises(PatchError) as e:
        merge_patch({"a": 1}, [1])  # type: ignore[arg-type]
    assert e.value.status_code == 400 and e.value.reason == "BadRequest"
    assert str(e.value) == ("error decoding patch: json: cannot unmarshal array into Go value of type "
                            "map[string]interface {}")


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)
_obj = st.dictionaries(st.text(max_size=4), _json, max_size=4)


@given(_obj)
def test_merge_patch_empty_is_identity(doc: dict) -> None:
    assert merge_patch(doc, {}) == doc


# --- RFC 6902 -----------------------------------------------------------------------


def test_json_patch_ops() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1, "list": [1, 2]}}
    out = json_patch(doc, [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "add", "path": "/spec/list/-", "value": 3},
        {"op": "copy", "from": "/spec/replicas", "path": "/spec/copy"},
        {"op": "move", "from": "/spec/copy", "path": "/spec/moved"},
    ])
    assert out == {"metadata": {"labels": {"b": "2"}}, "spec": {"replicas": 3, "list": [1, 2, 3], "moved": 3}}
    assert doc["spec"]["replicas"] == 1


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/spec/replicas", "value": 2}],
    [{"op": "remove", "path": "/metadata/labels/missing"}],
    [{"op": "replace", "path": "/nope/x", "value": 1}],
    [{"op": "bogus", "path": "/a"}],
])
def test_json_patch_failures_are_422(ops: list) -> None:
    with pytest.raises(PatchError) as e:
        json_patch({"metadata": {"labels": {}}, "spec": {"replicas": 1}}, ops)
    assert e.value.status_code == 422
    assert e.value.reason == "Invalid"
    assert str(e.value) == "the server rejected our request due to an error in our request"
    assert e.value.detail


def test_json_patch_not_a_list_is_400() -> None:
    with pytest.raises(PatchError) as e:
        json_patch({}, {"op": "add"})  # type: ignore[arg-type]
    assert e.value.status_code == 400
    assert str(e.value) == "json: cannot unmarshal object into Go value of type jsonpatch.Patch"


def test_json_patch_too_many_ops() -> None:
    ops = [{"op": "test", "path": "/a", "value": 1}] * 10001
    with pytest.raises(PatchError) as e:
        json_patch({"a": 1}, ops)
    assert e.value.status_code == 413
    assert str(e.value) == ("Request entity too large: The allowed maximum operations in a JSON patch "
                            "is 10000, got 10001")


# --- strategic merge patch: the patches kubectl sends ---------------------------------


def _deployment() -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"},
                     "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "nginx:1.25",
                         "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}],
                         "args": ["--a", "--b"]},
                        {"name": "sidecar", "image": "busybox:1.36"},
                    ],
                    "tolerations": [{"key": "k", "operator": "Exists"}],
                },
            },
        },
    }


def test_rollout_restart() -> None:
    d = _deployment()
    out = strategic_merge("Deployment", d, {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-11-26T15:00:00Z"}}}}})
    assert out["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-26T15:00:00Z"}}
    assert out["spec"]["template"]["spec"] == d["spec"]["template"]["spec"]


@pytest.mark.parametrize("name, other", [("app", "sidecar"), ("sidecar", "app")])
def test_set_image_changes_one_container_by_name(name: str, other: str) -> None:
    d = _deployment()
    out = strategic_merge("Deployment", d, {"spec": {"template": {"spec": {"containers": [
        {"name": name, "image": "new:2"}]}}}})
    cs = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["app", "sidecar"]
    by = {c["name"]: c for c in cs}
    assert by[name]["image"] == "new:2"
    orig = {c["name"]: c for c in d["spec"]["template"]["spec"]["containers"]}
    assert by[other] == orig[other]
    assert {k: v for k, v in by[name].items() if k != "image"} == {
        k: v for k, v in orig[name].items() if k != "image"}


def test_new_container_is_appended() -> None:
    out = strategic_merge("Deployment", _deployment(), {"spec": {"template": {"spec": {"containers": [
        {"name": "extra", "image": "x"}]}}}})
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["app", "sidecar", "extra"]


def _service() -> dict:
    return {"kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.7", "selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                               {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]}}


def test_apply_service_set_element_order_one_changed_port() -> None:
    out = strategic_merge("Service", _service(), {"spec": {
        "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
        "ports": [{"port": 80, "targetPort": 9090}]}})
    assert out["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090},
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]
    assert out["spec"]["clusterIP"] == "10.96.0.7"


def test_apply_service_reorder_and_delete_port() -> None:
    svc = _service()
    svc["spec"]["ports"].append({"name": "metrics", "port": 9100, "protocol": "TCP", "targetPort": 9100})
    out = strategic_merge("Service", svc, {"spec": {
        "$setElementOrder/ports": [{"port": 443}, {"port": 80}],
        "ports": [{"$patch": "delete", "port": 9100}]}})
    assert [p["port"] for p in out["spec"]["ports"]] == [443, 80]


def test_apply_env_set_element_order() -> None:
    out = strategic_merge("Deployment", _deployment(), {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
        "containers": [{"name": "app", "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                        "env": [{"name": "A", "value": "2"}]}]}}}})
    app = out["spec"]["template"]["spec"]["containers"][0]
    assert app["env"] == [{"name": "B", "value": "1"}, {"name": "A", "value": "2"}]
    assert "$setElementOrder/env" not in app


def test_apply_with_last_applied_annotation_and_label_removal() -> None:
    out = strategic_merge("Deployment", _deployment(), {"metadata": {
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"x\":1}\n"},
        "labels": {"app": None, "tier": "fe"}}})
    assert out["metadata"]["labels"] == {"tier": "fe"}
    assert out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "{\"x\":1}\n"
    assert out["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"


def test_container_ports_merge_on_container_port() -> None:
    out = strategic_merge("Pod", {"kind": "Pod", "spec": {"containers": [
        {"name": "c", "ports": [{"containerPort": 80, "name": "http"}]}]}},
        {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080},
                                                         {"containerPort": 9090}]}]}})
    assert out["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "name": "http", "hostPort": 8080}, {"containerPort": 9090}]


def test_atomic_lists_are_replaced() -> None:
    out = strategic_merge("Deployment", _deployment(), {"spec": {"template": {"spec": {
        "tolerations": [{"key": "other", "operator": "Exists"}],
        "containers": [{"name": "app", "args": ["--c"]}]}}}})
    spec = out["spec"]["template"]["spec"]
    assert spec["tolerations"] == [{"key": "other", "operator": "Exists"}]
    assert spec["containers"][0]["args"] == ["--c"]


def test_delete_container_directive() -> None:
    out = strategic_merge("Deployment", _deployment(), {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [{"$patch": "delete", "name": "sidecar"}]}}}})
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["app"]


def test_list_replace_directive() -> None:
    out = strategic_merge("Pod", {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}},
                          {"spec": {"containers": [{"$patch": "replace"}, {"name": "z", "image": "i"}]}})
    assert out["spec"]["containers"] == [{"name": "z", "image": "i"}]


def test_map_replace_and_delete_directives() -> None:
    pod = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"nodeSelector": {"x": "y"}}}
    out = strategic_merge("Pod", pod, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}})
    assert out["metadata"]["labels"] == {"c": "3"}
    out = strategic_merge("Pod", pod, {"spec": {"nodeSelector": {"$patch": "delete"}}})
    assert out["spec"]["nodeSelector"] == {}


def test_retain_keys_on_deployment_strategy() -> None:
    out = strategic_merge("Deployment", _deployment(), {"spec": {"strategy": {
        "$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_finalizers_merge_as_set_and_delete_from_primitive_list() -> None:
    obj = {"metadata": {"finalizers": ["a", "b"]}}
    out = strategic_merge("ConfigMap", obj, {"metadata": {"finalizers": ["b", "c"]}})
    assert out["metadata"]["finalizers"] == ["a", "b", "c"]
    out = strategic_merge("ConfigMap", obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == ["b"]


def test_owner_references_merge_by_uid_and_conditions_by_type() -> None:
    pod = {"metadata": {"ownerReferences": [{"uid": "1", "name": "rs"}]},
           "status": {"conditions": [{"type": "Ready", "status": "False"},
                                     {"type": "PodScheduled", "status": "True"}]}}
    out = strategic_merge("Pod", pod, {"metadata": {"ownerReferences": [{"uid": "1", "controller": True}]},
                                       "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert out["metadata"]["ownerReferences"] == [{"uid": "1", "name": "rs", "controller": True}]
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                           {"type": "PodScheduled", "status": "True"}]


def test_endpoints_subsets_replace_and_unknown_kind_defaults() -> None:
    ep = {"subsets": [{"addresses": [{"ip": "1.1.1.1"}]}]}
    out = strategic_merge("Endpoints", ep, {"subsets": [{"addresses": [{"ip": "2.2.2.2"}]}]})
    assert out["subsets"] == [{"addresses": [{"ip": "2.2.2.2"}]}]
    out = strategic_merge("Widget", {"spec": {"items": [1, 2]}}, {"spec": {"items": [3]}})
    assert out["spec"]["items"] == [3]


def test_new_subtree_loses_nulls_and_directives() -> None:
    out = strategic_merge("Pod", {"spec": {}}, {"spec": {"nodeSelector": {"a": "1", "b": None},
                                                        "x": {"$patch": "delete"}}})
    assert out["spec"] == {"nodeSelector": {"a": "1"}}


def test_patch_meta_table() -> None:
    assert patch_meta("Pod")["spec.containers"] == ("merge", "name")
    assert patch_meta("Pod")["spec.containers[].ports"] == ("merge", "containerPort")
    assert patch_meta("Deployment")["spec.template.spec.volumes"] == ("merge", "name")
    assert patch_meta("Service")["spec.ports"] == ("merge", "port")
    assert patch_meta("Pod")["spec.tolerations"][0] == "replace"
    assert "spec.endpoints" not in patch_meta("EndpointSlice")
    # metadata's lists are every kind's, an unknown kind's too
    assert patch_meta("Unknown") == {"metadata.finalizers": ("merge", ""), "metadata.ownerReferences": ("merge", "uid"),
                                     "metadata.managedFields": ("replace", "")}
    assert all(patch_meta(k)["metadata.ownerReferences"] == ("merge", "uid") for k in STRATEGIES)


@pytest.mark.parametrize("patch, code, reason, message", [
    ([1], 400, "BadRequest", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"], "finalizers": ["a"]}}, 400, "BadRequest",
     "invalid patch format of primitive list"),
    ({"spec": {"strategy": {"$retainKeys": "type", "type": "Recreate"}}}, 400, "BadRequest",
     "invalid patch format of retainKeys"),
    ({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, 400, "BadRequest",
     "invalid patch format of retainKeys"),
    ({"metadata": {"labels": {"$patch": "merge", "a": "1"}}}, 500, "",
     "unknown patch type: merge in map: map[$patch:merge a:1]"),
    ({"spec": {"template": {"spec": {"containers": [{"$patch": "merge", "name": "x"}]}}}}, 500, "",
     "merging lists cannot yet be specified in the patch"),
    ({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, 500, "",
     "map: map[image:x] does not contain declared merge key: name"),
])
def test_strategic_errors(patch: object, code: int, reason: str, message: str) -> None:
    with pytest.raises(PatchError) as e:
        strategic_merge("Deployment", _deployment(), patch)  # type: ignore[arg-type]
    assert (e.value.status_code, e.value.reason, str(e.value)) == (code, reason, message)


def test_list_of_lists_is_422() -> None:
    with pytest.raises(PatchError) as e:
        strategic_merge("ConfigMap", {"metadata": {"finalizers": []}}, {"metadata": {"finalizers": [["x"]]}})
    assert (e.value.status_code, e.value.reason) == (422, "Invalid")
    assert e.value.detail == "lists of lists are not supported"


def test_set_element_order_mismatch() -> None:
    with pytest.raises(PatchError) as e:
        strategic_merge("Service", _service(), {"spec": {"$setElementOrder/ports": [{"port": 443}],
                                                         "ports": [{"port": 80, "targetPort": 1}]}})
    assert e.value.status_code == 500
    assert str(e.value).startswith("The order in patch list:")


@given(_obj, st.sampled_from(sorted(STRATEGIES) + ["Unknown"]))
def test_strategic_empty_patch_is_identity(doc: dict, kind: str) -> None:
    before = copy.deepcopy(doc)
    assert strategic_merge(kind, doc, {}) == doc
    assert doc == before


@given(st.dictionaries(st.text(alphabet="abc", max_size=3), st.text(max_size=3), max_size=4),
       st.dictionaries(st.text(alphabet="abc", max_size=3), st.none() | st.text(max_size=3), max_size=4))
def test_strategic_on_plain_maps_equals_merge_patch(labels: dict, patch: dict) -> None:
    doc = {"metadata": {"labels": labels}}
    assert strategic_merge("Pod", doc, {"metadata": {"labels": patch}}) == merge_patch(
        doc, {"metadata": {"labels": patch}})


def test_replace_directive_on_a_map_the_original_lacks_is_dropped_as_in_go_removeDirectives() -> None:
    """apimachinery strategicpatch/patch.go mergeMap: a patch value for a key the original lacks goes through
    removeDirectives, which drops any map carrying $patch. So `{"labels": {"$patch": "replace", ...}}` on an
    object without labels changes nothing (the server answers 200, kubectl says "patched (no change)")."""
    cm = {"metadata": {"name": "x"}, "data": {"a": "b"}}
    out = strategic_merge("ConfigMap", copy.deepcopy(cm), {"metadata": {"labels": {"$patch": "replace", "k": "v"}}})
    assert out == cm
    # with labels present the directive applies: the map is replaced, not merged
    cm["metadata"]["labels"] = {"old": "1"}
    out = strategic_merge("ConfigMap", copy.deepcopy(cm), {"metadata": {"labels": {"$patch": "replace", "k": "v"}}})
    assert out["metadata"]["labels"] == {"k": "v"}
