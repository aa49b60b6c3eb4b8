"""The simulated gateway's option history agrees with the quotes it streamed then.

A gateway stepped by hand records an option's quote at a few whole minutes of one session,
rolls to the next session, and serves that session's history through ``reqHistoricalData``
(a real ib_async client): each BID_ASK 1-minute bar's open is the bid and its close the ask
recorded at the bar's start; each TRADES bar's open is the last trade recorded then (the
past session's options priced with that session's own volatility, not today's). BID_ASK is
refused for stocks and for bars other than 1 minute.
"""

from __future__ import annotations

import datetime as dt

import pytest
from ib_async import IB, Option, Stock

from livedesk.backend.demo.fastforward import jump
from livedesk.backend.sim.gateway import SimGateway


async def test_option_history_of_a_past_session_is_what_was_quoted_then(ib_log_guard) -> None:
    from livedesk.backend.sim.market.model import MarketModel

    market = MarketModel(seed=7, session=dt.date(2026, 11, 13))
    gw = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=market.session_open() - 60,
        tick_interval=60.0,
        account_interval=0.1,
    )
    await gw.start()
    ib = IB()
    try:
        await ib.connectAsync("127.0.0.1", gw.port, clientId=3, timeout=5)
        [und] = await ib.qualifyContractsAsync(Stock("JPM", "SMART", "USD"))
        chain = (await ib.reqSecDefOptParamsAsync("JPM", "", "STK", und.conId))[0]
        expiry = sorted(chain.expirations)[6]
        spot = market.last_price(und.conId, market.session_open())
        strike = min(chain.strikes, key=lambda k: abs(k - spot))
        [call] = await ib.qualifyContractsAsync(Option("JPM", expiry, strike, "C", "SMART"))
        minutes = [market.session_open() + k * 60 for k in (5, 61, 200, 389)]
        seen = {}
        for t in minutes:
            await jump(gw, t)
            seen[t] = market.quote(call.conId, gw.now())
        await jump(gw, market.next_session_open() + 60)  # the session is history now

        bars = await ib.reqHistoricalDataAsync(call, "", "2 D", "1 min", "BID_ASK", True, 2)
        by_start = {b.date.timestamp(): b for b in bars}
        for t, q in seen.items():
            assert (by_start[t].open, by_start[t].close) == (q.bid, q.ask)
            assert by_start[t].low <= q.bid < q.ask <= by_start[t].high
        trades = await ib.reqHistoricalDataAsync(call, "", "2 D", "1 min", "TRADES", True, 2)
        last = {b.date.timestamp(): b.open for b in trades}
        for t, q in seen.items():
            assert last[t] == pytest.approx(q.last, abs=1e-9)

        errors = []
        ib.errorEvent += lambda req_id, code, msg, con: errors.append(code)
        assert not await ib.reqHistoricalDataAsync(und, "", "1 D", "1 min", "BID_ASK", True, 2)
        assert not await ib.reqHistoricalDataAsync(call, "", "1 D", "5 mins", "BID_ASK", True, 2)
        assert errors == [162, 162]
    finally:
        ib.disconnect()
        await gw.stop()
