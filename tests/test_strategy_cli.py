"""Headless strategy commands: dry runs send nothing, exit codes, output, the Textual boundary."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.config import Settings
from livedesk.backend.journal import Journal
from livedesk.backend.strategies import runner

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[")


def settings(**strategies) -> Settings:
    return Settings(strategies={k.replace("_", "-"): v for k, v in strategies.items()})


async def test_dry_run_prints_the_plan_and_sends_nothing(gw, tmp_path) -> None:
    out = io.StringIO()
    rc = await runner.run_strategy(
        "options-combo",
        settings(options_combo={"underlying": "XOM"}),
        once=True,
        dry_run=True,
        port=gw.port,
        journal_path=tmp_path / "j.sqlite3",
        out=out,
    )
    text = out.getvalue()
    lines = text.strip().splitlines()
    assert rc == 0, text
    assert "forecast" in text and "implied" in text
    plan = [line for line in lines if line.strip().startswith("PLAN")]
    assert plan and "BAG XOM" in plan[0] and "LMT limit -" in plan[0]
    assert len(re.findall(r" [+-]1 [PC]\d", plan[0])) == 4, plan[0]  # legs by strike, not conId
    assert lines[-1].startswith("options-combo OK") and "none sent" in lines[-1]
    assert not ANSI.search(text)  # not a TTY: no colour
    assert gw.broker.orders == {}  # the gateway's own order log
    with Journal(tmp_path / "j.sqlite3") as j:
        run = j.runs("options-combo")[-1]
        assert run["params"]["dry_run"] is True
        assert j.decisions(run["id"])[-1]["detail"]["orders"][0]["sent"] is False
        assert j.orders() == []


async def test_run_once_sends_and_reports(gw, tmp_path) -> None:
    out = io.StringIO()
    rc = await runner.run_strategy(
        "crack-spread",
        settings(crack_spread={"threshold": 0.001, "weight": 0.01}),
        once=True,
        port=gw.port,
        journal_path=tmp_path / "j.sqlite3",
        out=out,
    )
    text = out.getvalue()
    assert rc == 0, text
    last = text.strip().splitlines()[-1]
    assert last.startswith("crack-spread OK")
    if "SENT" in text:  # |z| >= 0.001 practically always
        assert "1 order sent" in last
        assert [strategy_of(o.order.orderRef) for o in gw.broker.orders.values()] == [
            "crack-spread"
        ]


async def test_failures_exit_non_zero_with_one_line(gw, tmp_path) -> None:
    out = io.StringIO()
    rc = await runner.run_strategy(
        "crack-spread", settings(), once=True, port=1, journal_path=tmp_path / "j", out=out
    )
    assert rc == runner.EXIT_CONNECT
    assert out.getvalue().count("\n") == 1 and "connection failure" in out.getvalue()
    out = io.StringIO()
    rc = await runner.run_strategy(
        "crack-spread", settings(crack_spread={"weight": 5}), once=True, port=gw.port, out=out
    )
    assert rc == runner.EXIT_CONFIG and "weight" in out.getvalue()
    out = io.StringIO()
    rc = await runner.run_strategy(
        "options-combo",
        settings(options_combo={"underlying": "NOSUCH"}),
        once=True,
        port=gw.port,
        journal_path=tmp_path / "j2",
        out=out,
    )
    assert rc == runner.EXIT_FAILED
    assert "FAILED" in out.getvalue().strip().splitlines()[-1]
    assert gw.broker.orders == {}


async def test_backtest_stores_a_reference_with_params_and_span(gw, tmp_path) -> None:
    out, err = io.StringIO(), io.StringIO()
    path = tmp_path / "j.sqlite3"
    rc = await runner.run_backtest(
        "crack-spread",
        settings(),
        days=2,
        cost_bps=2.0,
        port=gw.port,
        journal_path=path,
        out=out,
        err=err,
    )
    assert rc == 0, out.getvalue()
    assert "[5/5] replayed" in err.getvalue()  # progress
    with Journal(path) as j:
        ref = j.backtest_reference("crack-spread")
        assert ref is not None and len(ref.returns) == len(ref.dates) == 2
        assert ref.metrics["param.threshold"] == 2.0 and ref.metrics["cost_bps"] == 2.0
        assert ref.metrics["span_start"] < ref.metrics["span_end"]
        state = j.state("backtest:crack-spread")
        assert state["params"]["window"] == 60 and state["span_start"].startswith("2026-11-19")
    assert out.getvalue().strip().splitlines()[-1].startswith("OK crack-spread backtest")


def test_strategies_table(tmp_path) -> None:
    out = io.StringIO()
    rc = runner.print_strategies(
        settings(options_combo={"enabled": False}), out=out, journal_path=tmp_path / "none.sqlite3"
    )
    text = out.getvalue()
    assert rc == 0
    assert text.splitlines()[0].split()[:3] == ["NAME", "SCHEDULE", "ENABLED"]
    row = next(line for line in text.splitlines() if line.startswith("options-combo"))
    assert " no " in row
    crack = next(line for line in text.splitlines() if line.startswith("crack-spread"))
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T", crack)  # next run, exchange time


def test_headless_runner_never_imports_textual() -> None:
    code = (
        "import sys, livedesk.tui.cli, livedesk.backend.strategies.runner, "
        "livedesk.backend.strategies.controller, livedesk.backend.strategies.crack_spread, "
        "livedesk.backend.strategies.options_combo, livedesk.backend.strategies.backtest_crack, "
        "livedesk.backend.strategies.backtest_options; "
        "from livedesk.backend.strategies import available_strategies; available_strategies(); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'scipy', 'zipline') "
        "or m.startswith('livedesk.tui.') and m != 'livedesk.tui.cli']; "
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_cli_run_dry_run_on_the_embedded_demo(tmp_path) -> None:
    env = {
        "LIVEDESK_CONFIG_DIR": str(tmp_path / "cfg"),
        "LIVEDESK_STATE_DIR": str(tmp_path / "state"),
        "LIVEDESK_DATA_DIR": str(tmp_path / "data"),
        "PATH": "/usr/bin:/bin",
    }
    r = subprocess.run(
        [sys.executable, "-m", "livedesk.tui.cli", "run", "crack-spread", "--once", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert "embedded demo gateway" in lines[0] and "dry run" in lines[0]
    assert lines[-1].startswith("crack-spread OK")
    assert not ANSI.search(r.stdout)
    # demo runs go to the demo account's own journal, never the live one
    assert (tmp_path / "data" / "journal-DU0000001.sqlite3").exists()
    assert not (tmp_path / "data" / "journal.sqlite3").exists()
    h = subprocess.run(
        [sys.executable, "-m", "livedesk.tui.cli", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    for word in ("strategies", "run", "backtest"):
        assert word in h.stdout


async def test_if_due_skips_when_the_market_is_closed(market, tmp_path) -> None:
    from livedesk.backend.sim.gateway import SimGateway

    gw = SimGateway(port=0, market=market, speed=0.0, start_time=market.session_close() + 600)
    await gw.start()
    try:
        out = io.StringIO()
        rc = await runner.run_strategy(
            "crack-spread",
            settings(),
            once=True,
            if_due=True,
            port=gw.port,
            journal_path=tmp_path / "j.sqlite3",
            out=out,
        )
        last = out.getvalue().strip().splitlines()[-1]
        assert rc == 0 and last.startswith("crack-spread OK: nothing due (XNYS closed at")
        assert len(out.getvalue().strip().splitlines()) == 2  # connected, nothing due: no decision
    finally:
        await gw.stop()


async def test_options_backtest_reference_records_its_simplifications(gw, tmp_path) -> None:
    out, err = io.StringIO(), io.StringIO()
    path = tmp_path / "j.sqlite3"
    rc = await runner.run_backtest(
        "options-combo", settings(), days=20, port=gw.port, journal_path=path, out=out, err=err
    )
    assert rc == 0, out.getvalue()
    with Journal(path) as j:
        ref = j.backtest_reference("options-combo")
        assert len(ref.returns) == 20 and ref.metrics["param.short_delta"] == 0.16
        notes = j.state("backtest:options-combo")["notes"]
        assert notes["iv_proxy_ratio"] > 0 and "Black-Scholes" in notes["replay"]


async def test_run_once_records_nlv_and_positions_so_cron_journals_attribute(gw, tmp_path) -> None:
    from livedesk.backend.risk.attribution_snapshots import SNAPSHOT_NLV, snapshot_at
    from livedesk.backend.risk.attribution_source import start_nlv
    from tests.test_strategy_live import filled, step

    path = tmp_path / "j.sqlite3"
    cfg = settings(crack_spread={"threshold": 0.001, "weight": 0.01})
    out = io.StringIO()
    assert await runner.run_strategy("crack-spread", cfg, once=True, port=gw.port,
                                     journal_path=path, out=out) == 0, out.getvalue()  # fmt: skip
    t1 = gw.now()
    for o in list(gw.broker.orders.values()):
        await filled(gw, o)
    await step(gw, 60)
    book = {c: h.qty for c, h in gw.broker.account.holdings.items() if h.qty}
    assert await runner.run_strategy("crack-spread", cfg, once=True, port=gw.port,
                                     journal_path=path, out=out) == 0, out.getvalue()  # fmt: skip
    with Journal(path) as j:
        nlv = j.samples(SNAPSHOT_NLV)
        assert nlv.t.size == 2 and np.all(nlv.nlv > 0)  # one NetLiquidation per run
        assert nlv.t[0] == pytest.approx(t1, abs=1.0)  # on the gateway's clock
        first, second = snapshot_at(j, "crack-spread", t1), snapshot_at(j, "crack-spread", 1e12)
        assert first["positions"] == {}
        assert {int(c): q for c, q in second["positions"].items()} == book
        # no account sampler ran: the attribution's NLV is the runs' own
        assert start_nlv(j, t1) == pytest.approx(nlv.nlv[0])
    # (the held book read back from these snapshots: test_attribution_windows; attributing
    # this journal end to end needs the orders on the gateway's clock — the one-clock work)


async def test_the_options_replay_leaves_out_the_session_in_progress(gw) -> None:
    """The gateway sits an hour into 2026-11-20 (a Friday): the replay's last day is the
    last completed session, Thursday 2026-11-19 (its close is final; today's is not)."""
    import datetime as dt

    from livedesk.backend.strategies.context import StrategyContext
    from livedesk.backend.strategies.registry import create_strategy
    from livedesk.backend.trading.app import TradingApp

    app = await TradingApp.connect("127.0.0.1", gw.port, 12)
    try:
        strategy = create_strategy("options-combo", {})
        result = await strategy.backtest(StrategyContext(app, strategy.name), 5, 0.0)
    finally:
        app.disconnect()
    assert result.dates[-1] == dt.date(2026, 11, 19) and len(result.dates) == 5
    assert result.dates[0] == dt.date(2026, 11, 13)
