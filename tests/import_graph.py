"""Read the ``livedesk`` package's modules with ``ast`` and build its import graph.

Used by ``tests/test_architecture.py``. Every import is counted — at module level and inside
functions — except those under ``if TYPE_CHECKING:``; so a function-level import placed there to
dodge a cycle still closes the cycle here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Folder of the repository → the dotted package it installs as (see setup.py).
TREES = {
    "livedesk": "livedesk",
    "backend": "livedesk.backend",
    "tui": "livedesk.tui",
    "themes": "livedesk.themes",
}


@dataclass(frozen=True)
class Import:
    """One import statement's effect: ``importer`` imports ``target`` (a module of ours)."""

    importer: str
    target: str
    line: int
    names: tuple[str, ...] = ()  # the names a ``from … import`` takes from ``target``
    in_function: bool = False


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: list[Import] = field(default_factory=list)
    foreign: list[tuple[int, str]] = field(default_factory=list)  # (line, dotted name)
    private_uses: list[tuple[int, str, str]] = field(default_factory=list)  # (line, module, name)


def module_files(root: Path = ROOT, trees: dict[str, str] = TREES) -> dict[str, Path]:
    """Every module of the package: dotted name → file."""
    found: dict[str, Path] = {}
    for folder, dotted in trees.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([dotted, *parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Yield every node with whether it sits inside a function; skip TYPE_CHECKING blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other, in_function
                yield from _walk(other, in_function)
            continue
        inner = in_function or isinstance(
            child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
        )
        yield child, in_function
        yield from _walk(child, inner)


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def read_module(name: str, path: Path, known: set[str]) -> Module:
    """Parse one module and list its imports of ``known`` modules and its private-name uses."""
    is_package = path.name == "__init__.py"
    mod = Module(name, path, is_package)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases: dict[str, str] = {}  # local name bound to one of our modules → that module
    for node, in_function in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _ours(alias.name, known)
                if target is None:
                    mod.foreign.append((node.lineno, alias.name))
                    continue
                mod.imports.append(Import(name, target, node.lineno, (), in_function))
                if alias.asname:
                    aliases[alias.asname] = target
        elif isinstance(node, ast.ImportFrom):
            source = (
                _resolve_relative(name, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            if _ours(source, known) is None:
                mod.foreign.append((node.lineno, source))
                continue
            taken: list[str] = []
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in known:  # ``from pkg import module``
                    mod.imports.append(Import(name, sub, node.lineno, (), in_function))
                    aliases[alias.asname or alias.name] = sub
                else:
                    taken.append(alias.name)
            target = _ours(source, known)
            if taken or target == source:
                mod.imports.append(Import(name, target, node.lineno, tuple(taken), in_function))
            for t in taken:
                if t.startswith("_") and not t.startswith("__"):
                    mod.private_uses.append((node.lineno, source, t))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            target = aliases.get(node.value.id)
            attr = node.attr
            if target and attr.startswith("_") and not attr.startswith("__"):
                mod.private_uses.append((node.lineno, target, attr))
    return mod


def _ours(dotted: str, known: set[str]) -> str | None:
    """The longest prefix of ``dotted`` that is one of our modules (``None`` when foreign)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in known:
            return candidate
    return None


def read_package(root: Path = ROOT, trees: dict[str, str] = TREES) -> dict[str, Module]:
    files = module_files(root, trees)
    known = set(files)
    return {name: read_module(name, path, known) for name, path in files.items()}


def edges(modules: dict[str, Module]) -> dict[str, set[str]]:
    """module → the modules importing it executes: each target and the packages above it."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for mod in modules.values():
        for imp in mod.imports:
            if imp.target != mod.name:
                graph[mod.name].add(imp.target)
            for parent in _with_parents(imp.target, modules):
                # a package above the target runs first, unless it is one of ours (already running)
                if parent != imp.target and not mod.name.startswith(parent + "."):
                    graph[mod.name].add(parent)
    return graph


def _with_parents(target: str, modules: dict[str, Module]) -> Iterable[str]:
    parts = target.split(".")
    for i in range(1, len(parts) + 1):
        candidate = ".".join(parts[:i])
        if candidate in modules:
            yield candidate


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        item = stack.pop()
                        on_stack.discard(item)
                        component.append(item)
                        if item == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(found)


def private_imports(modules: dict[str, Module]) -> list[str]:
    """``file:line: module imports _name from other.module`` for each cross-module private use."""
    out = []
    for mod in modules.values():
        for line, source, name in mod.private_uses:
            if source != mod.name:
                where = mod.path.relative_to(ROOT) if mod.path.is_relative_to(ROOT) else mod.path
                out.append(f"{where}:{line}: {mod.name} uses {source}.{name}")
    return sorted(out)
