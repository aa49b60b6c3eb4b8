"""Live bars (keepUpToDate ``current_bar``) served from cached minutes equal a recompute.

The reference below rebuilds the bar containing "now" straight from the market's 1-minute
bars with plain Python (filter, bucket, aggregate), fresh on every call; the builder under
test keeps one ``HistoryBuilder`` (its caches warm) across a whole session and a roll.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from livedesk.backend.sim.market.history import NEW_YORK, Bar, HistoryBuilder
from livedesk.backend.sim.market.model import MarketModel

from .conftest import TEST_SESSION

SIZES = {"1 min": 60, "5 mins": 300, "1 hour": 3600}


def reference_bars(market: MarketModel, con_id: int, day: dt.date, step: int, now: float):
    """A session's bars from minutes that started before now, the last one cut at now."""
    mb = market.minute_bars(con_id, day)
    rows = [
        [float(r["time"]), float(r["open"]), float(r["high"]), float(r["low"]),
         float(r["close"]), float(r["volume"])]
        for r in mb if float(r["time"]) < now
    ]  # fmt: skip
    if not rows:
        return []
    t_last = rows[-1][0]
    if t_last + 60 > now:  # still in progress
        price = market.last_price(con_id, now)
        rows[-1][4] = price
        rows[-1][2] = max(rows[-1][1], price)
        rows[-1][3] = min(rows[-1][1], price)
        rows[-1][5] *= max(0.0, min(1.0, (now - t_last) / 60))
    midnight = dt.datetime.combine(day, dt.time(), NEW_YORK).timestamp()
    groups: dict[float, list[list[float]]] = {}
    for r in rows:
        groups.setdefault((r[0] - midnight) // step, []).append(r)
    out = []
    for key, group in groups.items():
        vol = float(np.sum([r[5] for r in group]))  # numpy's sum, so the float rounding matches
        num = float(np.sum([(r[2] + r[3] + r[4]) / 3 * r[5] for r in group]))
        out.append(
            Bar(
                start=max(midnight + key * step, group[0][0]),
                open=group[0][1],
                high=max(r[2] for r in group),
                low=min(r[3] for r in group),
                close=group[-1][4],
                volume=round(vol),
                wap=round(num / vol, 4) if vol > 0 else group[-1][4],
                count=20 * len(group),
            )
        )
    return out


def reference_bar(market: MarketModel, con_id: int, step: int, now: float) -> Bar | None:
    """The bar containing ``now`` in the current session."""
    bars = reference_bars(market, con_id, market.session, step, now)
    return bars[-1] if bars else None


def instruments(market: MarketModel) -> dict[str, int]:
    reg = market.registry
    cl = sorted(reg.find("CL", "FUT"), key=lambda i: i.contract_month)[0]
    chain = market.options.chain("SPY")
    und = market.prev_close(chain.underlying.con_id)
    k = min(chain.strikes, key=lambda s: abs(s - und))
    [opt] = reg.find("SPY", "OPT", last_trade_date=chain.expiry_texts[1], strike=k, right="C")
    return {"stock": reg.find("SPY")[0].con_id, "future": cl.con_id, "option": opt.con_id}


def pulses(market: MarketModel) -> list[float]:
    """Times across the session: before the open, on minute and bar edges, mid-minute,
    the last minute and after the close."""
    o, c = market.session_open(), market.session_close()
    out = [o - 30, o, o + 0.05, o + 59.9, o + 60, o + 299.5, o + 300, o + 3599, o + 3600]
    out += list(np.arange(o + 13.7, c, 397.3))  # mid-minute points all day
    out += [c - 60, c - 0.1, c, c + 1, c + 600]
    return [float(x) for x in out]


def assert_session_matches(market: MarketModel, history: HistoryBuilder, con_id: int) -> None:
    for now in pulses(market):
        for size, step in SIZES.items():
            got = history.current_bar(con_id, size, now)
            assert got == reference_bar(market, con_id, step, now), (size, now)


@pytest.mark.parametrize("kind", ["stock", "future", "option"])
def test_current_bar_matches_a_recompute_all_session(market: MarketModel, kind: str) -> None:
    history = HistoryBuilder(market)
    assert_session_matches(market, history, instruments(market)[kind])


def test_current_bar_late_pulses_every_tenth_of_a_second(market: MarketModel) -> None:
    """Consecutive pulses inside one minute and across a bar edge (the cached path's hot loop)."""
    history = HistoryBuilder(market)
    con_id = instruments(market)["future"]
    edge = market.session_close() - 1800  # 15:30: a 1-min, 5-min and 30-min bar edge
    for i in range(-25, 25):
        now = edge + 0.1 * i
        for size, step in SIZES.items():
            assert history.current_bar(con_id, size, now) == reference_bar(
                market, con_id, step, now
            )


@pytest.mark.parametrize("kind", ["future", "option"])
def test_historical_bars_match_a_recompute(market: MarketModel, kind: str) -> None:
    """reqHistoricalData bars (cached completed bars + the bar in progress) over two sessions."""
    history = HistoryBuilder(market)
    con_id = instruments(market)[kind]
    prev = market.sessions[-2].date()
    for now in (market.session_open() + 1234.5, market.session_close() - 0.5):
        for size, step in SIZES.items():
            want = reference_bars(market, con_id, prev, step, now)
            want += reference_bars(market, con_id, market.session, step, now)
            assert history.bars(con_id, now, "2 D", size, now) == want, (size, now)


@pytest.mark.slow
def test_current_bar_and_history_across_a_session_roll() -> None:
    market = MarketModel(seed=7, session=TEST_SESSION)
    ids = instruments(market)
    history = HistoryBuilder(market)
    late = market.session_close() - 90.5
    for con_id in ids.values():  # warm the caches on the first session
        for size in (*SIZES, "1 day"):
            history.current_bar(con_id, size, late)
    before = market.session
    market.roll()
    assert market.session > before
    for kind, con_id in ids.items():
        for now in pulses(market)[:6] + [market.session_open() + 7211.3]:
            for size, step in SIZES.items():
                got = history.current_bar(con_id, size, now)
                assert got == reference_bar(market, con_id, step, now), (kind, size, now)
            fresh = HistoryBuilder(market)  # no caches: the daily bar and history recomputed
            assert history.current_bar(con_id, "1 day", now) == fresh.current_bar(
                con_id, "1 day", now
            )
        now = market.session_open() + 5000.5
        for size in ("5 mins", "1 hour", "1 day"):
            assert history.bars(con_id, now, "3 D", size, now) == HistoryBuilder(market).bars(
                con_id, now, "3 D", size, now
            ), (kind, size)
        got = history.bars(con_id, now, "2 D", "1 min", now)
        assert got[-1] == reference_bar(market, con_id, 60, now)
        assert dt.datetime.fromtimestamp(got[0].start, NEW_YORK).date() == before


def test_minute_cache_is_bounded_and_keeps_serving_the_same_bars(
    market: MarketModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from livedesk.backend.sim.market import history as history_module

    monkeypatch.setattr(history_module, "_MAX_CACHED_SESSIONS", 3)
    history = HistoryBuilder(market)
    con_id = instruments(market)["stock"]
    now = market.session_open() + 4321.5
    want = HistoryBuilder(market).bars(con_id, now, "5 D", "5 mins", now)
    for _ in range(2):  # the second pass runs after evictions
        assert history.bars(con_id, now, "5 D", "5 mins", now) == want
        assert history.cached_sessions <= 3
    assert history.current_bar(con_id, "5 mins", now) == want[-1]
