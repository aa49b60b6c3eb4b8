"""Run-time execution-cost controls of the simulated gateway: injected impact and fill latency."""

from __future__ import annotations

import math

import pytest
from ib_async import MarketOrder

from livedesk.backend.contracts import stock
from livedesk.backend.sim.broker.matching import round_against
from livedesk.backend.sim.control.client import send_control
from livedesk.backend.sim.gateway import SimGateway
from tests.conftest import until


def expected_price(gw: SimGateway, con_id: int, side: int, qty: float, extra_bps: float) -> float:
    """The fill price by hand: touch × (1 ± (5 bps · sqrt(qty/size) + extra)), rounded against."""
    q = gw.market.quote(con_id, gw.now())
    base, size = (q.ask, q.ask_size) if side > 0 else (q.bid, q.bid_size)
    impact = 5.0e-4 * math.sqrt(qty / max(size, 1.0)) + extra_bps * 1e-4
    tick = gw.market.registry.by_con_id(con_id).min_tick
    return round_against(base * (1 + side * impact), tick, side)


async def _fill(ib, contract, action: str, qty: float):
    trade = ib.placeOrder(contract, MarketOrder(action, qty))
    await until(lambda: trade.isDone())
    return trade


async def test_injected_impact_moves_every_fill_by_that_many_bps(gw: SimGateway, ib) -> None:
    [c] = await ib.qualifyContractsAsync(stock("AAPL"))
    plain = expected_price(gw, c.conId, +1, 100, 0.0)
    t0 = await _fill(ib, c, "BUY", 100)
    assert t0.fills[0].execution.price == pytest.approx(plain)
    assert await send_control("127.0.0.1", gw.port, "impact", ["12.5"]) == (
        True,
        "ok impact: clients=1 silent=False impact=12.5bps latency=0ms",
    )
    assert gw.faults.impact_bps == 12.5
    buy = await _fill(ib, c, "BUY", 100)
    sell = await _fill(ib, c, "SELL", 100)
    q = gw.market.quote(c.conId, gw.now())
    assert buy.fills[0].execution.price == pytest.approx(expected_price(gw, c.conId, +1, 100, 12.5))
    assert sell.fills[0].execution.price == pytest.approx(
        expected_price(gw, c.conId, -1, 100, 12.5)
    )
    # Against the plain price: 12.5 bps of the ask, to within one tick of rounding.
    assert buy.fills[0].execution.price - plain == pytest.approx(q.ask * 12.5e-4, abs=0.01)
    gw.faults.set_impact(0)
    again = await _fill(ib, c, "BUY", 100)
    assert again.fills[0].execution.price == pytest.approx(plain)


async def test_latency_delays_fills_by_the_simulated_time(gw: SimGateway, ib) -> None:
    [c] = await ib.qualifyContractsAsync(stock("MSFT"))
    ok, reply = await send_control("127.0.0.1", gw.port, "latency", ["2500"])
    assert ok and "latency=2500ms" in reply
    placed_at = gw.now()
    trade = ib.placeOrder(c, MarketOrder("BUY", 10))
    await until(lambda: trade.orderStatus.status == "Submitted")
    gw.advance(2.0)  # 2 s of the 2.5 s: still in flight
    await until(lambda: ib.client.isReady())
    assert not trade.fills and gw.broker.orders[(1, trade.order.orderId)].filled == 0
    gw.advance(1.0)
    await until(lambda: trade.isDone())
    [f] = trade.fills
    fill_t = f.execution.time.timestamp()
    assert placed_at + 2.5 <= fill_t + 1  # execution times are whole seconds
    assert gw.broker.executions[-1].execution.price == f.execution.price
    gw.faults.set_latency(0)
    quick = await _fill(ib, c, "BUY", 10)
    assert quick.fills


@pytest.mark.parametrize(
    ("command", "args", "text"),
    [
        ("impact", [], "usage: impact BPS"),
        ("impact", ["-1"], "usage: impact BPS"),
        ("impact", ["nan"], "usage: impact BPS"),
        ("impact", ["1e3"], "usage: impact BPS"),
        ("impact", ["1000.5"], "0..1000"),
        ("impact", ["3", "4"], "usage: impact BPS"),
        ("latency", ["fast"], "usage: latency MS"),
        ("latency", ["600001"], "0..600000"),
    ],
)
async def test_cost_controls_check_their_arguments(
    gw: SimGateway, command: str, args: list[str], text: str
) -> None:
    ok, reply = await send_control("127.0.0.1", gw.port, command, args)
    assert not ok and text in reply
    assert (gw.faults.impact_bps, gw.faults.latency_ms) == (0.0, 0.0)


def test_cost_controls_python_api_refuses_bad_values(gw: SimGateway) -> None:
    for bad in (-0.1, math.inf, math.nan, True, "5", 1001):
        with pytest.raises(ValueError, match="impact"):
            gw.faults.set_impact(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latency"):
        gw.faults.set_latency(-5)
    gw.faults.set_latency(250)
    assert gw.broker.latency == 0.25 and gw.faults.latency_ms == 250
