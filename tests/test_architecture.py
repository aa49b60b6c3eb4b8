"""The package's shape: one package per concern, no import cycle, no private name shared.

Read statically (``ast``, see :mod:`tests.import_graph`): every import counts, at module level
and inside functions, except under ``if TYPE_CHECKING:``. So a function-level import placed to
dodge a cycle closes the cycle here and fails. Each scan has a probe on a small made-up package
proving it catches what it is meant to catch.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.import_graph import ROOT, cycles, edges, private_imports, read_package

PACKAGE = read_package()
BACKEND = "livedesk.backend"


def _probe(tmp_path: Path, files: dict[str, str]) -> dict:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return read_package(tmp_path, {"pkg": "pkg"})


def test_the_scan_reads_the_whole_package() -> None:
    names = set(PACKAGE)
    assert {"livedesk", "livedesk.tui.cli", "livedesk.backend.trading.app"} <= names
    assert len([n for n in names if n.startswith(BACKEND + ".sim.")]) > 30
    files = {p for p in ROOT.joinpath("backend").rglob("*.py")}
    assert files <= {m.path for m in PACKAGE.values()}


def test_no_import_cycle_among_the_package_modules() -> None:
    found = cycles(edges(PACKAGE))
    assert found == [], "import cycles (break them by moving the shared piece down):\n" + "\n".join(
        " -> ".join(c) for c in found
    )


def test_cycle_scan_catches_module_level_and_function_level_cycles(tmp_path: Path) -> None:
    modules = _probe(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg.b import thing\n",
            "b.py": "def thing():\n    from pkg import a\n    return a\n",
            "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import D\n",
            "d.py": "import pkg.c\nclass D: ...\n",
            "e.py": "from pkg import f\n",
            "f.py": "import pkg.e as e\n",
        },
    )
    # a <-> b through a function-level import; e <-> f at module level; c <-> d is
    # TYPE_CHECKING only, which the rule excepts.
    assert cycles(edges(modules)) == [["pkg.a", "pkg.b"], ["pkg.e", "pkg.f"]]


def test_cycle_scan_catches_a_package_init_and_its_submodule(tmp_path: Path) -> None:
    modules = _probe(
        tmp_path,
        {
            "__init__.py": "from pkg.a import thing\nVALUE = 1\n",
            "a.py": "from pkg import VALUE\ndef thing(): ...\n",
            "b.py": "import pkg.a\n",
        },
    )
    assert cycles(edges(modules)) == [["pkg", "pkg.a"]]


def test_no_private_name_is_imported_from_another_module() -> None:
    found = private_imports(PACKAGE)
    assert found == [], (
        "make these public, or move them to the module that uses them:\n" + "\n".join(found)
    )


def test_private_scan_catches_from_imports_and_module_attributes(tmp_path: Path) -> None:
    modules = _probe(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "_SECRET = 1\ndef _helper(): ...\n__all__ = ['x']\nx = 2\n",
            "b.py": "from pkg.a import _SECRET, x\nfrom pkg import a as alias\nalias._helper()\n",
            "c.py": "from pkg.a import __all__\nfrom pkg import a\nprint(a.x)\n",
        },
    )
    found = private_imports(modules)
    assert [f.rsplit(": ", 1)[1] for f in found] == [
        "pkg.b uses pkg.a._SECRET",
        "pkg.b uses pkg.a._helper",
    ]


def _imports_of(module_prefix: str) -> list[tuple[str, int, str]]:
    """(module, line, imported name) of every import made by modules under ``module_prefix``."""
    out = []
    for mod in PACKAGE.values():
        if mod.name == module_prefix or mod.name.startswith(module_prefix + "."):
            out += [(mod.name, i.line, i.target) for i in mod.imports]
            out += [(mod.name, line, name) for line, name in mod.foreign]
    return out


def test_backend_never_imports_textual_or_the_tui_statically() -> None:
    bad = [
        f"{m}:{line}: {name}"
        for m, line, name in _imports_of(BACKEND)
        if name.split(".")[0] == "textual" or name.startswith("livedesk.tui")
    ]
    assert bad == [], "backend/ is a library the TUI drives; it never imports it:\n" + "\n".join(
        bad
    )


def test_backend_never_imports_textual_or_tui_when_every_module_is_loaded() -> None:
    """Every module under ``livedesk.backend`` imports without Textual or ``livedesk.tui``."""
    code = (
        "import importlib, pkgutil, sys, livedesk.backend as b; "
        "names = [m.name for m in pkgutil.walk_packages(b.__path__, 'livedesk.backend.')]; "
        "[importlib.import_module(n) for n in names]; "
        "assert len(names) > 100, names; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'textual' "
        "or m.startswith('livedesk.tui')]; "
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_test_harness_in_the_product() -> None:
    harness = ("tests", "pytest", "hypothesis", "_pytest")
    bad = [
        f"{m}:{line}: {name}"
        for m, line, name in _imports_of("livedesk")
        if name.split(".")[0] in harness
    ]
    assert bad == [], "test harnesses live under tests/ or benchmarks/:\n" + "\n".join(bad)
    assert not (ROOT / "backend" / "soak.py").exists()


def _top_level_modules(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")


def test_backend_top_level_keeps_only_what_stands_alone() -> None:
    top = _top_level_modules(ROOT / "backend")
    assert len(top) <= 12, top
    assert set(top) <= {"config", "events", "errors", "files", "contracts", "journal"}, top


@pytest.mark.parametrize(
    ("package", "members"),
    [
        (
            "trading",
            {
                "app",
                "primitives",
                "rebalancing",
                "orders",
                "guard",
                "exposure",
                "ledger",
                "results",
                "resolver",
                "marketdata",
            },
        ),
        ("combos", {"legs", "form", "payoff", "feed", "bags", "blackscholes"}),
        ("report", {"metrics", "attribution"}),
        (
            "sim/protocol",
            {"wire", "versions", "messages", "requests", "order_messages", "order_requests"},
        ),
        ("sim/clients", {"transport", "session", "account_requests", "market_requests", "pacing"}),
        (
            "sim/market",
            {"model", "paths", "instruments", "futures", "options", "history", "calendar", "clock"},
        ),
        (
            "sim/broker",
            {"book", "matching", "account", "margin", "whatif", "combos", "validation", "state"},
        ),
        ("sim/control", {"faults", "client"}),
    ],
)
def test_each_concern_has_its_package(package: str, members: set[str]) -> None:
    folder = ROOT / "backend" / package
    assert (folder / "__init__.py").is_file()
    assert members <= set(_top_level_modules(folder))


def test_simulated_gateway_top_level_is_the_assembly_only() -> None:
    assert _top_level_modules(ROOT / "backend" / "sim") == ["errors", "gateway", "rollover"]
