"""Execution quality of combo orders: one figure, one sign, in Orders, Risk and the report.

A straddle bought at market and an iron condor bought for a credit (its net price is
negative), both filled by the simulated gateway at every leg's touch. The expected
slippage is computed by hand from the legs' quotes: bps of the net arrival mid, positive
for a cost — the half-spreads paid over |net mid|.
"""

from __future__ import annotations

import io
import re

import pytest
from ib_async import Order

from livedesk.backend.contracts import combo_leg, option, spread, stock
from livedesk.backend.report.metrics import run_report
from livedesk.tui.widgets.orders import order_table_rows
from livedesk.tui.widgets.risk import risk_table_rows
from tests.conftest import TEST_SESSION, until
from tests.console_helpers import make_session


async def chain_around(app, gw):
    spy = await app.resolve_contract(stock("SPY"))
    chains = await app.ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)
    chain = next(c for c in chains if c.exchange == "SMART")
    expiry = sorted(e for e in chain.expirations if e > TEST_SESSION.strftime("%Y%m%d"))[0]
    last = gw.market.last_price(spy.conId, gw.now())
    strikes = sorted(chain.strikes)
    atm = min(range(len(strikes)), key=lambda i: abs(strikes[i] - last))
    return expiry, strikes, atm


async def leg_quotes(app, legs):
    contracts = [await app.resolve_contract(c) for c, _, _ in legs]
    tickers = await app.ib.reqTickersAsync(*contracts)
    by_id = {t.contract.conId: (t.bid, t.ask) for t in tickers}
    return [by_id[c.conId] for c in contracts]


def hand_bps(legs, quotes) -> float:
    """Bought at market: BUY legs at the ask, SELL legs at the bid, vs the net mid."""
    mid = sum(
        (1 if a == "BUY" else -1) * r * (b + k) / 2
        for (_, r, a), (b, k) in zip(legs, quotes, strict=True)
    )
    fill = sum(
        (k if a == "BUY" else -b) * r for (_, r, a), (b, k) in zip(legs, quotes, strict=True)
    )
    return (fill - mid) / abs(mid) * 1e4, mid


@pytest.mark.parametrize("shape", ["straddle", "condor"])
async def test_combo_slippage_is_the_same_in_orders_risk_and_report(market, tmp_path, shape):
    session, gw = make_session(market, tmp_path)
    await session.connect()
    try:
        app = session.app
        app.today = lambda: TEST_SESSION
        expiry, k, i = await chain_around(app, gw)
        if shape == "straddle":
            legs = [
                (option("SPY", expiry, k[i], "C"), 1, "BUY"),
                (option("SPY", expiry, k[i], "P"), 1, "BUY"),
            ]
        else:  # short iron condor: long wings, short body — a credit (negative net price)
            legs = [(option("SPY", expiry, k[i - 3], "P"), 1, "BUY"),
                    (option("SPY", expiry, k[i - 2], "P"), 1, "SELL"),
                    (option("SPY", expiry, k[i + 2], "C"), 1, "SELL"),
                    (option("SPY", expiry, k[i + 3], "C"), 1, "BUY")]  # fmt: skip
        quotes = await leg_quotes(app, legs)
        expected, mid = hand_bps(legs, quotes)
        assert (mid < 0) == (shape == "condor") and expected > 0  # a cost, credit or debit
        bag = await app.resolve_contract(spread([combo_leg(c, r, a) for c, r, a in legs]))
        result = await app.send_order(bag, Order(action="BUY", totalQuantity=1, orderType="MKT"),
                                      strategy="alpha")  # fmt: skip
        assert result.sent
        await until(lambda: result.trade.isDone() and len(session.engine.fills()) == len(legs), 5)
        # Orders pane
        [row] = [o for o in session.orders() if o.order_id == result.trade.order.orderId]
        assert row.slippage.bps == pytest.approx(expected, abs=1e-6)
        assert row.slippage.notional == pytest.approx(abs(mid) * 100)
        [cells] = [r.cells for r in order_table_rows([row])]
        assert cells[-1][0] == f"{expected:+.1f}bp"
        # Risk pane (the account's and the strategy's block)
        blocks = {b.key: b for b in session.risk_blocks()}
        for key in ("account", "alpha"):
            assert blocks[key].execution.slippage_bps == pytest.approx(expected, abs=1e-6)
        rows = {r.key: r for r in risk_table_rows([blocks["alpha"]])}
        assert rows[("alpha", "execution")].cells[1][0] == f"{expected:+.1f}"
        # livedesk report, from the journal
        out = io.StringIO()
        assert run_report(journal=str(session.journal.path), strategy="alpha", out=out) == 0
        m = re.search(r"slippage bps mean (-?[\d.]+)", out.getvalue())
        assert m is not None and m.group(1) == f"{expected:.2f}"
    finally:
        await session.close()
