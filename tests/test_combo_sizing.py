"""Credit combos in every order primitive: a target quantity needs no price; value and percent
sizing of a combo use its risk per unit (defined max loss, else the what-if margin).

Expectations by hand: an iron condor's max loss per unit is ``100 × widest wing + net`` (net
the signed dollars paid per unit, negative for the credit), from the gateway's own leg quotes.
"""

from __future__ import annotations

import math

import pytest
from ib_async import Option

from livedesk.backend.combos.bags import BagLeg, defined_risk
from livedesk.backend.contracts import combo_leg, option, spread, stock
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import until


def leg(right: str, strike: float, sign: int, ratio: int = 1, expiry: str = "20260116") -> BagLeg:
    c = Option("SPY", expiry, strike, right, "SMART", multiplier="100")
    return BagLeg(c, ratio, sign)


def test_defined_risk_of_a_condor_a_straddle_and_an_unbounded_combo() -> None:
    condor = [leg("P", 90, 1), leg("P", 95, -1), leg("C", 105, -1), leg("C", 110, 1)]
    # sold for a $1.50 credit: net −$150 a unit. Bought (as defined): below 90 the put wing
    # loses 5 × 100 = 500, less the 150 received → 350. Sold: it can lose the 150 at most.
    assert defined_risk(condor, -150.0) == pytest.approx(350.0)
    assert defined_risk(condor, -150.0, side=-1) == pytest.approx(150.0)
    straddle = [leg("C", 100, 1), leg("P", 100, 1)]
    assert defined_risk(straddle, 600.0) == pytest.approx(600.0)  # the premium paid
    assert defined_risk(straddle, 600.0, side=-1) is None  # a sold straddle: unlimited
    ratio = [leg("C", 100, 1), leg("C", 105, -1, ratio=2)]
    assert defined_risk(ratio, 100.0) is None  # one more call sold than bought
    assert defined_risk([leg("P", 90, 1), leg("P", 95, 1, expiry="20260220")], 10.0) is None


@pytest.fixture
async def app(gw, ib_log_guard):
    a = await TradingApp.connect("127.0.0.1", gw.port, 7)
    yield a
    a.disconnect()


async def condor(app: TradingApp, gw):
    from tests.conftest import TEST_SESSION

    app.today = lambda: TEST_SESSION
    spy = await app.resolve_contract(stock("SPY"))
    chains = await app.ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)
    chain = next(c for c in chains if c.exchange == "SMART")
    expiry = sorted(e for e in chain.expirations if e > TEST_SESSION.strftime("%Y%m%d"))[0]
    last = gw.market.last_price(spy.conId, gw.now())
    ks = sorted(chain.strikes)
    i = min(range(len(ks)), key=lambda j: abs(ks[j] - last))
    strikes = (ks[i - 4], ks[i - 2], ks[i + 2], ks[i + 4])
    legs = [
        combo_leg(option("SPY", expiry, strikes[0], "P"), 1, "BUY"),
        combo_leg(option("SPY", expiry, strikes[1], "P"), 1, "SELL"),
        combo_leg(option("SPY", expiry, strikes[2], "C"), 1, "SELL"),
        combo_leg(option("SPY", expiry, strikes[3], "C"), 1, "BUY"),
    ]
    bag = await app.resolve_contract(spread(legs))
    return bag, strikes


def hand_risk(gw, bag, strikes) -> float:
    """100 × widest wing + net, the net from the gateway's own leg mids."""
    net = 0.0
    for cl, sign in zip(bag.comboLegs, (1, -1, -1, 1), strict=True):
        q = gw.market.quote(cl.conId, gw.now())
        net += sign * 100 * (q.bid + q.ask) / 2
    assert net < 0  # a credit
    width = max(strikes[1] - strikes[0], strikes[3] - strikes[2])
    return 100 * width + net


async def test_condor_target_quantity_needs_no_price_and_value_sizes_by_max_loss(app, gw) -> None:
    bag, strikes = await condor(app, gw)
    r = await app.order_target_quantity(bag, mkt, 2, strategy="options")
    assert r.sent and r.order.action == "BUY" and r.order.totalQuantity == 2
    assert math.isnan(r.plan.price) and r.plan.price_source == "none"
    await until(lambda: r.trade.isDone())
    assert r.trade.orderStatus.status == "Filled" and len(r.trade.fills) == 4
    again = await app.order_target_quantity(bag, mkt, 2)
    assert not again.sent and "already at target 2" in again.message

    risk = hand_risk(gw, bag, strikes)
    v = await app.order_value(bag, mkt, 500.0, dry_run=True)
    assert v.plan.price_source == "max loss"
    assert v.plan.price == pytest.approx(risk, rel=1e-6)
    assert v.plan.quantity == math.floor(500.0 / risk) and v.plan.action == "BUY"
    nlv = app.checked_nlv()
    p = await app.order_percent(bag, mkt, 0.001, dry_run=True)
    assert p.plan.quantity == math.floor(0.001 * nlv / risk)
    # a target percent counts the 2 held: 0.2 % of NLV at risk, minus what is held
    t = await app.order_target_percent(bag, mkt, 0.002, dry_run=True)
    assert t.plan.delta == math.floor(0.002 * nlv / risk) - 2
    # selling: the risk of a sold condor is the credit's other side (width − its max loss)
    s = await app.order_value(bag, mkt, -500.0, dry_run=True)
    sold_risk = 100 * max(strikes[1] - strikes[0], strikes[3] - strikes[2]) - risk
    assert s.plan.price == pytest.approx(sold_risk, rel=1e-6)
    assert s.plan.action == "SELL" and s.plan.quantity == math.floor(500.0 / sold_risk)


async def test_an_unbounded_combo_sizes_by_the_what_if_margin(app, gw) -> None:
    from tests.conftest import TEST_SESSION

    app.today = lambda: TEST_SESSION
    bag, strikes = await condor(app, gw)
    # 1×2 call ratio: one call bought, two sold above it — unlimited loss above
    expiry = (await app.bag_legs(bag))[0].contract.lastTradeDateOrContractMonth
    ratio = await app.resolve_contract(
        spread(
            [
                combo_leg(option("SPY", expiry, strikes[2], "C"), 1, "BUY"),
                combo_leg(option("SPY", expiry, strikes[3], "C"), 2, "SELL"),
            ]
        )
    )
    from ib_async import MarketOrder

    state = await app.ib.whatIfOrderAsync(ratio, MarketOrder("BUY", 1))
    margin = float(state.initMarginChange)
    assert margin > 0
    r = await app.order_value(ratio, mkt, 50_000.0, dry_run=True)
    assert r.plan.price_source == "what-if margin"
    assert r.plan.price == pytest.approx(margin)
    assert r.plan.quantity == math.floor(50_000.0 / margin)
