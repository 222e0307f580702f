"""Imports point one way, ``api -> actors -> zapx``, and nothing imports inside a function.

An AST walk over the three packages: a new arrow against the direction, an import between the
engine's actors and the Dramatiq actors (they meet only through the ports the composition roots
wire), or an import hidden in a function body fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "actors", "zapx")
#: What a package may not import.
FORBIDDEN = {"zapx": ("actors", "api"), "actors": ("api",), "api": ()}
#: The engine's actors and the Dramatiq actors: neither side imports the other.
ENGINE = {"actors.engine.company", "actors.engine.directory"}
DRAMATIQ = {
    "actors.alerts",
    "actors.delivery",
    "actors.inbox",
    "actors.imports",
    "actors.housekeeping",
}


def modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path, ast.parse(path.read_text(), str(path))


def imported(node: ast.AST, module: str) -> list[str]:
    """The modules an import statement names (relative imports resolved against ``module``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".")[: -node.level] if node.level else []
        return [".".join([*base, node.module] if node.module else base)]
    return [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]


def all_imports(tree: ast.Module):
    """Every import statement, wherever it is, and whether it is for type checkers only (under
    a module-level ``if TYPE_CHECKING:``: it never runs)."""
    type_only = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(sub) for sub in ast.walk(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, id(node) in type_only


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


MODULES = list(modules())


def test_the_packages_are_found():
    names = {name for name, _, _ in MODULES}
    assert {"zapx.engine.lifecycle", "actors.engine.directory", "api.app"} <= names


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package):
    wrong = []
    for name, path, tree in MODULES:
        if not under(name, package):
            continue
        for node, _ in all_imports(tree):
            for target in imported(node, name):
                if any(under(target, f) for f in FORBIDDEN[package]):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")
    assert wrong == []


def test_the_engine_and_the_dramatiq_actors_meet_only_through_ports():
    wrong = []
    for name, path, tree in MODULES:
        other = DRAMATIQ if name in ENGINE else ENGINE if name in DRAMATIQ else None
        if other is None:
            continue
        for node, type_only in all_imports(tree):
            for target in imported(node, name):
                if any(under(target, o) for o in other) and not type_only:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")
    assert wrong == []


def test_no_import_inside_a_function():
    found = []
    for _, path, tree in MODULES:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        found.append(f"{path.relative_to(ROOT)}:{sub.lineno}")
    assert found == []


def test_one_module_writes_the_run_flags():
    """``flags.run_key`` is read by the worker's checks (``flags.before_send`` and the send
    gate's script, which is handed the key in ``flags.gate_progress``) and written by
    ``zapx.engine.runflags`` alone: no other module names the key."""
    users = set()
    for name, _, tree in MODULES:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.Attribute):
                ident = node.id if isinstance(node, ast.Name) else node.attr
                if ident in ("run_key", "set_running", "clear_running"):
                    users.add(name)
    assert users == {"zapx.campaigns.flags", "zapx.engine.runflags"}
