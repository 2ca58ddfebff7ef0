"""The import graph of src/specrec, function-level imports included, has no circle; stages import
what lies below them only (`evaluate` never imports `train`)."""

from __future__ import annotations

import ast
from pathlib import Path

import specrec

SOURCE = Path(specrec.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in SOURCE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """specrec modules that `name` imports anywhere in its body (inside functions too).

    `from a.b import c` is an edge to `a.b.c` when that is a module, else to `a.b`.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
    return {target for target in found if target in known and target != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_analysis_finds_a_planted_circle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    known = {"specrec.x", "specrec.x.y", "specrec.x.z"}
    source = SOURCE / "runs" / "model.py"
    assert "specrec.runs.store" in imports_of("specrec.runs.model", source, set(modules()))
    assert imports_of("specrec.x.y", source, known) == set()  # names only what exists


def test_no_import_circle_anywhere():
    assert cycles(graph()) == []


def test_evaluate_and_the_stores_never_import_train():
    edges = graph()
    for start in [m for m in edges if m.startswith(("specrec.evaluate", "specrec.runs",
                                                    "specrec.models", "specrec.report",
                                                    "specrec.finetune"))]:
        below = reachable(edges, start)
        assert not any(m == "specrec.train" or m.startswith("specrec.train.") for m in below), start


def test_report_reads_other_artifacts_only_through_their_stores():
    edges = graph()
    stages = {"specrec.train.train", "specrec.evaluate.evaluate", "specrec.embed.embed",
              "specrec.transform.transform", "specrec.data.preprocess"}
    for name in [m for m in edges if m.startswith("specrec.report")]:
        assert not edges[name] & stages, (name, edges[name] & stages)
