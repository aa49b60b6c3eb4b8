"""The ``monthly-factor`` backtest reference: zipline ``run_algorithm`` on a LiveDesk bundle.

Same timing as live. Live decides after the close of a month-end session ``M`` with the
Pipeline row of the run date ``D`` (the next session; it ranks on ``M``'s close) and its
market orders fill at ``D``'s open. The reference does the same:

* **decision**: on the bar of ``M`` (a daily bar is handled after its close), the picks of
  :meth:`~livedesk.backend.momentum.pipeline.FactorEngine.run` for ``D`` — the very function the
  live strategy calls — sized by ``order_target_percent`` on the portfolio value and prices at
  ``M``'s close (held names no longer picked go to 0);
* **fill**: zipline fills an order on the bar after the one it was placed in, i.e. on ``D``;
  :class:`OpenPriceSlippage` fills it at ``D``'s **open** (± the slippage), not at ``D``'s close.

(The previous ``schedule_function(month_start, market_open(30))`` decided on ``D`` and, in daily
mode, filled at ``D+1``'s close: one session late — see ZIPLINE_NOTES.md.) A backtest over
``[start, end]`` makes the decisions whose fill session ``D`` is inside the span (the zipline run
starts one session before ``start`` so a month-end just before it is decided); its returns are
those of ``start`` … ``end``. Offline: ``benchmark_returns=None`` (a zero benchmark).

Costs, stated in the output: commission IB fixed per share, $0.005 a share, $1 minimum
(zipline ``PerShare``; IB's 1 % cap is not modelled); slippage a fixed ``slippage_bps``
against the trade from the open (the CLI's ``--cost-bps``, default 1), fills capped at 10 % of
the session's volume (the rest fills at the next sessions' opens).

Imports zipline at module import: import lazily.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import warnings
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from zipline.api import (
    date_rules,
    get_datetime,
    order_target_percent,
    record,
    schedule_function,
    set_commission,
    set_slippage,
    symbol,
    time_rules,
)
from zipline.finance import commission
from zipline.finance.slippage import LiquidityExceeded, SlippageModel

from livedesk.backend.bundles.calendar import xnys_calendar
from livedesk.backend.bundles.run import run_offline
from livedesk.backend.momentum.factor import (
    DEFAULT_N,
    DEFAULT_TOP_K,
    FactorDataError,
    Picks,
)
from livedesk.backend.momentum.pipeline import FactorEngine
from livedesk.backend.risk.figures import MIN_SESSIONS
from livedesk.backend.strategies.backtest import BacktestResult as Reference
from livedesk.backend.strategies.replay import summary_metrics

warnings.filterwarnings("ignore", category=FutureWarning)

NEW_YORK = ZoneInfo("America/New_York")
COMMISSION_PER_SHARE = 0.005
COMMISSION_MIN = 1.0
SLIPPAGE_BPS = 1.0
VOLUME_LIMIT = 0.10


def costs_text(
    slippage_bps: float,
    per_share: float = COMMISSION_PER_SHARE,
    minimum: float = COMMISSION_MIN,
) -> str:
    """The commission and slippage model, as printed with the result."""
    return (
        f"commission ${per_share:g}/share, ${minimum:g} minimum (IB fixed, zipline PerShare); "
        f"fills at the run date's open, slippage {slippage_bps:g} bps fixed, capped at "
        f"{VOLUME_LIMIT:.0%} of the session's volume (OpenPriceSlippage)"
    )


class OpenPriceSlippage(SlippageModel):
    """Fill at the bar's **open** ± ``basis_points`` against the trade, at most
    ``volume_limit`` of the bar's volume (the rest waits for the next bar's open)."""

    def __init__(self, basis_points: float = SLIPPAGE_BPS, volume_limit: float = VOLUME_LIMIT):
        super().__init__()
        self.fraction = basis_points / 1e4
        self.volume_limit = volume_limit

    def process_order(self, data, order):
        volume = data.current(order.asset, "volume")
        shares = min(abs(order.open_amount), int(self.volume_limit * volume) - self.volume_for_bar)
        price = data.current(order.asset, "open")
        if shares <= 0 or not (price > 0):
            raise LiquidityExceeded()
        return price * (1 + self.fraction * order.direction), shares * order.direction


def decisions_in(engine: FactorEngine, start: pd.Timestamp, end: pd.Timestamp, top_k: int, n: int):
    """``{month-end M: Picks of run date D}`` for every run date ``D`` in ``[start, end]``,
    and the run dates skipped with their reason."""
    cal = xnys_calendar()
    sessions = cal.sessions_in_range(cal.previous_session(start), end)
    picks: dict[pd.Timestamp, Picks] = {}
    skipped: list[str] = []
    for prev, day in zip(sessions[:-1], sessions[1:], strict=True):
        if prev.month == day.month:
            continue
        try:
            picks[prev] = engine.run(day, top_k, n).picks
        except FactorDataError as exc:
            skipped.append(f"{day:%Y-%m-%d}: {exc}")
    return picks, skipped


@dataclass
class ZiplineRun:
    """Daily returns, summary metrics and what happened at each rebalance."""

    bundle: str
    start: pd.Timestamp
    end: pd.Timestamp
    returns: pd.Series
    metrics: dict[str, float]
    rebalances: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    held: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Symbols held at the start of each session (before its orders)."""
    costs: str = field(default_factory=lambda: costs_text(SLIPPAGE_BPS))
    fills: list[tuple[str, str, int, float]] = field(default_factory=list)
    """Every zipline transaction: (session, symbol, signed shares, price) — what the parity
    test compares with the live fills at the gateway."""

    def lines(self) -> list[str]:
        """The human summary."""
        m = self.metrics
        out = [
            f"monthly-factor backtest on bundle {self.bundle!r}: "
            f"{self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d}, {len(self.returns)} sessions, "
            f"{len(self.rebalances)} rebalances ({self.seconds:.1f} s)",
            f"  costs: {self.costs}",
            f"  total return {m['total_return']:+.2%}, annual return {m['annual_return']:+.2%}, "
            f"annual vol {m['annual_volatility']:.2%}, Sharpe {m['sharpe']:.2f}, "
            f"max drawdown {m['max_drawdown']:.2%}",
        ]
        out += [f"  skipped {s}" for s in self.skipped]
        return out


def metrics_of(returns: pd.Series) -> dict[str, float]:
    """Total and annual return, annual volatility, Sharpe (rf 0) and max drawdown."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return {k: 0.0 for k in ("total_return", "annual_return", "annual_volatility")} | {
            "sharpe": 0.0,
            "max_drawdown": 0.0,
            "sessions": 0.0,
        }
    wealth = np.cumprod(1.0 + r)
    total = float(wealth[-1] - 1.0)
    annual = float(wealth[-1] ** (252.0 / r.size) - 1.0)
    vol = float(np.std(r, ddof=1) * math.sqrt(252)) if r.size > 1 else 0.0
    sharpe = float(np.mean(r) / np.std(r, ddof=1) * math.sqrt(252)) if vol > 0 else 0.0
    peak = np.maximum.accumulate(np.concatenate(([1.0], wealth)))
    drawdown = float(np.min(np.concatenate(([1.0], wealth)) / peak - 1.0))
    return {
        "total_return": total,
        "annual_return": annual,
        "annual_volatility": vol,
        "sharpe": sharpe,
        "max_drawdown": drawdown,
        "sessions": float(r.size),
    }


def run_backtest(
    bundle: str,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    *,
    top_k: int = DEFAULT_TOP_K,
    n: int = DEFAULT_N,
    capital: float = 1_000_000.0,
    days: int | None = None,
    slippage_bps: float = SLIPPAGE_BPS,
    commission_per_share: float = COMMISSION_PER_SHARE,
    commission_min: float = COMMISSION_MIN,
) -> ZiplineRun:
    """Run the backtest from ``start`` to ``end`` (default: the bundle's last session).

    Without ``start``: the last ``days`` sessions up to ``end``, but not before the first
    date with a full factor window (the default when ``days`` is None too).
    """
    if not slippage_bps >= 0:
        raise ValueError(f"slippage must be >= 0 bps, got {slippage_bps}")
    if not (commission_per_share >= 0 and commission_min >= 0):
        raise ValueError("commission per share and minimum must be >= 0")
    engine = FactorEngine(bundle)
    first = engine.first_run_date
    end = engine.last_session if end is None else pd.Timestamp(end).normalize()
    if start is None:
        start = first
        if days:
            upto = engine.sessions[engine.sessions <= end]
            start = max(first, upto[-min(days, len(upto))])
    start = pd.Timestamp(start).normalize()
    if start < first:
        raise FactorDataError(
            f"bundle {bundle!r} starts {engine.first_session:%Y-%m-%d}: the backtest can start "
            f"on {first:%Y-%m-%d} at the earliest (the factor needs 253 sessions of closes)"
        )
    if end > engine.last_session:
        raise FactorDataError(
            f"bundle {bundle!r} ends {engine.last_session:%Y-%m-%d}; --end {end:%Y-%m-%d} is later"
        )
    if end <= start:
        raise FactorDataError(f"--end {end:%Y-%m-%d} must be after --start {start:%Y-%m-%d}")
    rebalances: list[str] = []
    held: dict[str, tuple[str, ...]] = {}
    decisions, skipped = decisions_in(engine, start, end, top_k, n)
    first_bar = xnys_calendar().previous_session(start)

    def initialize(context):
        set_commission(
            commission.PerShare(cost=commission_per_share, min_trade_cost=commission_min)
        )
        set_slippage(OpenPriceSlippage(slippage_bps, VOLUME_LIMIT))
        schedule_function(rebalance, date_rules.every_day(), time_rules.market_close())

    def before_trading_start(context, data):
        day = pd.Timestamp(get_datetime()).tz_localize(None).normalize()
        held[f"{day:%Y-%m-%d}"] = tuple(
            sorted(a.symbol for a, p in context.portfolio.positions.items() if p.amount)
        )

    def rebalance(context, data):
        day = pd.Timestamp(get_datetime()).tz_localize(None).normalize()
        picks = decisions.get(day)
        if picks is None:
            return
        weights = {symbol(s): w for s, w in picks.weights.items()}
        for asset in list(context.portfolio.positions):
            if asset not in weights and data.can_trade(asset):
                order_target_percent(asset, 0.0)
        for asset, weight in weights.items():
            if data.can_trade(asset):
                order_target_percent(asset, weight)
        rebalances.append(picks.describe())
        record(longs=len(picks.longs), shorts=len(picks.shorts))

    t0 = time.perf_counter()
    perf, returns = run_offline(
        bundle,
        first_bar,
        end,
        capital,
        initialize=initialize,
        before_trading_start=before_trading_start,
    )
    returns = returns[returns.index >= start]
    fills = [
        (f"{pd.Timestamp(t['dt']):%Y-%m-%d}", t["sid"].symbol, int(t["amount"]), float(t["price"]))
        for day in perf["transactions"]
        for t in day
    ]
    return ZiplineRun(
        bundle,
        start,
        end,
        returns,
        metrics_of(returns),
        rebalances,
        skipped,
        time.perf_counter() - t0,
        held=held,
        costs=costs_text(slippage_bps, commission_per_share, commission_min),
        fills=fills,
    )


class ZiplineReference(Reference):
    """The runtime's backtest result, its summary stating the bundle, costs and skipped runs."""

    def summary(self, min_sessions: int = MIN_SESSIONS) -> str:
        lines = [super().summary(min_sessions).replace(" trades", " rebalances")]
        lines.append(f"  bundle {self.notes['bundle']!r}; costs: {self.notes['costs']}")
        lines += [f"  skipped {s}" for s in self.notes["skipped"]]
        return "\n".join(lines)


def as_reference(
    result: ZiplineRun, strategy: str, params: dict, cost_bps: float
) -> ZiplineReference:
    """What ``livedesk backtest`` stores as the strategy's backtest reference."""
    daily = result.returns.to_numpy(dtype=float)
    metrics = summary_metrics(daily) | {
        "annual_return": result.metrics["annual_return"],
        "annual_volatility": result.metrics["annual_volatility"],
        "rebalances": float(len(result.rebalances)),
    }
    close = dt.time(16)
    return ZiplineReference(
        strategy=strategy,
        dates=[d.date() for d in result.returns.index],
        daily_returns=daily,
        metrics=metrics,
        params=params,
        span_start=dt.datetime.combine(result.start.date(), close, NEW_YORK),
        span_end=dt.datetime.combine(result.end.date(), close, NEW_YORK),
        cost_bps=cost_bps,
        bars=len(daily),
        trades=len(result.rebalances),
        notes={
            "engine": "zipline run_algorithm (daily, offline, benchmark_returns=None)",
            "bundle": result.bundle,
            "costs": result.costs,
            "rebalances": result.rebalances,
            "skipped": result.skipped,
        },
    )
