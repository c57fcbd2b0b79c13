"""The package's shape, kept by a test (ARCHITECTURE.md draws it):

- no import cycles between the project's modules;
- no function-local imports of the project's own modules (they hide cycles); optional heavy
  libraries (ipywidgets, IPython, nbformat, kubernetes, ...) may still be imported late;
- layers: ``kai_labs.k8s`` (pure rules) imports nothing else of the project; ``kai_labs.sim`` (the
  embedded cluster) imports only itself and ``k8s``; nothing outside ``sim`` imports ``sim``.

``python tests/unit/test_layout.py`` prints every finding.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "kai_labs"

def modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODS = modules()


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(base + ([node.module] if node.module else []))


def imports(mod: str) -> Iterator[tuple[str, bool, int]]:
    """(imported project module, at module level?, line) for every import of the project in ``mod``."""
    path = MODS[mod]
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    # imports under a module-level `if` or `try` count as module level
    for n in tree.body:
        if isinstance(n, ast.If | ast.Try):
            top |= {id(x) for x in ast.walk(n)}
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = _resolve(mod, path.name == "__init__.py", node)
            for a in node.names:
                sub = f"{base}.{a.name}"
                targets.append(sub if sub in MODS else base)
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for t in targets:
            if t == "kai_labs" or t.startswith("kai_labs."):
                while t not in MODS and "." in t:
                    t = t.rsplit(".", 1)[0]
                yield t, id(node) in top, node.lineno


def findings() -> list[str]:
    out: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in MODS}
    for mod in MODS:
        for t, at_top, line in imports(mod):
            if not at_top:
                out.append(f"function-local import: {mod}:{line} imports {t}")
                continue
            if t != mod:
                graph[mod].add(t)
            if mod.startswith("kai_labs.k8s") and not t.startswith("kai_labs.k8s"):
                out.append(f"layer: {mod} (pure k8s rules) imports {t}")
            if mod.startswith("kai_labs.sim") and not t.startswith(("kai_labs.sim", "kai_labs.k8s")):
                out.append(f"layer: {mod} (the embedded cluster) imports {t}")
            if not mod.startswith("kai_labs.sim") and t.startswith("kai_labs.sim"):
                out.append(f"layer: {mod} imports the embedded cluster's {t}")
    out += [f"cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return sorted(set(out))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_cycles_local_imports_or_layer_breaks() -> None:
    found = findings()
    assert not found, "\n".join(found)


def test_the_checker_sees_a_cycle_and_a_local_import() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


if __name__ == "__main__":
    print("\n".join(findings()))
