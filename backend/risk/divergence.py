"""Live versus backtest: is the live track record still consistent with the backtest?

Two statistical tests, both two-figure answers (a band and a flag), deterministic for a seed:

**Sharpe ratio** (:func:`sharpe_divergence`). Null hypothesis: the live returns come from the
backtest's process, so the live Sharpe estimate has the backtest's true Sharpe ``SR0``.
The standard error of a Sharpe ratio estimated from ``n`` returns is, per period
(Mertens 2002, generalising Lo 2002 to non-normal returns)::

    se = sqrt((1 - skew * SR0 + (kurt - 1) / 4 * SR0**2) / n)

with ``skew`` and ``kurt`` (non-excess kurtosis) the backtest returns' moments; without the
backtest returns the normal case ``skew = 0, kurt = 3`` gives Lo's ``sqrt((1 + SR0**2/2)/n)``.
Annualised figures are scaled by ``sqrt(periods)``. The flag is raised when the live Sharpe
lies outside ``SR0 ± z * se`` (two-sided; ``z = 1.96`` is a 5 % false-alarm rate).

**Maximum drawdown** (:func:`drawdown_divergence`). The backtest daily returns are resampled
(iid, or circular blocks of ``block`` days to keep autocorrelation) into ``n_boot`` paths as
long as the live record; the ``q`` quantile of those paths' drawdown depths is the deepest
drawdown the backtest makes plausible over that horizon. The flag is raised when the live
maximum drawdown is deeper. Drawdowns are negative fractions, as in empyrical.

**Execution** (:func:`execution_divergence`). A return-based test has little power against
a steady cost: 6 bps a trade on a year of monthly rebalances is ~1.5 % a year, inside the
Sharpe band of 250 daily returns. This test looks at the cost directly: each live trade's
spread and impact (:func:`trade_costs_bps`: fills against the mid at the fill, else the
order's arrival mid, in bps of the traded notional, + = a cost) against the cost the
backtest reference models (its ``cost_bps``). With ``n`` trades of mean cost ``m`` and
sample standard deviation ``s``, ``t = (m − cost_bps) / (s / sqrt(n))``; the flag is raised
when ``t > z`` (one-sided, default 3: the test is looked at again at every fill) *and*
``m − cost_bps ≥ min_bps`` (material), from ``min_trades`` trades on ([risk] settings).

A raised flag says *why* in one line (:func:`divergence_reason`, from the key's attribution:
execution, model/regime or the residual); the execution test's line carries its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from livedesk.backend.risk.attribution import Attribution, explain

# Metrics compared by :func:`compare`, in display order.
COMPARED_METRICS = (
    "annual_return",
    "annual_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "calmar_ratio",
    "value_at_risk",
    "cvar",
)


@dataclass(frozen=True)
class SharpeTest:
    """Outcome of :func:`sharpe_divergence`; ratios and bounds are annualised."""

    live: float
    backtest: float
    se: float
    lower: float
    upper: float
    z_score: float
    n: int
    flag: bool


@dataclass(frozen=True)
class DrawdownTest:
    """Outcome of :func:`drawdown_divergence`."""

    live: float
    threshold: float
    p_value: float
    horizon: int
    flag: bool


@dataclass(frozen=True)
class DivergenceRow:
    """One line of the live-versus-backtest table; ``flag`` is None where no test applies."""

    metric: str
    live: float
    backtest: float
    diff: float
    flag: bool | None


def _clean(returns: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(returns, dtype=np.float64).ravel()
    return arr[~np.isnan(arr)]


def sharpe_standard_error(sharpe: float, n: int, skew: float = 0.0, kurt: float = 3.0) -> float:
    """Per-period standard error of a per-period Sharpe ratio estimated from ``n`` returns."""
    if n < 1:
        return math.nan
    var = (1.0 - skew * sharpe + (kurt - 1.0) / 4.0 * sharpe * sharpe) / n
    return math.sqrt(var) if var > 0 else math.nan


def sharpe_divergence(
    live_returns: Sequence[float] | np.ndarray,
    backtest_sharpe: float,
    periods: float,
    z: float = 1.96,
    backtest_returns: Sequence[float] | np.ndarray | None = None,
) -> SharpeTest:
    """Test the live Sharpe against the backtest's annualised Sharpe (module docstring)."""
    live = _clean(live_returns)
    n = live.size
    root = math.sqrt(periods)
    sr_live = math.nan
    if n >= 2:
        std = float(live.std(ddof=1))
        sr_live = float(live.mean()) / std * root if std > 0 else math.nan
    skew, kurt = 0.0, 3.0
    if backtest_returns is not None:
        bt = _clean(backtest_returns)
        if bt.size >= 4 and bt.std() > 0:
            dev = (bt - bt.mean()) / bt.std()
            skew, kurt = float(np.mean(dev**3)), float(np.mean(dev**4))
    se = sharpe_standard_error(backtest_sharpe / root, n, skew, kurt) * root
    lower, upper = backtest_sharpe - z * se, backtest_sharpe + z * se
    z_score = (sr_live - backtest_sharpe) / se if se > 0 else math.nan
    flag = bool(abs(z_score) > z) if math.isfinite(z_score) else False
    return SharpeTest(sr_live, backtest_sharpe, se, lower, upper, z_score, n, flag)


def bootstrap_max_drawdowns(
    returns: Sequence[float] | np.ndarray,
    horizon: int,
    n_boot: int = 2000,
    seed: int = 0,
    block: int = 1,
) -> np.ndarray:
    """Maximum drawdowns (≤ 0) of ``n_boot`` resampled paths of ``horizon`` returns."""
    bt = _clean(returns)
    if bt.size == 0 or horizon < 1:
        raise ValueError("need backtest returns and a horizon of at least 1")
    if block < 1:
        raise ValueError("block must be at least 1")
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // horizon)  # bounds memory to ~16 MB per chunk
    n_blocks = -(-horizon // block)
    offsets = np.arange(block)
    for start in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - start)
        starts = rng.integers(0, bt.size, size=(rows, n_blocks))
        idx = ((starts[:, :, None] + offsets) % bt.size).reshape(rows, -1)[:, :horizon]
        growth = np.cumprod(1.0 + bt[idx], axis=1)
        peaks = np.maximum(np.maximum.accumulate(growth, axis=1), 1.0)
        out[start : start + rows] = np.minimum((growth / peaks - 1.0).min(axis=1), 0.0)
    return out


def drawdown_divergence(
    live_max_dd: float,
    backtest_returns: Sequence[float] | np.ndarray,
    horizon: int,
    n_boot: int = 2000,
    q: float = 0.95,
    seed: int = 0,
    block: int = 1,
) -> DrawdownTest:
    """Flag a live drawdown deeper than the backtest's ``q`` quantile over ``horizon``."""
    if not 0.0 < q < 1.0:
        raise ValueError("q must be within (0, 1)")
    mdds = bootstrap_max_drawdowns(backtest_returns, horizon, n_boot, seed, block)
    threshold = float(np.quantile(mdds, 1.0 - q))
    p_value = float(np.mean(mdds <= live_max_dd))
    return DrawdownTest(live_max_dd, threshold, p_value, horizon, bool(live_max_dd < threshold))


def compare(
    live: Mapping[str, float],
    backtest: Mapping[str, float],
    *,
    live_returns: Sequence[float] | np.ndarray | None = None,
    backtest_returns: Sequence[float] | np.ndarray | None = None,
    periods: float = 252,
    z: float = 1.96,
    n_boot: int = 2000,
    q: float = 0.95,
    seed: int = 0,
) -> list[DivergenceRow]:
    """Rows of (metric, live, backtest, live − backtest, flag) for the metrics in both dicts.

    ``live`` is typically a :class:`~livedesk.backend.risk.metrics.StreamingRiskMetrics` snapshot over
    daily returns and ``backtest`` the registered summary metrics. The Sharpe row is tested
    when ``live_returns`` are given; the drawdown row when ``backtest_returns`` are given
    (over the horizon of ``live_returns``, or ``live["n"]``).
    """
    horizon = int(live.get("n", 0)) if live_returns is None else _clean(live_returns).size
    rows = []
    for metric in COMPARED_METRICS:
        if metric not in live or metric not in backtest:
            continue
        lv, bv = float(live[metric]), float(backtest[metric])
        flag: bool | None = None
        if metric == "sharpe_ratio" and live_returns is not None:
            flag = sharpe_divergence(live_returns, bv, periods, z, backtest_returns).flag
        elif metric == "max_drawdown" and backtest_returns is not None and horizon >= 1:
            flag = drawdown_divergence(lv, backtest_returns, horizon, n_boot, q, seed).flag
        rows.append(DivergenceRow(metric, lv, bv, lv - bv, flag))
    return rows


METRIC_NAMES = {"sharpe_ratio": "Sharpe", "max_drawdown": "max drawdown"}
"""How :func:`divergence_reason` names a flagged metric."""


def divergence_reason(rows: Sequence, attribution: Attribution | None) -> str | None:
    """Why live diverges, in one line, for the first flagged row (the Sharpe row first).

    ``rows`` are :class:`DivergenceRow` or risk-table rows (``metric``, ``live``,
    ``backtest``, ``flag``); ``attribution`` is the same key's attribution over the live
    window. None when nothing is flagged; without an attribution the line says so.
    """
    flagged = [r for r in rows if r.flag]
    if not flagged:
        return None
    r = min(flagged, key=lambda r: r.metric != "sharpe_ratio")
    name = METRIC_NAMES.get(r.metric, r.metric.replace("_", " "))
    if attribution is None:
        return (
            f"live {name} {r.live:.2f} vs {r.backtest:.2f}: no attribution yet "
            "(no recorded decisions and orders over the window)"
        )
    return explain(name, r.live, r.backtest, attribution)


@dataclass(frozen=True)
class ExecutionTest:
    """Outcome of :func:`execution_divergence`: live cost per trade vs the modelled one (bps)."""

    live_bps: float
    """Mean spread-and-impact cost of the live trades."""
    se_bps: float
    """Standard error of that mean."""
    modelled_bps: float
    """The cost per trade the backtest reference models."""
    trades: int
    t_stat: float
    flag: bool | None
    """None: fewer trades than the test needs."""
    z: float = 3.0
    min_bps: float = 2.0
    min_trades: int = 20

    @property
    def excess_bps(self) -> float:
        """Live cost above the modelled one, bps a trade."""
        return self.live_bps - self.modelled_bps

    def text(self) -> str:
        """One line: the test, its numbers and, when not raised though significant, why."""
        if self.flag is None:
            return f"execution test from {self.min_trades} trades ({self.trades} so far)"
        head = (
            f"execution test: live {self.live_bps:.1f} vs modelled {self.modelled_bps:.1f} "
            f"bps/trade, {self.trades} trades, t={self.t_stat:.1f}"
        )
        if self.flag:
            return f"{head} > {self.z:g}"
        if self.t_stat > self.z:  # significant, not material
            return f"{head}: +{self.excess_bps:.1f} bps, below the {self.min_bps:g} bps margin"
        return head


def trade_costs_bps(fills: Iterable) -> list[float]:
    """Spread-and-impact cost of each trade (filled order), bps of its traded notional.

    ``fills`` have ``side``, ``qty``, ``price``, ``multiplier``, ``fill_mid`` (the mid at the
    fill, None when unknown), ``arrival_mid`` (the order's) and ``order_key`` (None: the fill
    is its own trade), e.g. :class:`~livedesk.backend.risk.engine.FillRecord`. A fill is
    measured against its fill mid, else its arrival mid; a fill without either is left out.
    + is a cost, for buys and sells; trades in order of their first fill.
    """
    cost: dict[object, list[float]] = {}
    for i, f in enumerate(fills):
        mid = f.fill_mid if f.fill_mid is not None and math.isfinite(f.fill_mid) else None
        if mid is None and f.arrival_mid is not None and math.isfinite(f.arrival_mid):
            mid = f.arrival_mid
        if mid is None or mid <= 0:
            continue
        sign = 1.0 if str(f.side).upper() in ("BUY", "BOT") else -1.0
        k = float(f.multiplier or 1.0)
        acc = cost.setdefault(f.order_key if f.order_key is not None else ("fill", i), [0.0, 0.0])
        acc[0] += sign * abs(f.qty) * (f.price - mid) * k
        acc[1] += abs(f.qty) * mid * k
    return [usd / notional * 1e4 for usd, notional in cost.values() if notional > 0]


def execution_divergence(
    trade_costs: Sequence[float] | np.ndarray,
    modelled_bps: float,
    z: float = 3.0,
    min_bps: float = 2.0,
    min_trades: int = 20,
) -> ExecutionTest:
    """Test the live cost per trade against the modelled one (module docstring)."""
    x = _clean(trade_costs)
    n = int(x.size)
    if n < max(min_trades, 2):
        mean = float(x.mean()) if n else math.nan
        return ExecutionTest(
            mean, math.nan, modelled_bps, n, math.nan, None, z, min_bps, min_trades
        )
    mean = float(x.mean())
    se = float(x.std(ddof=1)) / math.sqrt(n)
    excess = mean - modelled_bps
    if se > 0:
        t = excess / se
    else:
        t = math.inf if excess > 0 else (-math.inf if excess < 0 else 0.0)
    flag = bool(t > z and excess >= min_bps)
    return ExecutionTest(mean, se, modelled_bps, n, t, flag, z, min_bps, min_trades)
