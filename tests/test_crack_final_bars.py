"""Final bars: live crack-spread decides on the same closes as the gateway's own history.

The simulated gateway runs at speed 0 and is stepped by hand (what ``--speed 60`` does in a
second, without the wall clock): a pulse 7 s before each minute's end, the next 5 s after it,
so the client saw each bar last in progress. The gateway sends the finished bar's final update,
then the next bar's first (as IB's ``keepUpToDate`` does), and the strategy uses a bar only
once the next one followed it; without the final update the bar's last 7 s would be missing. The expected z of every decision is
recomputed with pandas (``rolling(w).rank(pct=True)``, sample std) from the gateway's history
of the same minutes, read after the fact — not from the live feed.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from livedesk.backend.contracts import future, stock
from livedesk.backend.journal import Journal
from livedesk.backend.strategies import GatewayClock, StrategyController, create_strategy
from livedesk.backend.trading.app import TradingApp
from tests.test_strategy_live import step

WINDOW = 20
DECISIONS = 40


def expected_z(closes: pd.DataFrame, window: int) -> pd.Series:
    """z of rank(PSX) − rank(crack) over ``window`` bars, by pandas from the closes."""
    crack = (2 * closes["rb"] * 42 + closes["ho"] * 42 - 3 * closes["cl"]) / 3
    rank_psx = closes["psx"].rolling(window).rank(pct=True)
    rank_crack = crack.rolling(window).rank(pct=True)
    d = rank_psx - rank_crack
    return (d - d.rolling(window).mean()) / d.rolling(window).std(ddof=1)


async def test_live_z_equals_history_z_for_every_decision(gw, tmp_path, ib_log_guard) -> None:
    app = await TradingApp.connect("127.0.0.1", gw.port, 1)
    journal = Journal(tmp_path / "j.sqlite3", synchronous="NORMAL")
    ctl = StrategyController(
        app,
        bus=app.bus,
        journal=journal,
        strategies=[
            create_strategy("crack-spread", {"threshold": 50.0, "window": WINDOW, "history": "2 D"})
        ],  # no entry: the decisions alone are compared
        clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )
    try:
        decisions = []
        await step(gw, 53)  # 7 s before the next minute
        for _ in range(DECISIONS):
            # the bar's last pulse 7 s before its end (as at --speed 60, pulses fall anywhere
            # in a minute), the next 5 s into the next bar; decide then
            await step(gw, 12)
            decisions.append(await ctl.run_now("crack-spread"))
            await step(gw, 48)
        made = [d for d in decisions if d.skipped_reason is None]
        assert len(made) == DECISIONS, [d.summary for d in decisions if d.skipped_reason]
        con_ids = {"psx": (await app.resolve_contract(stock("PSX"))).conId}
        for sym in ("CL", "HO", "RB"):
            con_ids[sym.lower()] = (await app.resolve_contract(future(sym))).conId
        end = gw.now()
        history = {
            k: pd.Series({b.start: b.close for b in gw.history.bars(c, end, "2 D", "1 min", end)})
            for k, c in con_ids.items()
        }
        closes = pd.concat(history, axis=1, join="inner").sort_index()
        z = expected_z(closes, WINDOW)
        diffs = []
        for d in made:
            t = pd.Timestamp(d.data_time).timestamp()
            # the decision (5 s into a minute) used the bar that ended 5 s before it
            assert t + 60 == pytest.approx(d.t.timestamp() - 5)
            diffs.append(abs(d.values["z"] - z.loc[t]))
        assert np.max(diffs) < 1e-9, f"max |Δz| {np.max(diffs):.3g}"
    finally:
        await ctl.close()
        journal.close()
        app.disconnect()


async def test_gateway_sends_the_final_update_of_a_finished_bar(gw, ib_log_guard) -> None:
    from ib_async import IB

    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=3)
    try:
        [psx] = await ib.qualifyContractsAsync(stock("PSX"))
        await step(gw, 30)
        bars = await ib.reqHistoricalDataAsync(
            psx, "", "1800 S", "1 min", "TRADES", True, formatDate=2, keepUpToDate=True
        )
        await step(gw, 23)  # the bar's last pulse 7 s before its end
        start = gw.now() // 60 * 60
        await step(gw, 12)  # 5 s into the next bar
        for _ in range(100):
            if bars[-1].date.timestamp() > start:
                break
            await asyncio.sleep(0.02)
        [final] = [b for b in bars if b.date.timestamp() == start]
        [truth] = [b for b in gw.history.bars(psx.conId, start + 60, "120 S", "1 min", gw.now())
                   if b.start == start]  # fmt: skip
        assert (final.open, final.high, final.low, final.close, final.volume) == (
            truth.open, truth.high, truth.low, truth.close, truth.volume,
        )  # fmt: skip
        assert bars[-1].date.timestamp() == start + 60  # then the next bar's first update
    finally:
        ib.disconnect()
