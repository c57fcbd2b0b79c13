"""Field schemas for strict decoding, derived from the official client's models.

A real API server decodes a body into Go structs: an unknown field is a strict
decoding error (with ``fieldValidation=Strict``, kubectl's default) and a value
of the wrong JSON type is a ``json: cannot unmarshal`` error. The official
``kubernetes`` Python client carries every API type's field names and types
(``openapi_types`` / ``attribute_map``), so we read the schema from there
instead of writing it twice. Texts follow
staging/src/k8s.io/apiserver/pkg/endpoints/handlers/rest.go (transformDecodeError)
and sigs.k8s.io/json strict decoding ("unknown field").
"""

from __future__ import annotations

import json
import re
import sys
import threading
from pathlib import Path
from typing import Any

_MODEL_FOR_KIND = {
    ("v1", "Pod"): "V1Pod",
    ("v1", "Service"): "V1Service",
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "Node"): "V1Node",
    ("v1", "Endpoints"): "V1Endpoints",
    ("v1", "Event"): "CoreV1Event",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ReplicationController"): "V1ReplicationController",
    ("discovery.k8s.io/v1", "EndpointSlice"): "V1EndpointSlice",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "ReplicaSet"): "V1ReplicaSet",
    ("coordination.k8s.io/v1", "Lease"): "V1Lease",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
    ("networking.k8s.io/v1", "Ingress"): "V1Ingress",
    ("networking.k8s.io/v1", "IngressClass"): "V1IngressClass",
    ("autoscaling/v1", "Scale"): "V1Scale",
}

# Go integer widths where they are int64 in the API types; everything else int32.
_INT64 = {"terminationGracePeriodSeconds", "activeDeadlineSeconds", "deletionGracePeriodSeconds",
          "generation", "observedGeneration", "runAsUser", "runAsGroup", "fsGroup", "count"}

_lock = threading.Lock()
_DATA = Path(__file__).with_name("schema_data.json")
_table: dict[str, dict[str, str]] | None = None  # model -> json field name -> client type string


def _load() -> dict[str, dict[str, str]]:
    """The field table, generated from the official client by ``python -m kai_labs.sim.apimachinery.schema`` and
    shipped as JSON: importing the client's models costs the server 0.5 s and 30 MB."""
    global _table
    with _lock:
        if _table is None:
            _table = json.loads(_DATA.read_text())
    return _table


def preload() -> None:
    """Read the table ahead of the first write (called from a worker thread)."""
    _load()


def generate() -> dict[str, dict[str, str]]:
    """Walk the official client's models reachable from the served kinds."""
    import kubernetes.client.models as models  # noqa: PLC0415

    out: dict[str, dict[str, str]] = {}
    todo = sorted(set(_MODEL_FOR_KIND.values()))
    while todo:
        name = todo.pop()
        if name in out:
            continue
        cls = getattr(models, name, None)
        if cls is None:
            continue
        fields = {cls.attribute_map[py]: typ for py, typ in cls.openapi_types.items()}
        out[name] = dict(sorted(fields.items()))
        for typ in fields.values():
            for ref in re.findall(r"[A-Z][A-Za-z0-9]+", typ):
                if ref not in ("List", "Dict") and ref not in out:
                    todo.append(ref)
    return dict(sorted(out.items()))


_DOCS = Path(__file__).with_name("schema_docs.json")


def generate_docs() -> dict[str, dict[str, str]]:
    """Descriptions of each model and field (``""`` key: the model's), from the client's models;
    they serve the OpenAPI v3 documents that ``kubectl explain`` reads."""
    import kubernetes.client.models as models  # noqa: PLC0415

    out: dict[str, dict[str, str]] = {}
    for name in generate():
        cls = getattr(models, name)
        doc = (cls.__doc__ or "").strip().split("\n")[0].strip()
        fields = {"": doc}
        for py, info in getattr(cls, "model_fields", {}).items():
            if py in cls.attribute_map and info.description:
                fields[cls.attribute_map[py]] = info.description
        out[name] = fields
    return out


def docs() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(_DOCS.read_text())
    return data


def table() -> dict[str, dict[str, str]]:
    return _load()


def _fields(model: str) -> dict[str, tuple[str, str]]:
    return {k: (t, model) for k, t in _load().get(model, {}).items()}


def _go_struct(model: str) -> str:
    return re.sub(r"^(V\d+(?:alpha\d+|beta\d+)?|CoreV1|DiscoveryV1)", "", model)


class DecodeError(Exception):
    def __init__(self, unknown: list[str], type_error: str | None) -> None:
        self.unknown = unknown
        self.type_error = type_error
        super().__init__(self.text())

    def text(self) -> str:
        if self.type_error:
            return self.type_error
        return "strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in self.unknown)


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _go_type(typ: str, name: str) -> str:
    if typ == "int":
        return "int64" if name in _INT64 else "int32"
    if typ == "str" or typ == "datetime":
        return "string"
    if typ == "bool":
        return "bool"
    if typ.startswith("List["):
        return "[]" + _go_type(typ[5:-1], name)
    if typ.startswith("Dict["):
        return "map[string]" + _go_type(typ.split(", ", 1)[1][:-1], name)
    return "v1." + _go_struct(typ)


class _Walker:
    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.type_error: str | None = None

    def walk(self, typ: str, value: Any, path: str, gopath: str, struct: str, name: str) -> None:
        if self.type_error or value is None or typ == "object":
            return
        jt = _json_type(value)

        def mismatch() -> None:
            self.type_error = (f"json: cannot unmarshal {jt} into Go struct field {struct}.{gopath} "
                               f"of type {_go_type(typ, name)}")

        if typ == "int":
            if jt != "number" or (isinstance(value, float) and not value.is_integer()):
                mismatch()
        elif typ in ("str", "datetime"):
            if jt != "string":
                mismatch()
        elif typ == "bool":
            if jt != "bool":
                mismatch()
        elif typ == "float":
            if jt != "number":
                mismatch()
        elif typ.startswith("List["):
            if jt != "array":
                mismatch()
                return
            inner = typ[5:-1]
            for i, item in enumerate(value):
                self.walk(inner, item, f"{path}[{i}]", gopath, struct, name)
        elif typ.startswith("Dict["):
            if jt != "object":
                mismatch()
                return
            inner = typ.split(", ", 1)[1][:-1]
            for k, item in value.items():
                self.walk(inner, item, f"{path}.{k}", gopath, struct, name)
        else:
            if jt != "object":
                mismatch()
                return
            self.model(typ, value, path, gopath)

    def model(self, model: str, value: dict[str, Any], path: str, gopath: str) -> None:
        fields = _fields(model)
        if not fields:
            return
        for k, v in value.items():
            if k not in fields:
                self.unknown.append(f"{path}.{k}" if path else k)
                continue
            typ, _ = fields[k]
            sub_go = f"{gopath}.{k}" if gopath else k
            self.walk(typ, v, f"{path}.{k}" if path else k, sub_go, _go_struct(model), k)


def check(api_version: str, kind: str, obj: dict[str, Any]) -> DecodeError | None:
    """Unknown fields and type mismatches of ``obj`` against its API type."""
    model = _MODEL_FOR_KIND.get((api_version, kind))
    if model is None:
        return None
    w = _Walker()
    w.model(model, obj, "", "")
    if w.type_error or w.unknown:
        return DecodeError(w.unknown, w.type_error)
    return None


if __name__ == "__main__":
    _DATA.write_text(json.dumps(generate(), indent=0, sort_keys=True) + "\n")
    _DOCS.write_text(json.dumps(generate_docs(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {_DATA} ({len(_load())} models)", file=sys.stderr)
