"""Equity option chains of the simulated market, priced on demand with Black-Scholes.

Chains
------
SPX, NDX and VIX (indices, :mod:`.macro`: European, cash-settled; strikes every $5, $25 and
$1) and SPY, AAPL, MSFT, NVDA, AMZN, JPM, XOM and PSX have listed options (American-style equity
options, priced as European: no dividends are modelled).  Relative to the model's session:

* **expiries** -- the next six Fridays (weeklies) and the third Friday of the next six months
  (monthlies), the session itself included when it is one; a Friday holiday moves the expiry
  to the business day before.
* **strikes** -- a fixed grid around the underlying's last history close, +-25 %, in steps
  of $1 for SPY and for underlyings below $100, $2.50 up to $250 and $5 above.
* **conIds** -- ``2**30 + ((u * 4096 + day) * 8192 + 2 * strike) * 2 + (1 for puts)`` with
  ``u`` the underlying's index above and ``day`` the expiry's day number since 2020-01-01
  (mod 4096).  Instruments are created when first asked for (by conId or by
  ``reqContractDetails``) and are not part of the registry's iteration.

Quotes
------
Every quote is computed from the underlying's trade price at the same instant, so options
move with their underlying tick for tick and nothing is stored per option:

* model price: Black-Scholes with the rate :data:`RATE` and time to the 16:00 close of the
  expiry day in calendar years;
* volatility: ``atm(T) * (1 + SKEW * m + SMILE * m**2)`` with ``m = ln(K/S) / sqrt(max(T,
  1/52))``; ``atm(T)`` rises from 0.95x to about 1.07x the underlying's base volatility over
  the first year (upward term structure) and the base volatility is 1.1x the 60-session
  realised volatility of the underlying, clipped to 10-80 %;
* bid/ask: ``spread = $0.01 + mid * (1 % + 2 % * min(|z|, 4))`` on the $0.01 grid, where
  ``z = ln(K/S) / (vol * sqrt(T))``: relative widths grow away from the money; the last
  trade is the mid rounded to the tick.  Calls and puts of one strike share the volatility,
  so put-call parity holds for the mids and within the quoted spreads;
* ``tickOptionComputation``: model (13) and last (12) use the model volatility; bid (10)
  and ask (11) the volatility implied by the bid and ask prices.

Listings roll with the market's session: each new session lists the expiries due from it
(the expired ones stay resolvable by conId) and adds the strikes of a grid around the new
previous close to those already listed, so a held option never loses its contract.

At expiry (the close of the expiry session) options settle at intrinsic value: physically
into 100 shares per contract at the strike by default, or in cash (see
:meth:`livedesk.backend.sim.broker.book.SimBroker.settle_expired`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

import numpy as np

from livedesk.backend.sim.market import blackscholes as bs
from livedesk.backend.sim.market.instruments import Instrument, matches_fields
from livedesk.backend.sim.market.paths import (
    DAILY_DTYPE,
    MINUTE_DTYPE,
    NEW_YORK,
    Quote,
    make_quote,
    round_to_tick,
)

if TYPE_CHECKING:
    from livedesk.backend.sim.market.model import MarketModel

UNDERLYINGS = ("SPY", "AAPL", "MSFT", "NVDA", "AMZN", "JPM", "XOM", "PSX", "SPX", "NDX", "VIX")
INDEX_UNDERLYINGS = frozenset({"SPX", "NDX", "VIX"})
STRIKE_UNIT = {"SPX": 5.0, "NDX": 5.0}
"""Strike resolution of a chain's conIds ($0.50 unless listed): index strikes exceed 4,096."""
OPT_CON_ID_BASE = 1 << 30
_EPOCH = date(2020, 1, 1)
RATE = 0.04
SKEW, SMILE = -0.25, 0.35
STRIKE_RANGE = 0.25
MULTIPLIER = 100.0
TICK = 0.01
YEAR = 365.0 * 86400.0
WEEKLIES, MONTHLIES = 6, 6


def strike_step(symbol: str, price: float) -> float:
    """The strike increment of a chain (module doc)."""
    if symbol == "NDX":
        return 25.0
    if symbol == "SPY" or price < 100:
        return 1.0
    return 2.5 if price < 250 else 5.0


def _previous_business_day(d: date, holidays: set[date]) -> date:
    while d.weekday() >= 5 or d in holidays:
        d -= timedelta(days=1)
    return d


def expiries(session: date, holidays: set[date]) -> list[date]:
    """Weekly and monthly expiries listed on ``session``."""
    out: set[date] = set()
    friday = session + timedelta(days=(4 - session.weekday()) % 7)
    while len(out) < WEEKLIES:
        exp = _previous_business_day(friday, holidays)
        if exp >= session:
            out.add(exp)
        friday += timedelta(days=7)
    year, month = session.year, session.month
    months = 0
    while months < MONTHLIES:
        first = date(year, month, 1)
        third = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
        exp = _previous_business_day(third, holidays)
        if exp >= session:
            out.add(exp)
            months += 1
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return sorted(out)


@dataclass(frozen=True)
class Chain:
    """The listed options of one underlying."""

    index: int
    underlying: Instrument
    expiries: tuple[date, ...]
    strikes: tuple[float, ...]

    @property
    def expiry_texts(self) -> list[str]:
        """Expiries as ``YYYYMMDD``."""
        return [e.strftime("%Y%m%d") for e in self.expiries]


def option_con_id(und_index: int, expiry: date, strike: float, right: str) -> int:
    """The conId of one option (module doc)."""
    day = (expiry - _EPOCH).days % 4096
    return (
        OPT_CON_ID_BASE
        + ((und_index * 4096 + day) * 8192 + round(strike / _unit(und_index))) * 2
        + (right == "P")
    )


def _unit(und_index: int) -> float:
    return STRIKE_UNIT.get(UNDERLYINGS[und_index], 0.5)


class OptionSource:
    """Lists option chains lazily (an InstrumentRegistry derivative source)."""

    def __init__(self, market: MarketModel, holidays: set[date]) -> None:
        self.market = market
        self._holidays = holidays
        self._chains: dict[str, Chain | None] = {}
        self._by_code: dict[int, date] = {}
        self.relist()

    def relist(self) -> None:
        """List the expiries and strikes of the market's (new) session; keep the old ones
        resolvable and every listed strike listed."""
        self.expiries = tuple(expiries(self.market.session, self._holidays))
        self._by_code.update({(e - _EPOCH).days % 4096: e for e in self.expiries})
        old, self._chains = self._chains, {}
        for symbol, chain in old.items():
            new = self.chain(symbol)
            if chain is not None and new is not None:
                strikes = tuple(sorted(set(new.strikes) | set(chain.strikes)))
                self._chains[symbol] = Chain(new.index, new.underlying, new.expiries, strikes)

    def chain(self, symbol: str) -> Chain | None:
        """The chain of ``symbol`` (None when it has no options)."""
        if symbol in self._chains:
            return self._chains[symbol]
        chain = None
        if symbol in UNDERLYINGS:
            found = self.market.registry.find(symbol, "STK", currency="USD")
            if not found and symbol in INDEX_UNDERLYINGS:
                found = self.market.registry.find(symbol, "IND")
            if not found:
                found = [i for i in self.market.registry if i.symbol == symbol]
            if found:
                und = found[0]
                centre = self.market.prev_close(und.con_id)
                step = strike_step(symbol, centre)
                lo = math.ceil(centre * (1 - STRIKE_RANGE) / step)
                hi = math.floor(centre * (1 + STRIKE_RANGE) / step)
                strikes = tuple(round(k * step, 2) for k in range(max(lo, 1), hi + 1))
                chain = Chain(UNDERLYINGS.index(symbol), und, self.expiries, strikes)
        self._chains[symbol] = chain
        return chain

    def make(self, chain: Chain, expiry: date, strike: float, right: str) -> Instrument:
        """The instrument of one listed option."""
        sym = chain.underlying.symbol
        occ = f"{sym:<6}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"
        return Instrument(
            con_id=option_con_id(chain.index, expiry, strike, right),
            symbol=sym,
            sec_type="OPT",
            exchange="SMART",
            primary_exchange="CBOE",
            currency=chain.underlying.currency,
            long_name=chain.underlying.long_name,
            industry=chain.underlying.industry,
            category=chain.underlying.category,
            min_tick=TICK,
            multiplier=MULTIPLIER,
            liquidity=chain.underlying.liquidity,
            local_symbol=occ,
            trading_class=sym,
            last_trade_date=f"{expiry:%Y%m%d}",
            strike=strike,
            right=right,
            contract_month=f"{expiry:%Y%m}",
            underlying_con_id=chain.underlying.con_id,
        )

    def resolve(self, con_id: int) -> Instrument | None:
        """Decode an option conId; None unless it names a listed option."""
        if not OPT_CON_ID_BASE <= con_id < 2 * OPT_CON_ID_BASE:
            return None
        code = con_id - OPT_CON_ID_BASE
        right = "P" if code & 1 else "C"
        code >>= 1
        strike_code = code % 8192
        code //= 8192
        day, und_index = code % 4096, code // 4096
        if und_index >= len(UNDERLYINGS):
            return None
        strike = strike_code * _unit(und_index)
        expiry = self._by_code.get(day)
        if expiry is None or und_index >= len(UNDERLYINGS):
            return None
        chain = self.chain(UNDERLYINGS[und_index])
        if chain is None or strike not in chain.strikes:
            return None
        return self.make(chain, expiry, strike, right)

    def find(self, symbol: str, sec_type: str, fields: dict[str, object]) -> list[Instrument]:
        """Listed options of ``symbol`` matching ``fields`` (expiry prefix, strike, right...)."""
        chain = self.chain(symbol)
        if chain is None:
            return []
        when = str(fields.get("last_trade_date") or "")
        strike = float(fields.get("strike") or 0.0)
        right = str(fields.get("right") or "")
        exps = [e for e in chain.expiries if f"{e:%Y%m%d}".startswith(when)]
        strikes = [strike] if strike else list(chain.strikes)
        if strike and strike not in chain.strikes:
            return []
        rights = [right] if right else ["C", "P"]
        out = []
        for e in exps:
            for k in strikes:
                for r in rights:
                    inst = self.make(chain, e, k, r)
                    if matches_fields(inst, fields):
                        out.append(inst)
        return out


@dataclass(frozen=True, slots=True)
class OptionState:
    """Everything streamed for one option at one instant."""

    quote: Quote
    und_price: float
    vol: float
    model: bs.Greeks
    expiry_t: float


class OptionPricer:
    """Quotes, greeks and history of options from their underlying's path (a DerivedPricer)."""

    def __init__(self, market: MarketModel) -> None:
        self.market = market
        self._base_vol: dict[int, float] = {}
        self._close_time: dict[str, float] = {}
        self._state: dict[int, tuple[float, OptionState]] = {}
        self._prev_close: dict[int, float] = {}
        self._und_last: dict[int, tuple[float, float]] = {}  # underlying: (t, last price)

    # ---- model ------------------------------------------------------------------------
    def base_vol(self, und_con_id: int) -> float:
        """The underlying's base volatility in the current session (1.1x its realised
        volatility over the 60 sessions before it)."""
        vol = self._base_vol.get(und_con_id)
        if vol is None:
            closes = self.market.daily_path(und_con_id).close
            vol = self._base_vol[und_con_id] = float(self.base_vols(closes, [len(closes) - 1])[0])
        return vol

    @staticmethod
    def base_vols(closes: np.ndarray, days) -> np.ndarray:
        """The base volatility in each session ``days`` (indices into the daily ``closes``):
        1.1x the realised volatility of the 61 closes before it, clipped to 10-80 %."""
        days = np.asarray(days, dtype=int)
        returns = np.diff(np.log(closes))
        if len(days) > 8 and days.min() >= 61:  # a whole history: one vectorised pass
            windows = np.lib.stride_tricks.sliding_window_view(returns, 60)
            realised = np.std(windows[days - 61], axis=1) * math.sqrt(252)
            return np.clip(1.1 * realised, 0.10, 0.80)
        out = []
        for j in days:  # returns j-61 .. j-2: between the 61 closes before session j
            window = returns[max(j - 61, 0) : max(j - 1, 0)]
            if len(window) < 20:  # the first sessions of the path: its first 60 returns
                window = returns[:60]
            realised = float(np.std(window)) * math.sqrt(252)
            out.append(min(max(1.1 * realised, 0.10), 0.80))
        return np.asarray(out)

    def vol(self, inst: Instrument, s: float | np.ndarray, t: float | np.ndarray, base=None):
        """Volatility of the smile and term structure at underlying ``s``, time ``t`` (years);
        ``base``: the base volatility (per element; default: the current session's)."""
        if base is None:
            base = self.base_vol(inst.underlying_con_id)
        atm = base * (0.95 + 0.12 * (1 - np.exp(-np.asarray(t) / 0.5)))
        m = np.log(inst.strike / np.asarray(s)) / np.sqrt(np.maximum(t, 1 / 52))
        return atm * np.clip(1 + SKEW * m + SMILE * m * m, 0.7, 2.5)

    def vol_at(self, inst: Instrument, s: float, t: float) -> float:
        """Scalar :meth:`vol` (the streaming hot path)."""
        base = self._base_vol.get(inst.underlying_con_id) or self.base_vol(inst.underlying_con_id)
        atm = base * (0.95 + 0.12 * (1 - math.exp(-t / 0.5)))
        m = math.log(inst.strike / s) / math.sqrt(max(t, 1 / 52))
        return atm * min(max(1 + SKEW * m + SMILE * m * m, 0.7), 2.5)

    def reset(self) -> None:
        """Forget per-session caches (a new session started)."""
        self._base_vol.clear()
        self._state.clear()
        self._und_last.clear()

    def expiry_time(self, inst: Instrument) -> float:
        """Epoch seconds of the close of the expiry session (16:00 New York, or the early
        close)."""
        when = self._close_time.get(inst.last_trade_date)
        if when is None:
            day = datetime.strptime(inst.last_trade_date, "%Y%m%d").date()
            when = datetime.combine(day, time(16), NEW_YORK).timestamp()
            cal = self.market.calendar
            if cal.is_session(day):
                when = cal.session_close(day).timestamp()
            self._close_time[inst.last_trade_date] = when
        return when

    def state(self, inst: Instrument, t: float) -> OptionState:
        """Quote, model volatility and greeks at epoch ``t`` (cached per instant)."""
        t = min(t, self.market.session_close())  # after the close: the closing quote
        hit = self._state.get(inst.con_id)
        if hit is not None and hit[0] == t:
            return hit[1]
        und = self._und_last.get(inst.underlying_con_id)
        if und is not None and und[0] == t:  # one underlying price per instant for its chain
            s = und[1]
        else:
            s = self.market.last_price(inst.underlying_con_id, t)
            self._und_last[inst.underlying_con_id] = (t, s)
        base = self._base_vol.get(inst.underlying_con_id) or self.base_vol(inst.underlying_con_id)
        st = self.state_at(inst, t, s, base, self._volume)
        if len(self._state) > 50_000:
            self._state.clear()
        self._state[inst.con_id] = (t, st)
        return st

    def state_at(self, inst: Instrument, t: float, s: float, base: float, volume=None):
        """The :class:`OptionState` at epoch ``t`` with the underlying at ``s`` and the base
        volatility ``base`` (the streaming quote's arithmetic, for any instant)."""
        years = max(self.expiry_time(inst) - t, 0.0) / YEAR
        atm = base * (0.95 + 0.12 * (1 - math.exp(-years / 0.5)))
        m = math.log(inst.strike / s) / math.sqrt(max(years, 1 / 52))
        vol = atm * min(max(1 + SKEW * m + SMILE * m * m, 0.7), 2.5)
        call = inst.right == "C"
        g = bs.greeks(call, s, inst.strike, years, RATE, vol)
        mid = g.price
        z = abs(math.log(inst.strike / s)) / (vol * math.sqrt(max(years, bs.MIN_T)))
        spread = 0.01 + mid * (0.01 + 0.02 * min(z, 4.0))
        n_ticks = max(1, math.ceil(spread / TICK - 1e-9))
        bid_ticks = max(0, math.floor((mid - n_ticks * TICK / 2) / TICK + 0.5))
        if bid_ticks * TICK > mid:
            bid_ticks -= 1
        bid, ask = bid_ticks * TICK, (bid_ticks + n_ticks) * TICK
        if ask < mid:
            ask = math.ceil(mid / TICK) * TICK
        last = min(max(round(mid / TICK) * TICK, bid), ask)
        salt = (inst.con_id * 2654435761 + int(t) * 40503) & 0xFFFF
        lots = 1 + int(20 * math.sqrt(max(inst.liquidity, 0.01)) * math.exp(-0.3 * min(z, 4)))
        q = make_quote(
            round(bid, 8),
            round(ask, 8),
            lots + salt % 7,
            lots + (salt >> 3) % 7,
            round(last, 8),
            1 + salt % 5,
            volume(inst, t, z) if volume is not None else 0,
        )
        return OptionState(q, s, vol, g, years)

    def quote_minutes(self, inst: Instrument, session: date) -> np.ndarray:
        """1-minute BID_ASK bars of one session (sampled at minute starts, module doc):
        open = the bid and close = the ask at the bar's start, high = the higher ask and
        low = the lower bid of the quotes at its start and its end."""
        und = self.market.minute_bars(inst.underlying_con_id, session)
        base = self.session_base_vol(inst, session)
        t = und["time"].astype(float)
        starts = [
            self.state_at(inst, a, s, base).quote for a, s in zip(t, und["open"], strict=True)
        ]
        ends = [
            self.state_at(inst, a + 60, s, base).quote for a, s in zip(t, und["close"], strict=True)
        ]
        out = np.empty(len(und), MINUTE_DTYPE)
        out["time"] = und["time"]
        out["open"] = [q.bid for q in starts]
        out["close"] = [q.ask for q in starts]
        out["high"] = [max(a.ask, b.ask) for a, b in zip(starts, ends, strict=True)]
        out["low"] = [min(a.bid, b.bid) for a, b in zip(starts, ends, strict=True)]
        out["volume"] = 0
        return out

    def _volume(self, inst: Instrument, t: float, z: float) -> int:
        m = self.market
        done = min(max((t - m.session_open()) / (m.session_close() - m.session_open()), 0.0), 1.0)
        return int(done * 2000 * math.sqrt(max(inst.liquidity, 0.01)) * math.exp(-z))

    def implied(
        self, inst: Instrument, price: float, st: OptionState
    ) -> tuple[bs.Greeks, float] | None:
        """Greeks at the volatility implied by ``price`` (None when none is).

        Quoted prices sit within a few ticks of the model price, so one Newton step from the
        model volatility (then a bisection-safe solve only when that step fails) is enough.
        """
        call = inst.right == "C"
        g = st.model
        if g.vega > 1e-6:
            iv = st.vol + (price - g.price) / (g.vega * 100.0)
            if 0.2 * st.vol < iv < 5.0 * st.vol:
                return bs.greeks(call, st.und_price, inst.strike, st.expiry_t, RATE, iv), iv
        iv = bs.implied_vol(call, price, st.und_price, inst.strike, st.expiry_t, RATE, st.vol)
        if math.isnan(iv):
            return None
        return bs.greeks(call, st.und_price, inst.strike, st.expiry_t, RATE, iv), iv

    def intrinsic(self, inst: Instrument, s: float) -> float:
        """Intrinsic value per share at underlying price ``s``."""
        return max(s - inst.strike, 0.0) if inst.right == "C" else max(inst.strike - s, 0.0)

    # ---- DerivedPricer ----------------------------------------------------------------
    def quote(self, inst: Instrument, t: float) -> Quote:
        """Top of book at ``t``."""
        return self.state(inst, t).quote

    def last_price(self, inst: Instrument, t: float) -> float:
        """Last trade (the mid on the tick grid)."""
        return self.state(inst, t).quote.last

    def prev_close(self, inst: Instrument) -> float:
        """Model price at the previous session's close (history is fixed: computed once)."""
        close = self._prev_close.get(inst.con_id)
        if close is None:
            close = self._prev_close[inst.con_id] = float(self.daily_bars(inst)["close"][-1])
        return close

    def _price(self, inst: Instrument, s: np.ndarray, when: np.ndarray, base) -> np.ndarray:
        years = np.maximum(self.expiry_time(inst) - when, 0.0) / YEAR
        vol = self.vol(inst, s, years, base)
        return bs.price_array(inst.right == "C", s, inst.strike, years, RATE, vol)

    def _bars(self, inst: Instrument, und: np.ndarray, opens: np.ndarray, closes: np.ndarray, base):
        o = self._price(inst, und["open"], opens, base)
        c = self._price(inst, und["close"], closes, base)
        hi_s, lo_s = (und["high"], und["low"]) if inst.right == "C" else (und["low"], und["high"])
        h = np.maximum(np.maximum(o, c), self._price(inst, hi_s, closes, base))
        lo = np.minimum(np.minimum(o, c), self._price(inst, lo_s, opens, base))
        return [round_to_tick(x, TICK) for x in (o, h, lo, c)]

    def session_base_vol(self, inst: Instrument, session: date) -> float:
        """The base volatility the options of ``inst``'s underlying had in ``session`` (the
        one they were quoted with then: history agrees with what was streamed)."""
        day = self.market.window.day_of(session)
        if day is None:
            raise ValueError(f"{session} is not one of the model's sessions")
        closes = self.market.daily_path(inst.underlying_con_id).close
        return float(self.base_vols(closes, [day])[0])

    def daily_bars(self, inst: Instrument) -> np.ndarray:
        """Daily bars of the history sessions, from the underlying's daily bars."""
        m = self.market
        und = m.daily_bars(inst.underlying_con_id)
        cal = m.calendar
        sessions = m.sessions[:-1]
        opens = np.array([cal.session_open(s).timestamp() for s in sessions[-len(und) :]])
        closes = np.array([cal.session_close(s).timestamp() for s in sessions[-len(und) :]])
        path = m.daily_path(inst.underlying_con_id).close
        cur = len(path) - 1  # the current session's index: the history rows are before it
        base = self.base_vols(path, range(cur - len(und), cur))
        out = np.empty(len(und), DAILY_DTYPE)
        out["date"] = und["date"]
        bars = self._bars(inst, und, opens, closes, base)
        for name, values in zip(("open", "high", "low", "close"), bars, strict=True):
            out[name] = values
        out["volume"] = np.maximum(und["volume"] // 5000, 1)
        return out

    def minute_bars(self, inst: Instrument, session: date) -> np.ndarray:
        """1-minute bars of one session, from the underlying's minute bars."""
        und = self.market.minute_bars(inst.underlying_con_id, session)
        t = und["time"].astype(float)
        out = np.empty(len(und), MINUTE_DTYPE)
        out["time"] = und["time"]
        bars = self._bars(inst, und, t, t + 60, self.session_base_vol(inst, session))
        for name, values in zip(("open", "high", "low", "close"), bars, strict=True):
            out[name] = values
        out["volume"] = np.maximum(und["volume"] // 5000, 0)
        return out


def install(market: MarketModel, holidays: set[date]) -> OptionSource:
    """List option chains in ``market``'s registry and price them with an OptionPricer."""
    source = OptionSource(market, holidays)
    market.registry.add_source("OPT", source)
    market.options_pricer = pricer = OptionPricer(market)
    market.register_pricer("OPT", pricer)
    market.roll_hooks += [source.relist, pricer.reset]
    return source
