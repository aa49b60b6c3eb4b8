"""The documentation cannot drift from the program.

- the generated pages (CLI, configuration, keys, benchmarks) equal what the program generates;
- the site builds with ``mkdocs build --strict`` (and a broken link does fail it);
- every ``console`` example in the docs runs offline and prints what the page shows;
- the README stays short and its links and screenshot exist.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(
        f"livedesk_tools_{name}", ROOT / "tools" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen_docs():
    return _tool("gen_docs")


# --- generated pages ---------------------------------------------------------------------


def test_generated_pages_are_current(gen_docs):
    assert gen_docs.stale() == [], "run: python tools/gen_docs.py"


def test_stale_page_is_detected(gen_docs, tmp_path, monkeypatch):
    """The check compares with the files on disk: an edited copy is reported stale."""
    for path in gen_docs.PAGES:
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, target)
    pages = gen_docs.render()
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    assert gen_docs.stale(pages) == []
    page = tmp_path / "docs/reference/cli.md"
    page.write_text(page.read_text().replace("sim-gateway", "sim-gw", 1))
    assert gen_docs.stale(pages) == ["docs/reference/cli.md"]


def test_every_flag_and_command_is_in_the_cli_reference():
    """Independent of the generator: walk the parsers and look for each flag on the page."""
    from livedesk.tui.cli import build_parser

    page = (DOCS / "reference/cli.md").read_text()

    def walk(parser):
        for action in parser._actions:
            if isinstance(action.choices, dict):
                for sub in action.choices.values():
                    assert f"`{sub.prog}`" in page, sub.prog
                    yield from walk(sub)
            for flag in action.option_strings:
                yield parser.prog, flag

    missing = [(prog, flag) for prog, flag in walk(build_parser()) if flag not in page]
    assert not missing


def test_every_setting_is_in_the_configuration_reference():
    from livedesk.backend import config
    from livedesk.backend.trading.guard import GuardLimits

    page = (DOCS / "reference/configuration.md").read_text()
    sections = {
        "broker": config.BrokerSettings,
        "sim": config.SimSettings,
        "guard": GuardLimits,
        "rebalance": config.RebalanceSettings,
        "risk": config.RiskSettings,
    }
    for section, cls in sections.items():
        part = page.split(f"## `[{section}]`", 1)[1].split("\n## ", 1)[0]
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in part, (section, f.name)
    for var in config.ENVIRONMENT:
        assert f"`{var}`" in page


def test_environment_table_is_what_load_settings_reads(tmp_path):
    """Each broker variable the reference lists really sets the key it names."""
    from livedesk.backend import config

    values = {"host": "10.1.2.3", "port": "4999", "client_id": "77", "account": "DU7654321"}
    for var, key in config.BROKER_ENV.items():
        assert config.ENVIRONMENT[var] == f"[broker] {key}"
        settings = config.load_settings(tmp_path / "none.toml", env={var: values[key]})
        assert str(getattr(settings.broker, key)) == values[key], var
    settings = config.load_settings(tmp_path / "none.toml", env={"LIVEDESK_SEED": "99"})
    assert settings.sim.seed == 99


def test_an_undocumented_setting_fails_the_generation(gen_docs):
    @dataclasses.dataclass(frozen=True)
    class Probe:
        documented: int = 1
        """Has a docstring."""
        undocumented: float = 2.0

    with pytest.raises(SystemExit, match="undocumented has no docstring"):
        gen_docs.settings_table(Probe, "[probe]")


def test_every_console_key_is_in_the_key_reference():
    from livedesk.backend.console.actions import ACTIONS

    page = (DOCS / "reference/keys.md").read_text()
    for spec in ACTIONS:
        assert f"`{spec.id}`" in page, spec.id


# --- the site ----------------------------------------------------------------------------


def _mkdocs(root: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_site_builds_strict(tmp_path):
    done = _mkdocs(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site/reference/cli/index.html").is_file()


def test_strict_build_fails_on_a_broken_link(tmp_path):
    """The probe: the same site with one broken link does not build."""
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    page = tmp_path / "docs/troubleshooting.md"
    page.write_text(page.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    done = _mkdocs(tmp_path, tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stdout + done.stderr


# --- examples ----------------------------------------------------------------------------

FENCE = re.compile(r"^```console\n(.*?)^```", re.S | re.M)


def console_examples() -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Each ``console`` block of the docs: its page and its (command, shown output) pairs."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        for block in FENCE.findall(page.read_text(encoding="utf-8")):
            steps: list[tuple[str, list[str]]] = []
            for line in block.splitlines():
                if line.startswith("$ "):
                    steps.append((line[2:], []))
                elif steps and line.strip() and line.strip() != "...":
                    steps[-1][1].append(line.rstrip())
            found.append((str(page.relative_to(ROOT)), steps))
    return found


def test_the_docs_have_runnable_examples():
    examples = console_examples()
    assert len(examples) >= 3
    assert all(steps for _, steps in examples)


@pytest.mark.parametrize(
    "page,steps",
    console_examples(),
    ids=[f"{p}#{i}" for i, (p, _) in enumerate(console_examples())],
)
def test_console_example_runs(page, steps, tmp_path):
    """Each command runs offline in fresh config/data/state dirs, exits 0 and prints the lines
    the page shows (in order)."""
    env = {
        **os.environ,
        "LIVEDESK_CONFIG_DIR": str(tmp_path / "config"),
        "LIVEDESK_DATA_DIR": str(tmp_path / "data"),
        "LIVEDESK_STATE_DIR": str(tmp_path / "state"),
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }
    for command, shown in steps:
        argv = shlex.split(command)
        assert argv[0] == "livedesk", f"{page}: only livedesk commands run here: {command}"
        done = subprocess.run(
            [sys.executable, "-m", "livedesk", *argv[1:]],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{page}: {command} → {done.returncode}\n{output}"
        at = 0
        for line in shown:
            where = output.find(line.strip(), at)
            assert where >= 0, f"{page}: {command} did not print {line.strip()!r}:\n{output}"
            at = where + len(line.strip())


# --- README and screenshots ----------------------------------------------------------------


def test_readme_is_short_and_its_links_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "<!-- test-command -->" in text
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
    assert links
    for link in links:
        assert (ROOT / link).exists(), link


def test_screenshots_are_textual_exports_and_all_used(gen_docs):
    shots = _tool("screenshots").SHOTS
    used = "\n".join(p.read_text() for p in DOCS.rglob("*.md")) + (ROOT / "README.md").read_text()
    for shot in shots:
        svg = (DOCS / "img" / shot.name).read_text(encoding="utf-8")
        assert svg.startswith("<svg") and "terminal" in svg, shot.name  # Textual's export
        assert f"img/{shot.name}" in used, f"{shot.name} is not shown on any page"
