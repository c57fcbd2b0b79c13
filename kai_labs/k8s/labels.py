"""Label and field selectors, as the Kubernetes API server parses and matches them.

Facts carried over (not code) from kubernetes/kubernetes:

* ``staging/src/k8s.io/apimachinery/pkg/labels/selector.go`` -- the lexer,
  the recursive-descent ``Parse``, ``NewRequirement`` validation,
  ``Requirement.Matches`` and ``String`` (values sorted on output), and the
  error texts (``unable to parse requirement: ...``, ``found '...', expected:
  ...``).
* ``staging/src/k8s.io/apimachinery/pkg/api/validate/content/kube.go``,
  ``dns.go`` and ``errors.go`` -- label key / value syntax and messages.
* ``staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go`` and
  ``path.go`` -- ``<path>: Invalid value: "<v>": <detail>``; a nil path
  prints ``<nil>``.
* ``staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go``
  (``LabelSelectorAsSelector``): nil selects nothing, empty selects all.
* ``staging/src/k8s.io/apimachinery/pkg/fields/selector.go`` -- field
  selector splitting, ``\\`` escaping and its error texts.
* ``pkg/apis/core/v1/conversion.go`` (``AddFieldLabelConversionFunc``),
  ``pkg/registry/core/*/strategy.go`` (``ToSelectableFields``) and
  ``runtime.DefaultMetaV1FieldSelectorConversion`` -- which field labels each
  kind accepts, their values, and the rejection texts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .validation import is_qualified_name, is_valid_label_value


class SelectorError(ValueError):
    """A selector the API server would refuse (answered as 400 BadRequest)."""


# ---------------------------------------------------------------------------
# Go-style value formatting used inside error texts
# ---------------------------------------------------------------------------


def _go_quote(s: str) -> str:
    """Approximate Go's ``%q`` for a string."""
    return json.dumps(s, ensure_ascii=False)


def _go_sharp_v_strings(vals: list[str] | None) -> str:
    """Go's ``%#v`` of a ``[]string``."""
    if vals is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(_go_quote(v) for v in vals) + "}"


def _invalid(path: str, value: str, detail: str, quoted: bool = True) -> str:
    shown = _go_quote(value) if quoted else value
    return f"{path}: Invalid value: {shown}: {detail}"


def _aggregate(msgs: list[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()`` after ``ToAggregate`` dedup."""
    uniq: list[str] = []
    for m in msgs:
        if m not in uniq:
            uniq.append(m)
    return uniq[0] if len(uniq) == 1 else "[" + ", ".join(uniq) + "]"


# ---------------------------------------------------------------------------
# Label key / value syntax (api/validate/content)
# ---------------------------------------------------------------------------

def label_key_errors(key: str) -> list[str]:
    """``content.IsLabelKey``: a list of problems, empty when valid (one implementation, in validation.py)."""
    return is_qualified_name(key)


def label_value_errors(value: str) -> list[str]:
    """``validation.IsValidLabelValue``: a list of problems, empty when valid."""
    return is_valid_label_value(value)


# ---------------------------------------------------------------------------
# Requirements and selectors
# ---------------------------------------------------------------------------

# selection.Operator values
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GT, LT = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = [IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GT, LT]
_ALL_OPERATORS = _BINARY_OPERATORS + [EXISTS, DOES_NOT_EXIST]


def _parse_int64(s: str) -> int | None:
    """``strconv.ParseInt(s, 10, 64)``."""
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        return None
    n = int(s)
    return n if -(2**63) <= n < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GT, LT):
            return self._matches_int(labels)
        return False

    def _matches_int(self, labels: dict[str, str]) -> bool:
        if self.key not in labels or len(self.values) != 1:
            return False
        have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if self.operator == GT else have < want

    def __str__(self) -> str:
        op = self.operator
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op == EXISTS:
            return self.key
        vals = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({vals})"
        sym = {GT: ">", LT: "<"}.get(op, op)
        return f"{self.key}{sym}{vals}"


def new_requirement(key: str, op: str, vals: list[str] | None, key_path: str = "key",
                    values_path: str = "values") -> Requirement:
    """``labels.NewRequirement`` with its validation; raises SelectorError."""
    errs: list[str] = []
    kerrs = label_key_errors(key)
    if kerrs:
        errs.append(_invalid(key_path, key, "; ".join(kerrs)))
    n = len(vals or [])
    if op in (IN, NOT_IN):
        if n == 0:
            errs.append(_invalid(values_path, _go_sharp_v_strings(vals),
                                 "for 'in', 'notin' operators, values set can't be empty", quoted=False))
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if n != 1:
            errs.append(_invalid(values_path, _go_sharp_v_strings(vals),
                                 "exact-match compatibility requires one single value", quoted=False))
    elif op in (EXISTS, DOES_NOT_EXIST):
        if n != 0:
            errs.append(_invalid(values_path, _go_sharp_v_strings(vals),
                                 "values set must be empty for exists and does not exist", quoted=False))
    elif op in (GT, LT):
        if n != 1:
            errs.append(_invalid(values_path, _go_sharp_v_strings(vals),
                                 "for 'Gt', 'Lt' operators, exactly one value is required", quoted=False))
        for i, v in enumerate(vals or []):
            if _parse_int64(v) is None:
                errs.append(_invalid(f"{values_path}[{i}]", v,
                                     "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        supported = ", ".join(_go_quote(o) for o in _ALL_OPERATORS)
        errs.append(f"operator: Unsupported value: {_go_quote(op)}: supported values: {supported}")
    for i, v in enumerate(vals or []):
        verrs = label_value_errors(v)
        if verrs:
            errs.append(_invalid(f"{values_path}[{i}][{key}]", v, "; ".join(verrs)))
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key, op, tuple(vals or ()))


@dataclass(frozen=True)
class Selector:
    """An AND of requirements, sorted by key; ``nothing`` selects no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: dict[str, str] | None) -> bool:
        if self.nothing:
            return False
        ls = labels or {}
        return all(r.matches(ls) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def everything() -> Selector:
    return Selector()


def nothing() -> Selector:
    return Selector(nothing=True)


def _make_selector(reqs: list[Requirement]) -> Selector:
    return Selector(tuple(sorted(reqs, key=lambda r: r.key)))  # stable, as ByKey


# ---------------------------------------------------------------------------
# Lexer and parser (labels.Parse)
# ---------------------------------------------------------------------------

_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_STRING2TOKEN = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT,
                 "in": _IN, "<": _LT, "!=": _NEQ, "notin": _NOTIN, "(": _OPEN}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")


def _lex(s: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos, n = 0, len(s)
    while True:
        while pos < n and s[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_EOS, ""))
            return items
        if s[pos] in _SPECIAL:
            tok, lit, pos = _scan_special(s, pos)
        else:
            start = pos
            while pos < n and s[pos] not in _SPECIAL and s[pos] not in _WHITESPACE:
                pos += 1
            lit = s[start:pos]
            tok = _STRING2TOKEN.get(lit, _ID)
        items.append((tok, lit))


def _scan_special(s: str, pos: int) -> tuple[int, str, int]:
    buf, last = "", (0, "")
    while pos < len(s) and s[pos] in _SPECIAL:
        buf += s[pos]
        if buf in _STRING2TOKEN:
            last = (_STRING2TOKEN[buf], buf)
            pos += 1
        elif last[0] != 0:
            break
        else:
            pos += 1
    if last[0] == 0:
        return _ERROR, f"error expected: keyword found '{buf}'", pos
    return last[0], last[1], pos


class _Parser:
    def __init__(self, s: str) -> None:
        self.items = _lex(s)
        self.pos = 0

    def lookahead(self, values: bool) -> tuple[int, str]:
        return self._ctx(self.items[self.pos], values)

    def consume(self, values: bool) -> tuple[int, str]:
        item = self.items[self.pos]
        self.pos += 1
        return self._ctx(item, values)

    @staticmethod
    def _ctx(item: tuple[int, str], values: bool) -> tuple[int, str]:
        tok, lit = item
        if values and tok in (_IN, _NOTIN):
            tok = _ID
        return tok, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead(True)
            if tok in (_ID, _NOT):
                try:
                    reqs.append(self.parse_requirement())
                except SelectorError as e:
                    raise SelectorError(f"unable to parse requirement: {e}") from None
                t, l1 = self.consume(True)
                if t == _EOS:
                    return reqs
                if t == _COMMA:
                    t2, l2 = self.lookahead(True)
                    if t2 not in (_ID, _NOT):
                        raise SelectorError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{l1}', expected: ',' or 'end of string'")
            elif tok == _EOS:
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> Requirement:
        key, op = self.parse_key_and_infer_operator()
        if op in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, op, [])
        op = self.parse_operator()
        vals = self.parse_values() if op in (IN, NOT_IN) else self.parse_exact_value()
        return new_requirement(key, op, sorted(vals))

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self.consume(True)
        if tok == _NOT:
            op = DOES_NOT_EXIST
            tok, lit = self.consume(True)
        if tok != _ID:
            raise SelectorError(f"found '{lit}', expected: identifier")
        kerrs = label_key_errors(lit)
        if kerrs:
            raise SelectorError(_invalid("<nil>", lit, "; ".join(kerrs)))
        if self.lookahead(True)[0] in (_EOS, _COMMA) and op != DOES_NOT_EXIST:
            op = EXISTS
        return lit, op

    def parse_operator(self) -> str:
        tok, lit = self.consume(False)
        ops = {_IN: IN, _EQ: EQUALS, _DEQ: DOUBLE_EQUALS, _GT: GT, _LT: LT, _NOTIN: NOT_IN, _NEQ: NOT_EQUALS}
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return ops[tok]

    def parse_values(self) -> set[str]:
        tok, lit = self.consume(True)
        if tok != _OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead(True)
        if tok in (_ID, _COMMA):
            s = self.parse_identifiers_list()
            if self.consume(True)[0] != _CLOSE:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return s
        if tok == _CLOSE:
            self.consume(True)
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        s: set[str] = set()
        while True:
            tok, lit = self.consume(True)
            if tok == _ID:
                s.add(lit)
                tok2, lit2 = self.lookahead(True)
                if tok2 == _COMMA:
                    continue
                if tok2 == _CLOSE:
                    return s
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not s:
                    s.add("")
                tok2 = self.lookahead(True)[0]
                if tok2 == _CLOSE:
                    s.add("")
                    return s
                if tok2 == _COMMA:
                    s.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        if self.lookahead(True)[0] in (_EOS, _COMMA):
            return {""}
        tok, lit = self.consume(True)
        if tok == _ID:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_selector(s: str) -> Selector:
    """``labels.Parse``: the label selector grammar; raises SelectorError."""
    return _make_selector(_Parser(s).parse())


def from_label_selector(sel: dict[str, Any] | None) -> Selector:
    """``metav1.LabelSelectorAsSelector``; raises SelectorError when invalid."""
    if sel is None:
        return nothing()
    match_labels = sel.get("matchLabels") or {}
    exprs = sel.get("matchExpressions") or []
    if not match_labels and not exprs:
        return everything()
    reqs = [new_requirement(k, EQUALS, [v]) for k, v in match_labels.items()]
    ops = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for expr in exprs:
        op = expr.get("operator", "")
        if op not in ops:
            raise SelectorError(f"{_go_quote(op)} is not a valid label selector operator")
        vals = expr.get("values")
        reqs.append(new_requirement(expr.get("key", ""), ops[op], list(vals) if vals is not None else None))
    return _make_selector(reqs)


# ---------------------------------------------------------------------------
# Field selectors (fields.ParseSelector)
# ---------------------------------------------------------------------------


def escape_field_value(s: str) -> str:
    """``fields.EscapeValue``."""
    return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(s: str) -> str:
    """``fields.UnescapeValue``; raises SelectorError with the real texts."""
    out, in_slash = [], False
    for c in s:
        if in_slash:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Go formats the rune with %v: its code point number
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(s: str) -> list[str]:
    if not s:
        return []
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(s):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


@dataclass(frozen=True)
class FieldTerm:
    field: str
    value: str
    negate: bool = False

    def matches(self, fields: dict[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) != self.negate

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negate else '='}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[FieldTerm, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.terms

    @cached_property
    def _pod_plain(self) -> tuple[tuple[str, str, str, bool], ...] | None:
        """The terms as (section, field, value, negate) when each reads one plain Pod field, else None."""
        if not all(t.field in _POD_PLAIN for t in self.terms):
            return None
        return tuple((t.field.partition(".")[0], t.field.partition(".")[2], t.value, t.negate)
                     for t in self.terms)

    def matches(self, obj: dict[str, Any], kind: str | None = None) -> bool:
        plain = self._pod_plain
        if plain is not None and (kind or obj.get("kind", "")) == "Pod":
            # the common case (a kubelet's spec.nodeName, a status.phase): read just those fields, not the
            # whole selectable set; a watch matches every event against every watcher's selector
            for section, name, value, negate in plain:
                v = (obj.get(section) or {}).get(name)
                text = "" if v is None else v if isinstance(v, str) else _as_field_string(v)
                if (text == value) == negate:
                    return False
            return True
        fields = selectable_fields(obj, kind)
        return all(t.matches(fields) for t in self.terms)

    def requires_exact_match(self, name: str) -> str | None:
        for t in self.terms:
            if t.field == name and not t.negate:
                return t.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def parse_field_selector(s: str) -> FieldSelector:
    """``fields.ParseSelector``; raises SelectorError with the real texts."""
    terms: list[FieldTerm] = []
    for part in sorted(_split_terms(s)):
        if part == "":
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{part}'")
        lhs, op, rhs = split
        value = unescape_field_value(rhs)
        if lhs == "" and value == "":
            continue  # Transform turns an empty term into Everything()
        terms.append(FieldTerm(lhs, value, negate=(op == "!=")))
    return FieldSelector(tuple(terms))


_META = {"metadata.name", "metadata.namespace"}

# Field labels each kind accepts (pkg/apis/*/v1/conversion.go); kinds not
# listed only accept metadata.name and metadata.namespace (the default).
FIELD_LABELS: dict[str, set[str]] = {
    "Pod": _META | {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                    "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                    "status.podIP", "status.podIPs", "status.nominatedNodeName"},
    "Event": _META | {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                      "involvedObject.uid", "involvedObject.apiVersion",
                      "involvedObject.resourceVersion", "involvedObject.fieldPath",
                      "reason", "reportingComponent", "source", "type"},
    "Node": {"metadata.name", "spec.unschedulable"},
    "Namespace": {"metadata.name", "status.phase"},
    "Secret": _META | {"type"},
    "Service": _META | {"spec.clusterIP", "spec.type"},
    "ReplicationController": _META | {"status.replicas"},
    "ReplicaSet": _META | {"status.replicas"},
    "Job": _META | {"status.successful"},
    "CertificateSigningRequest": {"metadata.name", "spec.signerName"},
}
# Kinds whose conversion func answers "field label not supported: <label>".
_CUSTOM_CONVERSION = set(FIELD_LABELS)
# Deprecated aliases the conversion rewrites (spec.host for old v1 clients).
_FIELD_ALIASES: dict[str, dict[str, str]] = {"Pod": {"spec.host": "spec.nodeName"}}


def validate_field_selector(kind: str, sel: FieldSelector) -> str | None:
    """The error text the API server answers for an unsupported field label."""
    allowed = FIELD_LABELS.get(kind, _META)
    aliases = _FIELD_ALIASES.get(kind, {})
    for t in sel.terms:
        if t.field in allowed or t.field in aliases:
            continue
        if kind in _CUSTOM_CONVERSION:
            return f"field label not supported: {t.field}"
        return (f"{_go_quote(t.field)} is not a known field selector: only "
                f'"metadata.name", "metadata.namespace"')
    return None


def normalize_field_selector(kind: str, sel: FieldSelector) -> FieldSelector:
    """Apply the conversion's label rewrites (``spec.host`` -> ``spec.nodeName``)."""
    aliases = _FIELD_ALIASES.get(kind, {})
    return FieldSelector(tuple(FieldTerm(aliases.get(t.field, t.field), t.value, t.negate)
                               for t in sel.terms))


def _get(obj: Any, path: str) -> Any:
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _as_field_string(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


_POD_PLAIN = frozenset({"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
                        "spec.schedulerName", "spec.serviceAccountName", "status.phase",
                        "status.nominatedNodeName"})


def _pod_fields(obj: dict[str, Any]) -> dict[str, str]:
    f = {k: _as_field_string(_get(obj, k)) for k in (
        "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
        "spec.serviceAccountName", "status.phase", "status.nominatedNodeName")}
    f["spec.hostNetwork"] = "true" if _get(obj, "spec.hostNetwork") else "false"
    ips = _get(obj, "status.podIPs") or []
    first = ips[0].get("ip", "") if ips and isinstance(ips[0], dict) else ""
    f["status.podIP"] = first or _as_field_string(_get(obj, "status.podIP"))
    # status.podIPs is an accepted label but not part of the selectable set:
    # it always reads as "" (pkg/registry/core/pod/strategy.go).
    f["status.podIPs"] = ""
    return f


def _event_fields(obj: dict[str, Any]) -> dict[str, str]:
    keys = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
            "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
            "involvedObject.fieldPath", "reason", "reportingComponent", "type")
    f = {k: _as_field_string(_get(obj, k)) for k in keys}
    f["source"] = _as_field_string(_get(obj, "source.component")) or f["reportingComponent"]
    return f


def _int_field(obj: dict[str, Any], path: str) -> str:
    v = _get(obj, path)
    return str(int(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else "0"


def selectable_fields(obj: dict[str, Any], kind: str | None = None) -> dict[str, str]:
    """``ToSelectableFields``: the field set a selector is matched against.

    Kinds without special rules fall back to reading each supported dotted
    path; unknown dotted paths read as "" (``fields.Set.Get``)."""
    kind = kind or obj.get("kind", "")
    meta = obj.get("metadata") or {}
    f: dict[str, str] = {"metadata.name": meta.get("name", "") or ""}
    if kind not in ("Node", "Namespace", "CertificateSigningRequest"):
        f["metadata.namespace"] = meta.get("namespace", "") or ""
    if kind == "Pod":
        f.update(_pod_fields(obj))
    elif kind == "Event":
        f.update(_event_fields(obj))
    elif kind == "Node":
        f["spec.unschedulable"] = "true" if _get(obj, "spec.unschedulable") else "false"
    elif kind in ("ReplicaSet", "ReplicationController"):
        f["status.replicas"] = _int_field(obj, "status.replicas")
    elif kind == "Job":
        f["status.successful"] = _int_field(obj, "status.succeeded")
    else:
        for label in FIELD_LABELS.get(kind, set()) - set(f):
            f[label] = _as_field_string(_get(obj, label))
    return _DottedFields(obj, f)


class _DottedFields(dict[str, str]):
    """A field set that reads unknown labels as dotted paths of the object."""

    def __init__(self, obj: dict[str, Any], known: dict[str, str]) -> None:
        super().__init__(known)
        self._obj = obj

    def get(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        v = _get(self._obj, key)
        return _as_field_string(v) if v is not None else default
