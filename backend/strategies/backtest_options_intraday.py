"""``options-combo``'s backtest at the live decision times, on the gateway's history.

The strategy's own :meth:`~.options_combo.OptionsCombo.decide` runs at every time of its
:class:`~.schedules.Event` schedule (every ``poll_interval`` in regular hours) of the
replayed sessions, on a :class:`ReplayFeed` that serves what the gateway served live then:

* **now** — the poll time (whole minutes with the default 300 s);
* **spot** — the underlying's last trade then: the open of its 1-minute TRADES bar;
* **chain** — the gateway's listing (``reqSecDefOptParams``), expiries from that session
  on (the replay covers only sessions whose every eligible expiry is still listed);
* **legs** — bid and ask then: the open (bid) and close (ask) of the option's 1-minute
  BID_ASK bar, which the simulated gateway samples at each bar's start; one request per
  option over the whole span;
* **daily closes** — the daily bars the gateway serves for ``history`` ending that session,
  the session's own (in progress live) close being the last trade when it is first read
  that day — as live reads and fits them once per gateway day;
* **NetLiquidation** — the reference account ($1,000,000) plus the closed combos' P/L less
  the modelled costs (live sizes only when flat, on its cash).

**Fills** (the gateway's rule for a BAG limit): an order at the mid rounded to the cent
fills at its limit at the first whole minute from its sending on at which the combo's last
trade (its legs' 1-minute TRADES bar opens, signed) goes through the limit, or at once at
the natural price (legs' touch) when marketable; plus ``cost_bps`` of the premium traded.
Working orders are checked when the strategy looks at them (its next poll), as live.
Equity is marked at each session's close (the legs' closing trades).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from livedesk.backend.contracts import option
from livedesk.backend.strategies import options_math as om
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.options_data import Chain, option_chain
from livedesk.backend.strategies.options_feed import LegQuote, OrderState
from livedesk.backend.strategies.schedules import NEW_YORK, sessions

EQUITY0 = 1_000_000.0
"""The reference account's NetLiquidation at the start of the replay."""
MAX_SESSIONS = 5
"""Sessions replayed at most."""
REQUEST_BUDGET = 40
"""Option history requests the replay plans for (each option's history is one request over
the span; IB's historical pacing allows 60 requests in 10 minutes): the sessions replayed
are the most recent ones whose at-the-money options, read at every poll when flat, fit in
it with room for the entries' and the held legs' (:func:`fit_budget`). Requests beyond it
wait for the pacing window (never a pacing violation)."""
ROOM = 12
"""Requests kept free for an entry's candidates and legs."""
SPAN_DAYS = {"D": 1, "W": 7, "M": 31, "Y": 366}
"""Calendar days of one unit of an IB duration (``"1 Y"`` = the 366 days before)."""


def epoch(t: Any) -> float:
    """Epoch seconds of an ib_async bar date (datetime, or epoch seconds)."""
    return t.timestamp() if isinstance(t, dt.datetime) else float(t)


@dataclass
class SimOrder:
    """One BAG order of the replay."""

    order_id: int
    combo: om.OpenCombo
    side: int  # +1 BUY, -1 SELL
    limit: float
    sent: float
    next_check: float
    status: str = "Submitted"
    fill_price: float = math.nan
    fill_time: float = math.nan


@dataclass
class ReplayFeed:
    """An :class:`~.options_feed.OptionsFeed` over the gateway's history (module doc)."""

    ctx: StrategyContext
    underlying: Any
    symbol: str
    history: str
    chain_now: Chain
    spots: dict[float, float]
    closes_by_day: list[tuple[dt.date, float]]
    cost_bps: float
    t: float = 0.0
    cash: float = EQUITY0
    cache: dict[Any, Any] = field(default_factory=dict)
    state: dict | None = None
    orders: dict[int, SimOrder] = field(default_factory=dict)
    bid_ask: dict[tuple, dict[float, tuple[float, float]]] = field(default_factory=dict)
    trades: dict[tuple, dict[float, tuple[float, float]]] = field(default_factory=dict)
    filled: list[SimOrder] = field(default_factory=list)
    position: om.OpenCombo | None = None
    requests: int = 0
    span: str = "1 D"
    end: str = ""

    # ---- data ------------------------------------------------------------------------
    async def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t, NEW_YORK)

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.t, NEW_YORK).date()

    async def spot(self) -> float:
        """The last trade at the poll (its minute's open; NaN without a bar then)."""
        return self.spots.get(self.minute(self.t), math.nan)

    @staticmethod
    def minute(t: float) -> float:
        return t - t % 60

    async def chain(self) -> Chain:
        day = self.today().strftime("%Y%m%d")
        c = self.chain_now
        return Chain(c.symbol, tuple(e for e in c.expiries if e >= day), c.strikes, c.multiplier)

    async def _history(self, key: tuple, what: str) -> dict[float, tuple[float, float]]:
        expiry, strike, right = key
        contract = await self.ctx.resolve(
            option(self.symbol, expiry, strike, right), ("opt", self.symbol, expiry, strike, right)
        )
        app = self.ctx.app
        await app.pacing.acquire_historical((contract.conId, self.end, self.span, what))
        self.requests += 1
        bars = await app.ib.reqHistoricalDataAsync(
            contract,
            endDateTime=self.end,
            durationStr=self.span,
            barSizeSetting="1 min",
            whatToShow=what,
            useRTH=True,
            formatDate=2,
        )
        return {epoch(b.date): (b.open, b.close) for b in bars}

    async def quotes(self, expiry, legs):
        out = {}
        for strike, right in legs:
            key = (expiry, strike, right)
            if key not in self.bid_ask:
                self.bid_ask[key] = await self._history(key, "BID_ASK")
            bid, ask = self.bid_ask[key].get(self.minute(self.t), (math.nan, math.nan))
            out[(strike, right)] = LegQuote(strike, right, bid, ask)
        return out

    async def daily_closes(self) -> list[float]:
        n, unit = self.history.split()
        day = self.today()
        first = day - dt.timedelta(days=int(n) * SPAN_DAYS[unit])
        closes = [c for d, c in self.closes_by_day if first < d < day]
        return [*closes, await self.spot()]  # the session's bar in progress: its last trade

    def nlv(self) -> float:
        return self.cash

    def load(self) -> dict | None:
        return self.state

    def save(self, value: dict | None) -> None:
        self.state = value

    # ---- orders ----------------------------------------------------------------------
    async def send(self, combo: om.OpenCombo, action: str, price: float) -> int | None:
        for k, r, _ in combo.legs:  # the legs' trades decide the fill
            key = (combo.expiry, k, r)
            if key not in self.trades:
                self.trades[key] = await self._history(key, "TRADES")
        order_id = len(self.orders) + 1
        side = 1 if action == "BUY" else -1
        self.orders[order_id] = SimOrder(order_id, combo, side, price, self.t, self.t)
        return order_id

    def _leg_sign(self, action: str) -> int:
        return 1 if action == "BUY" else -1

    def _try_fill(self, o: SimOrder, m: float) -> bool:
        """Whether ``o`` fills at minute ``m`` (the gateway's BAG limit rule)."""
        legs = o.combo.legs
        trades = [self.trades[(o.combo.expiry, k, r)].get(m) for k, r, _ in legs]
        if any(x is None for x in trades):
            return False  # no bar: outside the session
        quotes = [self.bid_ask.get((o.combo.expiry, k, r), {}).get(m) for k, r, _ in legs]
        if all(q is not None for q in quotes):
            natural = sum(
                self._leg_sign(a) * (q[1] if o.side * self._leg_sign(a) > 0 else q[0])
                for (_, _, a), q in zip(legs, quotes, strict=True)
            )
            if o.side * (o.limit - natural) >= -1e-9:
                self._fill(o, m, natural)
                return True
        last = sum(self._leg_sign(a) * x[0] for (_, _, a), x in zip(legs, trades, strict=True))
        if o.side * (o.limit - last) > 0:
            self._fill(o, m, o.limit)
            return True
        return False

    def _fill(self, o: SimOrder, m: float, price: float) -> None:
        o.status, o.fill_price, o.fill_time = "Filled", price, m
        units = o.combo.quantity * 100.0
        self.cash -= o.side * price * units + abs(price) * units * self.cost_bps / 1e4
        self.filled.append(o)
        self.position = o.combo if o.side > 0 else None

    def advance(self, o: SimOrder) -> None:
        """Check ``o`` at every whole minute from its last check up to now."""
        m = self.minute(o.next_check)
        while o.status == "Submitted" and m <= self.t:
            self._try_fill(o, m)
            m += 60
        o.next_check = m

    def order(self, order_id: int) -> OrderState | None:
        o = self.orders.get(order_id)
        if o is None:
            return None
        self.advance(o)
        done = o.status != "Submitted"
        price = o.fill_price if o.status == "Filled" else 0.0
        return OrderState(o.status, price, done)

    async def cancel(self) -> None:
        for o in self.orders.values():
            if o.status == "Submitted":
                self.advance(o)
                if o.status == "Submitted":
                    o.status = "Cancelled"

    # ---- marks -----------------------------------------------------------------------
    def held_value(self, m: float) -> float:
        """The held combo's value at minute ``m`` (its legs' last trades), 0 when flat."""
        combo = self.position
        if combo is None:
            return 0.0
        value = 0.0
        for k, r, a in combo.legs:
            bar = self.trades.get((combo.expiry, k, r), {}).get(m)
            if bar is None:
                return math.nan
            value += self._leg_sign(a) * bar[1]
        return value * combo.quantity * 100.0


async def minute_spots(ctx: StrategyContext, und, sessions_back: int) -> dict[float, float]:
    """The underlying's 1-minute TRADES opens (its last trade at each whole minute) over the
    last ``sessions_back`` sessions."""
    minutes = await ctx.bars(und, f"{sessions_back} D", "1 min")
    return {epoch(b.date): b.open for b in minutes}


def replay_sessions(now: float, days: int, min_dte: int) -> list[tuple[float, float]]:
    """(open, close) of the sessions to replay: the last ``days`` (at most
    :data:`MAX_SESSIONS`) closed by ``now``, each within ``min_dte`` days of today (so
    every expiry it may choose is still listed)."""
    s = sessions("XNYS")
    today = dt.datetime.fromtimestamp(now, NEW_YORK).date()
    out = []
    i = s.index_at_or_after(now)
    while i > 0 and len(out) < min(days, MAX_SESSIONS):
        i -= 1
        if s.closes[i] > now:
            continue
        if (today - s.dates[i]).days > min_dte:
            break
        out.append((float(s.opens[i]), float(s.closes[i])))
    return out[::-1]


def poll_times(schedule, spans: list[tuple[float, float]]) -> list[list[float]]:
    """The schedule's decision times in each session of ``spans``."""
    out = []
    for open_, close in spans:
        times = []
        at = schedule.next_run(dt.datetime.fromtimestamp(open_, dt.UTC))
        while at is not None and at.timestamp() < close:
            times.append(at.timestamp())
            at = schedule.next_run(at)
        out.append(times)
    return out


def fit_budget(params, spans, times, spots, chain: Chain, budget: int = REQUEST_BUDGET):
    """The most recent sessions of ``spans`` whose at-the-money calls and puts (expiry and
    strike as the strategy picks them at each poll, from the underlying's last trade) number
    at most ``budget - ROOM`` together."""
    seen: set[tuple] = set()
    keep = 0
    for k in range(len(spans) - 1, -1, -1):
        for t in times[k]:
            now = dt.datetime.fromtimestamp(t, NEW_YORK)
            spot = spots.get(t - t % 60)
            expiry = om.choose_expiry(
                [e for e in chain.expiries if e >= now.strftime("%Y%m%d")],
                now.date(),
                params.min_dte,
                params.max_dte,
                params.target_dte,
            )
            if spot is not None and expiry is not None:
                seen.add((expiry, om.atm_strike(chain.strikes, spot)))
        if 2 * len(seen) > budget - ROOM:
            break
        keep += 1
    return spans[len(spans) - keep :], times[len(spans) - keep :]


@dataclass
class IntradayReplay:
    """What :func:`replay` did: per session its date and return, the decisions that
    traded, the orders, and the feed (its requests)."""

    dates: list[dt.date] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    polls: int = 0
    feed: ReplayFeed | None = None


@dataclass
class Plan:
    """The sessions an intraday replay covers and the data it plans them with."""

    spans: list[tuple[float, float]]
    times: list[list[float]]
    spots: dict[float, float]
    chain: Chain | None
    sessions_back: int


async def plan(strategy, ctx: StrategyContext, spans: list[tuple[float, float]], und) -> Plan:
    """The most recent of ``spans`` that fit the request budget (:func:`fit_budget`), with
    the underlying's minutes and the listing."""
    if not spans:
        return Plan([], [], {}, None, 0)
    cal = sessions("XNYS")
    now = (await ctx.now()).timestamp()
    n = cal.index_at_or_after(now) - cal.index_at_or_after(spans[0][0]) + 1
    spots = await minute_spots(ctx, und, n)
    chain = await option_chain(ctx, und)
    times = poll_times(strategy.schedule, spans)
    spans, times = fit_budget(strategy.params, spans, times, spots, chain)
    return Plan(spans, times, spots, chain, n)


async def replay(
    strategy,
    ctx: StrategyContext,
    planned: Plan,
    cost_bps: float,
    und,
    daily: list[tuple[dt.date, float]],
) -> IntradayReplay:
    """Run ``strategy.decide`` at its schedule's times over the sessions ``planned``
    (``und``: the underlying resolved; ``daily``: its daily closes by date)."""
    p = strategy.params
    out = IntradayReplay()
    spans, times, spots, chain = planned.spans, planned.times, planned.spots, planned.chain
    if not spans or chain is None:
        return out
    feed = ReplayFeed(ctx, und, p.underlying, p.history, chain, spots, daily, cost_bps)
    feed.span = f"{planned.sessions_back} D"
    out.feed = feed
    equity = feed.cash
    for (open_, close), session_times in zip(spans, times, strict=True):
        for t in session_times:
            feed.t = t
            d = await strategy.decide(feed)
            out.polls += 1
            if d.targets:
                out.decisions.append({"t": t, "summary": d.summary, "targets": dict(d.targets)})
        feed.t = close - 60  # working orders fill through the close; mark at the closing trades
        for o in feed.orders.values():
            feed.advance(o)
        value = feed.cash + feed.held_value(close - 60)
        out.dates.append(dt.datetime.fromtimestamp(open_, NEW_YORK).date())
        out.returns.append(value / equity - 1 if math.isfinite(value) else 0.0)
        equity = value if math.isfinite(value) else equity
    out.orders = [
        {
            "sent": o.sent,
            "kind": o.combo.kind,
            "action": "BUY" if o.side > 0 else "SELL",
            "expiry": o.combo.expiry,
            "legs": [list(leg) for leg in o.combo.legs],
            "quantity": o.combo.quantity,
            "limit": o.limit,
            "status": o.status,
            "fill_time": o.fill_time,
            "fill_price": o.fill_price,
        }
        for o in feed.orders.values()
    ]
    return out
