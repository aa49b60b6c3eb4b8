"""Turning IB's PnL and NetLiquidation stream into intraday and daily return series.

Definitions
-----------
*Intraday return* (one per emitted sample, for early warning)::

    r_i = (pnl_i - pnl_{i-1}) / nlv_{i-1}

where ``pnl`` is IB's ``dailyPnL`` from ``reqPnL`` (realized + unrealized since the previous
session's close) and ``nlv_{i-1}`` the NetLiquidation known at the previous emitted sample.
A sample is emitted at most every ``interval`` seconds (default 5, minimum 3 — IB refreshes
PnL about once a second and NetLiquidation only every few minutes, so a shorter interval
only repeats values); observations in between are held and the latest one is used.

*Daily reset*: ``dailyPnL`` restarts from zero at the session boundary. The first sample of a
new session is therefore measured against a zero baseline — its ``dailyPnL`` already holds
the overnight move since the previous close — instead of against the previous session's last
PnL, which would emit a spurious return equal to minus that session's PnL. The caller labels
each observation with its session date (the date whose close the reset follows).

*Daily return* (one per session, compared like with like with a daily backtest)::

    R_d = NLV_close(d) / NLV_close(d-1) - 1

where ``NLV_close(d)`` is the last NetLiquidation observed in session ``d``. A session's return
is emitted by :meth:`ReturnSampler.close_session` (call it at the close) or, failing that,
when the first observation of the next session arrives. The first observed session has no previous close and
emits no daily return. Deposits and withdrawals are not netted out.

Unusable inputs: an observation with a non-finite PnL is ignored; a non-finite or
non-positive NetLiquidation is ignored and the last usable one is kept.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_INTERVAL = 3.0


@dataclass(frozen=True)
class IntradayReturn:
    """One emitted sample: time, PnL, NetLiquidation and the return since the previous one."""

    t: float
    total_pnl: float
    nlv: float
    ret: float
    session: dt.date


@dataclass(frozen=True)
class DailyReturn:
    """Close-to-close return of one session."""

    session: dt.date
    nlv_close: float
    ret: float


@dataclass(frozen=True)
class SamplerOutput:
    """What one call produced: zero to two intraday samples and at most one daily return."""

    intraday: tuple[IntradayReturn, ...] = ()
    daily: DailyReturn | None = None


class ReturnSampler:
    """Pure core of the PnL sampler: observations in, intraday and daily returns out."""

    def __init__(self, interval: float = 5.0) -> None:
        if not interval >= MIN_INTERVAL:
            raise ValueError(
                f"sampling interval must be at least {MIN_INTERVAL:g} s "
                f"(IB's refresh cadence), got {interval!r}"
            )
        self.interval = float(interval)
        self._session: dt.date | None = None
        self._closed = False
        self._last_t = -math.inf
        self._held: tuple[float, float] | None = None  # latest (t, pnl) not yet emitted
        self._base_pnl = 0.0  # PnL at the previous emitted sample of this session
        self._base_nlv = math.nan  # NetLiquidation at the previous emitted sample
        self._nlv = math.nan  # latest usable NetLiquidation
        self._prev_close = math.nan  # closing NetLiquidation of the previous session

    def observe(self, t: float, total_pnl: float, nlv: float, session: dt.date) -> SamplerOutput:
        """Feed one observation (``total_pnl`` is IB's dailyPnL); returns what became due.

        A session change closes the previous session first (flushing its held observation
        and producing its daily return), then emits the new session's first sample.
        """
        intraday: list[IntradayReturn] = []
        daily = None
        new_session = session != self._session
        if new_session:
            if self._session is not None:  # closes at the NLV known before this observation
                closed = self.close_session()
                intraday.extend(closed.intraday)
                daily = closed.daily
            self._session = session
            self._closed = False
            self._base_pnl = 0.0
        if math.isfinite(nlv) and nlv > 0:
            self._nlv = nlv
        if not math.isfinite(total_pnl) or math.isnan(self._nlv):
            return SamplerOutput(tuple(intraday), daily)
        if not new_session and t - self._last_t < self.interval:
            self._held = (t, total_pnl)
            return SamplerOutput()
        sample = self._emit(t, total_pnl)
        if sample is not None:
            intraday.append(sample)
        return SamplerOutput(tuple(intraday), daily)

    def close_session(self) -> SamplerOutput:
        """Close the current session at its latest NetLiquidation (once per session).

        A held observation is flushed as a final intraday sample, also after the close.
        """
        if self._session is None:
            return SamplerOutput()
        flushed = ()
        if self._held is not None:
            sample = self._emit(*self._held)
            flushed = () if sample is None else (sample,)
        if self._closed:
            return SamplerOutput(flushed)
        daily = None
        if not math.isnan(self._prev_close):
            daily = DailyReturn(self._session, self._nlv, self._nlv / self._prev_close - 1.0)
        self._prev_close = self._nlv
        self._closed = True
        return SamplerOutput(flushed, daily)

    def state(self) -> dict[str, Any]:
        """The sampler's state as plain values (JSON-serialisable), for :meth:`from_state`."""
        return {
            "interval": self.interval,
            "session": None if self._session is None else self._session.isoformat(),
            "closed": self._closed,
            "last_t": self._last_t,
            "held": None if self._held is None else list(self._held),
            "base_pnl": self._base_pnl,
            "base_nlv": self._base_nlv,
            "nlv": self._nlv,
            "prev_close": self._prev_close,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ReturnSampler:
        """A sampler resuming exactly where the one that produced ``state`` stood."""
        sampler = cls(state["interval"])
        session = state["session"]
        sampler._session = None if session is None else dt.date.fromisoformat(session)
        sampler._closed = bool(state["closed"])
        sampler._last_t = float(state["last_t"])
        held = state["held"]
        sampler._held = None if held is None else (float(held[0]), float(held[1]))
        sampler._base_pnl = float(state["base_pnl"])
        sampler._base_nlv = float(state["base_nlv"])
        sampler._nlv = float(state["nlv"])
        sampler._prev_close = float(state["prev_close"])
        return sampler

    def _emit(self, t: float, pnl: float) -> IntradayReturn | None:
        prev_nlv = self._base_nlv
        self._base_pnl, pnl_change = pnl, pnl - self._base_pnl
        self._base_nlv = self._nlv
        self._last_t = t
        self._held = None
        if math.isnan(prev_nlv):
            return None  # the very first observation only sets the baseline
        assert self._session is not None
        return IntradayReturn(t, pnl, self._nlv, pnl_change / prev_nlv, self._session)
