"""The injected-cost proof with the real crack-spread strategy on the simulated gateway.

crack-spread runs under the StrategyController with RiskFeed journalling its orders and
fills (with the mid at each fill) and the controller journalling each decision with its
replay record. The gateway adds 25 bps of impact to every fill. The attribution, replayed
through crack-spread's own ``evaluate`` (the same function object), must find the injected
25 bps on top of the gateway's own half spread + 5 bps·sqrt(q/size): tolerance 1.5 bps of
notional (one $0.01 tick on PSX is under 1 bps, rounded against the trader, plus the mid the
client had when the fill arrived).
"""

from __future__ import annotations

import math

import pytest

from livedesk.backend.contracts import stock
from livedesk.backend.risk.attribution import replay
from livedesk.backend.risk.attribution_source import attribute_inputs, load
from livedesk.backend.risk.engine import RiskEngine
from livedesk.backend.risk.live import RiskFeed
from livedesk.backend.risk.replay_signals import CrackSpreadReplay
from livedesk.backend.strategies import crack_spread
from tests.conftest import until
from tests.test_strategy_live import app, filled, make, step, tagged  # noqa: F401

INJECTED = 25.0


async def test_crack_spread_injected_impact_is_recovered(gw, app, journal) -> None:  # noqa: F811
    journal.record_sample(gw.now() - 1, 0.0, app.net_liquidation, 0.0)
    risk = RiskEngine(journal)
    feed = RiskFeed(app, risk, clock=gw.now)
    feed.start()
    gw.faults.set_impact(INJECTED)
    ctl = make(app, journal, "crack-spread", risk=risk, threshold=0.02, weight=0.02)
    psx = await app.resolve_contract(stock("PSX"))
    quotes = {}
    for _ in range(12):
        await ctl.run_now("crack-spread")
        for o in tagged(gw, "crack-spread"):
            if o.order_id not in quotes:  # sent by this decision, on a frozen clock
                quotes[o.order_id] = gw.market.quote(psx.conId, gw.now())
                await filled(gw, o)
        if len(quotes) >= 2:
            break
        await step(gw, 60)
        q = gw.market.quote(psx.conId, gw.now())
        if psx.conId in app.marks():  # let the client see the new minute's quote first
            await until(lambda q=q: app.marks()[psx.conId] == pytest.approx((q.bid + q.ask) / 2))
    assert quotes, "crack-spread did not trade in 12 minutes"
    await until(lambda: len(journal.fills("crack-spread")) >= len(quotes))
    await until(lambda: all(f["commission"] is not None for f in journal.fills("crack-spread")))
    feed.stop()
    await ctl.close()
    gw.faults.set_impact(0)

    end = gw.market.quote(psx.conId, gw.now())
    inputs = load(journal, "crack-spread", end_marks={psx.conId: (end.bid + end.ask) / 2})
    assert inputs.decisions, "the controller journals replay records"
    signal = CrackSpreadReplay()
    assert signal.evaluate is crack_spread.sig.evaluate  # the live strategy's own function
    assert replay(signal, inputs.decisions) == replay(None, inputs.decisions)
    a = attribute_inputs(inputs, signal)
    assert a.signal is signal and a.trades == len(quotes)
    # The gateway's own cost by hand, per fill: half spread + 5 bps·sqrt(q / displayed size).
    own = 0.0
    for f in journal.fills("crack-spread"):
        q = quotes[f["order_id"]]
        mid = (q.bid + q.ask) / 2
        size = q.ask_size if f["side"] == "BOT" else q.bid_size
        half = (q.ask - q.bid) / 2 / mid * 1e4
        own += (half + 5.0 * math.sqrt(f["qty"] / size)) * f["qty"] * f["price"]
    own_bps = own / a.notional
    recovered = -a.usd["spread_impact"] / a.notional * 1e4 - own_bps
    assert recovered == pytest.approx(INJECTED, abs=1.5)
    # Delay: the arrival quote the order was sent on against the gateway's own mid at the
    # fill (the client's quote may lag a clock jump; that lag is delay, not impact).
    moved = 0.0
    for o in inputs.orders:
        q = quotes[int(o.key)]
        moved += sum(o.sign * f.qty * (o.arrival_mid - (q.bid + q.ask) / 2) for f in o.fills)
    assert a.usd["delay"] == pytest.approx(moved, abs=1e-6 * a.notional)
