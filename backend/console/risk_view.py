"""The Risk pane's table: live versus backtest per account and strategy, with test details.

Live figures are the daily (close-to-close) metrics once two sessions exist — what a daily
backtest is compared with — else the intraday ones (marked ``intraday``). Sharpe and maximum
drawdown carry the divergence test of :mod:`livedesk.backend.risk.divergence` (the Sharpe
band, the bootstrapped drawdown threshold and p-value); the other metrics show the
difference only. Execution quality comes from the engine's fills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from livedesk.backend.risk.divergence import drawdown_divergence, sharpe_divergence
from livedesk.backend.risk.engine import ACCOUNT, RiskEngine

METRICS = (
    ("cum_returns", "cum return"),
    ("max_drawdown", "max drawdown"),
    ("annual_volatility", "volatility"),
    ("sharpe_ratio", "Sharpe"),
    ("sortino_ratio", "Sortino"),
    ("omega_ratio", "omega"),
    ("cvar", "CVaR"),
    ("calmar_ratio", "Calmar"),
)
PERCENT_METRICS = {"cum_returns", "max_drawdown", "annual_volatility", "cvar"}
NAN = math.nan


@dataclass(frozen=True)
class RiskLine:
    """One metric of one key."""

    key: str
    metric: str
    label: str
    live: float
    backtest: float
    diff: float
    flag: bool | None
    detail: str


@dataclass(frozen=True)
class ExecutionLine:
    """Execution quality of one key (the account: every fill)."""

    key: str
    fills: int
    slippage_bps: float
    commission_bps: float
    drag_bps: float


@dataclass(frozen=True)
class RiskBlock:
    """Everything the Risk pane shows for one key."""

    key: str
    basis: str  # "daily n=…" or "intraday n=…"
    has_backtest: bool
    lines: tuple[RiskLine, ...]
    execution: ExecutionLine


class RiskTable:
    """Builds :class:`RiskBlock` rows from a :class:`RiskEngine`, caching the tests."""

    def __init__(self, engine: RiskEngine, n_boot: int = 2000) -> None:
        self.engine = engine
        self.n_boot = n_boot
        self._tests: dict[str, tuple[tuple, dict[str, tuple[bool | None, str]]]] = {}

    def blocks(self) -> list[RiskBlock]:
        """One block per key: the account first, then each strategy."""
        return [self.block(key) for key in self.engine.keys()]

    def block(self, key: str) -> RiskBlock:
        """The block of ``key``."""
        snap = self.engine.snapshot(key)
        daily, intraday = snap["daily"], snap["intraday"]
        live, basis = (daily, "daily") if daily["n"] >= 2 else (intraday, "intraday")
        ref = self.engine.backtest_reference(key)
        tests = self._test(key, daily, ref) if ref is not None else {}
        lines = []
        for metric, label in METRICS:
            lv = float(live.get(metric, NAN))
            bv = float(ref.metrics.get(metric, NAN)) if ref is not None else NAN
            flag, detail = tests.get(metric, (None, ""))
            lines.append(RiskLine(key, metric, label, lv, bv, lv - bv, flag, detail))
        ex = self.engine.execution(None if key == ACCOUNT else key)
        execution = ExecutionLine(
            key, ex.fills, ex.slippage.mean, ex.commission.mean, ex.drag_bps_per_year
        )
        return RiskBlock(key, f"{basis} n={live['n']}", ref is not None, tuple(lines), execution)

    def _test(self, key: str, daily: dict, ref) -> dict[str, tuple[bool | None, str]]:
        token = (daily["n"], id(ref))
        cached = self._tests.get(key)
        if cached is not None and cached[0] == token:
            return cached[1]
        _, returns = self.engine.daily_returns(key)
        out: dict[str, tuple[bool | None, str]] = {}
        periods = self.engine.daily_annualization
        bt_sharpe = ref.metrics.get("sharpe_ratio")
        if returns.size >= 2 and bt_sharpe is not None and math.isfinite(bt_sharpe):
            s = sharpe_divergence(returns, bt_sharpe, periods, backtest_returns=ref.returns)
            out["sharpe_ratio"] = (s.flag, f"band {s.lower:.2f}..{s.upper:.2f} z={s.z_score:.2f}")
        else:
            out["sharpe_ratio"] = (None, "needs 2 daily returns")
        if returns.size >= 1 and ref.returns.size:
            d = drawdown_divergence(
                float(daily["max_drawdown"]), ref.returns, returns.size, n_boot=self.n_boot
            )
            out["max_drawdown"] = (d.flag, f"q95 {d.threshold:.1%} p={d.p_value:.2f}")
        else:
            out["max_drawdown"] = (None, "needs a daily return")
        self._tests[key] = (token, out)
        return out
