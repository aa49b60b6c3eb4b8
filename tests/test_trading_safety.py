"""TradingApp safety against the simulated gateway (issue 9, items 2-12).

The guard sees working orders; a rebalance is checked whole before anything is sent and
keeps what it sent when sending fails; what-if failures are clear; combos are valued
from their legs; quotes share one subscription; stray orders are listed and cancelled;
ib_async's cached objects are never changed; ``[guard]`` settings are validated and used.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import math

import pytest
from ib_async import Bag, ComboLeg, Position, StopLimitOrder, StopOrder

from livedesk.backend.config import ConfigError, Settings, load_settings
from livedesk.backend.contracts import (
    ContractError,
    UnknownContract,
    future,
    new_york_today,
    option,
    stock,
)
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.app import (
    OrderRefused,
    RebalanceRefused,
    TradingApp,
    WhatIfUnavailable,
)
from livedesk.backend.trading.guard import GuardLimits, TradingState
from livedesk.backend.trading.orders import limit
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import TEST_SESSION, until


@pytest.fixture
async def app(gw: SimGateway, ib_log_guard):
    a = await TradingApp.connect("127.0.0.1", gw.port, client_id=7)
    a.today = lambda: TEST_SESSION
    yield a
    a.disconnect()


def gateway_orders(gw: SimGateway, con_id: int | None = None) -> list:
    """The gateway's own order log (optionally for one conId)."""
    return [o for o in gw.broker.orders.values() if con_id is None or o.contract.conId == con_id]


async def settle(app: TradingApp, trades) -> None:
    """Every trade done and the broker's positions reflecting every fill."""
    await until(lambda: all(t.isDone() for t in trades))
    for t in trades:
        c = t.contract
        await until(
            lambda c=c: (
                app.exposure(c).held
                == (app.positions[c.conId].position if c.conId in app.positions else 0.0)
            )
        )


async def round_trip(app: TradingApp) -> None:
    """Every message the gateway sent before now has been processed by the client."""
    await app.ib.reqCurrentTimeAsync()


# ---- item 2: the guard sees working orders ----------------------------------------------


async def test_reducing_allows_one_resting_sell_of_the_position(
    app: TradingApp, gw: SimGateway
) -> None:
    c = await app.resolve_contract(stock("AAPL"))
    r = await app.order_target_quantity(c, mkt, 100)
    await settle(app, [r.trade])
    app.guard.set_state(TradingState.REDUCING, "test")
    q = gw.market.quote(c.conId, gw.now())
    resting = round(q.ask * 1.04, 2)  # above the ask: rests, inside the 5 % collar
    first = await app.send_order(c, limit("SELL", 100, resting))
    assert first.sent
    with pytest.raises(OrderRefused, match="REDUCING: position would go from 0"):
        await app.send_order(c, limit("SELL", 100, resting))
    gw.advance(2)
    await round_trip(app)
    sells = [o for o in gateway_orders(gw, c.conId) if o.order.action == "SELL"]
    assert len(sells) == 1 and sells[0].status == "Submitted" and sells[0].filled == 0


async def test_resting_buys_count_toward_the_position_weight(
    app: TradingApp, gw: SimGateway
) -> None:
    c = await app.resolve_contract(stock("JPM"))
    q = gw.market.quote(c.conId, gw.now())
    price = round(q.bid * 0.97, 2)  # rests below the bid
    qty = math.floor(0.20 * 1_000_000 / price)  # 20 % of NLV each
    first = await app.send_order(c, limit("BUY", qty, price))
    assert first.sent
    for _ in range(2):
        with pytest.raises(OrderRefused, match="position weight after the order"):
            await app.send_order(c, limit("BUY", qty, price))
    await round_trip(app)
    assert len(gateway_orders(gw, c.conId)) == 1


# ---- item 6: stop and stop-limit orders -------------------------------------------------


async def test_stop_and_stop_limit_orders_pass_the_guard(app: TradingApp, gw: SimGateway) -> None:
    c = await app.resolve_contract(stock("AMZN"))
    q = gw.market.quote(c.conId, gw.now())
    mid = (q.bid + q.ask) / 2
    stop = await app.send_order(c, StopOrder("BUY", 5, round(mid * 1.10, 2)))
    stop_limit = await app.send_order(
        c, StopLimitOrder("BUY", 5, round(mid * 1.12, 2), round(mid * 1.10, 2))
    )
    assert stop.sent and stop_limit.sent
    with pytest.raises(OrderRefused, match="trigger at once"):
        await app.send_order(c, StopOrder("BUY", 5, round(mid * 0.9, 2)))
    with pytest.raises(OrderRefused, match="stop_collar"):
        await app.send_order(c, StopOrder("SELL", 5, round(mid * 0.5, 2)))
    with pytest.raises(OrderRefused, match="from the stop price"):
        await app.send_order(
            c, StopLimitOrder("BUY", 5, round(mid * 1.30, 2), round(mid * 1.10, 2))
        )
    await round_trip(app)
    types = sorted(o.order.orderType for o in gateway_orders(gw, c.conId))
    assert types == ["STP", "STP LMT"]


# ---- item 3: a rebalance is checked whole before anything is sent -----------------------


async def test_rebalance_refusal_names_the_legs_and_sends_nothing(gw: SimGateway) -> None:
    app = await TradingApp.connect(
        "127.0.0.1", gw.port, client_id=9, limits=GuardLimits(max_gross_leverage=0.5)
    )
    try:
        names = ("AAPL", "MSFT", "JPM", "XOM")
        cs = [await app.resolve_contract(stock(s)) for s in names]
        # four legs of 20 %: the third and fourth would take gross leverage to 0.6, 0.8
        with pytest.raises(RebalanceRefused) as err:
            await app.rebalance({c: 0.20 for c in cs})
        assert set(err.value.legs) == {cs[2].conId, cs[3].conId}
        text = str(err.value)
        assert "JPM STK" in text and "XOM STK" in text and "gross leverage" in text
        assert "AAPL STK" not in text.split("fail the guard", 1)[1]
        # a leg over the position-weight cap is named with its reason too
        with pytest.raises(RebalanceRefused, match="MSFT STK: .*position weight"):
            await app.rebalance({cs[0]: 0.1, cs[1]: 0.3})
        await round_trip(app)
        assert gateway_orders(gw) == []
    finally:
        app.disconnect()


async def test_rebalance_sells_free_room_for_the_buys(gw: SimGateway) -> None:
    app = await TradingApp.connect(
        "127.0.0.1", gw.port, client_id=9, limits=GuardLimits(max_gross_leverage=0.045)
    )
    try:
        a, m = [await app.resolve_contract(stock(s)) for s in ("AAPL", "MSFT")]
        start = await app.rebalance({a: 0.02, m: 0.02})
        await settle(app, start.trades)
        # 0.04 gross now; moving AAPL's 2 % into JPM stays under 0.045 only because the
        # AAPL sell is counted before the JPM buy (0.06 otherwise)
        j = await app.resolve_contract(stock("JPM"))
        done = await app.rebalance({m: 0.02, j: 0.02})
        assert [leg.plan.action for leg in done.plan.orders] == ["SELL", "BUY"]
        assert done.complete and done.gross_leverage_after == pytest.approx(0.04, abs=0.001)
    finally:
        app.disconnect()


async def test_rebalance_failing_half_way_returns_what_was_sent(
    app: TradingApp, gw: SimGateway
) -> None:
    cs = [await app.resolve_contract(stock(s)) for s in ("AAPL", "MSFT", "JPM", "XOM")]
    place = app.ib.placeOrder
    calls = []

    def place_then_drop(contract, order):
        calls.append(contract.symbol)
        if len(calls) == 3:
            app.ib.disconnect()  # the connection drops while the rebalance is sending
        return place(contract, order)

    app.ib.placeOrder = place_then_drop
    result = await app.rebalance({c: 0.02 for c in cs})
    assert not result.complete and "leg 3 of 4" in result.error and "JPM" in result.error
    assert [t.contract.symbol for t in result.trades] == ["AAPL", "MSFT"]
    assert set(result.states()) == {cs[0].conId, cs[1].conId}
    await until(lambda: len(gateway_orders(gw)) == 2)
    assert sorted(o.contract.symbol for o in gateway_orders(gw)) == ["AAPL", "MSFT"]


async def test_kill_switch_mid_rebalance_stops_it_and_keeps_what_was_sent(
    app: TradingApp, gw: SimGateway
) -> None:
    cs = [await app.resolve_contract(stock(s)) for s in ("AAPL", "MSFT", "JPM")]
    place = app.ib.placeOrder

    def place_then_halt(contract, order):
        trade = place(contract, order)
        app.guard.halt("risk limit hit")  # e.g. the risk engine halts after the first order
        return trade

    app.ib.placeOrder = place_then_halt
    result = await app.rebalance({c: 0.02 for c in cs})
    assert [t.contract.symbol for t in result.trades] == ["AAPL"]
    assert "leg 2 of 3" in result.error and "HALTED (risk limit hit)" in result.error
    await round_trip(app)
    assert [o.contract.symbol for o in gateway_orders(gw)] == ["AAPL"]


async def test_rebalance_reports_a_leg_the_gateway_rejected(
    app: TradingApp, gw: SimGateway
) -> None:
    cs = [await app.resolve_contract(stock(s)) for s in ("AAPL", "MSFT")]
    gw.faults.reject_next_order("no shares to borrow")
    result = await app.rebalance({c: 0.02 for c in cs})
    assert result.complete and len(result.trades) == 2
    await until(lambda: all(t.isDone() for t in result.trades))
    assert [t.contract.symbol for t in result.failed()] == ["AAPL"]


# ---- item 4: what-if ------------------------------------------------------------------


async def test_what_if_of_the_whole_change_or_labelled_per_leg_sum(
    app: TradingApp, gw: SimGateway
) -> None:
    a, m = [await app.resolve_contract(stock(s)) for s in ("AAPL", "MSFT")]
    cl = await app.resolve_contract(future("CL"))
    asked = []
    what_if = app.ib.whatIfOrderAsync

    def counting(contract, order):
        asked.append(contract.secType)
        return what_if(contract, order)

    app.ib.whatIfOrderAsync = counting
    whole = await app.rebalance({a: 0.05, m: 0.05}, dry_run=True, what_if=True)
    assert asked == ["BAG"] and whole.plan.margin_source == "gateway what-if of the whole change"
    assert whole.plan.margin_change > 0
    asked.clear()
    mixed = await app.rebalance({a: 0.05, cl: 0.2}, dry_run=True, what_if=True)
    assert sorted(asked) == ["FUT", "STK"]
    assert mixed.plan.margin_source.startswith("sum of per-leg what-ifs")
    assert gateway_orders(gw) == []


@pytest.mark.parametrize("answer", ["empty", "silent"])
async def test_what_if_failure_is_a_clear_error_and_sends_nothing(
    app: TradingApp, gw: SimGateway, answer: str
) -> None:
    c = await app.resolve_contract(stock("AAPL"))
    app.what_if_timeout = 0.05

    def broken(contract, order):
        fut = asyncio.get_running_loop().create_future()
        if answer == "empty":
            fut.set_result([])  # what ib_async resolves a failed what-if to
        return fut

    app.ib.whatIfOrderAsync = broken
    match = "no margin figure" if answer == "empty" else "no answer within 0.05 s"
    with pytest.raises(WhatIfUnavailable, match=match):
        await app.rebalance({c: 0.05}, what_if=True)
    await round_trip(app)
    assert gateway_orders(gw) == []


# ---- items 5 and 10: combos -------------------------------------------------------------


async def spy_call(app: TradingApp, gw: SimGateway):
    spy = await app.resolve_contract(stock("SPY"))
    chains = await app.ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)
    chain = next(c for c in chains if c.exchange == "SMART")
    expiry = sorted(e for e in chain.expirations if e > TEST_SESSION.strftime("%Y%m%d"))[0]
    last = gw.market.last_price(spy.conId, gw.now())
    strike = min((k for k in chain.strikes if k > last), key=lambda k: k - last)
    return spy, await app.resolve_contract(option("SPY", expiry, strike, "C"))


def buy_write(spy, call) -> Bag:
    """100 shares bought and one call sold: a BAG built by hand, not by resolve_contract."""
    return Bag(
        symbol="SPY",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=spy.conId, ratio=100, action="BUY", exchange="SMART"),
            ComboLeg(conId=call.conId, ratio=1, action="SELL", exchange="SMART"),
        ],
    )


async def test_buy_write_notional_uses_each_legs_multiplier(gw: SimGateway) -> None:
    app = await TradingApp.connect(
        "127.0.0.1", gw.port, client_id=9, limits=GuardLimits(max_order_notional=10_000.0)
    )
    try:
        app.today = lambda: TEST_SESSION
        spy, call = await spy_call(app, gw)
        bag = buy_write(spy, call)
        s, o = gw.market.quote(spy.conId, gw.now()), gw.market.quote(call.conId, gw.now())
        # hand computation: 100 shares x 1 x mid + 1 call x 100 x mid, per combo unit
        per_unit = 100 * (s.bid + s.ask) / 2 + 100 * (o.bid + o.ask) / 2
        with pytest.raises(OrderRefused, match="order notional") as err:
            await app.send_order(bag, mkt("BUY", 2))
        got = float(err.value.reasons[0].split("order notional ")[1].split()[0].replace(",", ""))
        assert got == pytest.approx(2 * per_unit, abs=0.01)
        with pytest.raises(ContractError, match="different multipliers"):
            app.multiplier(bag)
        net, gross = await app.combo_unit_values(bag)
        assert net == pytest.approx(100 * (s.bid + s.ask) / 2 - 100 * (o.bid + o.ask) / 2)
        assert gross == pytest.approx(per_unit)
        await round_trip(app)
        assert gateway_orders(gw) == []
    finally:
        app.disconnect()


async def test_hand_built_bag_is_resolved_and_targeted(app: TradingApp, gw: SimGateway) -> None:
    spy, call = await spy_call(app, gw)
    bag = buy_write(spy, call)
    r = await app.order_target_quantity(bag, mkt, 1)
    assert r.sent and r.order.totalQuantity == 1
    await until(lambda: r.trade.isDone() and len(r.trade.fills) == 2)
    await until(
        lambda: (
            spy.conId in app.positions
            and app.positions[spy.conId].position == 100
            and app.positions.get(call.conId) is not None
        )
    )
    assert app.positions[call.conId].position == -1
    again = await app.order_target_quantity(bag, mkt, 1)
    assert not again.sent and app.exposure(bag).total == 1
    no_id = Bag(symbol="SPY", currency="USD", comboLegs=[ComboLeg(conId=0, ratio=1)])
    with pytest.raises(UnknownContract, match="have no conId"):
        await app.order_target_quantity(no_id, mkt, 1)
    await round_trip(app)
    assert len(gateway_orders(gw)) == 1


# ---- item 7: market-data subscriptions --------------------------------------------------


class Gate:
    """A pacing scheduler that holds every request until opened."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waits = 0

    async def acquire(self, *args, **kwargs) -> None:
        self.waits += 1
        await self.opened.wait()


def gateway_lines(gw: SimGateway, client_id: int = 7) -> list[int]:
    """conIds of the market-data lines the gateway holds for the client."""
    return [sub.inst.con_id for sub in gw.sessions[client_id].mkt.values() if sub.inst]


async def test_concurrent_quotes_share_one_request(app: TradingApp, gw: SimGateway) -> None:
    c = await app.resolve_contract(stock("MSFT"))
    gate = Gate()
    app.market_data.pacing = gate
    requests = []
    req = app.ib.reqMktData
    app.ib.reqMktData = lambda *a, **k: requests.append(a[0].conId) or req(*a, **k)
    tasks = [asyncio.ensure_future(app.quote(c)) for _ in range(3)]
    await asyncio.sleep(0.02)
    assert gate.waits == 1 and not any(t.done() for t in tasks)
    tasks[0].cancel()  # a caller giving up does not cancel the shared request
    gate.opened.set()
    quotes = await asyncio.gather(*tasks[1:])
    assert quotes[0] == quotes[1] and requests == [c.conId]
    await round_trip(app)
    assert gateway_lines(gw) == [c.conId]


async def test_rebalance_quotes_and_dead_quotes_are_cancelled(
    app: TradingApp, gw: SimGateway
) -> None:
    kept = await app.resolve_contract(stock("AAPL"))
    await app.quote(kept)  # the caller's own subscription stays
    cs = [await app.resolve_contract(stock(s)) for s in ("MSFT", "JPM")]
    log: list[str] = []
    acquire, cancel = app.pacing.acquire, app.ib.cancelMktData
    app.pacing.acquire = lambda *a, **k: log.append("acquire") or acquire(*a, **k)
    app.ib.cancelMktData = lambda c: log.append("cancel") or cancel(c)
    await app.rebalance({kept: 0.01, cs[0]: 0.01, cs[1]: 0.01}, dry_run=True)
    await app.market_data.drain()
    tail = log[-4:]  # two cancels, each after its own pacing slot
    assert sorted(tail) == ["acquire", "acquire", "cancel", "cancel"]
    assert all(tail[: i + 1].count("acquire") >= tail[: i + 1].count("cancel") for i in range(4))
    await round_trip(app)
    assert gateway_lines(gw) == [kept.conId]
    sent = await app.rebalance({kept: 0.01, cs[0]: 0.01, cs[1]: 0.01})
    assert len(sent.trades) == 3
    await app.market_data.drain()
    await round_trip(app)
    assert gateway_lines(gw) == [kept.conId]
    gw.faults.set_market_data_fault("no-permission", ["XOM"])
    app.price_timeout = 0.05
    with pytest.raises(Exception, match="no usable price for XOM"):
        await app.quote(await app.resolve_contract(stock("XOM")))
    await app.market_data.drain()
    await round_trip(app)
    assert gateway_lines(gw) == [kept.conId] and len(app.market_data.tickers) == 1


# ---- item 8: stray working orders ----------------------------------------------------------


@pytest.mark.parametrize("cancel", [True, False])
async def test_stray_working_orders_listed_and_cancelled(
    app: TradingApp, gw: SimGateway, cancel: bool
) -> None:
    a, x = [await app.resolve_contract(stock(s)) for s in ("AAPL", "XOM")]
    q = gw.market.quote(x.conId, gw.now())
    stray = await app.send_order(x, limit("BUY", 10, round(q.bid * 0.97, 2)))
    await until(lambda: stray.trade.orderStatus.status == "Submitted")
    result = await app.rebalance({a: 0.02}, cancel_stray=cancel)
    assert result.plan.stray_working == (x.conId,)
    assert result.stray_cancelled == ((x.conId,) if cancel else ())
    await round_trip(app)
    [so] = gateway_orders(gw, x.conId)
    assert so.status == ("Cancelled" if cancel else "Submitted")


# ---- item 9: ib_async's cached objects are never changed ----------------------------------


async def test_rebalance_copies_held_contracts_and_keeps_their_venue(
    app: TradingApp, gw: SimGateway
) -> None:
    cl = await app.resolve_contract(future("CL"))
    r = await app.order_target_quantity(cl, mkt, 2)
    await settle(app, [r.trade])
    # IB's position messages carry no exchange: make the cached one look like that
    account = app.account
    cached = app.ib.wrapper.positions[account][cl.conId]
    bare = copy.copy(cached.contract)
    bare.exchange = ""
    app.ib.wrapper.positions[account][cl.conId] = Position(
        account, bare, cached.position, cached.avgCost
    )
    a = await app.resolve_contract(stock("AAPL"))
    result = await app.rebalance({a: 0.01})
    [flatten] = [t for t in result.trades if t.contract.conId == cl.conId]
    assert flatten.order.action == "SELL" and flatten.order.totalQuantity == 2
    assert flatten.contract.exchange == cl.exchange == "NYMEX"  # not SMART
    assert app.ib.wrapper.positions[account][cl.conId].contract.exchange == ""  # untouched
    assert bare.exchange == ""


# ---- items 11 and 12: settings and the trading date ----------------------------------------


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        ("max_notional = 5", r"unknown setting \[guard\] max_notional"),
        ('limit_collar = "wide"', r"\[guard\] limit_collar = 'wide' is invalid"),
        ("max_gross_leverage = -1", r"\[guard\] max_gross_leverage = -1 is invalid"),
        ("max_orders_per_minute = 1.5", r"\[guard\] max_orders_per_minute = 1.5 is invalid"),
        ("stop_collar = true", r"\[guard\] stop_collar = True is invalid"),
    ],
)
def test_guard_settings_are_validated(tmp_path, toml: str, match: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[guard]\n{toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_settings(path, env={})


async def test_trading_app_from_settings_uses_the_guard_section(gw: SimGateway, tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f"[broker]\nport = {gw.port}\nclient_id = 12\n[guard]\nmax_order_notional = 1000\n",
        encoding="utf-8",
    )
    settings = load_settings(path, env={})
    assert settings.guard_limits().max_order_notional == 1000.0
    assert Settings().guard_limits() == GuardLimits()
    app = await TradingApp.from_settings(settings)
    try:
        c = await app.resolve_contract(stock("AAPL"))
        with pytest.raises(OrderRefused, match="max_order_notional 1,000.00"):
            await app.order_value(c, mkt, 5_000)
        await round_trip(app)
        assert gateway_orders(gw) == []
    finally:
        app.disconnect()


def test_today_is_the_new_york_date() -> None:
    utc = dt.UTC
    # 03:00 UTC on the 20th is still the evening of the 19th in New York (EST, UTC-5)
    assert new_york_today(dt.datetime(2026, 11, 20, 3, 0, tzinfo=utc)) == dt.date(2026, 11, 19)
    assert new_york_today(dt.datetime(2026, 11, 20, 5, 0, tzinfo=utc)) == dt.date(2026, 11, 20)
    # Tokyo's morning of the 21st is New York's afternoon of the 20th
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert new_york_today(dt.datetime(2026, 11, 21, 6, 0, tzinfo=tokyo)) == dt.date(2026, 11, 20)
    from ib_async import IB

    app = TradingApp(IB())  # the broker clock's date: New York's wall date before any answer
    assert app.today == app.clock.today and app.today() == new_york_today()
