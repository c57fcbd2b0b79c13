"""YAML request bodies to JSON values, as sigs.k8s.io/yaml's ``YAMLToJSON`` reads them, in bounded
time and memory.

kube-apiserver turns a YAML body into JSON with sigs.k8s.io/yaml, which decodes with its go-yaml v2
fork (sigs.k8s.io/yaml/goyaml.v2, decode.go). Facts carried over from there:

- Aliases are expanded: the JSON value has no shared parts. Expansion is limited: every node the
  decoder visits counts (``decodeCount``), and so does every node visited inside an alias
  (``aliasCount``); once ``aliasCount > 100``, ``decodeCount > 1000`` and the share of alias-driven
  visits exceeds ``allowedAliasRatio(decodeCount)`` (99% up to 400,000 visits, falling linearly to 10%
  at 4,000,000) decoding stops with ``yaml: document contains excessive aliasing``. A 569-byte
  "billion laughs" document therefore ends after a few thousand visits instead of expanding to
  gigabytes.
- An alias inside the anchor it refers to: ``yaml: anchor 'x' value contains itself``; an unknown
  one: ``yaml: unknown anchor 'x' referenced``.
- Only the first document of a stream is read; timestamps stay strings; ``<<`` merges apply in
  document order (a later key replaces an earlier one); keys become strings in JSON.
- Syntax errors are libyaml's texts (go-yaml is a port of libyaml): ``yaml: line N: <problem>``,
  where N counts a scanner error's line from 1 and a parser error's from 0, as go-yaml's
  ``parser.fail`` does.

The document is read as a stream of events (libyaml's C parser where PyYAML has it) and built
directly, so no node graph is held beside the result: a 3 MiB body (the API's request limit) costs
about what its JSON value costs, where PyYAML's composer kept several hundred MB of nodes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it

MAX_DEPTH = 10_000  # go-yaml v2 (sigs.k8s.io fork): "exceeded max depth of 10000"

# goyaml.v2 decode.go alias_ratio_range_low / _high
_ALIAS_LOW = 400_000
_ALIAS_HIGH = 4_000_000


class YamlError(ValueError):
    """A document sigs.k8s.io/yaml refuses; ``str()`` is go-yaml's text (``yaml: ...``)."""


def allowed_alias_ratio(decode_count: int) -> float:
    """goyaml.v2 ``allowedAliasRatio``: the share of alias-driven visits a document may have."""
    if decode_count <= _ALIAS_LOW:
        return 0.99
    if decode_count >= _ALIAS_HIGH:
        return 0.10
    return 0.99 - 0.89 * ((decode_count - _ALIAS_LOW) / (_ALIAS_HIGH - _ALIAS_LOW))


class _Loader(_Base):  # type: ignore[misc]
    """The resolver sigs.k8s.io/yaml effectively has: no timestamps (go-yaml v2 decodes them into
    interface{} as strings)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}

# first characters of plain scalars some implicit resolver may claim (int, float, bool, null, merge...)
_RESOLVABLE_FIRST = frozenset(k for k in _Loader.yaml_implicit_resolvers if k)

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


def _key(k: Any) -> str:
    """A map key as it reaches JSON: ``1`` -> "1", ``true`` -> "true", ``null`` -> "null"."""
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    if isinstance(k, (dict, list)):
        raise YamlError(f"yaml: invalid map key: {_go_repr(k)}")
    return k if isinstance(k, str) else str(k)


def _go_repr(v: Any) -> str:
    return "map[interface {}]interface {}{...}" if isinstance(v, dict) else "[]interface {}{...}"


def _copy(v: Any) -> Any:
    """A deep copy of a built value (dicts and lists only; scalars are immutable), without recursion."""
    if not isinstance(v, (dict, list)):
        return v
    root: Any = {} if isinstance(v, dict) else []
    stack: list[tuple[Any, Any]] = [(v, root)]
    while stack:
        src, dst = stack.pop()
        if isinstance(src, dict):
            for k, x in src.items():
                if isinstance(x, (dict, list)):
                    c: Any = {} if isinstance(x, dict) else []
                    dst[k] = c
                    stack.append((x, c))
                else:
                    dst[k] = x
        else:
            for x in src:
                if isinstance(x, (dict, list)):
                    c = {} if isinstance(x, dict) else []
                    dst.append(c)
                    stack.append((x, c))
                else:
                    dst.append(x)
    return root


class _Open:
    """A mapping or sequence being built: its value, its anchor, and how many decoder visits it cost."""

    __slots__ = ("anchor", "is_map", "key", "merge", "size", "value")

    def __init__(self, value: Any, anchor: str | None, is_map: bool) -> None:
        self.value = value
        self.anchor = anchor
        self.is_map = is_map
        self.key: Any = _NOKEY  # a mapping's pending key
        self.merge = False  # the pending key is ``<<``
        self.size = 1  # this node's own visit


_NOKEY = object()


class _Builder:
    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.decode = 0
        self.alias = 0
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, visits to decode it)
        self.open_anchors: set[str] = set()
        self.stack: list[_Open] = []
        self.done = False
        self.result: Any = None
        self.plain: dict[str, Any] = {}  # plain scalar text -> its value (immutable values only)

    def _check(self) -> None:
        if (self.alias > 100 and self.decode > 1000
                and self.alias / self.decode > allowed_alias_ratio(self.decode)):
            raise YamlError("yaml: document contains excessive aliasing")

    def _scalar(self, ev: Any) -> Any:
        tag = ev.tag
        value = ev.value
        if tag is None or tag == "!":
            if not ev.implicit[0]:  # quoted: a string
                return value
            if value and value[0] not in _RESOLVABLE_FIRST:  # plain text no implicit resolver claims
                return value
            cached = self.plain.get(value, _NOKEY)
            if cached is not _NOKEY:
                return cached
            tag = self.loader.resolve(yaml.ScalarNode, value, ev.implicit)
            out = self._construct(tag, ev)
            if len(value) <= 64 and len(self.plain) < 4096:  # repeated small scalars: replicas, ports, true
                self.plain[value] = out
            return out
        return self._construct(tag, ev)

    def _construct(self, tag: str, ev: Any) -> Any:
        if tag in (_STR, _MERGE):
            return ev.value
        if tag == "tag:yaml.org,2002:binary":  # go-yaml: the decoded bytes as a (Go) string
            try:
                return base64.b64decode(ev.value.encode("ascii", "replace")).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                raise YamlError("yaml: !!binary value contains invalid base64 data") from None
        ctor = self.loader.yaml_constructors.get(tag)
        if ctor is None or tag == "tag:yaml.org,2002:timestamp":  # an unknown tag: go-yaml keeps the text
            return ev.value
        try:
            return ctor(self.loader, yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style))
        except (yaml.YAMLError, ValueError, TypeError):
            return ev.value

    def _place(self, value: Any, size: int, is_merge_key: bool = False) -> None:
        """Put a finished value where it belongs: the document, a sequence, a key or a key's value."""
        if not self.stack:
            self.result = value
            self.done = True
            return
        top = self.stack[-1]
        top.size += size
        if not top.is_map:
            top.value.append(value)
            return
        if top.key is _NOKEY:
            if is_merge_key:
                top.size -= size  # go-yaml does not visit a merge key
                top.merge = True
                top.key = None
            else:
                top.key = _key(value)
            return
        if top.merge:
            self._merge(top.value, value)
        else:
            top.value[top.key] = value
        top.key = _NOKEY
        top.merge = False

    @staticmethod
    def _merge(into: dict[str, Any], value: Any) -> None:
        if isinstance(value, dict):
            into.update(value)
        elif isinstance(value, list) and all(isinstance(m, dict) for m in value):
            for m in reversed(value):  # earlier maps take precedence
                into.update(m)
        else:
            raise YamlError("yaml: map merge requires map or sequence of maps as the value")

    def feed(self, ev: Any) -> None:
        if isinstance(ev, yaml.DocumentStartEvent):
            self.decode += 1  # the document node
            return
        if isinstance(ev, yaml.AliasEvent):
            name = ev.anchor
            if name in self.open_anchors:
                raise YamlError(f"yaml: anchor '{name}' value contains itself")
            if name not in self.anchors:
                raise YamlError(f"yaml: unknown anchor '{name}' referenced")
            value, size = self.anchors[name]
            # the alias node itself, then every visit of its target counts as alias-driven: during the
            # expansion the share only grows, so checking once at its end decides as go-yaml's
            # per-visit check does
            self.decode += 1 + size
            self.alias += size
            self._check()
            self._place(_copy(value), 1 + size)
            return
        if isinstance(ev, yaml.ScalarEvent):
            self.decode += 1
            self._check()
            value = self._scalar(ev)
            merge_key = (ev.value == "<<" and ev.implicit[0] and ev.tag is None
                         and bool(self.stack) and self.stack[-1].is_map and self.stack[-1].key is _NOKEY)
            if ev.anchor is not None:
                self.anchors[ev.anchor] = (value, 1)
            self._place(value, 1, is_merge_key=merge_key)
            return
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self.decode += 1
            self._check()
            if len(self.stack) >= MAX_DEPTH:
                raise YamlError(f"yaml: exceeded max depth of {MAX_DEPTH}")
            is_map = isinstance(ev, yaml.MappingStartEvent)
            node = _Open({} if is_map else [], ev.anchor, is_map)
            if ev.anchor is not None:
                self.open_anchors.add(ev.anchor)
            self.stack.append(node)
            return
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            node = self.stack.pop()
            if node.anchor is not None:
                self.open_anchors.discard(node.anchor)
                self.anchors[node.anchor] = (node.value, node.size)
            self._place(node.value, node.size)


def _syntax_error(e: yaml.MarkedYAMLError) -> YamlError:
    """go-yaml's ``parser.fail`` text for a libyaml error."""
    line = 0
    if e.problem_mark is not None and e.problem_mark.line != 0:
        line = e.problem_mark.line + (1 if isinstance(e, yaml.scanner.ScannerError) else 0)
    elif e.context_mark is not None and e.context_mark.line != 0:
        line = e.context_mark.line
    where = f"line {line}: " if line else ""
    return YamlError(f"yaml: {where}{e.problem or 'unknown problem parsing YAML content'}")


def to_json_value(text: str) -> Any:
    """The first YAML document of ``text`` as the JSON value sigs.k8s.io/yaml would produce.

    Raises ``YamlError`` with go-yaml's message. Time and memory are linear in the size of the
    text and of the result, which the alias limit keeps within a small multiple of the text.
    """
    loader = _Loader(text)
    b = _Builder(loader)
    try:
        while not b.done:
            ev = loader.get_event()
            if ev is None or isinstance(ev, (yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                break
            b.feed(ev)
    except yaml.MarkedYAMLError as e:
        raise _syntax_error(e) from None
    except yaml.YAMLError as e:  # an unmarked reader error (e.g. a control character)
        raise YamlError(f"yaml: {e}") from None
    finally:
        loader.dispose()
    return b.result
