"""The ``monthly-factor`` backtest reference: zipline ``run_algorithm`` on a LiveDesk bundle.

Same Pipeline (:func:`~livedesk.backend.momentum.pipeline.make_pipeline`) and same pick
function (:func:`~livedesk.backend.momentum.factor.pick`) as the live strategy; rebalanced
with ``schedule_function`` on the first session of each month — the session after the
month-end, whose pipeline row ranks on the month-end close — 30 minutes after the open,
with ``order_target_percent`` (held names no longer picked go to 0). Offline:
``benchmark_returns=None`` (zipline then uses a zero benchmark).

Costs, stated in the output: commission IB fixed per share, $0.005 a share, $1 minimum
(zipline ``PerShare``; IB's 1 % cap is not modelled); slippage a fixed ``slippage_bps``
against the trade (the CLI's ``--cost-bps``, default 1), fills capped at 10 % of the bar's
volume (``FixedBasisPointsSlippage``). In daily mode an order placed on the run date fills
at that session's close.

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
from zipline import run_algorithm
from zipline.api import (
    attach_pipeline,
    date_rules,
    get_datetime,
    order_target_percent,
    pipeline_output,
    record,
    schedule_function,
    set_commission,
    set_slippage,
    time_rules,
)
from zipline.finance import commission, slippage

from livedesk.backend.bundles.paths import zipline_root_env
from livedesk.backend.bundles.store import ensure_registered
from livedesk.backend.momentum.factor import DEFAULT_N, DEFAULT_TOP_K, FactorDataError, pick
from livedesk.backend.momentum.pipeline import FactorEngine, make_pipeline
from livedesk.backend.strategies.backtest import BacktestResult as Reference
from livedesk.backend.strategies.replay import summary_metrics

warnings.filterwarnings("ignore", category=FutureWarning)

NEW_YORK = ZoneInfo("America/New_York")
PIPELINE_NAME = "monthly_factor"
COMMISSION_PER_SHARE = 0.005
COMMISSION_MIN = 1.0
SLIPPAGE_BPS = 1.0
VOLUME_LIMIT = 0.10


def costs_text(slippage_bps: float) -> str:
    """The commission and slippage model, as printed with the result."""
    return (
        f"commission ${COMMISSION_PER_SHARE}/share, ${COMMISSION_MIN:g} minimum (IB fixed, "
        f"zipline PerShare); slippage {slippage_bps:g} bps fixed, fills capped at "
        f"{VOLUME_LIMIT:.0%} of the bar's volume (FixedBasisPointsSlippage)"
    )


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
) -> ZiplineRun:
    """Run the backtest from ``start`` to ``end`` (default: the bundle's last session).

    Without ``start``: the last ``days`` sessions up to ``end``, but not before the first
    date with a full factor window (the default when ``days`` is None too).
    """
    if not slippage_bps >= 0:
        raise ValueError(f"slippage must be >= 0 bps, got {slippage_bps}")
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
    skipped: list[str] = []
    held: dict[str, tuple[str, ...]] = {}

    def initialize(context):
        attach_pipeline(make_pipeline(top_k), PIPELINE_NAME)
        set_commission(
            commission.PerShare(cost=COMMISSION_PER_SHARE, min_trade_cost=COMMISSION_MIN)
        )
        set_slippage(
            slippage.FixedBasisPointsSlippage(basis_points=slippage_bps, volume_limit=VOLUME_LIMIT)
        )
        schedule_function(rebalance, date_rules.month_start(), time_rules.market_open(minutes=30))

    def before_trading_start(context, data):
        context.frame = pipeline_output(PIPELINE_NAME)
        day = pd.Timestamp(get_datetime()).tz_localize(None).normalize()
        held[f"{day:%Y-%m-%d}"] = tuple(
            sorted(a.symbol for a, p in context.portfolio.positions.items() if p.amount)
        )

    def rebalance(context, data):
        day = pd.Timestamp(get_datetime()).tz_localize(None).normalize()
        try:
            picks = pick(context.frame, day, n, label=lambda a: a.symbol)
        except FactorDataError as exc:
            skipped.append(f"{day:%Y-%m-%d}: {exc}")
            return
        for asset in list(context.portfolio.positions):
            if asset not in picks.weights and data.can_trade(asset):
                order_target_percent(asset, 0.0)
        for asset, weight in picks.weights.items():
            if data.can_trade(asset):
                order_target_percent(asset, weight)
        rebalances.append(picks.describe(label=lambda a: a.symbol))
        record(longs=len(picks.longs), shorts=len(picks.shorts))

    t0 = time.perf_counter()
    with zipline_root_env() as env:
        ensure_registered(bundle)
        perf = run_algorithm(
            start=start,
            end=end,
            initialize=initialize,
            before_trading_start=before_trading_start,
            capital_base=capital,
            data_frequency="daily",
            bundle=bundle,
            benchmark_returns=None,
            environ=env,
            default_extension=False,
        )
    returns = perf["returns"].astype(float)
    returns.index = pd.DatetimeIndex(returns.index).tz_localize(None).normalize()
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
        costs=costs_text(slippage_bps),
    )


class ZiplineReference(Reference):
    """The runtime's backtest result, its summary stating the bundle, costs and skipped runs."""

    def summary(self) -> str:
        lines = [super().summary().replace(" trades", " rebalances")]
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
