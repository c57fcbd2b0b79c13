"""YAML request bodies read as sigs.k8s.io/yaml reads them (kai_labs/sim/apimachinery/yamljson.py), with
go-yaml v2's alias expansion limit (goyaml.v2 decode.go: allowedAliasRatio, "excessive aliasing")."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from kai_labs.sim.apimachinery import yamljson
from kai_labs.sim.apimachinery.yamljson import YamlError, allowed_alias_ratio, to_json_value
from tests.manifests import YAML_ALIAS_BOMB

LAUGHS = YAML_ALIAS_BOMB


def test_allowed_alias_ratio_is_go_yamls() -> None:
    assert allowed_alias_ratio(1_000) == 0.99
    assert allowed_alias_ratio(400_000) == 0.99
    assert allowed_alias_ratio(4_000_000) == 0.10
    assert allowed_alias_ratio(10_000_000) == 0.10
    assert allowed_alias_ratio(2_200_000) == pytest.approx(0.99 - 0.89 * 0.5)


def test_nested_aliases_stop_with_excessive_aliasing_at_once() -> None:
    tracemalloc.start()
    t = time.perf_counter()
    try:
        with pytest.raises(YamlError, match=r"^yaml: document contains excessive aliasing$"):
            to_json_value(LAUGHS)
        elapsed = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 5_000_000  # bytes: a few thousand visits, never the 9**9-element expansion


def test_aliases_within_the_limit_are_expanded_into_independent_copies() -> None:
    doc = to_json_value("base: &b {a: [1, 2], c: x}\none: *b\ntwo: *b\n")
    assert doc == {"base": {"a": [1, 2], "c": "x"}, "one": {"a": [1, 2], "c": "x"}, "two": {"a": [1, 2], "c": "x"}}
    doc["one"]["a"].append(3)  # JSON has no shared parts: changing one copy leaves the others
    assert doc["base"]["a"] == [1, 2] and doc["two"]["a"] == [1, 2]


def test_a_document_with_many_small_aliases_is_not_excessive() -> None:
    # 2,000 uses of a one-node anchor among as many plain values: half the visits are aliases (< 99%)
    body = "x: &v 1\nitems:\n" + "".join(f"- {{k{i}: {i}, v: *v}}\n" for i in range(2000))
    doc = to_json_value(body)
    assert len(doc["items"]) == 2000 and doc["items"][5] == {"k5": 5, "v": 1}


def test_alias_errors_are_go_yamls() -> None:
    with pytest.raises(YamlError, match=r"^yaml: anchor 'x' value contains itself$"):
        to_json_value("a: &x [1, *x]\n")
    with pytest.raises(YamlError, match=r"^yaml: unknown anchor 'nope' referenced$"):
        to_json_value("a: *nope\n")


def test_values_read_as_sigs_k8s_io_yaml_reads_them() -> None:
    doc = to_json_value(
        "t: 2001-12-14\n"  # timestamps stay strings
        "i: 0x10\nf: 1.5\nb: yes\nn: ~\ne:\nq: '1'\n"
        "k: {1: a, true: b, null: c}\n"  # keys become strings
        "bin: !!binary aGVsbG8=\n"
        "m:\n  <<: {a: 1, b: 1}\n  b: 2\n")
    assert doc == {"t": "2001-12-14", "i": 16, "f": 1.5, "b": True, "n": None, "e": None, "q": "1",
                   "k": {"1": "a", "true": "b", "null": "c"}, "bin": "hello", "m": {"a": 1, "b": 2}}


def test_only_the_first_document_is_read() -> None:
    assert to_json_value("a: 1\n---\nb: [unclosed\n") == {"a": 1}


def test_syntax_errors_are_libyamls_with_go_yamls_line_numbers() -> None:
    with pytest.raises(YamlError, match=r"^yaml: line 2: mapping values are not allowed in this context$"):
        to_json_value("a: 1\nb: c: d\n")  # a scanner error: its line counted from 1
    with pytest.raises(YamlError, match=r"^yaml: line 1: did not find expected ',' or '\]'$"):
        to_json_value("a: [b\nc: d\n")  # a parser error: go-yaml prints the 0-based line


def test_depth_is_bounded_without_recursion() -> None:
    # go-yaml stops at 10,000 levels ("exceeded max depth of 10000"); libyaml, where PyYAML has it, at 1,000
    with pytest.raises(YamlError, match=r"^yaml: (exceeded max depth of 10000|exceeded maximum nesting depth)$"):
        to_json_value("[" * 20_000 + "]" * 20_000)
    assert yamljson.MAX_DEPTH == 10_000


def test_a_large_document_costs_about_its_result() -> None:
    """PyYAML's composer held a node graph of several hundred MB for a 3 MiB body; events are built directly."""
    body = "a: [" + ",".join(str(i % 1000) for i in range(200_000)) + "]\n"  # 0.8 MB
    tracemalloc.start()
    try:
        doc = to_json_value(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(doc["a"]) == 200_000
    assert peak < 20_000_000
