"""Exercises are generated from solutions: one source, never edited by hand twice.

In a solution notebook, answers sit between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` (in code or markdown cells). The exercise keeps everything
else and replaces each block with ``# YOUR CODE HERE`` (code) or
``YOUR ANSWER HERE`` (markdown), at the block's indentation. Outputs and
execution counts are stripped; the JSON is written with sorted keys and a fixed
indent, so the same solutions always give byte-identical exercises.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


class ExerciseError(Exception):
    pass


def find_root(start: Path | None = None) -> Path:
    """The course repository's root: ``start``, or the first directory from cwd upwards holding ``solutions/``.

    A developer's tool: it reads ``solutions/`` and writes ``exercises/`` of a checkout of the course
    repository, which an installed package does not carry."""
    cands = [start] if start else [Path.cwd(), *Path.cwd().parents]
    for c in cands:
        if (c / "solutions").is_dir():
            return c
    where = f"{start} has no solutions/ directory" if start else "no solutions/ directory here or above"
    raise ExerciseError(f"{where}: build-exercises works in a checkout of the course repository; run it there "
                        "or pass --root")


def _src(cell: dict[str, Any]) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else str(s)


def strip_solution(text: str, markdown: bool = False, where: str = "") -> str:
    out: list[str] = []
    inside = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ExerciseError(f"{where}: nested {BEGIN}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + ("YOUR ANSWER HERE" if markdown else "# YOUR CODE HERE"))
            continue
        if stripped == END:
            if not inside:
                raise ExerciseError(f"{where}: {END} without {BEGIN}")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise ExerciseError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def _split(text: str) -> list[str]:
    lines = text.split("\n")
    return [ln + "\n" for ln in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def exercise_from_solution(nb: dict[str, Any], where: str = "") -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(nb))
    for i, cell in enumerate(out.get("cells", [])):
        text = _src(cell)
        if BEGIN in text or END in text:
            text = strip_solution(text, cell.get("cell_type") == "markdown", f"{where} cell {i}")
        cell["source"] = _split(text)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return out


def dumps(nb: dict[str, Any]) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def is_clean(nb: dict[str, Any]) -> bool:
    return all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb.get("cells", []) if c.get("cell_type") == "code")


def build_exercises(root: Path | None = None, check: bool = False) -> list[str]:
    """Write exercises/*.ipynb from solutions/*.ipynb; return the names that changed (or would, with check)."""
    root = find_root(root)
    sol, ex = root / "solutions", root / "exercises"
    changed: list[str] = []
    wanted: dict[str, str] = {}
    for path in sorted(sol.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        if not is_clean(nb):
            raise ExerciseError(f"{path.relative_to(root)} has outputs; commit solutions clean "
                                "(jupyter nbconvert --clear-output --inplace)")
        if not re.search(re.escape(BEGIN), path.read_text()):
            raise ExerciseError(f"{path.relative_to(root)} has no {BEGIN} block")
        wanted[path.name] = dumps(exercise_from_solution(nb, str(path.relative_to(root))))
    for name_, text in wanted.items():
        target = ex / name_
        if not target.exists() or target.read_text() != text:
            changed.append(name_)
            if not check:
                ex.mkdir(exist_ok=True)
                target.write_text(text)
    for extra in sorted(ex.glob("*.ipynb")) if ex.exists() else []:
        if extra.name not in wanted:
            changed.append(extra.name + " (no solution)")
            if not check:
                extra.unlink()
    return changed
