"""Content negotiation: request bodies in (JSON, YAML, protobuf), JSON out, Status errors, Warning headers.

Follows staging/src/k8s.io/apiserver/pkg/endpoints/handlers (rest.go, create.go, update.go, patch.go,
negotiation/negotiate.go) and staging/src/k8s.io/apimachinery/pkg/runtime/serializer:

- The media type is checked before the body is read (``NegotiateInputSerializer``): no Content-Type
  means JSON; a type the verb does not take is 415 UnsupportedMediaType naming the ones it does
  (create/update: JSON, YAML, protobuf; patch: the four patch types).
- A body over 3 MiB is 413 (``MaxRequestBodyBytes``, apiserver/pkg/server/config.go).
- A create or update body that does not decode is 400 with ``transformDecodeError``'s text:
  ``the object provided is unrecognized (must be of type <Kind>): <decoder error> (<first 30 bytes>)``.
- YAML is read as sigs.k8s.io/yaml reads it (``apimachinery/yamljson.py``: aliases expanded, with
  go-yaml's "excessive aliasing" limit); an apply patch that does not decode is
  ``error encoding patch: <error>`` (patch.go ``validateAndTranscodePatch``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from typing import Any

from aiohttp import web

from ..apimachinery import errors, protobuf, yamljson
from ..storage.store import _dumps as dumps

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's default request body limit (3 MiB)

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
APPLY_YAML = "application/apply-patch+yaml"
# what create and update decode (runtime/serializer CodecFactory.SupportedMediaTypes; CBOR is behind
# a feature gate that is off) and what PATCH takes (endpoints/installer.go, in that order)
OBJECT_TYPES = (JSON, YAML, PROTOBUF)
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", APPLY_YAML)

# A YAML body larger than this is decoded off the event loop (one at a time): the worst 3 MiB
# document costs several seconds of parsing, and the API keeps answering meanwhile.
_INLINE_YAML = 64 * 1024
_YAML_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kai-labs-yaml")


def unsupported_media_type(accepted: tuple[str, ...]) -> errors.ApiError:
    """negotiation.errUnsupportedMediaType: 415, its reason, and no details."""
    return errors.ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types include: "
                           + ", ".join(accepted))


def media_type(request: web.Request) -> str:
    """The request's media type as Go's mime.ParseMediaType reads it: lower case, parameters dropped;
    none at all is JSON."""
    ct = request.headers.get("Content-Type", "")
    return ct.split(";")[0].strip().lower() or JSON


def _summary(raw: bytes, limit: int = 30) -> str:
    """rest.go summarizeData: a JSON body's first bytes as text, anything else in hex."""
    if not raw:
        return "<empty>"
    head = raw[:limit]
    text = head.decode("utf-8", "replace") if raw[:1] == b"{" else head.hex()
    return text + (" ..." if len(raw) > limit else "")


def _looks_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


async def decode_yaml(text: str) -> Any:
    """sigs.k8s.io/yaml's YAMLToJSON (raises yamljson.YamlError). A JSON body is read as JSON, which
    YAML decoding would give too, only faster (kubectl's server-side apply sends JSON as YAML)."""
    if _looks_json(text):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            pass  # not JSON after all: YAML says what is wrong with it
    if len(text) <= _INLINE_YAML:
        return yamljson.to_json_value(text)
    return await asyncio.get_running_loop().run_in_executor(_YAML_POOL, yamljson.to_json_value, text)


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


async def read_body(request: web.Request, kind: str | None = None, *, patch: bool = False) -> Any:
    """The request's body, decoded by its media type.

    ``kind``: the object a create or update expects (its decode errors name it, as
    transformDecodeError does); ``patch``: the body is a patch (the patch media types apply)."""
    ct = media_type(request)
    accepted = PATCH_TYPES if patch else OBJECT_TYPES
    if ct not in accepted:
        raise unsupported_media_type(accepted)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise errors.too_large() from None
    if len(raw) > MAX_BODY:
        raise errors.too_large()

    def undecodable(err: str) -> errors.ApiError:
        if kind:
            return errors.bad_request(f"the object provided is unrecognized (must be of type {kind}): {err} "
                                      f"({_summary(raw)})")
        return errors.bad_request(err)

    if ct == PROTOBUF:
        try:
            return protobuf.decode(raw)
        except protobuf.ProtobufError as e:
            raise errors.bad_request(f"the protobuf body could not be decoded: {e}") from None
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise errors.bad_request("the body of the request was empty")
    if ct in (YAML, APPLY_YAML):
        try:
            return await decode_yaml(text)
        except yamljson.YamlError as e:
            if ct == APPLY_YAML:
                raise errors.bad_request(f"error encoding patch: {e}") from None
            raise undecodable(str(e)) from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # ValueError: also integers beyond Python's 4300 digits
        if patch:  # validateAndTranscodePatch
            raise errors.bad_request("invalid JSON patch") from None
        raise undecodable(f"couldn't get version/kind; json parse error: {e}") from None
