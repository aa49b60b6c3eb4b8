"""Below the minute: second bars, trade and quote ticks, and an order book, all sampled from
the market model's quote at whole seconds of the current session.

The model's quote (:meth:`MarketModel.quote`) is deterministic at every instant and its
noise changes once a second, so one sample a second is the finest resolution there is:

* a **trade** happens in second ``s`` when the session's cumulative volume rises from
  ``s-1`` to ``s``; it prints at the last price of ``s`` for the volume added;
* a **second bar** of ``step`` seconds starting at ``a`` opens at the last price of ``a``,
  closes at that of ``a+step-1``, spans the samples' high and low, carries the volume added
  over the bar and counts its trades;
* the **order book** has the model's bid and ask on top and ``rows`` levels a tick apart on
  each side, sizes growing away from the touch with a deterministic jitter per second.

Only the current session is sampled (earlier sessions have minute bars only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from livedesk.backend.sim.market.instruments import Instrument
from livedesk.backend.sim.market.model import MarketModel
from livedesk.backend.sim.market.paths import Quote

SECOND_BAR_SIZES = {"1 secs": 1, "5 secs": 5, "10 secs": 10, "15 secs": 15, "30 secs": 30}
MAX_BOOK_ROWS = 10
DEPTH_EXCHANGES = ("NSDQ", "ARCA", "BATS", "EDGX", "IEX", "NYSE", "MEMX", "BYX")


@dataclass(frozen=True, slots=True)
class SecondBar:
    """One bar shorter than a minute (prices are the trade prices sampled each second)."""

    start: int
    open: float
    high: float
    low: float
    close: float
    volume: int
    wap: float
    count: int


def session_window(market: MarketModel, start: float, end: float) -> tuple[int, int]:
    """Whole seconds ``[a, b)`` of the current session within ``[start, end)``."""
    a = max(math.ceil(start), math.ceil(market.session_open()))
    b = min(math.floor(end), math.floor(market.session_close()))
    return a, max(a, b)


def quotes(market: MarketModel, con_id: int, a: int, b: int) -> list[Quote]:
    """The quote at each whole second of ``[a, b)``."""
    q = market.quote
    return [q(con_id, s) for s in range(a, b)]


def second_bars(
    market: MarketModel, con_id: int, start: float, end: float, step: int, now: float
) -> list[SecondBar]:
    """Bars of ``step`` seconds (1…30) over the seconds from ``start`` to ``min(end, now)``;
    the last one may be in progress (built up to ``now``)."""
    first = max(math.ceil(start), math.ceil(market.session_open()))
    # second s stands for [s, s + 1): the one containing a fractional "now" is in progress
    a, b = session_window(market, first - first % step, math.ceil(min(end, now)))
    if b <= a:
        return []
    samples = quotes(market, con_id, a - 1, b)  # samples[k + 1] is the quote at a + k
    out = []
    for i in range(0, b - a, step):
        chunk = samples[i + 1 : i + 1 + step]
        prev_volume = samples[i].volume
        prices = [q.last for q in chunk]
        vol = chunk[-1].volume - prev_volume
        trades = 0
        weighted = 0.0
        before = prev_volume
        for q in chunk:
            if q.volume > before:
                trades += 1
                weighted += q.last * (q.volume - before)
            before = q.volume
        out.append(
            SecondBar(
                start=a + i,
                open=prices[0],
                high=max(prices),
                low=min(prices),
                close=prices[-1],
                volume=int(vol),
                wap=round(weighted / vol, 4) if vol > 0 else prices[-1],
                count=trades,
            )
        )
    return out


def trades(market: MarketModel, con_id: int, a: int, b: int) -> list[tuple[int, float, int]]:
    """(second, price, size) of every trade in the whole seconds ``[a, b)``."""
    if b <= a:
        return []
    samples = quotes(market, con_id, a - 1, b)
    out = []
    for i in range(1, len(samples)):
        added = samples[i].volume - samples[i - 1].volume
        if added > 0:
            out.append((a - 1 + i, samples[i].last, int(added)))
    return out


def book(
    market: MarketModel, inst: Instrument, t: float, rows: int
) -> tuple[list[tuple[float, int]], list[tuple[float, int]]]:
    """(bids, asks) as (price, size) rows, best first: the model's touch and ``rows - 1``
    levels a tick apart behind it; a bid level at or below zero is left out."""
    q = market.quote(inst.con_id, t)
    rows = max(1, min(rows, MAX_BOOK_ROWS))
    tick = inst.min_tick
    second = int(t)
    bids, asks = [], []
    for i in range(rows):
        jitter_b = _jitter(inst.con_id, second, i, 0)
        jitter_a = _jitter(inst.con_id, second, i, 1)
        depth = 1.0 + 0.6 * i
        lot = 100 if inst.sec_type == "STK" else 1
        bid_size = q.bid_size if i == 0 else _round_lot(q.bid_size * depth * jitter_b, lot)
        ask_size = q.ask_size if i == 0 else _round_lot(q.ask_size * depth * jitter_a, lot)
        bid = round(q.bid - i * tick, 8)
        if bid > 0:
            bids.append((bid, int(bid_size)))
        asks.append((round(q.ask + i * tick, 8), int(ask_size)))
    return bids, asks


def _round_lot(size: float, lot: int) -> int:
    return max(lot, int(round(size / lot)) * lot)


def _jitter(con_id: int, second: int, level: int, side: int) -> float:
    """A deterministic factor in [0.5, 1.5) per (instrument, second, level, side)."""
    h = (con_id * 2654435761 + second * 40503 + level * 9973 + side * 7919) & 0xFFFFFFFF
    h = (h ^ (h >> 15)) * 2246822519 & 0xFFFFFFFF
    return 0.5 + (h & 0xFFFF) / 65536.0
