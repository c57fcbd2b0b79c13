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

from .resources import ResourceType, groups

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


def openapi_v3_doc(group: str, version: str) -> dict[str, Any] | None:
    if not any(r.version == version for r in groups().get(group, [])):
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.34.0"},
            "paths": _gv_paths(group, version), "components": {"schemas": {}}}


def openapi_v3_root() -> dict[str, Any]:
    paths = {}
    for g, rts in groups().items():
        v = rts[0].version
        key = f"apis/{g}/{v}" if g else f"api/{v}"
        doc = openapi_v3_doc(g, v)
        h = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:128].upper()
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={h}"}
    return {"paths": paths}
