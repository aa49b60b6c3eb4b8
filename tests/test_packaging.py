"""LiveDesk installs as one import package, ``livedesk``, and nothing else.

The wheel is built offline from a clean copy of the tree (so no stale ``build/`` can leak in),
then installed into a fresh environment beside a foreign package that ships top-level
``backend`` and ``tui`` packages: installing and uninstalling that package must change nothing
in LiveDesk.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("backend", "tui", "themes")
SOURCE_TREES = ("livedesk", "backend", "tui", "themes", "tests", "benchmarks")


def _tracked_files() -> list[Path]:
    """The files of the tree as git sees them (tracked, or new and not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [Path(p) for p in out.split("\0") if p and (ROOT / p).is_file()]


def _bare_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path}:{node.lineno}: {n}" for n in names if n.split(".")[0] in MAPPED]
    return found


def test_no_module_imports_the_bare_backend_tui_or_themes_names() -> None:
    files = [p for p in _tracked_files() if p.suffix == ".py" and p.parts[0] in SOURCE_TREES]
    assert any(p.parts[0] == "backend" for p in files)
    bad = [hit for p in files for hit in _bare_imports(ROOT / p)]
    assert bad == [], "import livedesk.<name>, never the bare folder name:\n" + "\n".join(bad)


def test_bare_import_scan_catches_a_bare_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom backend.trading import TradingApp\nimport tui.cli\n")
    assert [h.rsplit(": ", 1)[1] for h in _bare_imports(probe)] == ["backend.trading", "tui.cli"]


def _run(code: str, cwd: Path = ROOT, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_public_api_is_importable_from_livedesk_and_lazy() -> None:
    r = _run(
        """
        import sys
        import livedesk
        assert "ib_async" not in sys.modules, "import livedesk must stay cheap"
        from livedesk import TradingApp, stock, future, option, combo_leg, spread, market, limit
        from livedesk.backend import contracts
        from livedesk.backend.trading import orders, app as trading
        assert TradingApp is trading.TradingApp
        assert (stock, future, option, combo_leg, spread) == (
            contracts.stock, contracts.future, contracts.option, contracts.combo_leg,
            contracts.spread)
        assert (market, limit) == (orders.market, orders.limit)
        assert stock("AAPL").symbol == "AAPL" and limit("BUY", 5, 10.0).lmtPrice == 10.0
        try:
            livedesk.no_such_name
        except AttributeError as exc:
            assert "no_such_name" in str(exc)
        else:
            raise SystemExit("unknown attribute did not raise")
        """
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_python_dash_m_livedesk_is_the_livedesk_command() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "livedesk", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"livedesk {version('livedesk')}"


def _build_wheel(src: Path, out: Path) -> Path:
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    [wheel] = out.glob("*.whl")
    return wheel


def _foreign_backend_project(path: Path) -> Path:
    """A project like many others: top-level ``backend`` and ``tui`` packages."""
    for pkg in ("backend", "tui"):
        (path / pkg).mkdir(parents=True)
        (path / pkg / "__init__.py").write_text(f"FOREIGN = {pkg!r}\n")
    (path / "backend" / "trading.py").write_text("TradingApp = 'not LiveDesk'\n")
    (path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "foreign-backend"
            version = "1.0"
            [tool.setuptools]
            packages = ["backend", "tui"]
            """
        )
    )
    return path


def _env_with_our_dependencies(path: Path) -> str:
    """A fresh environment whose only extra path is this venv's site-packages (for ib_async &c.).

    The path is appended by a plain ``.pth`` line, so this venv's editable-install hook does not
    run there: ``livedesk`` can only come from what is installed into the new environment.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "livedesk_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return str(python)


def _pip(python: str, *args: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "-q", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_wheel_holds_only_livedesk_and_a_foreign_backend_package_changes_nothing(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    for rel in _tracked_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    wheel = _build_wheel(src, tmp_path / "dist")

    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        ours = {n: hashlib.sha256(zf.read(n)).hexdigest() for n in names if n.endswith(".py")}
    tops = {n.split("/")[0] for n in names}
    assert tops == {"livedesk", f"livedesk-{version('livedesk')}.dist-info"}, sorted(tops)
    expected = {
        "livedesk/" + str(p) if p.parts[0] != "livedesk" else str(p)
        for p in _tracked_files()
        if p.suffix in (".py", ".tcss", ".toml") and p.parts[0] in ("livedesk", *MAPPED)
    }
    assert expected <= set(names), sorted(expected - set(names))

    python = _env_with_our_dependencies(tmp_path / "env")
    _pip(python, "install", "--no-deps", str(wheel))
    foreign = _build_wheel(_foreign_backend_project(tmp_path / "foreign"), tmp_path / "fdist")
    site = Path(
        _run(
            "import sysconfig; print(sysconfig.get_path('purelib'))", tmp_path, python
        ).stdout.strip()
    )

    def livedesk_intact() -> None:
        for name, digest in ours.items():
            assert hashlib.sha256((site / name).read_bytes()).hexdigest() == digest, name
        workdir = tmp_path / "work"  # a working directory with its own backend/ folder
        (workdir / "backend").mkdir(parents=True, exist_ok=True)
        (workdir / "backend" / "__init__.py").write_text("raise ImportError('shadowed')\n")
        r = _run(
            f"""
            import livedesk.backend.trading.app as t
            from livedesk import TradingApp
            assert t.__file__.startswith({str(site)!r}), t.__file__
            assert TradingApp is t.TradingApp
            """,
            cwd=workdir,
            python=python,
        )
        assert r.returncode == 0, r.stdout + r.stderr

    livedesk_intact()
    _pip(python, "install", "--no-deps", str(foreign))
    r = _run("import backend, tui; print(backend.FOREIGN, tui.FOREIGN)", tmp_path, python)
    assert r.stdout.split() == ["backend", "tui"], r.stderr
    livedesk_intact()
    _pip(python, "uninstall", "-y", "foreign-backend")
    livedesk_intact()
