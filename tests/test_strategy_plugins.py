"""Strategy plugins: found in the config dir, in ``[strategies] paths`` and through entry points;
validated once; a broken one is listed with ``file:line`` and never stops the others; run,
journaled and reloaded like a built-in; ``livedesk strategy new`` writes one that runs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.config import ConfigError, Settings, load_settings
from livedesk.backend.journal import Journal
from livedesk.backend.strategies import registry, runner

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
from dataclasses import dataclass
from typing import ClassVar

from livedesk.backend.contracts import stock
from livedesk.backend.strategies import Decision, Intraday, Strategy


@dataclass(frozen=True)
class Params:
    symbol: str = "AAPL"
    shares: float = 7.0


class Buyer(Strategy):
    name: ClassVar[str] = "{name}"
    Params: ClassVar[type] = Params
    description: ClassVar[str] = "buys a fixed number of shares"

    def make_schedule(self):
        return Intraday(600.0)

    async def run_once(self, ctx):
        contract = await ctx.resolve(stock(self.params.symbol))
        ctx.record(shares=self.params.shares, version={version})
        await ctx.order_target_quantity(contract, self.params.shares)
        return Decision(await ctx.now(), "{summary}")
"""


def good(name: str = "my-buyer", summary: str = "bought", version: int = 1) -> str:
    return GOOD.format(name=name, summary=summary, version=version)


@pytest.fixture
def clean_registry():
    registry.forget_plugins()
    yield
    registry.forget_plugins()


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_plugins_in_the_config_dir_and_paths_are_discovered(tmp_path, clean_registry) -> None:
    base = tmp_path / "cfg"
    write(base / "strategies", "mine.py", good("my-buyer"))
    write(base / "strategies", "test_mine.py", "raise SystemExit('a test file is not a plugin')")
    write(base / "strategies", "_helper.py", "raise SystemExit('private files are skipped')")
    write(tmp_path / "more", "other.py", good("other-buyer"))
    errors = registry.load_plugins([str(tmp_path / "more")], base=base, entry_points=False)
    assert errors == []
    names = registry.available_strategies()
    assert {"my-buyer", "other-buyer", "crack-spread"} <= set(names)
    assert registry.plugin_source("my-buyer") == str(base / "strategies" / "mine.py")
    assert registry.plugin_source("crack-spread") is None  # built in
    s = registry.create_strategy("my-buyer", {"shares": 3})
    assert s.params.shares == 3.0
    with pytest.raises(ConfigError, match=r"\[strategies.my-buyer\] unknown parameter 'qty'"):
        registry.create_strategy("my-buyer", {"qty": 3})


def test_relative_paths_are_taken_from_the_config_dir(tmp_path, clean_registry) -> None:
    base = tmp_path / "cfg"
    write(base / "team", "team.py", good("team-buyer"))
    assert registry.load_plugins(["team"], base=base, entry_points=False) == []
    assert "team-buyer" in registry.available_strategies()


def test_each_source_is_loaded_once(tmp_path, clean_registry) -> None:
    base = tmp_path / "cfg"
    counter = tmp_path / "count.txt"
    write(
        base / "strategies",
        "counted.py",
        f"from pathlib import Path\np = Path({str(counter)!r})\n"
        "p.write_text(str(int(p.read_text() or 0) + 1) if p.exists() else '1')\n" + good("counted"),
    )
    registry.load_plugins(base=base, entry_points=False)
    registry.load_plugins(base=base, entry_points=False)
    registry.available_strategies()
    assert counter.read_text() == "1"


BROKEN = {
    # file name: (source, expected line, words the message must hold)
    "syntax.py": ("x = 1\ndef broken(:\n    pass\n", 2, "SyntaxError"),
    "raises.py": ("import math\n\nvalue = math.sqrt(-1)\n", 3, "ValueError: math domain error"),
    "nodefault.py": (
        "from dataclasses import dataclass\nfrom typing import ClassVar\n"
        "from livedesk.backend.strategies import Decision, Intraday, Strategy\n\n"
        "@dataclass(frozen=True)\nclass P:\n    qty: int\n\n\n"
        "class NoDefault(Strategy):\n    name: ClassVar[str] = 'no-default'\n"
        "    Params: ClassVar[type] = P\n\n    def make_schedule(self):\n"
        "        return Intraday(60.0)\n\n    async def run_once(self, ctx):\n"
        "        return Decision(await ctx.now(), 'x')\n",
        10,
        "every parameter needs a default: ['qty']",
    ),
    "badname.py": (good("Bad_Name"), 15, "kebab-case"),
    "clash.py": (good("crack-spread"), 15, "strategy name 'crack-spread' is taken by"),
    "empty.py": ("x = 1\n", None, "defines no Strategy subclass"),
}


def test_a_broken_plugin_is_listed_with_file_and_line_and_the_others_load(
    tmp_path, clean_registry
) -> None:
    base = tmp_path / "cfg"
    folder = base / "strategies"
    for name, (text, _, _) in BROKEN.items():
        write(folder, name, text)
    write(folder, "zz_good.py", good("still-here"))
    errors = registry.load_plugins(base=base, entry_points=False)
    by_file = {Path(e.source).name: e for e in errors}
    assert set(by_file) == set(BROKEN)
    for name, (_, line, words) in BROKEN.items():
        e = by_file[name]
        assert e.line == line, (name, str(e))
        assert words in e.message, (name, str(e))
        where = f"{folder / name}:{line}: " if line is not None else f"{folder / name}: "
        assert str(e).startswith(where), str(e)
    names = registry.available_strategies()
    assert "still-here" in names and "crack-spread" in names
    assert "no-default" not in names and "Bad_Name" not in names
    assert names["crack-spread"].__module__ == "livedesk.backend.strategies.crack_spread"


def test_livedesk_strategies_lists_plugins_and_broken_ones(tmp_path, clean_registry) -> None:
    base = tmp_path / "cfg"
    write(base / "strategies", "mine.py", good("my-buyer"))
    write(base / "strategies", "broken.py", "import does_not_exist_anywhere\n")
    env = {**os.environ, "LIVEDESK_CONFIG_DIR": str(base), "LIVEDESK_DATA_DIR": str(tmp_path)}
    env["LIVEDESK_STATE_DIR"] = str(tmp_path / "state")
    r = subprocess.run(
        [sys.executable, "-m", "livedesk.tui.cli", "strategies"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines() if line.strip()}
    assert "every 600 s in regular hours" in rows["my-buyer"]
    assert "crack-spread" in rows
    warning = f"warning: plugin not loaded: {base / 'strategies' / 'broken.py'}:1: "
    assert warning + "ModuleNotFoundError" in r.stdout, r.stdout


def test_strategies_paths_is_read_from_the_config_file(tmp_path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[strategies]\npaths = ["~/team", "local"]\n\n[strategies.my-buyer]\nshares = 2\n'
    )
    s = load_settings(cfg, env={})
    assert s.strategy_paths == ("~/team", "local")
    assert s.strategies == {"my-buyer": {"shares": 2}}
    cfg.write_text("[strategies]\npaths = 3\n")
    with pytest.raises(ConfigError, match=r"\[strategies\] paths must be a list of folders"):
        load_settings(cfg, env={})


async def test_a_plugin_runs_trades_and_is_journaled(gw, tmp_path, clean_registry) -> None:
    base = tmp_path / "cfg"
    write(base / "strategies", "mine.py", good("my-buyer", summary="bought seven"))
    registry.load_plugins(base=base, entry_points=False)
    out = io.StringIO()
    rc = await runner.run_strategy(
        "my-buyer",
        Settings(),
        once=True,
        port=gw.port,
        journal_path=tmp_path / "j.sqlite3",
        out=out,
    )
    assert rc == 0, out.getvalue()
    orders = list(gw.broker.orders.values())
    assert [
        (strategy_of(o.order.orderRef), o.order.action, o.order.totalQuantity) for o in orders
    ] == [("my-buyer", "BUY", 7.0)]
    with Journal(tmp_path / "j.sqlite3") as j:
        run = j.runs("my-buyer")[-1]
        detail = j.decisions(run["id"])[-1]["detail"]
        assert detail["summary"] == "bought seven"
        assert detail["values"] == {"shares": 7.0, "version": 1.0}  # ctx.record(...)
        assert [strategy_of(o["order_ref"]) for o in j.orders()] == ["my-buyer"]


async def test_reload_picks_up_new_code_only_when_stopped_and_valid(
    gw, tmp_path, clean_registry
) -> None:
    from livedesk.backend.strategies import GatewayClock
    from livedesk.backend.strategies.controller import StrategyController
    from livedesk.backend.trading.app import TradingApp

    base = tmp_path / "cfg"
    path = write(base / "strategies", "mine.py", good("my-buyer", summary="v1"))
    registry.load_plugins(base=base, entry_points=False)
    app = await TradingApp.connect("127.0.0.1", gw.port, client_id=5)
    try:
        ctl = StrategyController(
            app,
            bus=app.bus,
            settings=Settings(),
            dry_run=True,
            clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
        )
        assert (await ctl.run_now("my-buyer")).summary == "v1"
        path.write_text(good("my-buyer", summary="v2"))
        await ctl.start("my-buyer")
        with pytest.raises(ConfigError, match="stop my-buyer before reloading"):
            await ctl.reload("my-buyer")
        await ctl.stop("my-buyer")
        await ctl.reload("my-buyer")
        assert (await ctl.run_now("my-buyer")).summary == "v2"
        path.write_text("def broken(:\n")
        with pytest.raises(ConfigError, match=rf"{path}:1: SyntaxError"):
            await ctl.reload("my-buyer")
        assert (await ctl.run_now("my-buyer")).summary == "v2"  # the old code stays
        with pytest.raises(ConfigError, match="not a strategy loaded from a plugin file"):
            await ctl.reload("crack-spread")
        await ctl.close()
    finally:
        app.disconnect()


ENTRY_PACKAGE = {
    "ldplug_demo/__init__.py": "",
    "ldplug_demo/strategy.py": good("entry-buyer"),
    "ldplug_demo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: ldplug-demo\nVersion: 1.0\n",
    "ldplug_demo-1.0.dist-info/entry_points.txt": (
        "[livedesk.strategies]\nentry-buyer = ldplug_demo.strategy\n"
        "broken = ldplug_demo.missing_module\n"
    ),
}


def test_an_entry_point_plugin_of_an_installed_package_is_found(tmp_path) -> None:
    site = tmp_path / "site"
    for rel, text in ENTRY_PACKAGE.items():
        write(site / Path(rel).parent, Path(rel).name, text)
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from livedesk.backend.strategies import registry
        errors = registry.load_plugins(base=Path({str(tmp_path / "cfg")!r}))
        names = registry.available_strategies()
        print("found", "entry-buyer" in names, registry.plugin_source("entry-buyer"))
        for e in errors:
            print("error", e)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "found True entry point entry-buyer (ldplug_demo.strategy)" in r.stdout, r.stdout
    assert "error entry point broken (ldplug_demo.missing_module): ModuleNotFoundError" in r.stdout


def test_strategy_new_writes_a_skeleton_that_runs_as_written(tmp_path) -> None:
    env = {
        **os.environ,
        "LIVEDESK_CONFIG_DIR": str(tmp_path / "cfg"),
        "LIVEDESK_STATE_DIR": str(tmp_path / "state"),
        "LIVEDESK_DATA_DIR": str(tmp_path / "data"),
    }

    def livedesk(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "livedesk.tui.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    r = livedesk("strategy", "new", "my-trend")
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "cfg" / "strategies"
    assert sorted(p.name for p in folder.iterdir()) == ["my_trend.py", "test_my_trend.py"]
    again = livedesk("strategy", "new", "my-trend")
    assert again.returncode == 2 and "exists; pass --force" in again.stderr
    assert livedesk("strategy", "new", "My_Trend").returncode == 2
    run = livedesk("run", "my-trend", "--once", "--dry-run")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[-1].startswith("my-trend OK"), run.stdout
    assert any(line.strip().startswith("values: close=") for line in lines), run.stdout
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0 and "4 passed" in tests.stdout, tests.stdout + tests.stderr
    bt = livedesk("backtest", "my-trend", "--days", "30")
    assert bt.returncode == 0, bt.stdout + bt.stderr
    assert "my-trend" in bt.stdout and "stored" in bt.stdout.lower(), bt.stdout


async def test_context_primitives_are_tagged_dry_run_aware_and_noted() -> None:
    """Each of the five primitives reaches TradingApp with the strategy's name and dry-run flag."""
    from types import SimpleNamespace

    from ib_async import Stock

    from livedesk.backend.strategies import StrategyContext
    from livedesk.backend.trading.orders import market

    calls = []

    def primitive(name):
        async def call(contract, order_type, amount, *, strategy, dry_run):
            calls.append((name, amount, strategy, dry_run, order_type is market))
            order = market("BUY", 1)
            return SimpleNamespace(order=order, sent=False, message="planned")

        return call

    names = (
        "order_value",
        "order_target_value",
        "order_percent",
        "order_target_percent",
        "order_target_quantity",
    )
    app = SimpleNamespace(ib=None, bus=None, **{n: primitive(n) for n in names})
    ctx = StrategyContext(app, "my-buyer", dry_run=True, clock=object())
    aapl = Stock("AAPL", "SMART", "USD")
    for i, n in enumerate(names):
        await getattr(ctx, n)(aapl, 10.0 * (i + 1))
    assert calls == [(n, 10.0 * (i + 1), "my-buyer", True, True) for i, n in enumerate(names)]
    assert len(ctx.orders) == 5 and all(o["message"] == "planned" for o in ctx.orders)
    ctx.record(z=1.5, n=2)
    assert ctx.recorded == {"z": 1.5, "n": 2.0}
    with pytest.raises(TypeError, match="takes a number"):
        ctx.record(label="x")


async def test_a_plugin_run_is_attributed_like_a_built_in(gw, tmp_path, clean_registry) -> None:
    """A plugin has no replay signal of its own: its window is attributed through its recorded
    decisions and fills, on its own page, with components summing to live − ideal."""
    from livedesk.backend.risk.attribution_source import attribute_pages

    base = tmp_path / "cfg"
    write(base / "strategies", "mine.py", good("my-buyer", summary="bought seven"))
    registry.load_plugins(base=base, entry_points=False)
    path = tmp_path / "j.sqlite3"
    out = io.StringIO()
    rc = await runner.run_strategy(
        "my-buyer", Settings(), once=True, port=gw.port, journal_path=path, out=out
    )
    assert rc == 0, out.getvalue()
    with Journal(path) as j:
        pages = attribute_pages(j, ["my-buyer"], nlv=1_000_000.0)
    assert pages.errors == {}, pages.errors
    a = pages.per["my-buyer"]
    assert a.trades == 1 and a.notional > 0
    total = sum(usd for _, usd, _, _ in a.rows())
    assert total == pytest.approx(a.live_pnl - a.ideal_pnl, abs=1e-6)
