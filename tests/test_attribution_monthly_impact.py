"""An injected execution cost on the monthly factor is recovered by attribution.

The monthly factor rebalances live on the demo gateway (frozen clock, stepped) with
``sim-control impact 25`` in force; RiskFeed journals its orders and fills with their mids on
the gateway's clock. Independently, by hand from the gateway's own quotes, each fill's price
without the injection is the touch moved by the square-root impact model, rounded against the
trader; the extra the trader paid over that is the injected cost. Expected: spread and impact
= 25 bps + the model's own (within 1 bp of notional: one $0.01 tick on the cheapest names),
missed 0 (every order filled), and the console's Attribution view shows the same component
table as ``livedesk report --attribution``.
"""

from __future__ import annotations

import io
import math

import pytest

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.journal import Journal
from livedesk.backend.report.attribution import attribution_report
from livedesk.backend.risk.attribution_source import attribute_pages, decision_detail
from livedesk.backend.risk.engine import RiskEngine
from livedesk.backend.risk.live import RiskFeed
from livedesk.backend.sim.broker.matching import round_against
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.monthly_factor import MonthlyFactor
from tests.conftest import until
from tests.test_monthly_factor_live import app, demo_env, demo_root, run_all_fills  # noqa: F401

pytestmark = pytest.mark.slow


def model_price(gw, fe, extra_bps: float) -> float:
    side = 1 if fe.execution.side == "BOT" else -1
    at = fe.execution.time.timestamp()
    touch = gw.broker.touch(gw.broker.instrument(fe.contract.conId), at)
    base, size = (touch.ask, touch.ask_size) if side > 0 else (touch.bid, touch.bid_size)
    impact = gw.broker.engine.impact_bps * 1e-4 * math.sqrt(fe.execution.shares / max(size, 1))
    return round_against(base * (1 + side * impact + side * extra_bps * 1e-4), touch.tick, side)


async def test_injected_impact_on_the_monthly_factor(demo_env, app, gw, tmp_path) -> None:  # noqa: F811
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path, synchronous="NORMAL")
    journal.record_sample(gw.now() - 1, 0.0, app.net_liquidation, 0.0)
    feed = RiskFeed(app, RiskEngine(journal), clock=gw.now)
    feed.start()
    gw.faults.set_impact(25)
    strategy = MonthlyFactor()
    ctx = StrategyContext(app, strategy.name)
    decision = await strategy.run_once(ctx)
    assert not decision.skipped, decision.skipped_reason
    rec = decision.replay
    run = journal.start_run(strategy.name, t=decision.t.timestamp())
    journal.record_decision(
        run,
        "decision",
        decision_detail(rec["inputs"], rec["targets"], rec["mids"], rec.get("multipliers")),
        t=decision.t.timestamp(),
    )
    trades = [t for t in app.ib.trades() if strategy_of(t.order.orderRef) == strategy.name]
    await run_all_fills(gw, trades)
    gw.faults.set_impact(0)
    executions = [
        fe for fe in gw.broker.executions if strategy_of(fe.order.order.orderRef) == strategy.name
    ]
    await until(lambda: len(journal.fills(strategy.name)) == len(executions), 5)
    # by hand: what the injection added over the model's own price, in $ and in bps
    injected = own = notional = 0.0
    for fe in executions:
        side = 1 if fe.execution.side == "BOT" else -1
        q, price = fe.execution.shares, fe.execution.price
        assert price == pytest.approx(model_price(gw, fe, 25.0), abs=1e-9)
        injected += side * q * (price - model_price(gw, fe, 0.0))
        notional += q * price
    assert injected / notional * 1e4 == pytest.approx(25.0, abs=1.0)
    pages = attribute_pages(journal, [strategy.name])
    assert pages.errors == {}
    a = pages.per[strategy.name]
    # the model's own cost (its price without the injection, by hand) against the mid the
    # attribution measures from: the journaled mid at the fill, else the order's arrival mid
    arrival = {o["order_id"]: o["arrival_mid"] for o in journal.orders(strategy.name)}
    by_exec = {fe.execution.execId: fe for fe in executions}
    for f in journal.fills(strategy.name):
        side = 1 if f["side"] == "BOT" else -1
        mid = f["fill_mid"] if f["fill_mid"] is not None else arrival[f["order_id"]]
        own += side * f["qty"] * (model_price(gw, by_exec[f["exec_id"]], 0.0) - mid)
    assert a.notional == pytest.approx(notional)
    spread_bps = -a.usd["spread_impact"] / a.notional * 1e4
    assert spread_bps == pytest.approx(25.0 + own / notional * 1e4, abs=1.0)
    assert spread_bps - own / notional * 1e4 == pytest.approx(25.0, abs=1.0)
    assert a.usd["missed"] == pytest.approx(0.0, abs=1e-6)
    # the CLI and the console view render the same table from the same pages
    out = io.StringIO()
    attribution_report(journal, out, strategy=strategy.name)
    from livedesk.backend.risk.attribution_view import component_table

    assert component_table(a) in out.getvalue()
    feed.stop()
    journal.close()
