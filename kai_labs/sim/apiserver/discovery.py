"""Discovery documents (legacy and aggregated v2) and the OpenAPI v3 index.

kubectl 1.3x asks /api and /apis for the aggregated discovery format
(apidiscovery.k8s.io/v2, staging/src/k8s.io/api/apidiscovery/v2/types.go) and
falls back to the legacy APIVersions/APIGroupList/APIResourceList documents.
The OpenAPI v3 documents only carry what kubectl reads from them: for each
resource, a PATCH operation tagged with its group/version/kind and the
``fieldValidation`` query parameter, which tells kubectl that this server
validates fields itself (staging/src/k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go).
PATCH operations carry no requestBody, so ``kubectl apply`` computes its
strategic merge patch from its compiled-in types
(staging/src/k8s.io/kubectl/pkg/cmd/apply/patcher.go: patchSimple).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..apimachinery.schema import _MODEL_FOR_KIND, _go_struct, docs, table
from ..registry.resources import ResourceType, groups
from ..version import K8S_VERSION

AGG_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _verbs(rt: ResourceType) -> list[str]:
    return list(rt.verbs)


def _legacy_resource(rt: ResourceType) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{
        "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
        "verbs": _verbs(rt),
    }]
    if rt.short_names:
        out[0]["shortNames"] = list(rt.short_names)
    if rt.categories:
        out[0]["categories"] = list(rt.categories)
    for sub, (kind, verbs) in rt.subresources.items():
        entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                                 "kind": kind, "verbs": list(verbs)}
        if sub == "scale":
            entry["group"] = "autoscaling"
            entry["version"] = "v1"
        out.append(entry)
    return out


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group_list() -> dict[str, Any]:
    items = []
    for g, rts in groups().items():
        if not g:
            continue
        v = rts[0].version
        gv = {"groupVersion": f"{g}/{v}", "version": v}
        items.append({"name": g, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


def api_group(group: str) -> dict[str, Any] | None:
    rts = groups().get(group)
    if not rts or not group:
        return None
    v = rts[0].version
    gv = {"groupVersion": f"{group}/{v}", "version": v}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv], "preferredVersion": gv}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    rts = [r for r in groups().get(group, []) if r.version == version]
    if not rts:
        return None
    res: list[dict[str, Any]] = []
    for r in rts:
        res.extend(_legacy_resource(r))
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}


def _agg_resource(rt: ResourceType) -> dict[str, Any]:
    d: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": _verbs(rt),
    }
    if rt.short_names:
        d["shortNames"] = list(rt.short_names)
    if rt.categories:
        d["categories"] = list(rt.categories)
    subs = []
    for sub, (kind, verbs) in rt.subresources.items():
        group, version = (("autoscaling", "v1") if sub == "scale" else (rt.group, rt.version))
        subs.append({"subresource": sub, "responseKind": {"group": group, "version": version, "kind": kind},
                     "verbs": list(verbs)})
    if subs:
        d["subresources"] = subs
    return d


def aggregated(core: bool) -> dict[str, Any]:
    items = []
    for g, rts in groups().items():
        if (g == "") != core:
            continue
        versions: dict[str, list[dict[str, Any]]] = {}
        for r in rts:
            versions.setdefault(r.version, []).append(_agg_resource(r))
        item: dict[str, Any] = {"metadata": {"name": g} if g else {},
                                "versions": [{"version": v, "resources": rs, "freshness": "Current"}
                                             for v, rs in versions.items()]}
        items.append(item)
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}


def _gv_paths(group: str, version: str) -> dict[str, Any]:
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths: dict[str, Any] = {}
    for r in groups().get(group, []):
        if r.version != version:
            continue
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        path = (f"{prefix}/namespaces/{{namespace}}/{r.plural}/{{name}}" if r.namespaced
                else f"{prefix}/{r.plural}/{{name}}")
        params = [{"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                  {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                  {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}]
        paths[path] = {
            "patch": {"operationId": f"patch{r.kind}", "x-kubernetes-action": "patch",
                      "x-kubernetes-group-version-kind": gvk, "parameters": params,
                      "responses": {"200": {"description": "OK"}}},
            "put": {"operationId": f"replace{r.kind}", "x-kubernetes-action": "put",
                    "x-kubernetes-group-version-kind": gvk, "parameters": params,
                    "responses": {"200": {"description": "OK"}}},
        }
        coll = f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
        paths[coll] = {"post": {"operationId": f"create{r.kind}", "x-kubernetes-action": "post",
                                "x-kubernetes-group-version-kind": gvk, "parameters": params,
                                "responses": {"201": {"description": "Created"}}}}
    return paths


def _schema_name(model: str) -> str:
    """A component name whose last segment is the Go type name kubectl explain prints."""
    return f"io.k8s.kai-labs.{model}.{_go_struct(model)}"


INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_INT_OR_STRING_FIELDS = {"targetPort", "port", "maxSurge", "maxUnavailable", "minAvailable"}


def _field_schema(typ: str, doc: str, name: str = "") -> dict[str, Any]:
    if typ.startswith("List["):
        out: dict[str, Any] = {"type": "array", "items": _field_schema(typ[5:-1], "")}
    elif typ.startswith("Dict["):
        out = {"type": "object", "additionalProperties": _field_schema(typ.split(", ", 1)[1][:-1], "")}
    elif typ in ("str", "datetime"):
        out = {"type": "string"} if typ == "str" else {"type": "string", "format": "date-time"}
    elif typ == "int":
        out = {"type": "integer", "format": "int32"}
    elif typ == "bool":
        out = {"type": "boolean"}
    elif typ == "float":
        out = {"type": "number", "format": "double"}
    elif typ == "object" and name in _INT_OR_STRING_FIELDS:
        out = {"allOf": [{"$ref": f"#/components/schemas/{INT_OR_STRING}"}]}
    elif typ == "object":
        out = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    else:
        out = {"allOf": [{"$ref": f"#/components/schemas/{_schema_name(typ)}"}], "default": {}}
    if doc:
        out["description"] = doc
    return out


def _components() -> dict[str, Any]:
    """OpenAPI v3 schemas for ``kubectl explain``, from the official client's models and docs."""
    tbl, dcs = table(), docs()
    gvk_of = {m: k for k, m in _MODEL_FOR_KIND.items()}
    schemas: dict[str, Any] = {}
    for model, fields in tbl.items():
        d = dcs.get(model, {})
        sch: dict[str, Any] = {"type": "object", "description": d.get("", ""),
                               "properties": {f: _field_schema(t, d.get(f, ""), f) for f, t in fields.items()}}
        if model in gvk_of:
            api_version, kind = gvk_of[model]
            grp, _, ver = api_version.rpartition("/")
            sch["x-kubernetes-group-version-kind"] = [{"group": grp, "version": ver, "kind": kind}]
        schemas[_schema_name(model)] = sch
    schemas[INT_OR_STRING] = {"x-kubernetes-int-or-string": True,
                              "anyOf": [{"type": "integer"}, {"type": "string"}],
                              "description": "IntOrString is a type that can hold an int32 or a string."}
    return schemas


def openapi_v3_doc(group: str, version: str) -> dict[str, Any] | None:
    if not any(r.version == version for r in groups().get(group, [])):
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": K8S_VERSION},
            "paths": _gv_paths(group, version), "components": {"schemas": _components()}}


def openapi_v3_root() -> dict[str, Any]:
    paths = {}
    for g, rts in groups().items():
        v = rts[0].version
        key = f"apis/{g}/{v}" if g else f"api/{v}"
        h = hashlib.sha512(json.dumps(_gv_paths(g, v), sort_keys=True).encode()).hexdigest()[:128].upper()
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={h}"}
    return {"paths": paths}
