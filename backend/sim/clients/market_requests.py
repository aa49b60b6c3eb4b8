"""Market-data requests of a client session: reqMktData ticks and greeks, historical bars,
option chain parameters, head timestamps (a mixin of
:class:`~livedesk.backend.sim.clients.session.ClientSession`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from livedesk.backend.sim.broker import combos
from livedesk.backend.sim.clients.generic_ticks import GenericTicks, parse_generic
from livedesk.backend.sim.errors import OrderReject
from livedesk.backend.sim.market.history import NEW_YORK, Bar, bar_seconds
from livedesk.backend.sim.market.instruments import Instrument
from livedesk.backend.sim.market.model import Quote
from livedesk.backend.sim.market.paths import make_quote
from livedesk.backend.sim.protocol import fast_frames as ff
from livedesk.backend.sim.protocol import messages as m
from livedesk.backend.sim.protocol import requests as rq
from livedesk.backend.sim.protocol.wire import encode_frame

if TYPE_CHECKING:
    from livedesk.backend.sim.clients.pacing import HistoricalPacer
    from livedesk.backend.sim.gateway import SimGateway

# tick types
BID_SIZE, BID, ASK, ASK_SIZE, LAST, LAST_SIZE, HIGH, LOW, VOLUME, CLOSE, OPEN = (
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    14,
)
LAST_TIMESTAMP = 45
BID_OPTION, ASK_OPTION, LAST_OPTION, MODEL_OPTION = 10, 11, 12, 13
MAX_CATCH_UP = 120
"""Finished bars a keepUpToDate push sends after a pulse gap (a clock jump), at most."""
DELAYED_MSG = "Requested market data is not subscribed. Displaying delayed market data."
NO_PERMISSION_MSG = "Requested market data is not subscribed."


@dataclass
class MarketDataSub:
    """One reqMktData subscription and the last values sent."""

    inst: Instrument | None
    sent: dict = field(default_factory=dict)
    last: Quote | tuple | None = None  # a Quote (combos) or its fields as a tuple
    legs: list[combos.Leg] | None = None
    generic: frozenset[int] = frozenset()
    frames: ff.TickFrames | None = None  # its frame heads, built at the first push


@dataclass
class BarSub:
    """One keepUpToDate historical subscription (``sent_start``: the newest bar sent)."""

    inst: Instrument
    bar_size: str
    format_date: int
    midpoint: bool
    sent_start: float = -math.inf


class MarketDataRequests(GenericTicks):
    """reqMktData, historical data and option-chain handlers; the session supplies ``gw``,
    ``send``, ``send_error``, ``resolve`` and the subscription tables."""

    gw: SimGateway
    mkt: dict[int, MarketDataSub]
    bars: dict[int, BarSub]
    hist_pacer: HistoricalPacer
    market_data_type: int

    def on_market_data_type(self, req: rq.ReqMarketDataType) -> None:
        self.market_data_type = req.data_type

    def on_mkt_data(self, req: rq.ReqMktData) -> None:
        legs = None
        inst = None
        try:
            if req.contract.secType == "BAG":
                broker, now = self.gw.broker, self.gw.now()
                legs = combos.resolve_legs(
                    req.contract, broker.instrument, lambda i: broker.expired(i, now)
                )
            else:
                inst = self.resolve(req.contract, req.req_id)
        except OrderReject as exc:
            self.send_error(req.req_id, exc.code, exc.message)
            return
        fault = self.gw.faults.market_data_fault(req.contract.symbol)
        if fault == "no-permission":
            self.send_error(req.req_id, 354, NO_PERMISSION_MSG)
            return
        if not req.snapshot and len(self.mkt) >= self.gw.max_market_data_lines:
            self.send_error(
                req.req_id,
                101,
                f"Max number of tickers has been reached (max={self.gw.max_market_data_lines})",
            )
            return
        sub = MarketDataSub(inst, legs=legs, generic=parse_generic(req.generic_ticks))
        if fault == "delayed":
            self.send_error(req.req_id, 10167, DELAYED_MSG)
            self.send(m.market_data_type(req.req_id, 3))
        elif self.market_data_type != 1:
            self.send(m.market_data_type(req.req_id, self.market_data_type))
        now = self.gw.now()
        self._push_ticks(req.req_id, sub, now)
        if req.snapshot or req.regulatory_snapshot:
            self.send(m.tick_snapshot_end(req.req_id))
        else:
            self.mkt[req.req_id] = sub

    def on_cancel_mkt_data(self, req: rq.CancelMktData) -> None:
        self.mkt.pop(req.req_id, None)

    def _push_ticks(self, req_id: int, sub: MarketDataSub, now: float) -> None:
        """The ticks of one subscription whose values changed since its last push (the
        streaming hot path: frames appended straight to the session's output)."""
        if sub.legs is not None:
            self._push_combo_ticks(req_id, sub, now)
            return
        inst = sub.inst
        market = self.gw.market
        v = market.quote_values(inst.con_id, now)  # the Quote's fields: a tuple compares fast
        prev = sub.last
        if prev is not None and v == prev:
            return
        sub.last = v
        sent = sub.sent
        proto = self.proto
        frames = sub.frames
        if frames is None or frames.proto is not proto:
            frames = sub.frames = ff.TickFrames(req_id, proto, inst.sec_type)
        if self.closed or self.gw.silent:
            out: list[bytes] = []  # the values count as sent, the frames go nowhere
        else:
            out = self._out
            if not out:
                asyncio.get_running_loop().call_soon(self.flush)
        if sent.get("session") != market.session:  # first push, or a new session began
            sent["session"] = market.session
            prev_close = market.prev_close(inst.con_id)
            out.append(encode_frame(
                m.tick_price(req_id, CLOSE, prev_close, 0, proto=proto, sec_type=inst.sec_type)
            ))  # fmt: skip
        last_moved = frames.quote(v, prev, out)
        if inst.sec_type == "OPT":
            self._push_greeks(req_id, sub, now, make_quote(*v))
        if sub.generic:
            self.push_generic(req_id, sub, now, make_quote(*v))
        if last_moved and market.session_open() <= now:
            day = self.gw.history.day_range(inst.con_id, now, v[4])  # v[4]: its last price
            for tick, value in ((OPEN, day[0]), (HIGH, day[1]), (LOW, day[2])):
                if sent.get(tick) != value:
                    sent[tick] = value
                    out.append(frames.price(tick, value, 0))

    def _push_combo_ticks(self, req_id: int, sub: MarketDataSub, now: float) -> None:
        """A combo (BAG) subscription: its bid, ask and last from the legs' quotes."""
        market = self.gw.market
        legs = sub.legs
        q = combos.combo_quote(market, legs, now)
        prev = sub.last
        if prev is not None and q == prev:
            return
        sub.last = q
        sent = sub.sent
        frames = sub.frames
        if frames is None:
            frames = sub.frames = ff.TickFrames(req_id)
        proto = self.proto
        if sent.get("session") != market.session:  # first push, or a new session began
            sent["session"] = market.session
            prev_close = combos.combo_prev_close(market, legs)
            self.send(m.tick_price(req_id, CLOSE, prev_close, 0, proto=proto, sec_type="BAG"))
        as_is = proto.fractional_size
        for tick, value in (
            (BID, (q.bid, q.bid_size)),
            (ASK, (q.ask, q.ask_size)),
            (LAST, (q.last, q.last_size)),
        ):
            if sent.get(tick) != value:
                sent[tick] = value
                wire = value[1] if as_is else proto.tick_size(value[1], "BAG")
                self.send_frame(frames.price(tick, value[0], wire))

    def _push_greeks(self, req_id: int, sub: MarketDataSub, now: float, q: Quote) -> None:
        """tickOptionComputation for the bid, ask, last (implied vols) and the model."""
        pricer = self.gw.market.options_pricer
        st = pricer.state(sub.inst, now)
        g = st.model
        comps = [(MODEL_OPTION, st.vol, g)]
        for tick, price in ((BID_OPTION, q.bid), (ASK_OPTION, q.ask), (LAST_OPTION, q.last)):
            implied = pricer.implied(sub.inst, price, st) if price > 0 else None
            if implied is not None:
                comps.append((tick, implied[1], implied[0]))
        for tick, vol, g in comps:
            key = ("greeks", tick)
            value = (vol, g)
            if sub.sent.get(key) == value:
                continue
            sub.sent[key] = value
            values = (vol, g.delta, g.price, g.gamma, g.vega, g.theta, st.und_price)
            if all(map(math.isfinite, values)):
                self.send_frame(sub.frames.option(tick, *values))
                continue
            self.send(
                m.tick_option_computation(
                    req_id,
                    tick,
                    1,
                    vol,
                    g.delta,
                    g.price,
                    0.0,
                    g.gamma,
                    g.vega,
                    g.theta,
                    st.und_price,
                )  # fmt: skip
            )

    def on_sec_def_opt_params(self, req: rq.ReqSecDefOptParams) -> None:
        source = self.gw.market.options
        chain = source.chain(req.underlying_symbol.upper()) if source else None
        if chain is None or req.underlying_con_id not in (0, chain.underlying.con_id):
            self.send_error(
                req.req_id, 200, "No security definition has been found for the request"
            )
            return
        und = chain.underlying
        for exchange in ("SMART", "CBOE"):
            self.send(
                m.sec_def_opt_params(
                    req.req_id,
                    exchange,
                    und.con_id,
                    und.symbol,
                    "100",
                    chain.expiry_texts,
                    list(chain.strikes),
                )  # fmt: skip
            )
        self.send(m.sec_def_opt_params_end(req.req_id))

    def on_historical(self, req: rq.ReqHistoricalData) -> None:
        try:
            inst = self.resolve(req.contract, req.req_id)
        except OrderReject as exc:
            self.send_error(req.req_id, exc.code, exc.message)
            return
        what = req.what_to_show.upper()
        if what not in ("TRADES", "MIDPOINT") and not (
            what == "BID_ASK" and inst.sec_type == "OPT"
        ):
            self.send_error(
                req.req_id,
                162,
                f"Historical Market Data Service error message:No data of type {what} is available",
            )
            return
        if what == "BID_ASK" and (req.keep_up_to_date or " ".join(req.bar_size.split()) != "1 min"):
            self.send_error(
                req.req_id,
                162,
                "Historical Market Data Service error message:"
                "BID_ASK bars of options are served in 1 min bars, without live updates",
            )
            return
        if req.keep_up_to_date and req.end_date_time:
            self.send_error(
                req.req_id,
                321,
                "Error validating request.-'bP' : cause - End date not supported with live updates",
            )
            return
        key = (inst.con_id, req.end_date_time, req.duration, req.bar_size, what, req.use_rth)
        reason = self.hist_pacer.check(key, (inst.con_id, what), self.gw.pacing_clock())
        if reason:
            self.send_error(
                req.req_id,
                162,
                f"Historical Market Data Service error message:Pacing violation: {reason}",
            )
            return
        from livedesk.backend.sim.market.history import parse_end

        now = self.gw.now()
        end = parse_end(req.end_date_time, now)
        bars = self.gw.history.bars(inst.con_id, end, req.duration, req.bar_size, now, what)
        midpoint = what != "TRADES"
        rows = [b.fields(req.format_date, midpoint) for b in bars]
        fmt_t = lambda t: dt.datetime.fromtimestamp(t, NEW_YORK).strftime("%Y%m%d %H:%M:%S")  # noqa: E731
        start = fmt_t(bars[0].start) if bars else fmt_t(end)
        self.send(
            m.historical_data(
                req.req_id, start, fmt_t(end), rows, proto=self.proto, sec_type=inst.sec_type
            )
        )
        if req.keep_up_to_date:
            sub = BarSub(inst, req.bar_size, req.format_date, midpoint)
            sub.sent_start = bars[-1].start if bars else -math.inf
            self.bars[req.req_id] = sub

    def push_bar(self, req_id: int, bs: BarSub, now: float) -> None:
        """keepUpToDate: the bar in progress; when new bars began since the last push, first
        the **final** update of each finished one (as IB does; at most ``MAX_CATCH_UP`` after
        a clock jump), so a client sees every completed bar with its final values before the
        next bar's first update. At a bar's very end the next bar's first update (priced at
        now) follows at once."""
        history, con_id, step = self.gw.history, bs.inst.con_id, bar_seconds(bs.bar_size)
        bar = history.current_bar(con_id, bs.bar_size, now)
        if bar is None:
            return
        if bar.start > bs.sent_start > -math.inf:  # every bar finished since, final values
            start = max(bs.sent_start, bar.start - MAX_CATCH_UP * step)
            while start < bar.start:
                final = history.current_bar(con_id, bs.bar_size, min(start + step, now))
                if final is not None and final.start == start:
                    self._send_bar(req_id, bs, final)
                start += step
        bs.sent_start = bar.start
        self._send_bar(req_id, bs, bar)
        if bar.start + step <= now:  # this bar is complete: the next one begins now
            nxt = history.current_bar(con_id, bs.bar_size, now + 1e-6)
            if nxt is not None and nxt.start > bar.start:
                p = self.gw.market.last_price(con_id, now)
                self._send_bar(req_id, bs, Bar(nxt.start, p, p, p, p, 0, p, 0))
                bs.sent_start = nxt.start

    def _send_bar(self, req_id: int, bs: BarSub, bar) -> None:
        self.send(
            m.historical_data_update(
                req_id,
                bar.count,
                bar.fields(bs.format_date, bs.midpoint),
                proto=self.proto,
                sec_type=bs.inst.sec_type,
            )
        )

    def on_cancel_historical(self, req: rq.CancelHistoricalData) -> None:
        self.bars.pop(req.req_id, None)

    def on_head_timestamp(self, req: rq.ReqHeadTimestamp) -> None:
        inst = self.resolve(req.contract, req.req_id)
        first = self.gw.market.daily_bars(inst.con_id)["date"][0]
        day = dt.date.fromisoformat(str(first)[:10])
        start = dt.datetime.combine(day, dt.time(9, 30), NEW_YORK)  # the first session's open
        text = (
            str(int(start.timestamp()))
            if req.format_date == 2
            else start.astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S")
        )
        self.send(m.head_timestamp(req.req_id, text))
