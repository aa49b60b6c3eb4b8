"""When a risk figure means something, and the figures of the session under way.

Annualised figures (annual return, volatility, Sharpe, Sortino, Calmar, drag per year) and
the distribution figures (omega, VaR, CVaR) need at least ``min_sessions`` daily returns
(20 by default, ``[risk] min_sessions``); before that a :class:`Figure` carries the reason
instead of a number ("n/a: 3 of 20 sessions"). Sharpe comes with its standard error:
Lo (2002), for IID returns, ``SE(SR) = sqrt((1 + SR**2 / 2) / n)`` for the per-period ratio,
scaled by ``sqrt(periods)`` like the ratio itself.

Within a session, what is meaningful is shown instead (:class:`SessionFigures`): the return
since the open, the intraday drawdown, the session's realised volatility (``sqrt(sum r**2)``
of the intraday returns: not annualised) and the number of fills.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
MIN_SESSIONS = 20
ANNUALISED = frozenset(
    {"annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio", "calmar_ratio"}
)
DISTRIBUTION = frozenset({"omega_ratio", "value_at_risk", "cvar"})
NAN = math.nan


@dataclass(frozen=True)
class Figure:
    """A value, or the reason it is not shown; Sharpe also carries its standard error."""

    value: float
    reason: str = ""
    se: float = NAN

    @property
    def shown(self) -> bool:
        """True when the sample supports the figure."""
        return not self.reason


def ny_session(t: float) -> dt.date:
    """The New York trading date of epoch ``t``."""
    return dt.datetime.fromtimestamp(t, NEW_YORK).date()


def sessions_reason(n: int, minimum: int) -> str:
    """``""`` when ``n >= minimum`` daily returns, else ``"n/a: 3 of 20 sessions"``."""
    return "" if n >= minimum else f"n/a: {n} of {minimum} sessions"


def sharpe_standard_error(sharpe: float, n: int, periods: float) -> float:
    """Lo (2002) standard error of an annualised Sharpe ratio from ``n`` IID returns."""
    if n < 2 or not math.isfinite(sharpe) or periods <= 0:
        return NAN
    per_period = sharpe / math.sqrt(periods)
    return math.sqrt(periods) * math.sqrt((1.0 + per_period**2 / 2.0) / n)


def daily_figure(metric: str, value: float, n: int, minimum: int, periods: float) -> Figure:
    """The live daily ``metric`` as shown: gated on the number of daily returns ``n``."""
    needs = minimum if metric in ANNUALISED or metric in DISTRIBUTION else 1
    reason = sessions_reason(n, needs)
    if reason:
        return Figure(NAN, reason)
    if metric == "sharpe_ratio":
        return Figure(value, se=sharpe_standard_error(value, n, periods))
    return Figure(value)


def reference_figure(metric: str, value: float, n: int, minimum: int, periods: float) -> Figure:
    """A backtest reference's ``metric`` as shown: the same rule as live, on the reference's
    own number of daily returns ``n`` (a 5-session backtest has no Sharpe either)."""
    return daily_figure(metric, value, n, minimum, periods)


@dataclass(frozen=True)
class SessionFigures:
    """The session under way: what a handful of intraday samples can say."""

    session: dt.date | None
    samples: int
    return_since_open: float
    drawdown: float  # intraday drawdown now, <= 0
    max_drawdown: float  # deepest intraday drawdown of the session, <= 0
    realised_vol: float  # sqrt(sum r^2) of the session's intraday returns (not annualised)
    fills: int


class SessionStats:
    """Running session figures from intraday returns (reset when the session changes)."""

    def __init__(self) -> None:
        self.session: dt.date | None = None
        self.samples = 0
        self.growth = 1.0
        self.peak = 1.0
        self.max_drawdown = 0.0
        self.sum_sq = 0.0

    def update(self, session: dt.date, ret: float) -> None:
        """Add one intraday return of ``session`` (NaN counts as no move)."""
        if session != self.session:
            self.__init__()
            self.session = session
        r = ret if math.isfinite(ret) else 0.0
        self.samples += 1
        self.growth *= 1.0 + r
        self.peak = max(self.peak, self.growth)
        self.max_drawdown = min(self.max_drawdown, self.growth / self.peak - 1.0)
        self.sum_sq += r * r

    def figures(self, fills: int) -> SessionFigures:
        """The session's figures with its ``fills`` count."""
        if not self.samples:
            return SessionFigures(self.session, 0, NAN, NAN, NAN, NAN, fills)
        return SessionFigures(
            self.session,
            self.samples,
            self.growth - 1.0,
            self.growth / self.peak - 1.0,
            self.max_drawdown,
            math.sqrt(self.sum_sq),
            fills,
        )
