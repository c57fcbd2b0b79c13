"""The project owns its knowledge: no file points outside the repository, every rule id the code and
tests cite is defined in docs/rules.md (with its Kubernetes source and live code/test pointers), and
docs/syllabus.md (the chapter -> lessons mapping) names notebooks and headings that exist."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "rules.md"
SYLLABUS = ROOT / "docs" / "syllabus.md"
LESSONS = ROOT / "lessons"

# Paths that live outside the repository (the reference material the project was started from).
# The pattern is assembled from pieces so that this file does not match it.
_DOT_MD = r"\." + "md"
OUTSIDE = re.compile(
    "|".join([
        r"\.\./" + "shared/",
        "/work/" + "shared",
        "(^|[^a-z_])" + "shared/" + "(k8s-service-" + "semantics|chapter|DESIGN|STYLE)" + _DOT_MD,
        "k8s-service-" + "semantics",
        "DESIGN" + _DOT_MD,
        "STYLE" + _DOT_MD,
        "chapter" + _DOT_MD,
    ]),
    re.MULTILINE,
)

# A rule id as code and tests cite it: R23, R1/R2, R18-R28 (also with an en dash), test_R23_..., test_A_R1_R2_R3_...
RULE_ID = re.compile(r"(?<![A-Za-z0-9])R(\d{1,3})(?:\s*[-\u2013]\s*R(\d{1,3}))?(?![0-9])")
RULE_HEADING = re.compile(r"^### R(\d+) \u2014 \S", re.MULTILINE)
CITING_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".cfg", ".toml"}


def tracked_files() -> list[Path]:
    try:
        # tracked files plus new ones not yet added (but not ignored ones), so a check runs before the commit
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.split("\0") if name and (ROOT / name).is_file()]


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def rule_sections() -> dict[int, str]:
    text = RULES.read_text(encoding="utf-8")
    sections: dict[int, str] = {}
    matches = list(RULE_HEADING.finditer(text))
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        body = text[m.start():nxt.start() if nxt else len(text)]
        body = re.split(r"^## ", body, flags=re.MULTILINE)[0]  # a family heading ends the last rule of a family
        rid = int(m.group(1))
        assert rid not in sections, f"R{rid} is defined twice in docs/rules.md"
        sections[rid] = body
    return sections


def cited_ids(text: str) -> set[int]:
    ids: set[int] = set()
    for m in RULE_ID.finditer(text):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        ids.update(range(lo, hi + 1))
    return ids


# --------------------------------------------------------------------------- (a) nothing points outside


def test_the_outside_pattern_does_not_match_this_file_but_matches_what_it_is_for() -> None:
    assert OUTSIDE.search(Path(__file__).read_text(encoding="utf-8")) is None
    for sample in ("see ../" "shared/notes", "/work/" "shared/x", "k8s-service-" "semantics", "DESIGN" ".md",
                   "STYLE" ".md", "the chapter" ".md"):
        assert OUTSIDE.search(sample), sample


def test_no_tracked_file_references_a_path_outside_the_repository() -> None:
    hits = []
    for path in tracked_files():
        text = read_text(path)
        if text is None:
            continue
        for m in OUTSIDE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            hits.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0).strip()}")
    assert not hits, "point at docs/rules.md or docs/syllabus.md, or state the fact inline:\n" + "\n".join(hits)


# --------------------------------------------------------------------------- (b) cited ids exist


def test_every_rule_id_cited_in_code_and_tests_is_defined_in_docs_rules_md() -> None:
    defined = set(rule_sections())
    missing: dict[int, list[str]] = {}
    for path in tracked_files():
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in ("kai_labs", "tests") or path.suffix not in CITING_SUFFIXES:
            continue
        text = read_text(path)
        if text is None:
            continue
        for rid in cited_ids(text) - defined:
            missing.setdefault(rid, []).append(str(rel))
    assert not missing, "rule ids cited but not defined in docs/rules.md: " + ", ".join(
        f"R{rid} ({', '.join(files)})" for rid, files in sorted(missing.items()))


def test_the_rule_id_pattern_reads_every_form_the_code_uses() -> None:
    assert cited_ids("R23") == {23}
    assert cited_ids("R1/R2, R18-R28") == {1, 2, *range(18, 29)}
    assert cited_ids("def test_A_R1_R2_R3_selection") == {1, 2, 3}
    assert cited_ids("R33\u2013R35") == {33, 34, 35}
    assert cited_ids("HTTP/1.1, RFC3339, PR 97150, ARG2") == set()


# --------------------------------------------------------------------------- (c) every rule has a source


def test_rules_r1_to_r51_are_all_defined() -> None:
    assert set(range(1, 52)) <= set(rule_sections())


def test_every_rule_has_a_statement_a_source_and_where_it_lives() -> None:
    for rid, body in rule_sections().items():
        lines = body.splitlines()
        statement = [ln for ln in lines[1:] if ln.strip() and not ln.startswith("- ")]
        assert statement, f"R{rid} has no statement"
        for field in ("Source", "Code", "Tests"):
            entry = [ln for ln in lines if ln.startswith(f"- {field}: ") and ln[len(field) + 4:].strip()]
            assert entry, f"R{rid} has no '- {field}:' line"


CODE_REF = re.compile(r"`((?:kai_labs|tests)/[\w/]+\.py)(?::\s*([\w., ]+))?`")
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)?::(\w+\*?)`")


def test_code_and_test_pointers_in_docs_rules_md_are_live() -> None:
    """A reader can follow every pointer: the file exists, and each named function, class or test is in it."""
    text = RULES.read_text(encoding="utf-8")
    broken = []
    for m in CODE_REF.finditer(text):
        path = ROOT / m.group(1)
        if not path.is_file():
            broken.append(m.group(1))
            continue
        source = path.read_text(encoding="utf-8")
        for name in (m.group(2) or "").split(","):
            name = name.strip().split(".")[-1]
            if name and not re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b", source, re.MULTILINE):
                broken.append(f"{m.group(1)}: {name}")
    last_file: str | None = None
    for m in TEST_REF.finditer(text):
        last_file = m.group(1) or last_file
        assert last_file, f"::{m.group(2)} names no file"
        path = ROOT / last_file
        if not path.is_file():
            broken.append(last_file)
            continue
        name = m.group(2)
        pattern = re.escape(name[:-1]) + r"\w*" if name.endswith("*") else re.escape(name) + r"\b"
        if not re.search(rf"^def {pattern}", path.read_text(encoding="utf-8"), re.MULTILINE):
            broken.append(f"{last_file}::{name}")
    assert not broken, "docs/rules.md points at code or tests that do not exist: " + ", ".join(broken)


# --------------------------------------------------------------------------- the syllabus


def notebook_headings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for nb_path in sorted(LESSONS.glob("[0-9][0-9]-*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        heads = []
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                heads += [ln.lstrip("#").strip() for ln in "".join(cell["source"]).splitlines() if ln.startswith("#")]
        found[nb_path.name[:2]] = heads
    return found


def split_top(text: str, sep: str) -> list[str]:
    """Split on the one-character ``sep`` outside parentheses and backticks."""
    parts, depth, code, cur = [], 0, False, ""
    for ch in text:
        if ch == "`":
            code = not code
        elif not code and ch == "(":
            depth += 1
        elif not code and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not code:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [*parts, cur]


def syllabus_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in SYLLABUS.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| (S\d+) \| (.+) \| (.+) \|$", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


def test_syllabus_ids_are_unique_and_every_idea_says_where_it_is_taught() -> None:
    rows = syllabus_rows()
    assert len(rows) >= 50
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(idea.strip() and taught.strip() for _, idea, taught in rows)


def test_syllabus_names_notebooks_and_headings_that_exist() -> None:
    headings = notebook_headings()
    broken = []
    for sid, _, taught in syllabus_rows():
        notebooks: list[str] = []
        for place in (p.strip() for p in split_top(taught, ";")):
            m = re.match(r"^(\d\d(?:, \d\d)*) \u2192 (.+)$", place)
            if m:
                notebooks = m.group(1).split(", ")
                place = m.group(2)
            heading = place.split(" (", 1)[0].strip()
            if not notebooks:
                broken.append(f"{sid}: '{place}' names no notebook")
            for nb in notebooks:
                if nb not in headings:
                    broken.append(f"{sid}: no lessons/{nb}-*.ipynb")
                elif not any(h.startswith(heading) for h in headings[nb]):
                    broken.append(f"{sid}: {nb} has no heading starting '{heading}'")
    assert not broken, "docs/syllabus.md is out of date:\n" + "\n".join(broken)


def test_lessons_readme_links_the_syllabus_and_keeps_no_second_table() -> None:
    readme = (LESSONS / "README.md").read_text(encoding="utf-8")
    assert "](../docs/syllabus.md)" in readme
    assert "| chapter idea |" not in readme
