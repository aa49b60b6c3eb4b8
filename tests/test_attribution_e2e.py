"""Proof on the simulated gateway: a known injected execution cost is recovered by attribution.

A small strategy (a pure signal function of recorded inputs, the same object live and in the
replay) trades AAPL through TradingApp with ``strategy=``; RiskFeed journals its orders with
the arrival quote and its fills with the mid at fill time; every decision is journalled with
its inputs, targets and mids. The journal is then loaded and attributed.

Tolerances (stated): the injected impact is recovered to within 1 bps of notional per fill
(one $0.01 tick on a ~$151 stock is 0.66 bps, rounded against the trader); with no injected
cost, spread and impact equals the model's own half spread + 5 bps·sqrt(q/size) computed by
hand from the quotes, to within 0.1 bps; an injected latency shows as delay equal to the mid's
move between decision and fill, computed from the market, to within 1 bps of notional.
"""

from __future__ import annotations

import math

import pytest

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.contracts import stock
from livedesk.backend.journal import Journal
from livedesk.backend.risk.attribution_source import attribute_inputs, decision_detail, load
from livedesk.backend.risk.engine import RiskEngine
from livedesk.backend.risk.live import RiskFeed
from livedesk.backend.sim.broker.matching import round_against
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import until

QTY = 100
STEPS = 6


def probe_signal(inputs: dict) -> dict[int, float]:
    """Long QTY on even steps, short QTY on odd ones, flat at the last (so a run ends flat)."""
    step = inputs["step"]
    return {inputs["con_id"]: 0 if step == STEPS - 1 else QTY if step % 2 == 0 else -QTY}


class Calls:
    """A signal wrapper that records which inputs it was called with (the same object twice)."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.seen: list[dict] = []

    def __call__(self, inputs):
        self.seen.append(inputs)
        return self.fn(inputs)


@pytest.fixture
async def desk(gw: SimGateway, tmp_path, ib_log_guard):
    app = await TradingApp.connect("127.0.0.1", gw.port, client_id=11)
    journal = Journal(tmp_path / "journal.sqlite3", synchronous="NORMAL")
    journal.record_sample(gw.now() - 1, 0.0, 1_000_000.0, 0.0)
    feed = RiskFeed(app, RiskEngine(journal), clock=gw.now)
    feed.start()
    yield app, journal
    feed.stop()
    app.disconnect()
    journal.close()


async def run_probe(app, gw: SimGateway, journal: Journal, name: str, signal, advance: float):
    """Decide, journal the decision, trade to the target, wait for the fill, move time on."""
    c = await app.resolve_contract(stock("AAPL"))
    run = journal.start_run(name, {"qty": QTY}, t=gw.now())
    expected = []
    await app.quote(c)
    for step in range(STEPS):
        q = gw.market.quote(c.conId, gw.now())
        mid = (q.bid + q.ask) / 2
        await until(lambda m=mid: app.marks().get(c.conId) == pytest.approx(m))  # the client saw it
        inputs = {"step": step, "con_id": c.conId, "mid": mid}
        targets = signal(inputs)
        journal.record_decision(
            run,
            "decision",
            decision_detail(inputs, targets, {c.conId: mid}, bars={"symbols": ["AAPL"]}),
            t=gw.now(),
        )
        held = sum(f.execution.shares * (1 if f.execution.side == "BOT" else -1)
                   for t in app.ib.trades() if strategy_of(t.order.orderRef) == name for f in t.fills)  # fmt: skip
        qty = abs(targets[c.conId] - held)
        side = 1 if targets[c.conId] > held else -1
        base, size = (q.ask, q.ask_size) if side > 0 else (q.bid, q.bid_size)
        trade = (await app.order_target_quantity(c, mkt, targets[c.conId], strategy=name)).trade
        if advance:
            await until(lambda t=trade: t.orderStatus.status == "Submitted")
            gw.advance(advance)
        await until(lambda t=trade: t.isDone())
        await until(lambda t=trade: all(f.commissionReport.execId for f in t.fills))
        expected.append((side, qty, mid, base, size, trade.fills[-1].execution.time))
        gw.advance(30)
    await until(lambda: len(journal.fills(name)) == STEPS)
    return c, expected


def attribution_of(gw, journal, name, c, signal):
    end = gw.market.quote(c.conId, gw.now())
    inputs = load(journal, name, end_marks={c.conId: (end.bid + end.ask) / 2})
    return inputs, attribute_inputs(inputs, signal)


def model_cost(expected, extra_bps: float = 0.0) -> float:
    """The gateway's own spread + impact (+ injected) in $, by hand from the quotes."""
    total = 0.0
    for side, qty, mid, base, size, _ in expected:
        impact = 5e-4 * math.sqrt(qty / size) + extra_bps * 1e-4
        price = round_against(base * (1 + side * impact), 0.01, side)
        total += side * qty * (mid - price)
    return total


async def test_injected_impact_is_recovered_and_no_cost_is_the_model_own(gw, desk) -> None:
    app, journal = desk
    clean_signal = Calls(probe_signal)
    c, clean = await run_probe(app, gw, journal, "clean", clean_signal, 0.0)
    gw.faults.set_impact(25)
    costly_signal = Calls(probe_signal)
    _, costly = await run_probe(app, gw, journal, "costly", costly_signal, 0.0)
    gw.faults.set_impact(0)

    inputs, a = attribution_of(gw, journal, "clean", c, clean_signal)
    # The replay called the very signal object live used, with the recorded inputs.
    assert a.signal is clean_signal and clean_signal.seen[STEPS:] == clean_signal.seen[:STEPS]
    assert [d.targets for d in inputs.decisions] == [
        probe_signal(x) for x in clean_signal.seen[:STEPS]
    ]
    assert a.trades == STEPS
    # No injected cost: spread and impact is the model's own, delay and misses nil.
    assert a.usd["spread_impact"] == pytest.approx(model_cost(clean), abs=1e-4 * a.notional * 0.1)
    assert a.usd["delay"] == pytest.approx(0.0, abs=1e-6)
    assert a.usd["missed"] == pytest.approx(0.0, abs=1e-6)
    assert a.usd["commission"] == pytest.approx(-STEPS * 1.0)  # $1 minimum per fill

    _, b = attribution_of(gw, journal, "costly", c, costly_signal)
    assert b.signal is costly_signal
    own = -a.usd["spread_impact"] / a.notional * 1e4
    recovered = -b.usd["spread_impact"] / b.notional * 1e4 - own
    assert recovered == pytest.approx(25.0, abs=1.0)  # 25 bps injected, within 1 bps
    assert b.usd["spread_impact"] == pytest.approx(model_cost(costly, 25.0), abs=0.01)


async def test_injected_latency_shows_as_delay(gw, desk) -> None:
    app, journal = desk
    gw.faults.set_latency(20_000)  # 20 s: the mid moves before each fill
    c, expected = await run_probe(app, gw, journal, "slow", probe_signal, 21.0)
    gw.faults.set_latency(0)
    _, a = attribution_of(gw, journal, "slow", c, probe_signal)
    fills = [f for o in a_orders(journal, "slow") for f in o]
    # Independently: the mid's move from the decision to the fill, from the market itself.
    moved = 0.0
    for (side, qty, mid, *_), fill in zip(expected, fills, strict=True):
        q = gw.market.quote(c.conId, fill["t"])
        moved += side * qty * (mid - (q.bid + q.ask) / 2)
    assert all(f["t"] - o >= 20 for f, o in zip(fills, order_times(journal, "slow"), strict=True))
    assert abs(moved) > 0  # the market did move meanwhile
    assert a.usd["delay"] == pytest.approx(moved, abs=1e-4 * a.notional)


def a_orders(journal, name):
    by = {}
    for f in journal.fills(name):
        by.setdefault(f["order_id"], []).append(f)
    return [by[o["order_id"]] for o in journal.orders(name)]


def order_times(journal, name):
    return [o["submitted_at"] for o in journal.orders(name)]


async def test_a_cancelled_partial_fill_is_the_missed_part(gw, desk) -> None:
    app, journal = desk
    c = await app.resolve_contract(stock("AAPL"))
    await app.quote(c)
    q = gw.market.quote(c.conId, gw.now())
    mid = (q.bid + q.ask) / 2
    await until(lambda: app.marks().get(c.conId) == pytest.approx(mid))
    run = journal.start_run("partial", t=gw.now())
    inputs = {"step": 0, "con_id": c.conId, "mid": mid}
    journal.record_decision(
        run, "decision", decision_detail(inputs, {c.conId: 300}, {c.conId: mid}), t=gw.now()
    )
    gw.faults.force_partial_fills(1)  # three executions of 100, one per simulated second
    trade = (await app.order_target_quantity(c, mkt, 300, strategy="partial")).trade
    await until(lambda: trade.orderStatus.filled == 100)
    # The dangerous window: one fill in, the rest working. Cancel it there.
    app.ib.cancelOrder(trade.order)
    await until(lambda: trade.isDone())
    await until(lambda: len(journal.fills("partial")) == 1)
    [row] = journal.fills("partial")
    assert row["fill_mid"] == pytest.approx(mid)  # RiskFeed journals the mid at the fill
    gw.advance(600)
    end = gw.market.quote(c.conId, gw.now())
    end_mid = (end.bid + end.ask) / 2
    inputs_ = load(journal, "partial", end_marks={c.conId: end_mid})
    a = attribute_inputs(inputs_)
    assert trade.orderStatus.status == "Cancelled" and inputs_.orders[0].filled == 100
    # By hand: the 200 shares never bought would have made 200 × (end mid − arrival mid).
    assert a.usd["missed"] == pytest.approx(-200 * (end_mid - mid))
    assert a.ideal_pnl == pytest.approx(300 * (end_mid - mid))
    assert a.usd["spread_impact"] == pytest.approx(100 * (mid - row["price"]))
