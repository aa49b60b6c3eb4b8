"""Option snapshots keep their lines between decisions, at most ``MAX_LINES``, and release them.

Every count comes from the simulated gateway's own table of market-data lines (reqId ->
instrument) of the client, never from the code under test: a line re-read must not be
requested again, the oldest line beyond the limit is cancelled at the gateway, a line the
strategy did not open is never cancelled, and stopping the strategy cancels its lines.
"""

from __future__ import annotations

import pytest

from livedesk.backend.contracts import option, stock
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.options_data import (
    MAX_LINES,
    option_chain,
    release_option_lines,
    snapshot_options,
)
from livedesk.backend.trading.app import TradingApp

from .conftest import until


@pytest.fixture
async def app(gw, ib_log_guard):
    a = await TradingApp.connect("127.0.0.1", gw.port, 1)
    yield a
    a.disconnect()


def gateway_lines(gw: SimGateway) -> dict[int, int]:
    """reqId -> conId of client 1's market-data lines, as the gateway holds them."""
    return {rid: sub.inst.con_id for rid, sub in gw.sessions[1].mkt.items() if sub.inst}


async def chain_legs(ctx: StrategyContext, n: int) -> tuple[str, list[tuple[float, str]]]:
    """An expiry and ``n`` (strike, right) pairs around the money."""
    und = await ctx.app.resolve_contract(stock("SPY"))
    chain = await option_chain(ctx, und)
    spot = (await ctx.app.quote(und)).price
    strikes = sorted(chain.strikes, key=lambda k: abs(k - spot))[: (n + 1) // 2]
    legs = [(k, r) for k in sorted(strikes) for r in ("C", "P")][:n]
    return chain.expiries[1], legs


async def test_a_second_snapshot_reuses_the_lines(gw, app) -> None:
    ctx = StrategyContext(app, "options-combo")
    expiry, legs = await chain_legs(ctx, 4)
    before = gateway_lines(gw)
    first = await snapshot_options(ctx, "SPY", expiry, legs)
    opened = {r: c for r, c in gateway_lines(gw).items() if r not in before}
    assert len(opened) == 4  # one line per leg, still open after the snapshot
    assert {q.contract.conId for q in first.values()} == set(opened.values())
    again = await snapshot_options(ctx, "SPY", expiry, legs)
    assert gateway_lines(gw) == before | opened  # no new request, nothing cancelled
    assert all(q.bid > 0 and q.ask >= q.bid for q in again.values())


async def test_lines_beyond_the_limit_are_cancelled_oldest_first(gw, app) -> None:
    ctx = StrategyContext(app, "options-combo")
    expiry, legs = await chain_legs(ctx, MAX_LINES + 4)
    assert len(legs) == MAX_LINES + 4
    before = gateway_lines(gw)
    await snapshot_options(ctx, "SPY", expiry, legs[:4])
    oldest = {c for r, c in gateway_lines(gw).items() if r not in before}
    await snapshot_options(ctx, "SPY", expiry, legs[4:])  # 12 more: 16 read, 12 kept
    await app.market_data.drain()  # cancels go out paced, in the background
    await until(lambda: len(gateway_lines(gw)) == len(before) + MAX_LINES)
    kept = set(gateway_lines(gw).values())
    assert not (oldest & kept)  # the four least recently used went first


async def test_a_line_someone_else_opened_is_never_cancelled(gw, app) -> None:
    ctx = StrategyContext(app, "options-combo")
    expiry, legs = await chain_legs(ctx, 2)
    shared = await app.resolve_contract(option("SPY", expiry, *legs[0]))
    await app.ticker(shared)  # the console (say) streams this option
    await until(lambda: shared.conId in gateway_lines(gw).values())
    before = gateway_lines(gw)
    await snapshot_options(ctx, "SPY", expiry, legs)
    assert len(gateway_lines(gw)) == len(before) + 1  # only the other leg was requested
    release_option_lines(ctx)  # the strategy stops
    await app.market_data.drain()
    await until(lambda: gateway_lines(gw) == before)
    assert shared.conId in gateway_lines(gw).values()


async def test_a_one_off_read_and_a_stop_cancel_their_lines(gw, app) -> None:
    ctx = StrategyContext(app, "options-combo")
    expiry, legs = await chain_legs(ctx, 4)
    before = gateway_lines(gw)
    q = await snapshot_options(ctx, "SPY", expiry, legs[:2], keep=False)
    assert all(x.bid > 0 for x in q.values())
    await app.market_data.drain()
    await until(lambda: gateway_lines(gw) == before)
    await snapshot_options(ctx, "SPY", expiry, legs)
    assert len(gateway_lines(gw)) == len(before) + 4
    release_option_lines(ctx)
    await app.market_data.drain()
    await until(lambda: gateway_lines(gw) == before)


async def test_a_line_opened_again_never_shows_the_prices_of_its_cancel(gw, app) -> None:
    """ib_async hands back the same Ticker for a contract subscribed again after a cancel,
    with the prices it had then: they must not pass for the fresh quote."""
    ctx = StrategyContext(app, "options-combo")
    expiry, legs = await chain_legs(ctx, 2)
    q1 = await snapshot_options(ctx, "SPY", expiry, legs, keep=False)
    await app.market_data.drain()
    con_id = q1[legs[0]].contract.conId
    await until(lambda: con_id not in gateway_lines(gw).values())
    gw.advance(3 * 3600)  # the market moves on while nobody watches the line
    now_quote = gw.market.quote(con_id, gw.now())
    assert round(now_quote.bid, 2) != round(q1[legs[0]].bid, 2)
    q2 = await snapshot_options(ctx, "SPY", expiry, legs)
    assert q2[legs[0]].bid == pytest.approx(now_quote.bid, abs=0.005)
