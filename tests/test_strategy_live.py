"""crack-spread and options-combo end to end against the simulated gateway."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.contracts import stock
from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.strategies import GatewayClock, StrategyController, create_strategy
from livedesk.backend.strategies.crack_spread import front_month_expired
from livedesk.backend.trading.app import TradingApp
from tests.conftest import until


@pytest.fixture
async def app(gw, ib_log_guard):
    a = await TradingApp.connect("127.0.0.1", gw.port, 1)
    yield a
    a.disconnect()


def make(app, journal, name: str, risk=None, **overrides) -> StrategyController:
    return StrategyController(
        app,
        bus=app.bus,
        journal=journal,
        risk=risk,
        strategies=[create_strategy(name, overrides)],
        clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )


def side_of(d) -> float:
    return d.targets["PSX"]


def tagged(gw: SimGateway, ref: str) -> list:
    """The gateway's own orders carrying orderRef ``ref``."""
    return [o for o in gw.broker.orders.values() if strategy_of(o.order.orderRef) == ref]


def hist_requests(gw: SimGateway) -> int:
    return sum(len(s.hist_pacer.requests) for s in gw.sessions.values())


async def filled(gw: SimGateway, order, limit_s: int = 120) -> None:
    """Advance the gateway a second at a time until ``order`` (a SimOrder) is filled."""
    for _ in range(limit_s):
        if order.status == "Filled":
            return
        gw.advance(1)
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order.order_id} not filled: {order.status} {order.filled}")


async def step(gw: SimGateway, seconds: int) -> None:
    """Jump the gateway clock, then one pulse (the simulated bar streaming is costly per pulse)."""
    gw.clock.advance(seconds - 1)
    gw.advance(1)
    await asyncio.sleep(0.05)


async def test_crack_spread_trades_tagged_and_journals_its_inputs(gw, app, journal) -> None:
    from livedesk.backend.risk.engine import RiskEngine
    from livedesk.backend.risk.live import RiskFeed

    risk = RiskEngine(journal)
    feed_ = RiskFeed(app, risk)
    feed_.start()
    ctl = make(app, journal, "crack-spread", risk=risk, threshold=0.02, weight=0.02)
    psx = await app.resolve_contract(stock("PSX"))
    decision = None
    for _ in range(8):
        decision = await ctl.run_now("crack-spread")
        if decision.orders:
            break
        await step(gw, 60)
    assert decision is not None and decision.orders, "no crack-spread entry in 8 minutes"
    assert hist_requests(gw) == 4  # one week of PSX, CL, HO, RB, once
    await until(lambda: tagged(gw, "crack-spread"))
    sent = tagged(gw, "crack-spread")
    assert len(sent) == 1 and sent[0].contract.symbol == "PSX"
    await filled(gw, sent[0])
    await until(
        lambda: (
            app.positions.get(psx.conId)
            and app.positions[psx.conId].position
            == (1 if side_of(decision) > 0 else -1) * sent[0].filled
        )
    )
    side = decision.targets["PSX"]
    pos = app.positions[psx.conId].position
    assert (pos > 0) == (side > 0) and abs(side) == pytest.approx(0.02)
    nlv = app.net_liquidation
    assert abs(pos) * decision.values["psx"] / nlv == pytest.approx(0.02, abs=0.002)
    # the controller shows the risk engine's per-strategy book
    await until(lambda: ctl.info("crack-spread").position == pos)
    assert strategy_of(journal.orders("crack-spread")[0]["order_ref"]) == "crack-spread"
    # journal: the run with its parameters, the decision with signal values, bar time, targets
    run = journal.runs("crack-spread")[-1]
    assert run["params"]["threshold"] == 0.02
    rows = journal.decisions(run["id"])
    detail = rows[-1]["detail"]
    assert rows[-1]["kind"] == "decision"
    assert set(detail["values"]) >= {
        "crack",
        "rank_crack",
        "rank_psx",
        "z",
        "psx",
        "cl",
        "ho",
        "rb",
    }
    assert detail["targets"] == {"PSX": side}
    assert detail["orders"][0]["action"] == ("BUY" if side > 0 else "SELL")
    assert detail["data_time"] is not None
    # the next minutes only read new bars: no further history request, data time moves on
    t0 = pd.Timestamp(detail["data_time"])
    for _ in range(3):
        await step(gw, 60)
        d = await ctl.run_now("crack-spread")
    assert hist_requests(gw) == 4
    assert pd.Timestamp(d.data_time) == t0 + pd.Timedelta(minutes=3)
    # stop with flatten: no new decisions, the position closed by one tagged order
    n = len(tagged(gw, "crack-spread"))
    held = app.positions[psx.conId].position
    await ctl.stop("crack-spread", flatten=True)
    await until(lambda: len(tagged(gw, "crack-spread")) == n + 1)
    last = tagged(gw, "crack-spread")[-1]
    assert last.order.action == ("SELL" if held > 0 else "BUY")
    assert last.order.totalQuantity == abs(held)
    await filled(gw, last)
    await until(lambda: psx.conId not in app.positions)
    assert ctl.info("crack-spread").status == "stopped"
    await ctl.close()
    feed_.stop()


async def test_crack_spread_goes_flat_before_the_close(market, ib_log_guard, tmp_path) -> None:
    gw = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=market.session_close() - 7 * 60 + 30,  # 15:53:30
        tick_interval=0.02,
        account_interval=0.1,
    )
    await gw.start()
    app = await TradingApp.connect("127.0.0.1", gw.port, 1)
    journal = Journal(tmp_path / "j.sqlite3", synchronous="NORMAL")
    try:
        ctl = make(app, journal, "crack-spread", threshold=0.01, weight=0.01)
        psx = await app.resolve_contract(stock("PSX"))
        opened = None
        for _ in range(2):  # 15:53:30, 15:54:30
            opened = await ctl.run_now("crack-spread")
            if opened.orders:
                break
            await step(gw, 60)
        assert opened.orders, opened
        await until(lambda: tagged(gw, "crack-spread"))
        await filled(gw, tagged(gw, "crack-spread")[0])
        await until(
            lambda: (
                abs(app.positions.get(psx.conId).position if psx.conId in app.positions else 0)
                == opened.orders[0]["quantity"]
            )
        )
        held = app.positions[psx.conId].position
        await step(gw, 90)  # into the flatten window (15:55..16:00)
        flat = await ctl.run_now("crack-spread")
        assert flat.summary.startswith("flat before the close")
        assert flat.targets == {"PSX": 0.0}
        assert flat.orders[0]["action"] == ("SELL" if held > 0 else "BUY")
        assert flat.orders[0]["quantity"] == abs(held)
        await until(lambda: len(tagged(gw, "crack-spread")) == 2)
        await filled(gw, tagged(gw, "crack-spread")[-1])
        await until(lambda: psx.conId not in app.positions)
        await step(gw, 300)  # past the close: nothing to do
        closed = await ctl.run_now("crack-spread")
        assert closed.skipped_reason == "market closed"
        await ctl.close()
    finally:
        journal.close()
        app.disconnect()
        await gw.stop()


def feed(times: list[str], closes: list[float]):
    """Completed bars at ``times``, followed by the gateway's first update of the next minute
    (the bar in progress: a bar counts as complete once a later one follows it)."""
    bars = [
        SimpleNamespace(date=pd.Timestamp(t, tz="UTC").to_pydatetime(), close=c)
        for t, c in zip(times, closes, strict=True)
    ]
    if bars:
        bars.append(SimpleNamespace(date=bars[-1].date + dt.timedelta(minutes=1), close=0.0))
    from livedesk.backend.strategies.bars import BarFeed

    return BarFeed(SimpleNamespace(), bars, "1 min")


def test_stale_missing_and_nan_bars_give_no_decision() -> None:
    s = create_strategy("crack-spread", {"window": 5, "stale_after": 120})
    minutes = [f"2026-11-20 15:{m:02d}" for m in range(0, 12)]
    now = pd.Timestamp("2026-11-20 15:12:30", tz="UTC").timestamp()
    good = {
        "psx": feed(minutes, [90.0 + i % 3 for i in range(12)]),
        "cl": feed(minutes, [70.0 + (i % 4) * 0.1 for i in range(12)]),
        "ho": feed(minutes, [2.5] * 12),
        "rb": feed(minutes, [2.2] * 12),
    }
    frame, reason = s.frame(good, now)
    assert reason is None and len(frame) == 9
    stale = dict(good, cl=feed(minutes[:8], [70.0] * 8))
    _, reason = s.frame(stale, now)
    assert reason.startswith("stale bars: CL")
    missing = dict(good, ho=feed(minutes[:-1], [2.5] * 11))
    _, reason = s.frame(missing, now)
    assert reason.startswith("missing bars")
    nan = dict(good, rb=feed(minutes, [2.2] * 6 + [float("nan")] + [2.2] * 5))
    _, reason = s.frame(nan, now)
    assert "NaN" in reason and "rb" in reason
    gap = dict(good, psx=feed(minutes[:5] + minutes[6:], [90.0] * 11))
    _, reason = s.frame(gap, now)
    assert "NaN or missing" in reason and "psx" in reason


def test_an_expired_front_month_is_a_roll() -> None:
    c = SimpleNamespace(lastTradeDateOrContractMonth="20261119")
    assert front_month_expired(c, dt.date(2026, 11, 20))
    assert not front_month_expired(c, dt.date(2026, 11, 19))
    assert not front_month_expired(
        SimpleNamespace(lastTradeDateOrContractMonth="202612"), dt.date(2026, 11, 20)
    )


@pytest.mark.slow
async def test_options_combo_sells_a_condor_as_one_bag_at_the_mid(gw, app, journal) -> None:
    ctl = make(app, journal, "options-combo", underlying="XOM")
    d = await ctl.run_now("options-combo")
    v = d.values
    assert {"garch", "ewma", "forecast", "implied", "atm_strike", "dte"} <= set(v)
    assert 20 <= v["dte"] <= 45
    assert v["implied"] - v["forecast"] >= 0.02, d.summary  # XOM's implied is rich in the sim
    assert "iron condor" in d.summary
    assert v["long_put"] < v["short_put"] < v["atm_strike"] < v["short_call"] < v["long_call"]
    assert abs(abs(v["short_put_delta"]) - 0.16) < 0.06 and abs(v["short_call_delta"] - 0.16) < 0.06
    # sized to 2 % of NLV at max loss, capped at max_contracts
    per_unit = v["max_loss"] * 100
    assert v["quantity"] == min(50, int(0.02 * v["nlv"] // per_unit))
    await until(lambda: tagged(gw, "options-combo"))
    bags = tagged(gw, "options-combo")
    assert len(bags) == 1
    bag = bags[0]
    assert bag.contract.secType == "BAG" and len(bag.contract.comboLegs) == 4
    assert bag.order.orderType == "LMT" and bag.order.lmtPrice == pytest.approx(-v["credit"])
    assert sorted(leg.action for leg in bag.contract.comboLegs) == ["BUY", "BUY", "SELL", "SELL"]
    run = journal.runs("options-combo")[-1]
    assert journal.decisions(run["id"])[-1]["detail"]["values"]["implied"] == pytest.approx(
        v["implied"]
    )
    # the entry works until the last trade goes through the limit, then is adopted
    for _ in range(40):
        if bag.status == "Filled":
            break
        await step(gw, 60)
    assert bag.status == "Filled"
    adopted = await ctl.run_now("options-combo")
    assert "entry filled" in adopted.summary
    held = await ctl.run_now("options-combo")
    assert held.summary.startswith("hold condor") or held.summary.startswith("close condor")
    legs = {c.conId for c in bag.contract.comboLegs}
    await until(lambda: legs <= set(app.positions))
    signs = {app.positions[leg.conId].position > 0 for leg in bag.contract.comboLegs}
    assert signs == {True, False}
    await ctl.close()


async def test_options_combo_buys_a_straddle_when_the_forecast_is_rich(gw, app, journal) -> None:
    ctl = make(app, journal, "options-combo", threshold=0.005)  # SPY
    d = await ctl.run_now("options-combo")
    assert d.values["forecast"] >= d.values["implied"], d.summary
    assert "straddle" in d.summary
    await until(lambda: tagged(gw, "options-combo"))
    (bag,) = tagged(gw, "options-combo")
    assert [leg.action for leg in bag.contract.comboLegs] == ["BUY", "BUY"]
    assert (
        bag.order.lmtPrice == pytest.approx(d.values["debit"], abs=0.01) and bag.order.lmtPrice > 0
    )
    await ctl.close()


async def test_a_missed_minute_is_backfilled_once() -> None:
    s = create_strategy("crack-spread", {"window": 5})
    minutes = [f"2026-11-20 15:{m:02d}" for m in range(0, 12)]
    now = pd.Timestamp("2026-11-20 15:12:30", tz="UTC").timestamp()
    full = [90.0 + i % 3 for i in range(12)]
    feeds = {
        "psx": feed(minutes[:6] + minutes[7:], full[:6] + full[7:]),  # 15:06 never streamed
        "cl": feed(minutes, [70.0 + (i % 4) * 0.1 for i in range(12)]),
        "ho": feed(minutes, [2.5] * 12),
        "rb": feed(minutes, [2.2] * 12),
    }
    _, reason = s.frame(feeds, now)
    assert "psx" in reason
    asked = []

    class Ctx:
        state: dict = {}

        async def bars(self, contract, duration, bar_size, **kw):
            asked.append(duration)
            start = pd.Timestamp("2026-11-20 15:12", tz="UTC").timestamp() - int(duration[:-2])
            return [b for b in feed(minutes, full).bars if b.date.timestamp() >= start]

    assert await s.backfill_gaps(Ctx(), feeds, now) == 1
    frame, reason = s.frame(feeds, now)
    assert reason is None and frame["psx"].iloc[-6] == full[6]
    assert len(asked) == 1 and asked[0].endswith(" S")
    # a second gap right away is not re-requested (history pacing)
    assert await s.backfill_gaps(Ctx(), feeds, now) == 0 and len(asked) == 1


async def test_a_futures_roll_rebuilds_the_feed_and_skips() -> None:
    s = create_strategy("crack-spread")
    old = SimpleNamespace(
        conId=1, symbol="CL", secType="FUT", lastTradeDateOrContractMonth="20261119"
    )
    new = SimpleNamespace(
        conId=2, symbol="CL", secType="FUT", lastTradeDateOrContractMonth="20261218"
    )
    unexpired = SimpleNamespace(conId=3, secType="FUT", lastTradeDateOrContractMonth="20261218")
    from livedesk.backend.strategies.bars import BarFeed

    class Ctx:
        state = {
            "feeds": {
                "cl": BarFeed(old, [SimpleNamespace(date=None, close=1.0)], "1 min"),
                "ho": BarFeed(unexpired, [], "1 min"),
                "rb": BarFeed(unexpired, [], "1 min"),
            }
        }
        app = SimpleNamespace(ib=SimpleNamespace(isConnected=lambda: False))
        forgotten: list = []

        def forget(self, key):
            self.forgotten.append(key)

        async def resolve(self, contract, key):
            return new

        async def bars(self, contract, duration, bar_size, **kw):
            assert contract is new and kw.get("keep_up_to_date")
            return [SimpleNamespace(date=None, close=2.0)]

    ctx = Ctx()
    now = dt.datetime(2026, 11, 20, 11, tzinfo=dt.UTC)
    reason = await s.roll_feeds(ctx, now)
    assert reason.startswith("futures roll inside the window: CL")
    assert ctx.state["feeds"]["cl"].contract is new and ctx.forgotten == ["cl"]
    assert await s.roll_feeds(ctx, now) is None  # the new front month is fine


async def test_options_combo_without_enough_history_skips_instead_of_failing(
    gw, app, journal, monkeypatch
) -> None:
    """A daily history cut short (a drop or a pacing fault mid-request) is no decision this
    time, journaled with the reason; the strategy keeps running and decides once it has the
    history (before: a LookupError put it in error for good)."""
    from livedesk.backend.strategies.context import StrategyContext

    real_bars = StrategyContext.bars
    short = {"on": True}

    async def bars(self, contract, duration, bar_size, *a, **kw):
        got = await real_bars(self, contract, duration, bar_size, *a, **kw)
        return got[:30] if short["on"] and bar_size == "1 day" else got

    monkeypatch.setattr(StrategyContext, "bars", bars)
    ctl = make(app, journal, "options-combo", underlying="XOM")
    d = await ctl.run_now("options-combo")
    assert d.skipped_reason == "only 29 daily returns of XOM; 60 needed"  # 30 closes → 29
    assert ctl.info("options-combo").status != "error"
    assert not tagged(gw, "options-combo")
    short["on"] = False
    for session in gw.sessions.values():  # the next poll is 5 minutes later: IB's 15 s
        session.hist_pacer.requests.clear()  # identical-request window has passed
    d = await ctl.run_now("options-combo")
    assert d.skipped_reason is None and "forecast" in d.values
    await ctl.close()
