"""The Risk pane's table: live versus backtest per account and strategy, with test details.

Live figures are the daily (close-to-close) metrics — what a daily backtest is compared
with — shown only when their sample supports them (:mod:`livedesk.backend.risk.figures`:
annualised and distribution figures need ``min_sessions`` daily returns, else the line says
why, e.g. "n/a: 3 of 20 sessions"); Sharpe carries its standard error. The session under
way has its own lines: return since the open, intraday drawdown, realised volatility (not
annualised) and fills. Sharpe and maximum
drawdown carry the divergence test of :mod:`livedesk.backend.risk.divergence` (the Sharpe
band, the bootstrapped drawdown threshold and p-value); the other metrics show the
difference only. Execution quality comes from the engine's fills, with the execution
divergence test (:func:`~livedesk.backend.risk.divergence.execution_divergence`: live cost
per trade against the reference's modelled ``cost_bps``, thresholds from ``[risk]``) on its
line; :meth:`RiskBlock.divergence` says which test raised a key's flag. A raised Sharpe flag of a
strategy says why in one line, from its attribution over the journal (computed once per new
daily return). A strategy's backtest reference carries its span and, when it was built with
other parameters than the strategy's current ones, why it is stale
(:func:`~livedesk.backend.strategies.backtest.stale_reason`, as ``livedesk report``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from livedesk.backend.config import RiskSettings
from livedesk.backend.risk.divergence import (
    DivergenceRow,
    divergence_reason,
    drawdown_divergence,
    execution_divergence,
    sharpe_divergence,
    trade_costs_bps,
)
from livedesk.backend.risk.engine import ACCOUNT, RiskEngine
from livedesk.backend.risk.figures import SessionFigures, reference_figure

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
    reason: str = ""
    """Why the live figure is not shown ("n/a: 3 of 20 sessions"); "" when it is."""
    se: float = NAN
    """Standard error of the live figure (Sharpe: Lo 2002)."""


@dataclass(frozen=True)
class ExecutionLine:
    """Execution quality of one key (the account: every fill)."""

    key: str
    fills: int
    slippage_bps: float
    commission_bps: float
    drag_bps: float
    drag_reason: str = ""
    flag: bool | None = None
    """The execution divergence test (None: not made: no reference cost, too few trades)."""
    detail: str = ""
    """The test's numbers (live vs modelled bps a trade, trades, t) or why it is not made."""


@dataclass(frozen=True)
class RiskBlock:
    """Everything the Risk pane shows for one key."""

    key: str
    basis: str  # "daily n=…" or "intraday n=…"
    has_backtest: bool
    lines: tuple[RiskLine, ...]
    execution: ExecutionLine
    session: SessionFigures | None = None
    reference: str = ""
    """The backtest reference's span ("ref 2026-01-02..2026-06-30"; "" without one)."""
    stale: str = ""
    """Why the reference no longer describes the strategy ("stale: built with window=60
    (now 30)"; "" when current or unknown)."""

    def divergence(self) -> tuple[bool | None, str]:
        """The key's divergence flag: raised when the Sharpe test or the execution test
        raises it, with the raising tests' lines ("" and None/False when none does)."""
        sharpe = next((line for line in self.lines if line.metric == "sharpe_ratio"), None)
        tests = [(sharpe.flag, f"Sharpe test: {sharpe.detail}")] if sharpe is not None else []
        tests.append((self.execution.flag, self.execution.detail))
        raised = [text for flag, text in tests if flag]
        if raised:
            return True, "; ".join(raised)
        made = [flag for flag, _ in tests if flag is not None]
        return (False if made else None), ""


class RiskTable:
    """Builds :class:`RiskBlock` rows from a :class:`RiskEngine`, caching the tests."""

    def __init__(
        self,
        engine: RiskEngine,
        n_boot: int = 2000,
        params: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
        risk: RiskSettings | None = None,
    ) -> None:
        self.engine = engine
        self.n_boot = n_boot
        self.risk = risk or RiskSettings()
        """The ``[risk]`` thresholds of the execution test."""
        self.params = params
        """Each strategy's current parameters (None: references are not checked)."""
        self._records: dict[str, tuple[Any, dict | None]] = {}
        self._tests: dict[str, tuple[tuple, dict[str, tuple[bool | None, str]]]] = {}
        self._executions: dict[str, tuple[tuple, tuple[bool | None, str]]] = {}

    def blocks(self) -> list[RiskBlock]:
        """One block per key: the account first, then each strategy."""
        return [self.block(key) for key in self.engine.keys()]

    def block(self, key: str) -> RiskBlock:
        """The block of ``key``."""
        snap = self.engine.snapshot(key)
        daily = snap["daily"]
        ref = self.engine.backtest_reference(key)
        tests = self._test(key, daily, ref) if ref is not None else {}
        lines = []
        figures = self.engine.figures(key)
        for metric, label in METRICS:
            fig = figures[metric]
            bv, bt_reason = NAN, ""
            if ref is not None:
                bt = reference_figure(
                    metric,
                    float(ref.metrics.get(metric, NAN)),
                    int(ref.returns.size),
                    self.engine.min_sessions,
                    self.engine.daily_annualization,
                )
                bv, bt_reason = bt.value, bt.reason
            flag, detail = tests.get(metric, (None, ""))
            if not fig.shown:
                flag, detail = None, fig.reason
            if bt_reason:
                flag, detail = None, f"backtest {bt_reason}" if fig.shown else detail
            lv = fig.value
            lines.append(
                RiskLine(key, metric, label, lv, bv, lv - bv, flag, detail, fig.reason, fig.se)
            )
        ex = self.engine.execution(None if key == ACCOUNT else key)
        ex_flag, ex_detail = self._execution_test(key, ref) if ref is not None else (None, "")
        execution = ExecutionLine(
            key,
            ex.fills,
            ex.slippage.mean,
            ex.commission.mean,
            ex.drag_bps_per_year,
            ex.drag_reason,
            ex_flag,
            ex_detail,
        )
        basis = f"daily n={daily['n']} (annualised from {self.engine.min_sessions})"
        reference, stale = self._reference(key, ref) if ref is not None else ("", "")
        return RiskBlock(
            key,
            basis,
            ref is not None,
            tuple(lines),
            execution,
            self.engine.session_figures(key),
            reference,
            stale,
        )

    def _reference(self, key: str, ref) -> tuple[str, str]:
        """The stored reference's span and, against the current parameters, its staleness."""
        from livedesk.backend.strategies.backtest import stale_reason

        cached = self._records.get(key)
        if cached is None or cached[0] is not ref:  # read once per stored reference
            journal = getattr(self.engine, "journal", None)
            record = journal.state(f"backtest:{key}") if journal is not None else None
            self._records[key] = cached = (ref, record)
        record = cached[1]
        if not record:
            return "", ""
        span = f"ref {str(record.get('span_start', '?'))[:10]}..{str(record.get('span_end', '?'))[:10]}"
        current = self.params() if self.params is not None else {}
        params = current.get(key)
        return span, (stale_reason(record, params) or "") if params is not None else ""

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
            band = f"band {s.lower:.2f}..{s.upper:.2f} z={s.z_score:.2f}"
            why = self._why(key, s) if s.flag and key != ACCOUNT else None
            out["sharpe_ratio"] = (s.flag, f"{why} ({band})" if why else band)
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

    def _execution_test(self, key: str, ref) -> tuple[bool | None, str]:
        """The execution test of a strategy against its reference's modelled cost (made
        again only when a fill arrives or the reference changes)."""
        modelled = ref.metrics.get("cost_bps")
        if key == ACCOUNT or modelled is None or not math.isfinite(modelled):
            return None, ""  # a reference without a cost model: no test to make
        fills = self.engine.fills(key)
        token = (len(fills), id(ref))
        cached = self._executions.get(key)
        if cached is not None and cached[0] == token:
            return cached[1]
        r = self.risk
        test = execution_divergence(
            trade_costs_bps(fills),
            float(modelled),
            r.execution_z,
            r.execution_min_bps,
            r.execution_min_trades,
        )
        self._executions[key] = (token, (test.flag, test.text()))
        return test.flag, test.text()

    def _why(self, key: str, s) -> str | None:
        """The one-line reason of a raised Sharpe flag, from the strategy's attribution."""
        from livedesk.backend.risk.attribution_source import attribute_journal
        from livedesk.backend.risk.replay_signals import strategy_signals

        journal = getattr(self.engine, "journal", None)
        if journal is None:
            return None
        try:
            per, _ = attribute_journal(journal, [key], signals=strategy_signals())
        except ValueError:
            per = {}
        row = DivergenceRow("sharpe_ratio", s.live, s.backtest, s.live - s.backtest, True)
        return divergence_reason([row], per.get(key))
