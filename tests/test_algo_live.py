"""zipline's own example algorithms, unmodified, live on the simulated gateway vs. their backtests.

A ``SimGateway(speed=0)`` on its own market (seed 7) is stepped over a few sessions; each
session the algorithm runs once through ``livedesk run --once`` (``runner.run_strategy``: the
controller, the guard, the journal) five minutes after the close, as zipline's daily
``handle_data`` sees the final bar; orders fill at the next open. Then zipline's
``run_algorithm`` runs the same file on a bundle of the same market over the same sessions
and the two order lists are compared.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from livedesk.backend.config import Settings
from livedesk.backend.journal import Journal

pytestmark = pytest.mark.slow
NY = ZoneInfo("America/New_York")
FIRST = dt.date(2026, 11, 16)
SESSIONS = [FIRST, dt.date(2026, 11, 17), dt.date(2026, 11, 18)]


def example(name: str) -> Path:
    import zipline.examples

    return Path(zipline.examples.__file__).parent / name


def write_demo_bundle(name: str, market, symbols: tuple[str, ...], include_current: bool) -> None:
    """A demo-kind bundle of ``symbols`` only (sid = conId, the gateway's daily bars)."""
    from livedesk.backend.bundles.demo import demo_frames
    from livedesk.backend.bundles.writer import IngestSummary, utc_now_text, write_bundle

    frames, specs = demo_frames(market, include_current)
    frames = {s: frames[s] for s in symbols}
    specs = {s: specs[s] for s in symbols}
    summary = IngestSummary(
        name=name,
        kind="demo",
        source="test",
        ingestion="",
        assets=0,
        sessions=0,
        first_session="",
        last_session="",
        rows_read=sum(len(f) for f in frames.values()),
        extra={
            "seed": 7,
            "session": f"{market.session:%Y-%m-%d}",
            "current_included": include_current,
            "created": utc_now_text(),
        },
    )
    write_bundle(name, frames, specs, summary)


@pytest.fixture
def dirs(tmp_path, monkeypatch) -> Path:
    for k in ("DATA", "STATE", "CONFIG"):
        monkeypatch.setenv(f"LIVEDESK_{k}_DIR", str(tmp_path / k.lower()))
    return tmp_path


@pytest.fixture
async def sim(dirs):
    from livedesk.backend.sim.gateway import SimGateway
    from livedesk.backend.sim.market.model import MarketModel

    market = MarketModel(seed=7, session=FIRST)
    write_demo_bundle("demo", market, ("AAPL", "MSFT"), include_current=False)
    gateway = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=close_plus(FIRST),
        tick_interval=0.02,
        account_interval=0.1,
    )
    await gateway.start()
    yield gateway
    await gateway.stop()


def close_plus(day: dt.date, minutes: int = 5) -> float:
    return dt.datetime.combine(day, dt.time(16, minutes), NY).timestamp()


def settings(name: str, path: Path) -> Settings:
    return Settings(strategies={name: {"algo": str(path), "refresh_demo": False}})


async def run_once(gw, name: str, path: Path, journal: Path, dry_run: bool = False) -> str:
    from livedesk.backend.strategies import runner
    from livedesk.backend.strategies.registry import load_plugins_for

    s = settings(name, path)
    load_plugins_for(s)
    out = io.StringIO()
    rc = await runner.run_strategy(
        name, s, once=True, dry_run=dry_run, port=gw.port, journal_path=journal, out=out
    )
    assert rc == 0, out.getvalue()
    return out.getvalue()


async def step_to(gw, day: dt.date) -> None:
    """Advance the frozen clock to five minutes after ``day``'s close (fills at its open)."""
    gw.advance(close_plus(day) - gw.now(), step=60.0)
    await asyncio.sleep(0.3)


async def live_then_backtest(gw, file: str, tmp_path: Path, state: dict | None = None):
    from livedesk.backend.algo.backtest import run_file
    from livedesk.backend.algo.parity import compare, live_orders

    name = file.removesuffix(".py").replace("_", "-")
    journal = tmp_path / "journal.sqlite3"
    if state is not None:
        with Journal(journal) as j:
            j.append_samples([], states={f"strategy:{name}:algo": {"context": state}})
    for day in SESSIONS:
        await step_to(gw, day)
        await run_once(gw, name, example(file), journal)
    with Journal(journal) as j:
        live, days = live_orders(j, name)
    capital = 1_000_000.0
    write_demo_bundle("parity", gw.market, ("AAPL", "MSFT"), include_current=True)
    bt = run_file(
        example(file), "parity", SESSIONS[0], SESSIONS[-1], capital=capital, initial_state=state
    )
    return compare(bt.orders, live, days, [d.date() for d in bt.returns.index]), live, bt


async def test_buyapple_live_matches_its_backtest(sim, tmp_path) -> None:
    from livedesk.backend.strategies import runner

    report, live, bt = await live_then_backtest(sim, "buyapple.py", tmp_path)
    assert [(o.date, o.symbol, o.quantity) for o in live] == [(d, "AAPL", 10.0) for d in SESSIONS]
    assert report.ok, report.lines()
    assert len(report.matched) == 3 and report.sessions == SESSIONS
    # the same through `livedesk backtest buyapple --parity`: stored as the reference
    out = io.StringIO()
    journal = tmp_path / "journal.sqlite3"
    options = {"bundle": "parity", "start": f"{FIRST}", "end": f"{SESSIONS[-1]}", "parity": "1"}
    rc = await runner.run_backtest(
        "buyapple",
        settings("buyapple", example("buyapple.py")),
        options=options,
        port=sim.port,
        journal_path=journal,
        out=out,
    )
    text = out.getvalue()
    assert rc == 0, text
    assert (
        "parity over 3 sessions (2026-11-16 .. 2026-11-18): 3 orders match, 0 differences" in text
    )
    with Journal(journal) as j:
        ref = j.backtest_reference("buyapple")
    assert ref is not None and ref.dates == [f"{d}" for d in SESSIONS], ref
    assert ref.metrics["trades"] == 3.0


async def test_dry_run_prints_the_orders_sends_nothing_and_keeps_no_state(sim, tmp_path) -> None:
    journal = tmp_path / "journal.sqlite3"
    await step_to(sim, FIRST)
    text = await run_once(sim, "buy-and-hold", example("buy_and_hold.py"), journal, dry_run=True)
    assert "PLAN BUY 100 AAPL STK MKT" in text and "PLAN BUY 100 MSFT STK MKT" in text
    assert "2 orders planned, none sent" in text
    assert sim.broker.orders == {}
    with Journal(journal) as j:
        assert j.state("strategy:buy-and-hold:algo") is None  # a dry run saves nothing
    text = await run_once(sim, "buy-and-hold", example("buy_and_hold.py"), journal)
    assert "2 orders sent" in text and len(sim.broker.orders) == 2


async def test_buy_and_hold_orders_once_across_two_once_runs(sim, tmp_path) -> None:
    journal = tmp_path / "journal.sqlite3"
    await step_to(sim, FIRST)
    first = await run_once(sim, "buy-and-hold", example("buy_and_hold.py"), journal)
    await step_to(sim, SESSIONS[1])
    second = await run_once(sim, "buy-and-hold", example("buy_and_hold.py"), journal)
    assert "2 orders sent" in first and "0 orders sent" in second, (first, second)
    with Journal(journal) as j:
        from livedesk.backend.algo.parity import live_orders

        live, days = live_orders(j, "buy-and-hold")
        saved = j.state("strategy:buy-and-hold:algo")
    assert [(o.symbol, o.quantity) for o in live] == [("AAPL", 100.0), ("MSFT", 100.0)]
    assert days == SESSIONS[:2]
    assert saved["context"]["has_ordered"] is True
    assert len([o for o in sim.broker.orders.values()]) == 2  # the gateway saw two orders


async def test_buy_and_hold_matches_its_backtest(sim, tmp_path) -> None:
    report, live, _ = await live_then_backtest(sim, "buy_and_hold.py", tmp_path)
    assert [(o.date, o.symbol, o.quantity) for o in live] == [
        (FIRST, "AAPL", 100.0),
        (FIRST, "MSFT", 100.0),
    ]
    assert report.ok and len(report.matched) == 2, report.lines()


async def test_dual_moving_average_from_a_warm_context_matches_its_backtest(sim, tmp_path) -> None:
    # The example skips its first 300 bars (context.i); both sides start from i = 299, the
    # state a cron would have journaled after 299 sessions, so they trade from the first bar.
    from livedesk.backend.bundles.store import load_bundle

    report, live, bt = await live_then_backtest(
        sim, "dual_moving_average.py", tmp_path, state={"i": 299}
    )
    # independent check of the first decision: the 100- and 300-session means of the closes
    closes = load_bundle("parity").equity_daily_bar_reader
    import pandas as pd

    asset = load_bundle("parity").asset_finder.lookup_symbol("AAPL", as_of_date=None)
    sessions = closes.sessions[closes.sessions <= pd.Timestamp(FIRST)]
    c = closes.load_raw_arrays(["close"], sessions[-300], sessions[-1], [asset.sid])[0][:, 0]
    expected = 100.0 if c[-100:].mean() > c.mean() else 0.0
    first = [o for o in live if o.date == FIRST]
    assert (first[0].quantity if first else 0.0) == expected
    assert report.ok, report.lines()
    assert len(report.matched) == len(bt.orders) == len(live)
