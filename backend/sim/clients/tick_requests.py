"""Ticks and short bars of a client session: tick-by-tick streams, historical ticks, 5-second
real-time bars and histograms (a mixin of
:class:`~livedesk.backend.sim.clients.session.ClientSession`).

Everything is sampled from the model's quote once a second
(:mod:`livedesk.backend.sim.market.microstructure`), so ticks, real-time bars, second bars
and the reqMktData stream agree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from livedesk.backend.sim.errors import OrderReject
from livedesk.backend.sim.market import microstructure as ms
from livedesk.backend.sim.market.history import HistoryError, parse_end
from livedesk.backend.sim.market.instruments import Instrument
from livedesk.backend.sim.market.paths import Quote
from livedesk.backend.sim.protocol import data_messages as dm
from livedesk.backend.sim.protocol import data_requests as dr

if TYPE_CHECKING:
    from livedesk.backend.sim.gateway import SimGateway

MAX_HISTORICAL_TICKS = 1000
RT_BAR_SECONDS = 5
RT_WHAT = ("TRADES", "MIDPOINT", "BID", "ASK")
HIST_TICKS_WHAT = ("TRADES", "BID_ASK", "MIDPOINT")
_PERIOD = re.compile(r"^\s*(\d+)\s*(day|days|d|week|weeks|w|month|months|m)\s*$", re.IGNORECASE)
_CHUNK = 900  # seconds scanned at a time when looking for historical ticks


def _hmds_error(text: str) -> tuple[int, str]:
    return 162, f"Historical Market Data Service error message:{text}"


@dataclass
class TickByTickSub:
    """One reqTickByTickData stream and the last state sent."""

    inst: Instrument
    kind: int  # 1 Last, 2 AllLast, 3 BidAsk, 4 MidPoint
    last: Quote | None = None


@dataclass
class RealTimeBarSub:
    """One reqRealTimeBars stream: the start of the next bar to send."""

    inst: Instrument
    what: str
    next_start: int


class TickRequests:
    """reqTickByTickData, reqHistoricalTicks, reqRealTimeBars, reqHistogramData; the session
    supplies ``gw``, ``send``, ``send_error``, ``resolve`` and the subscription tables."""

    gw: SimGateway
    tbt: dict[int, TickByTickSub]
    rtb: dict[int, RealTimeBarSub]

    # ---- tick-by-tick ---------------------------------------------------------------
    def on_tick_by_tick(self, req: dr.ReqTickByTickData) -> None:
        kind = dm.TICK_BY_TICK.get(req.tick_type)
        if kind is None:
            self.send_error(
                req.req_id,
                10189,
                f"Failed to request tick-by-tick data: bad tick type {req.tick_type!r}",
            )
            return
        inst = self._resolved(req.contract, req.req_id)
        if inst is None:
            return
        sub = self.tbt[req.req_id] = TickByTickSub(inst, kind)
        self.push_tick_by_tick(req.req_id, sub, self.gw.now())

    def push_tick_by_tick(self, req_id: int, sub: TickByTickSub, now: float) -> None:
        """Send what changed since the last pass, as ticks of the subscription's type."""
        q = self.gw.market.quote(sub.inst.con_id, now)
        old = sub.last
        if q == old:
            return
        sub.last = q
        t = int(now)
        if sub.kind in (1, 2):
            traded = q.volume - old.volume if old is not None else q.last_size
            if traded > 0 and (old is None or q.volume != old.volume):
                size = self.proto.tick_size(traded, sub.inst.sec_type)
                self.send(dm.tick_by_tick_last(req_id, sub.kind, t, q.last, size, "NASDAQ"))
        elif sub.kind == 3:
            if old is None or (q.bid, q.ask, q.bid_size, q.ask_size) != (
                old.bid, old.ask, old.bid_size, old.ask_size
            ):  # fmt: skip
                units = self.proto.tick_size
                st = sub.inst.sec_type
                self.send(
                    dm.tick_by_tick_bid_ask(
                        req_id, t, q.bid, q.ask, units(q.bid_size, st), units(q.ask_size, st)
                    )
                )
        elif old is None or (q.bid + q.ask) != (old.bid + old.ask):
            self.send(dm.tick_by_tick_mid(req_id, t, round((q.bid + q.ask) / 2, 8)))

    # ---- historical ticks -------------------------------------------------------------
    def on_historical_ticks(self, req: dr.ReqHistoricalTicks) -> None:
        what = req.what_to_show.upper()
        if what not in HIST_TICKS_WHAT:
            self.send_error(req.req_id, *_hmds_error(f"No data of type {what} is available"))
            return
        if bool(req.start) == bool(req.end):
            self.send_error(
                req.req_id,
                *_hmds_error("Exactly one of the start and end times must be specified"),
            )
            return
        inst = self._resolved(req.contract, req.req_id)
        if inst is None:
            return
        now = self.gw.now()
        try:
            edge = parse_end(req.start or req.end, now)
        except HistoryError as exc:
            self.send_error(req.req_id, *_hmds_error(str(exc)))
            return
        n = max(1, min(req.number_of_ticks or MAX_HISTORICAL_TICKS, MAX_HISTORICAL_TICKS))
        ticks = historical_ticks(self.gw.market, inst, what, edge, bool(req.start), n, now)
        st = inst.sec_type
        size = self.proto.tick_size
        if what == "TRADES":
            rows = [(t, p, size(s, st), "NASDAQ") for t, p, s in ticks]
            self.send(dm.historical_ticks_last(req.req_id, rows, True))
        elif what == "BID_ASK":
            rows = [(t, b, a, size(bs, st), size(as_, st)) for t, b, a, bs, as_ in ticks]
            self.send(dm.historical_ticks_bid_ask(req.req_id, rows, True))
        else:
            self.send(dm.historical_ticks_mid(req.req_id, ticks, True))

    # ---- real-time bars ---------------------------------------------------------------
    def on_real_time_bars(self, req: dr.ReqRealTimeBars) -> None:
        what = req.what_to_show.upper()
        if req.bar_size != RT_BAR_SECONDS or what not in RT_WHAT:
            self.send_error(
                req.req_id,
                420,
                f"Invalid Real-time Query:only 5 second bars of {', '.join(RT_WHAT)} are "
                f"available (asked {req.bar_size} s of {what})",
            )
            return
        inst = self._resolved(req.contract, req.req_id)
        if inst is None:
            return
        now = int(self.gw.now())
        self.rtb[req.req_id] = RealTimeBarSub(inst, what, now - now % RT_BAR_SECONDS)

    def push_real_time_bars(self, req_id: int, sub: RealTimeBarSub, now: float) -> None:
        """Send every 5-second bar that has ended since the last pass (within the session)."""
        market = self.gw.market
        while sub.next_start + RT_BAR_SECONDS <= now:
            start = sub.next_start
            sub.next_start += RT_BAR_SECONDS
            a, b = ms.session_window(market, start, start + RT_BAR_SECONDS)
            if b - a < RT_BAR_SECONDS:
                continue
            bar = real_time_bar(market, sub.inst.con_id, start, sub.what)
            volume = bar[4]
            if volume >= 0:
                volume = self.proto.bar_volume(volume, sub.inst.sec_type)
            self.send(dm.real_time_bar(req_id, start, *bar[:4], volume, *bar[5:]))

    # ---- histogram --------------------------------------------------------------------
    def on_histogram(self, req: dr.ReqHistogramData) -> None:
        m = _PERIOD.match(req.period or "")
        if not m or int(m.group(1)) <= 0:
            self.send_error(req.req_id, *_hmds_error(f"Invalid period {req.period!r}"))
            return
        inst = self._resolved(req.contract, req.req_id)
        if inst is None:
            return
        unit = {"d": "D", "w": "W", "m": "M"}[m.group(2)[0].lower()]
        now = self.gw.now()
        bars = self.gw.history.bars(inst.con_id, now, f"{m.group(1)} {unit}", "1 min", now)
        self.send(dm.histogram_data(req.req_id, histogram(bars, inst.min_tick)))

    def _resolved(self, contract, req_id: int) -> Instrument | None:
        try:
            return self.resolve(contract, req_id)
        except OrderReject as exc:
            self.send_error(req_id, exc.code, exc.message)
            return None


def historical_ticks(market, inst: Instrument, what: str, edge: float, forward: bool, n: int, now):
    """Up to ``n`` ticks of ``what`` from ``edge`` forward, or ending at ``edge``.

    TRADES: (time, price, size) per trade; BID_ASK: (time, bid, ask, bid size, ask size)
    when the quote changes; MIDPOINT: (time, mid) when the mid changes.
    """
    lo, hi = ms.session_window(market, market.session_open(), min(now, market.session_close()) + 1)
    out: list = []
    if forward:
        a = max(lo, int(edge))
        while a < hi and len(out) < n:
            b = min(a + _CHUNK, hi)
            out += _ticks(market, inst.con_id, what, a, b)
            a = b
        return out[:n]
    b = min(hi, int(edge) + 1)
    while b > lo and len(out) < n:
        a = max(lo, b - _CHUNK)
        out = _ticks(market, inst.con_id, what, a, b) + out
        b = a
    return out[-n:]


def _ticks(market, con_id: int, what: str, a: int, b: int) -> list:
    if what == "TRADES":
        return ms.trades(market, con_id, a, b)
    qs = ms.quotes(market, con_id, a - 1, b)
    out = []
    for i in range(1, len(qs)):
        q, p = qs[i], qs[i - 1]
        if what == "BID_ASK":
            row = (q.bid, q.ask, q.bid_size, q.ask_size)
            if i == 1 or row != (p.bid, p.ask, p.bid_size, p.ask_size):
                out.append((a + i - 1, *row))
        else:
            mid = round((q.bid + q.ask) / 2, 8)
            if i == 1 or q.bid + q.ask != p.bid + p.ask:
                out.append((a + i - 1, mid))
    return out


def real_time_bar(market, con_id: int, start: int, what: str) -> tuple:
    """(open, high, low, close, volume, wap, count) of the 5-second bar from ``start``;
    volume, wap and count are -1 for quotes (MIDPOINT, BID, ASK), as TWS sends them."""
    if what == "TRADES":
        end = start + RT_BAR_SECONDS
        bar = ms.second_bars(market, con_id, start, end, RT_BAR_SECONDS, end)[0]
        return bar.open, bar.high, bar.low, bar.close, bar.volume, bar.wap, bar.count
    qs = ms.quotes(market, con_id, start, start + RT_BAR_SECONDS)
    pick = {
        "MIDPOINT": lambda q: round((q.bid + q.ask) / 2, 8),
        "BID": lambda q: q.bid,
        "ASK": lambda q: q.ask,
    }[what]
    values = [pick(q) for q in qs]
    return values[0], max(values), min(values), values[-1], -1, -1, -1


def histogram(bars, tick: float) -> list[tuple[float, int]]:
    """Volume traded at each price: each 1-minute bar's volume counted at its close, on the
    tick grid; rows by ascending price."""
    counts: dict[float, int] = defaultdict(int)
    for b in bars:
        counts[round(round(b.close / tick) * tick, 8)] += int(b.volume)
    return sorted(counts.items())
