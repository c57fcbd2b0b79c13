"""Content negotiation: request bodies in (JSON, YAML, protobuf), JSON out, Status errors, Warning headers.

Follows staging/src/k8s.io/apiserver/pkg/endpoints/handlers (rest.go, negotiation) and
staging/src/k8s.io/apimachinery/pkg/runtime/serializer: a body the server cannot decode is a 400 Status,
a media type it does not serve a 415, anything over 3 MiB a 413.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp import web

from ..apimachinery import errors, protobuf
from ..storage.store import _dumps as dumps

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's default request body limit (3 MiB)

class _YamlLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it before the JSON decoder sees it: timestamps stay strings
    (go-yaml v2 decodes them into interface{} as strings) and map keys become strings
    (``1`` -> "1", ``true`` -> "true"), so a key never collides with another or breaks the JSON encoder."""


_YamlLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _yaml_key(k: Any) -> str:
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    return k if isinstance(k, str) else str(k)


def _yaml_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    return {_yaml_key(loader.construct_object(k, deep=True)): loader.construct_object(v, deep=True)
            for k, v in node.value}


_YamlLoader.add_constructor("tag:yaml.org,2002:map", _yaml_mapping)


def json_response(body: Any, status: int = 200, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(body).encode(), status=status,
                        headers={"Content-Type": content_type, **(headers or {})})


def status_response(err: errors.ApiError) -> web.Response:
    return json_response(err.status(), status=err.code, headers=err.extra_headers or None)


def wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def strip_private(obj: dict[str, Any]) -> list[str]:
    return obj.pop("__warnings__", []) or []


def warn_headers(warnings: list[str]) -> dict[str, str] | None:
    if not warnings:
        return None
    return {"Warning": ", ".join('299 - ' + json.dumps(w) for w in warnings)}


async def read_body(request: web.Request) -> Any:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise errors.too_large() from None
    if len(raw) > MAX_BODY:
        raise errors.too_large()
    ct = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if ct == "application/vnd.kubernetes.protobuf":
        try:
            return protobuf.decode(raw)
        except protobuf.ProtobufError as e:
            raise errors.bad_request(f"the protobuf body could not be decoded: {e}") from None
    if "protobuf" in ct or "cbor" in ct:
        raise errors.unsupported_media_type(ct)
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise errors.bad_request("the body of the request was empty")
    if ct in ("application/yaml", "application/apply-patch+yaml"):
        try:
            return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error converting YAML to JSON: {e}".replace("\n", " ")) from None
        except RecursionError:  # go-yaml: "exceeded max depth of 10000"
            raise errors.bad_request("error converting YAML to JSON: yaml: exceeded max depth of 10000"
                                     ) from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # ValueError: also integers beyond Python's 4300 digits
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None
