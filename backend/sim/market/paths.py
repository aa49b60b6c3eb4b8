"""The building blocks of simulated price paths: records, seeded streams and minute bars.

Shared by the equity model (:mod:`livedesk.backend.sim.market.model`), the NYMEX futures
(:mod:`livedesk.backend.sim.market.futures`) and the option chains
(:mod:`livedesk.backend.sim.market.options`). Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np

from livedesk.backend.sim.market.instruments import Instrument

T_DF = 4.0
_T_UNIT = math.sqrt((T_DF - 2.0) / T_DF)  # scales a Student-t draw to unit variance
DRAW_BLOCK = 64
"""Sessions per block of random draws: paths grow by whole blocks, earlier sessions unchanged."""
NEW_YORK = ZoneInfo("America/New_York")
LOT = 100  # shares in a round lot

DAILY_DTYPE = np.dtype(
    [("date", "M8[D]"), ("open", "f8"), ("high", "f8"), ("low", "f8"), ("close", "f8"),
     ("volume", "i8")]
)  # fmt: skip


MINUTE_DTYPE = np.dtype(
    [("time", "i8"), ("open", "f8"), ("high", "f8"), ("low", "f8"), ("close", "f8"),
     ("volume", "i8")]
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book and last trade at one instant; ``volume`` is the session's cumulative."""

    bid: float
    ask: float
    bid_size: int
    ask_size: int
    last: float
    last_size: int
    volume: int


_QUOTE_SETTERS = tuple(
    Quote.__dict__[name].__set__
    for name in ("bid", "ask", "bid_size", "ask_size", "last", "last_size", "volume")
)


def make_quote(
    bid: float, ask: float, bid_size: int, ask_size: int, last: float, last_size: int, volume: int
) -> Quote:
    """``Quote(...)`` for the streaming hot path: the same frozen object, its slots filled
    through their descriptors instead of ``__init__``'s per-field ``object.__setattr__``
    (a third of the cost)."""
    q = object.__new__(Quote)
    s_bid, s_ask, s_bid_size, s_ask_size, s_last, s_last_size, s_volume = _QUOTE_SETTERS
    s_bid(q, bid)
    s_ask(q, ask)
    s_bid_size(q, bid_size)
    s_ask_size(q, ask_size)
    s_last(q, last)
    s_last_size(q, last_size)
    s_volume(q, volume)
    return q


@dataclass(frozen=True)
class DailyPath:
    """Unrounded daily prices over ``MarketModel.sessions`` (last entry: current session)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    intraday_vol: np.ndarray  # log-volatility of the open-to-close move, per session


class PathProvider(Protocol):
    """Makes the daily path of one instrument.

    A provider may also define ``minute_bars(inst, day, n)`` returning the (open, high, low,
    close, volume) arrays of session ``day``; otherwise minute bars are a Brownian bridge.
    """

    def daily_path(self, inst: Instrument) -> DailyPath: ...


class DerivedPricer(Protocol):
    """Prices instruments from other instruments' paths on demand (options)."""

    def quote(self, inst: Instrument, t: float) -> Quote: ...

    def last_price(self, inst: Instrument, t: float) -> float: ...

    def prev_close(self, inst: Instrument) -> float: ...

    def daily_bars(self, inst: Instrument) -> np.ndarray: ...

    def minute_bars(self, inst: Instrument, session: date) -> np.ndarray: ...


def seeded_rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def student_t(rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
    return rng.standard_t(T_DF, size) * _T_UNIT


def extend_draws(
    first: np.ndarray,
    seed: int,
    key: tuple[int, ...],
    n: int,
    draw: Callable[[np.random.Generator, int], np.ndarray],
) -> np.ndarray:
    """``first`` (draws of the first sessions, time on the last axis) extended to ``n``
    sessions: later sessions come in blocks of :data:`DRAW_BLOCK`, block ``b`` drawn by
    ``draw(rng, DRAW_BLOCK)`` from stream ``(*key, b)``, so extending a path further never
    changes the draws of the sessions it already had."""
    extra = n - first.shape[-1]
    if extra <= 0:
        return first[..., :n]
    blocks = [draw(seeded_rng(seed, *key, b), DRAW_BLOCK) for b in range(-(-extra // DRAW_BLOCK))]
    return np.concatenate([first, *blocks], axis=-1)[..., :n]


def ar1(shocks: np.ndarray, phi: float, start: float) -> np.ndarray:
    """``x[t] = phi * x[t-1] + shocks[t]`` with ``x[-1] = start``, vectorised in chunks."""
    out = np.empty_like(shocks)
    chunk = max(1, int(27.0 / -math.log(phi)))  # keeps phi**-chunk below ~1e12
    prev = start
    for lo in range(0, len(shocks), chunk):
        part = shocks[lo : lo + chunk]
        powers = phi ** np.arange(1, len(part) + 1)
        out[lo : lo + len(part)] = powers * (prev + np.cumsum(part / powers))
        prev = out[lo + len(part) - 1]
    return out


def half_life_phi(half_life: float) -> float:
    return 0.5 ** (1.0 / half_life)


@lru_cache(maxsize=8)
def minute_profiles(n: int) -> tuple[np.ndarray, np.ndarray]:
    """U-shaped variance and volume weights (each summing to 1) for an ``n``-minute session."""
    k = np.arange(n, dtype=float)
    variance = 1.0 + 2.0 * np.exp(-k / 15.0) + 0.8 * np.exp(-(n - 1 - k) / 20.0)
    volume = 1.0 + 3.0 * np.exp(-k / 20.0) + 2.5 * np.exp(-(n - 1 - k) / 15.0)
    return variance / variance.sum(), volume / volume.sum()


def minute_bars(
    rng: np.random.Generator, path: DailyPath, day: int, n: int
) -> tuple[np.ndarray, ...]:
    """Open, high, low, close and volume arrays of one session's ``n`` minute bars."""
    o, h, lo, c = path.open[day], path.high[day], path.low[day], path.close[day]
    a, b, top, bottom = math.log(o), math.log(c), math.log(h), math.log(lo)
    var_w, vol_w = minute_profiles(n)
    sigma = float(path.intraday_vol[day])
    step_sd = sigma * np.sqrt(var_w)
    walk = np.cumsum(student_t(rng, n) * step_sd)
    cum_w = np.cumsum(var_w)
    x = a + (b - a) * cum_w + walk - cum_w * walk[-1]
    x[-1] = b
    upper, lower = max(a, b), min(a, b)
    peak, trough = x.max(), x.min()
    if peak > upper:
        above = x > upper
        x[above] = upper + (x[above] - upper) * (top - upper) / (peak - upper)
    if trough < lower:
        below = x < lower
        x[below] = lower - (lower - x[below]) * (lower - bottom) / (lower - trough)
    opens = np.concatenate(([a], x[:-1]))
    wicks = np.abs(rng.standard_normal((2, n))) * 0.3 * step_sd
    highs = np.minimum(np.maximum(opens, x) + wicks[0], top)
    lows = np.maximum(np.minimum(opens, x) - wicks[1], bottom)
    highs[np.argmax(highs)] = top
    lows[np.argmin(lows)] = bottom
    opens, highs, lows, closes = np.exp(opens), np.exp(highs), np.exp(lows), np.exp(x)
    opens[0], closes[-1] = o, c  # exact, so the bars round to the daily open and close
    highs = np.minimum(np.maximum(highs, np.maximum(opens, closes)), h)
    lows = np.maximum(np.minimum(lows, np.minimum(opens, closes)), lo)
    highs[np.argmax(highs)], lows[np.argmin(lows)] = h, lo
    weights = np.cumsum(vol_w * np.exp(0.3 * rng.standard_normal(n)))
    cumulative = np.rint(weights / weights[-1] * path.volume[day]).astype(np.int64)
    volumes = np.diff(cumulative, prepend=0)
    return opens, highs, lows, closes, volumes


def round_to_tick(prices: np.ndarray | float, tick: float) -> np.ndarray | float:
    """Prices rounded to the nearest multiple of ``tick``."""
    return np.round(np.round(np.asarray(prices) / tick) * tick, 8)
