"""Backtest references: replay gateway history through a strategy's own signal code.

``livedesk backtest NAME [--days N]`` calls the strategy's ``backtest`` (fills at the next
bar's open plus ``cost_bps``), then :func:`store_reference` registers the daily returns and
summary metrics as the strategy's backtest reference (``set_backtest_reference``), with
its parameters and data span: numeric parameters as ``param.NAME`` metrics, the span as
``span_start`` / ``span_end`` epoch metrics, and everything (ISO span, parameters, cost,
contracts) in the journal state ``backtest:NAME``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from livedesk.backend.risk.figures import MIN_SESSIONS, sessions_reason

if TYPE_CHECKING:
    from livedesk.backend.journal import Journal
    from livedesk.backend.risk.engine import RiskEngine

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BacktestResult:
    """A replay's daily returns, metrics, parameters and data span."""

    strategy: str
    dates: list[dt.date]
    daily_returns: np.ndarray
    metrics: dict[str, float]
    params: Mapping[str, Any]
    span_start: dt.datetime
    span_end: dt.datetime
    cost_bps: float
    bars: int
    trades: int
    notes: dict[str, Any] = field(default_factory=dict)

    def reference_metrics(self) -> dict[str, float]:
        """Metrics to store: the summary, the numeric parameters and the span."""
        out = {k: v for k, v in self.metrics.items() if isinstance(v, int | float)}
        for k, v in self.params.items():
            if isinstance(v, bool):
                out[f"param.{k}"] = float(v)
            elif isinstance(v, int | float) and math.isfinite(v):
                out[f"param.{k}"] = float(v)
        out["cost_bps"] = float(self.cost_bps)
        out["span_start"] = self.span_start.timestamp()
        out["span_end"] = self.span_end.timestamp()
        out["bars"] = float(self.bars)
        out["trades"] = float(self.trades)
        return out

    def record(self) -> dict[str, Any]:
        """JSON-safe description (the ``backtest:NAME`` journal state)."""
        return {
            "strategy": self.strategy,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()},
            "span_start": self.span_start.isoformat(),
            "span_end": self.span_end.isoformat(),
            "cost_bps": self.cost_bps,
            "days": len(self.dates),
            "bars": self.bars,
            "trades": self.trades,
            "notes": self.notes,
        }

    def summary(self, min_sessions: int = MIN_SESSIONS) -> str:
        """One line: span, total return, Sharpe (only from ``min_sessions`` daily returns, as
        everywhere else), max drawdown, trades."""
        m = self.metrics
        n = int(np.size(self.daily_returns))
        reason = sessions_reason(n, min_sessions)
        sharpe = reason or f"{m.get('sharpe_ratio', math.nan):.2f}"
        return (
            f"{self.strategy} backtest {self.span_start:%F} .. {self.span_end:%F}: "
            f"{len(self.dates)} days, total {m.get('total_return', math.nan):+.2%}, "
            f"Sharpe {sharpe}, "
            f"max drawdown {m.get('max_drawdown', math.nan):.2%}, {self.trades} trades"
        )


def store_reference(
    result: BacktestResult, *, journal: Journal | None = None, risk: RiskEngine | None = None
) -> None:
    """Register ``result`` as the strategy's backtest reference (risk engine or journal)."""
    dates = [d.isoformat() for d in result.dates]
    metrics = result.reference_metrics()
    if risk is not None:
        risk.set_backtest_reference(result.strategy, result.daily_returns, metrics, dates)
        journal = journal or risk.journal
    elif journal is not None:
        journal.set_backtest_reference(result.strategy, result.daily_returns, metrics, dates)
    else:
        raise ValueError("store_reference needs a journal or a risk engine")
    journal.append_samples([], states={f"backtest:{result.strategy}": result.record()})


def stale_reason(record: Mapping[str, Any] | None, params: Mapping[str, Any]) -> str | None:
    """Why a stored reference (its ``backtest:NAME`` record) no longer describes the strategy
    as configured (``params``): the parameters that differ, or None when it is current."""
    if not record or "params" not in record:
        return None
    built = record["params"]

    def norm(v: Any) -> Any:
        return list(v) if isinstance(v, tuple) else v

    changed = [
        f"{k}={built.get(k)!r} (now {norm(v)!r})"
        for k, v in sorted(params.items())
        if k != "dry_run" and k in built and built[k] != norm(v)
    ]
    return "stale: built with " + ", ".join(changed) if changed else None
