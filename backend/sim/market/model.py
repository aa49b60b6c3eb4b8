"""Simulated market: one deterministic price path per instrument, pure numpy, no I/O.

Everything the simulated gateway reports (daily history, 1-minute bars, ticks, quotes and the
prices fills happen at) is read from the same pre-generated path, so they always agree.

What is simulated, and how
--------------------------
Time runs over ``sessions``: the XNYS sessions (from ``exchange_calendars``, so holidays and
early closes are real) ending with the *current* session.  Everything before the current
session is history; the current session is the one the demo trades.

**Daily returns** of a stock are a factor model (log returns, one row a session)::

    r[t] = alpha[t] + beta * f_mkt[t] + gamma * f_sector[t] + idio * sqrt(v[t]) * e[t]
           + (m[t] - m[t-1]) + jump[t]

* ``f_mkt`` -- market factor: drift 7.5 %/yr, volatility 0.8 %/day times a GARCH(1,1)
  volatility multiplier ``v[t]`` (so calm and turbulent regimes cluster).  ``v`` also scales
  the sector factors and, with a square root, idiosyncratic risk.
* ``f_sector`` -- one factor for each of the 11 sectors, 0.6 %/day.  ``beta`` is centred on a
  typical beta for the sector (utilities 0.5 ... technology 1.2), ``gamma`` on 1; together they
  make stocks of one sector more correlated with each other than with other sectors.
* ``e`` and the factor innovations are Student-t with 4 degrees of freedom, scaled to unit
  variance: fat tails.  ``idio`` is about 1.3 %/day, a little higher for illiquid names.
* ``jump`` -- news and earnings: on about 4 sessions a year a normal jump of 4 %.
* ``alpha`` -- a slowly varying expected return, an AR(1) with a half-life of 252 sessions and
  a stationary spread of 15 %/yr across stocks.  A stock that did well over the past year
  therefore tends to keep doing well next month: a 12-1 momentum signal has something to find.
* ``m`` -- a transient mispricing, an AR(1) with an 8-session half-life carrying two fifths
  of the idiosyncratic variance.  Its moves revert within weeks: short-term (1-week to
  1-month) reversal.

Instruments with sector 0 (SPY) are broad funds: beta 1, no sector, alpha or mispricing,
tracking noise of 0.08 %/day, no jumps.  Price levels are anchored so that the last history
close is within a few percent of the instrument's reference price
(:func:`livedesk.backend.sim.market.instruments.reference_price`, clipped to $12-$900; a seeded draw for
instruments the table does not know); earlier prices follow from the returns.
Each session opens with an overnight gap carrying a fifth of the day's return plus noise.
The daily high and low are drawn from the exact law of the extremes of a Brownian bridge
between the open and the close.  Volume is ``liquidity`` times the median dollar volume,
divided by price, with lognormal noise and more volume on large moves and volatile days.
All prices are kept unrounded internally and rounded to ``min_tick`` when reported.

**1-minute bars** of a session are a Brownian bridge (Student-t steps) from the daily open to
the daily close, its variance and volume spread over the session in a U shape (busy open and
close), squeezed monotonically into the daily high-low range; one bar touches the daily high
and one the daily low.  So minute bars open and close exactly at the day's open and close and
stay within its range.  390 bars a session, fewer on early-close days.

**Within a minute**, the trade price follows one of 256 fixed unit Brownian-bridge shapes
(chosen by conId and minute) from the minute's open to its close, kept within the minute's
high-low range: cheap to evaluate at any instant and always the same for the same instant.
Before the open the price is the previous close, after the close the close.

**Quotes** straddle the trade price.  The spread is ``0.2 + 4 / sqrt(liquidity)`` basis
points, wider in the first minutes of the session and jittered second by second, at least
one tick; bid and ask sit on the tick grid with ``bid <= last <= ask``.  Displayed sizes are
round lots of 100 shares that grow with liquidity and vary second by second.

**Determinism.**  Every random draw comes from a numpy ``SeedSequence(seed, spawn_key=...)``
stream keyed by the session, a stream kind and the conId (and the day for minute bars).
Results therefore depend only on ``(seed, session)``, never on call order or on which other
instruments were generated.  Paths are generated lazily and cached per instrument.

**Extending.**  Daily paths come from a :class:`PathProvider` chosen by ``sec_type``; the
minute, tick and quote machinery works on any :class:`DailyPath`.  New asset classes (futures,
options) register their own provider with :meth:`MarketModel.register_provider`, or a
:class:`DerivedPricer` (:meth:`MarketModel.register_pricer`) when they are priced from other
instruments on demand.  :mod:`livedesk.backend.sim.market.futures` and
:mod:`livedesk.backend.sim.market.options` describe
the NYMEX futures and the option chains every model lists (``install_derivatives=False``
leaves them out).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd

from livedesk.backend.sim.market import derivatives
from livedesk.backend.sim.market.calendar import SessionWindow
from livedesk.backend.sim.market.instruments import (
    MEDIAN_DOLLAR_VOLUME,
    Instrument,
    InstrumentRegistry,
    default_registry,
    reference_price,
)
from livedesk.backend.sim.market.paths import (
    DAILY_DTYPE,
    DRAW_BLOCK,
    LOT,
    MINUTE_DTYPE,
    NEW_YORK,
    DailyPath,
    DerivedPricer,
    PathProvider,
    Quote,
    ar1,
    extend_draws,
    half_life_phi,
    make_quote,
    minute_bars,
    round_to_tick,
    seeded_rng,
    student_t,
)

TRADING_DAYS = 252

MARKET_DRIFT = 0.075 / TRADING_DAYS
MARKET_VOL = 0.008
SECTOR_VOL = 0.006
IDIO_VOL = 0.013
ETF_TRACKING_VOL = 0.0008
GARCH_ALPHA, GARCH_BETA = 0.08, 0.90
ALPHA_SPREAD = 0.15 / TRADING_DAYS
ALPHA_HALF_LIFE = 252.0
REVERSAL_HALF_LIFE = 8.0
REVERSAL_SHARE = 0.4
OVERNIGHT_SHARE = 0.2
JUMP_RATE = 4.0 / TRADING_DAYS  # news / earnings jumps, about one a quarter
JUMP_VOL = 0.04
SECTOR_BETA = {1: 1.1, 2: 1.05, 3: 1.05, 4: 1.1, 5: 0.65, 6: 0.85, 7: 1.15, 8: 1.2, 9: 1.0}
SECTOR_BETA |= {10: 0.5, 11: 0.75}

SPREAD_BPS_FLOOR = 0.2
SPREAD_BPS_LIQUIDITY = 4.0
DISPLAY_LOTS = 3.0  # displayed round lots of a stock of liquidity 1

_STREAM_FACTORS, _STREAM_DAILY, _STREAM_MINUTE, _STREAM_SHAPES = range(4)
_SHAPES, _SHAPE_POINTS = 256, 60
_floor = math.floor
_NOISE_SIZE = 4096


def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(float(x), lo), hi)


class EquityFactorModel:
    """Daily paths of stocks and broad ETFs (sector 0) from the factor model above."""

    def __init__(self, seed: int, session_key: int, n_days: int, anchor: int | None = None) -> None:
        self._seed, self._key, self.n_days = seed, session_key, n_days
        self.anchor = max(n_days - 2, 0) if anchor is None else anchor  # the level's session
        self.n_first = min(n_days, self.anchor + 2)  # sessions drawn from the first streams
        rng = seeded_rng(seed, session_key, _STREAM_FACTORS)
        first = student_t(rng, (self.n_first, 12)).T
        shocks = extend_draws(
            first, seed, (session_key, _STREAM_FACTORS), n_days, lambda r, k: student_t(r, (12, k))
        ).T
        variance = np.empty(n_days)  # GARCH(1,1) variance multiplier, long-run mean 1
        h = 1.0
        for t in range(n_days):
            variance[t] = h
            h = (1.0 - GARCH_ALPHA - GARCH_BETA) + GARCH_ALPHA * h * shocks[t, 0] ** 2
            h += GARCH_BETA * variance[t]
        self.regime = np.sqrt(variance)
        self.market = MARKET_DRIFT + MARKET_VOL * self.regime * shocks[:, 0]
        self.sectors = SECTOR_VOL * self.regime[:, None] * shocks
        self.sectors[:, 0] = 0.0  # column k is sector k; sector 0 means none

    def daily_path(self, inst: Instrument) -> DailyPath:
        """The daily path of ``inst``, from its own random stream."""
        n = self.n_days
        rng = seeded_rng(self._seed, self._key, _STREAM_DAILY, inst.con_id)
        liquidity = max(inst.liquidity, 1e-3)
        n0 = self.n_first
        loadings = rng.standard_normal(3)
        eps = student_t(rng, (1, n0))
        normals = rng.standard_normal((4, n0))
        alpha_start, mispricing_start, level_noise = rng.standard_normal(3)
        uniforms = 1.0 - rng.random((2, n0))
        jumps = np.vstack((rng.random(n0), rng.standard_normal(n0)))
        fallback_level = _clip(60.0 * math.exp(0.8 * rng.standard_normal()), 5.0, 900.0)
        draws = extend_draws(
            np.vstack((eps, normals, uniforms, jumps)),
            self._seed,
            (self._key, _STREAM_DAILY, inst.con_id),
            n,
            lambda r, k: np.vstack(
                (
                    student_t(r, (1, k)),
                    r.standard_normal((4, k)),
                    1.0 - r.random((2, k)),
                    r.random((1, k)),
                    r.standard_normal((1, k)),
                )
            ),  # fmt: skip
        )
        eps, alpha_shocks, mispricing_shocks, gap_noise, volume_noise = draws[:5]
        u_high, u_low, jump_draws, jump_sizes = draws[5:]

        if inst.sector == 0:
            beta, gamma, idio, alpha_sd, mispricing_share = 1.0, 0.0, ETF_TRACKING_VOL, 0.0, 0.0
            jump_vol = 0.0
        else:
            beta = _clip(SECTOR_BETA.get(inst.sector, 1.0) + 0.2 * loadings[0], 0.3, 2.0)
            gamma = _clip(1.0 + 0.25 * loadings[1], 0.4, 1.6)
            idio = IDIO_VOL * math.exp(0.3 * loadings[2]) * liquidity**-0.08
            idio = _clip(idio, 0.006, 0.04)
            alpha_sd, mispricing_share, jump_vol = ALPHA_SPREAD, REVERSAL_SHARE, JUMP_VOL

        phi_a = half_life_phi(ALPHA_HALF_LIFE)
        alpha = ar1(
            alpha_sd * math.sqrt(1 - phi_a**2) * alpha_shocks, phi_a, alpha_sd * alpha_start
        )
        phi_m = half_life_phi(REVERSAL_HALF_LIFE)
        m_sd = idio * math.sqrt(mispricing_share / (2.0 * (1.0 - phi_m)))
        m_start = m_sd * mispricing_start
        mispricing = ar1(m_sd * math.sqrt(1 - phi_m**2) * mispricing_shocks, phi_m, m_start)
        reversal = np.diff(mispricing, prepend=m_start)

        v = self.regime
        persistent_idio = idio * math.sqrt(1.0 - mispricing_share)
        r = alpha + beta * self.market + gamma * self.sectors[:, inst.sector]
        r += persistent_idio * np.sqrt(v) * eps + reversal
        r += np.where(jump_draws < JUMP_RATE, jump_vol * jump_sizes, 0.0)
        day_vol = np.sqrt(
            (beta * MARKET_VOL * v) ** 2 + (gamma * SECTOR_VOL * v) ** 2 + idio**2 * v
        )

        log_close = np.cumsum(r)
        level = _clip(reference_price(inst) or fallback_level, 12.0, 900.0)
        log_close += math.log(level) + 0.03 * level_noise - log_close[self.anchor]
        gap = OVERNIGHT_SHARE * r + 0.2 * day_vol * gap_noise
        log_open = log_close - r + gap
        intraday_vol = day_vol * math.sqrt(1.0 - OVERNIGHT_SHARE**2)
        mid, half_move = (log_open + log_close) / 2, np.abs(log_close - log_open) / 2
        reach_up = np.sqrt(half_move**2 - 0.5 * intraday_vol**2 * np.log(u_high))
        reach_down = np.sqrt(half_move**2 - 0.5 * intraday_vol**2 * np.log(u_low))

        close = np.exp(log_close)
        surprise = np.minimum(np.abs(r) / day_vol, 6.0) - 0.8
        shares = liquidity * MEDIAN_DOLLAR_VOLUME / close
        shares *= np.exp(0.3 * volume_noise + 0.3 * surprise) * np.sqrt(v)
        return DailyPath(
            open=np.exp(log_open),
            high=np.exp(mid + reach_up),
            low=np.exp(mid - reach_down),
            close=close,
            volume=np.maximum(np.rint(shares), LOT).astype(np.int64),
            intraday_vol=intraday_vol,
        )


class _SessionPath:
    """The current session of one instrument as Python lists, for fast tick-time lookups."""

    __slots__ = (
        "con_id", "start", "n", "opens", "highs", "lows", "closes", "amps", "cum_volume",
        "volumes", "prev_close", "tick", "spread_frac", "lots", "second", "per_second",
        "minute", "per_minute", "grid",
    )  # fmt: skip

    def __init__(
        self, inst: Instrument, start: float, bars: tuple[np.ndarray, ...], prev_close: float
    ):
        opens, highs, lows, closes, volumes = bars
        self.con_id, self.start, self.n = inst.con_id, start, len(opens)
        self.opens, self.highs = opens.tolist(), highs.tolist()
        self.lows, self.closes = lows.tolist(), closes.tolist()
        self.amps = np.maximum(highs - lows - np.abs(closes - opens), 0.0).tolist()
        self.volumes = volumes.tolist()
        self.cum_volume = np.concatenate(([0], np.cumsum(volumes))).tolist()
        self.prev_close, self.tick = prev_close, inst.min_tick
        liquidity = max(inst.liquidity, 1e-3)
        self.spread_frac = (SPREAD_BPS_FLOOR + SPREAD_BPS_LIQUIDITY / math.sqrt(liquidity)) * 1e-4
        self.lots = DISPLAY_LOTS * math.sqrt(liquidity)
        self.second = None  # the whole second ``per_second`` was computed for
        self.per_second: tuple[float, float, int, int, int] = (0.0, 0.0, 0, 0, 0)
        self.minute = -1  # the minute ``per_minute`` holds (its bar's values, for ``state``)
        self.per_minute: tuple = ()
        self.grid: tuple = (None, None, None, 0.0, 0.0, 0.0)  # the last quote's tick grid

    def state(self, t: float, shapes: list[list[float]]) -> tuple[float, int, int]:
        """Unrounded trade price, minute index (-1 before the open, n after) and volume at t."""
        elapsed = t - self.start
        if elapsed < 0.0:
            return self.prev_close, -1, 0
        k = int(elapsed // 60.0)
        if k >= self.n:
            return self.closes[-1], self.n, self.cum_volume[-1]
        u = (elapsed - 60.0 * k) / 60.0
        if k != self.minute:  # the bar's values, looked up once a minute (the hot path)
            o = self.opens[k]
            self.minute = k
            self.per_minute = (
                o, self.closes[k] - o, self.amps[k],
                shapes[(self.con_id * 40503 + k * 9973) % _SHAPES],
                self.lows[k], self.highs[k], self.cum_volume[k], self.volumes[k],
            )  # fmt: skip
        o, move, amp, shape, low, high, cum_volume, volume = self.per_minute
        s = u * _SHAPE_POINTS
        i = int(s)
        bridge = shape[i] + (s - i) * (shape[i + 1] - shape[i])
        price = o + move * u + amp * bridge
        if low > price:  # min(max(price, low), high), without the calls
            price = low
        if high < price:
            price = high
        return price, k, cum_volume + int(volume * u)


class MarketModel:
    """Deterministic simulated market for a seed and a current XNYS session (see module doc).

    ``session`` defaults to the latest XNYS session on or before today in New York; a date
    that is not a session rolls back to the previous one.  ``sessions`` holds
    ``history_sessions`` completed sessions (the daily history) followed by the current one.

    The calendar runs on: :meth:`roll` makes the next session current (the current one joins
    the history, so ``sessions`` and the daily bars grow by one) and drops the old intraday
    paths.  Paths are generated :data:`DRAW_BLOCK` sessions ahead from random streams keyed
    by the first session (``stream_key``), so a session's prices do not depend on when it
    became current, and the price level stays anchored on the first session's history.
    """

    def __init__(
        self,
        registry: InstrumentRegistry | None = None,
        seed: int = 7,
        session: date | None = None,
        history_sessions: int = 520,
        install_derivatives: bool = True,
    ) -> None:
        if history_sessions < 1:
            raise ValueError("history_sessions must be at least 1")
        self.registry = registry if registry is not None else default_registry()
        self.seed = seed
        if session is None:
            session = datetime.now(NEW_YORK).date()
        self.window = SessionWindow(session, history_sessions)
        self.stream_key = self.window.sessions[-1].toordinal()
        self.anchor = history_sessions - 1  # index of the session the price level is set on
        self._providers: dict[str, PathProvider] = {}
        self._paths: dict[int, DailyPath] = {}
        self.roll_hooks: list[Callable[[], None]] = []
        self._generate(self.window.index + 1 + DRAW_BLOCK)
        shape_rng = seeded_rng(seed, _STREAM_SHAPES)
        steps = shape_rng.standard_normal((_SHAPES, _SHAPE_POINTS)) / math.sqrt(_SHAPE_POINTS)
        walks = np.concatenate((np.zeros((_SHAPES, 1)), np.cumsum(steps, axis=1)), axis=1)
        bridges = walks - np.linspace(0.0, 1.0, _SHAPE_POINTS + 1) * walks[:, -1:]
        self._shapes: list[list[float]] = np.append(bridges, bridges[:, -1:], axis=1).tolist()
        self._noise: list[float] = np.exp(0.35 * shape_rng.standard_normal(_NOISE_SIZE)).tolist()
        self._daily: dict[int, DailyPath] = {}
        self._daily_bars: dict[int, np.ndarray] = {}
        self._current: dict[int, _SessionPath] = {}
        self._pricers: dict[str, DerivedPricer] = {}
        self._enter()
        self.macro = None  # livedesk.backend.sim.market.macro.MacroModel: forex and indices
        self.futures = None  # livedesk.backend.sim.market.futures.FuturesModel, when listed
        self.options = None  # livedesk.backend.sim.market.options.OptionSource, when listed
        self.options_pricer = None  # livedesk.backend.sim.market.options.OptionPricer
        if install_derivatives:
            derivatives.install(self)

    # ---- the calendar ----------------------------------------------------------------
    @property
    def calendar(self):
        """The ``exchange_calendars`` XNYS calendar (its bounds widen as the market runs on)."""
        return self.window.calendar

    @property
    def generated(self) -> int:
        """Sessions whose paths exist: the history, the current one and some ahead."""
        return len(self.window.all)

    def _generate(self, count: int) -> None:
        """Know ``count`` sessions from the first history session on (paths regenerate)."""
        self.window.extend(count)
        self._providers["STK"] = EquityFactorModel(self.seed, self.stream_key, count, self.anchor)
        for provider in self._providers.values():
            reset = getattr(provider, "reset", None)
            if reset is not None:
                reset()
        self._paths.clear()

    def _enter(self) -> None:
        """Make the window's current session the market's and drop the old session's caches."""
        self._cur = self.window.index
        self.sessions: pd.DatetimeIndex = self.window.sessions
        self.session: date = self.sessions[-1].date()
        self._open, minutes = self.window.span(self._cur)
        self._close = self._open + 60.0 * minutes
        self._daily.clear()
        self._daily_bars.clear()
        self._current.clear()

    def next_session_open(self) -> float:
        """Epoch seconds of the next session's open (the one :meth:`roll` makes current)."""
        if self._cur + 1 >= self.generated:
            self._generate(self.generated + DRAW_BLOCK)
        return self.window.span(self._cur + 1)[0]

    def roll(self) -> date:
        """Make the next XNYS session current; the current one joins the daily history."""
        self.next_session_open()
        self.window.advance()
        self._enter()
        for hook in self.roll_hooks:
            hook()
        return self.session

    def session_span(self, day: int) -> tuple[float, int]:
        """Open (epoch seconds) and number of minutes of session number ``day``."""
        return self.window.span(day)

    def register_pricer(self, sec_type: str, pricer: DerivedPricer) -> None:
        """Price instruments of ``sec_type`` with ``pricer`` instead of a stored path."""
        self._pricers[sec_type] = pricer

    def _pricer(self, con_id: int) -> DerivedPricer | None:
        if not self._pricers:
            return None
        return self._pricers.get(self._instrument(con_id).sec_type)

    def provider(self, sec_type: str) -> PathProvider | None:
        """The daily-path provider of ``sec_type`` (STK: the equity factor model)."""
        return self._providers.get(sec_type)

    def register_provider(self, sec_type: str, provider: PathProvider) -> None:
        """Use ``provider`` for the daily paths of instruments of ``sec_type``."""
        self._providers[sec_type] = provider

    def session_open(self) -> float:
        """Epoch seconds (UTC) of the current session's open."""
        return self._open

    def session_close(self) -> float:
        """Epoch seconds (UTC) of the current session's close (early closes included)."""
        return self._close

    def daily_path(self, con_id: int) -> DailyPath:
        """Unrounded daily path of an instrument over ``sessions`` (generated once, cached)."""
        path = self._daily.get(con_id)
        if path is None:
            full, n = self._full_path(con_id), self._cur + 1
            path = self._daily[con_id] = DailyPath(
                full.open[:n], full.high[:n], full.low[:n], full.close[:n], full.volume[:n],
                full.intraday_vol[:n],
            )  # fmt: skip
        return path

    def _full_path(self, con_id: int) -> DailyPath:
        """The daily path over every generated session (future ones included)."""
        path = self._paths.get(con_id)
        if path is None:
            inst = self._instrument(con_id)
            provider = self._providers.get(inst.sec_type)
            if provider is None:
                raise KeyError(f"no price model for secType {inst.sec_type}")
            path = self._paths[con_id] = provider.daily_path(inst)
        return path

    def daily_bars(self, con_id: int) -> np.ndarray:
        """Read-only ``DAILY_DTYPE`` bars of every history session before the current one."""
        bars = self._daily_bars.get(con_id)
        if bars is None:
            pricer = self._pricer(con_id)
            if pricer is not None:
                return pricer.daily_bars(self._instrument(con_id))
            path, tick = self.daily_path(con_id), self._instrument(con_id).min_tick
            bars = np.empty(len(self.sessions) - 1, DAILY_DTYPE)
            bars["date"] = self.sessions[:-1].values.astype("M8[D]")
            for field in ("open", "high", "low", "close"):
                bars[field] = round_to_tick(getattr(path, field)[:-1], tick)
            bars["volume"] = path.volume[:-1]
            bars.flags.writeable = False
            self._daily_bars[con_id] = bars
        return bars

    def minute_bars(self, con_id: int, session: date) -> np.ndarray:
        """``MINUTE_DTYPE`` bars (start epoch, OHLC, volume) of one session in ``sessions``.

        For the current session this is the whole intraday path, including minutes still
        in the future of the simulated clock.
        """
        day = self.window.day_of(pd.Timestamp(session).date())
        if day is None or day > self._cur:
            raise ValueError(f"{session} is not one of the model's sessions")
        pricer = self._pricer(con_id)
        if pricer is not None:
            return pricer.minute_bars(self._instrument(con_id), session)
        start, bars = self._session_minutes(con_id, day)
        tick = self._instrument(con_id).min_tick
        out = np.empty(len(bars[0]), MINUTE_DTYPE)
        out["time"] = int(start) + 60 * np.arange(len(out))
        for field, values in zip(("open", "high", "low", "close"), bars[:4], strict=True):
            out[field] = round_to_tick(values, tick)
        out["volume"] = bars[4]
        return out

    def prev_close(self, con_id: int) -> float:
        """Close of the last history session."""
        pricer = self._pricer(con_id)
        if pricer is not None:
            return pricer.prev_close(self._instrument(con_id))
        path = self.daily_path(con_id)
        return float(round_to_tick(path.close[-2], self._instrument(con_id).min_tick))

    def last_price(self, con_id: int, t: float) -> float:
        """Trade price at epoch ``t``, on the tick grid."""
        path = self._current.get(con_id)
        if path is None:
            pricer = self._pricer(con_id)
            if pricer is not None:
                return pricer.last_price(self._instrument(con_id), t)
            path = self._session_path(con_id)
        price = path.state(t, self._shapes)[0]
        return round(round(price / path.tick) * path.tick, 8)

    def quote(self, con_id: int, t: float) -> Quote:
        """Bid, ask, displayed sizes, last trade and session volume at epoch ``t``."""
        path = self._current.get(con_id)
        if path is None:
            if self._pricers:  # :meth:`_pricer`, the instrument looked up once
                inst = self._instrument(con_id)
                pricer = self._pricers.get(inst.sec_type)
                if pricer is not None:
                    return pricer.quote(inst, t)
            path = self._session_path(con_id)
        return make_quote(*self._path_quote(path, con_id, t))

    def quote_values(self, con_id: int, t: float) -> tuple:
        """:meth:`quote`'s fields as a tuple ``(bid, ask, bid_size, ask_size, last, last_size,
        volume)``, the same values without building the Quote (the streaming hot path)."""
        path = self._current.get(con_id)
        if path is None:
            if self._pricers:
                inst = self._instrument(con_id)
                pricer = self._pricers.get(inst.sec_type)
                if pricer is not None:
                    q = pricer.quote(inst, t)
                    return (q.bid, q.ask, q.bid_size, q.ask_size, q.last, q.last_size, q.volume)
            path = self._session_path(con_id)
        return self._path_quote(path, con_id, t)

    def _path_quote(self, path: _SessionPath, con_id: int, t: float) -> tuple:
        """The quote's fields from an instrument's own session path (see :meth:`quote`)."""
        elapsed = t - path.start
        k = int(elapsed // 60.0)
        if elapsed >= 0.0 and k == path.minute:  # _SessionPath.state's hot path, inlined
            u = (elapsed - 60.0 * k) / 60.0
            o, move, amp, shape, low, high, cum_volume, volume = path.per_minute
            s = u * _SHAPE_POINTS
            i = int(s)
            bridge = shape[i] + (s - i) * (shape[i + 1] - shape[i])
            price = o + move * u + amp * bridge
            if low > price:
                price = low
            if high < price:
                price = high
            minute, volume = k, cum_volume + int(volume * u)
        else:
            price, minute, volume = path.state(t, self._shapes)
        tick, second = path.tick, int(t)
        if path.second != second:  # what the noise of this second sets (cached: the hot path)
            noise, mask = self._noise, _NOISE_SIZE - 1
            salt = con_id * 2654435761 + second * 40503
            widening = 2.0 if minute < 0 else 1.0 + 1.5 * math.exp(-minute / 5.0)
            lots = path.lots
            path.second = second
            path.per_second = (
                widening,
                noise[salt & mask],
                LOT * max(1, round(lots * noise[(salt + 1) & mask])),
                LOT * max(1, round(lots * noise[(salt + 2) & mask])),
                LOT * max(1, round(0.5 * lots * noise[(salt + 3) & mask])),
            )
        widening, spread_noise, bid_size, ask_size, last_size = path.per_second
        spread = price * path.spread_frac * widening * spread_noise  # the order of old: same bits
        n_ticks = round(spread / tick)
        if n_ticks < 1:
            n_ticks = 1
        centre = price / tick
        bid_ticks = _floor(centre - n_ticks / 2 + 0.5)
        last_ticks = round(centre)
        grid = path.grid  # prices on the tick grid, rounded again only when they move
        if grid[0] != bid_ticks or grid[1] != n_ticks or grid[2] != last_ticks:
            grid = path.grid = (
                bid_ticks, n_ticks, last_ticks, round(bid_ticks * tick, 8),
                round((bid_ticks + n_ticks) * tick, 8), round(last_ticks * tick, 8),
            )  # fmt: skip
        return (grid[3], grid[4], bid_size, ask_size, grid[5], last_size, volume)

    def _instrument(self, con_id: int) -> Instrument:
        inst = self.registry.by_con_id(con_id)
        if inst is None:
            raise KeyError(f"unknown conId {con_id}")
        return inst

    def _session_minutes(self, con_id: int, day: int) -> tuple[float, tuple[np.ndarray, ...]]:
        start, n = self.session_span(day)
        inst = self._instrument(con_id)
        hook = getattr(self._providers.get(inst.sec_type), "minute_bars", None)
        if hook is not None:
            return start, hook(inst, day, n)
        rng = seeded_rng(self.seed, self.stream_key, _STREAM_MINUTE, con_id, day)
        return start, minute_bars(rng, self._full_path(con_id), day, n)

    def _session_path(self, con_id: int) -> _SessionPath:
        path = self._current.get(con_id)
        if path is None:
            start, bars = self._session_minutes(con_id, self._cur)
            inst = self._instrument(con_id)
            prev = float(self.daily_path(con_id).close[-2])
            path = self._current[con_id] = _SessionPath(inst, start, bars, prev)
        return path
