"""``livedesk demo --scenario slippage``: the live-vs-backtest example, reproduced.

The monthly factor runs live on the demo account over a simulated year (``--sessions``,
252) with an execution cost injected on every fill (the gateway's impact fault,
``sim-control impact BPS``; ``--cost-bps``, 6 by default), then its backtest over the same
sessions is stored as its reference. The record then shows backtest Sharpe against live
Sharpe, the divergence flag (raised by the execution test when live pays more a trade than
the reference's modelled cost: see :mod:`livedesk.backend.risk.divergence`), and the
attribution naming execution (spread and impact): bps per trade × trades per month ≈ bps
per year.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

STRATEGY = "monthly-factor"


@dataclass(frozen=True)
class ScenarioFigures:
    """What the scenario shows, read back from the demo journal."""

    sessions: int
    trades: int
    notional: float
    spread_impact_usd: float
    nlv: float
    backtest_sharpe: float
    live_sharpe: float
    flag: bool | None
    """The strategy's divergence flag: the Sharpe test's or the execution test's."""
    detail: str
    """Which test raised it and its numbers (the Sharpe band when none did)."""
    execution: str = ""
    """The execution test's line (live vs modelled cost per trade, trades, t)."""

    @property
    def bps_per_trade(self) -> float:
        """Spread and impact per trade, in bps of the traded notional."""
        return -self.spread_impact_usd / self.notional * 1e4 if self.notional else math.nan

    @property
    def trades_per_month(self) -> float:
        return self.trades / max(self.sessions / 21.0, 1e-9)

    @property
    def bps_per_year(self) -> float:
        """Spread and impact over the run, annualised, in bps of NetLiquidation."""
        years = max(self.sessions / 252.0, 1e-9)
        return -self.spread_impact_usd / self.nlv * 1e4 / years if self.nlv else math.nan

    def lines(self, cost_bps: float) -> list[str]:
        flag = {True: "RAISED", False: "not raised", None: "untested"}[self.flag]
        per_trade_notional = self.notional / max(self.trades, 1) / self.nlv if self.nlv else 0
        execution = [f"  {self.execution}"] if self.execution not in self.detail else []
        return [
            f"slippage scenario: {STRATEGY} over {self.sessions} sessions, "
            f"{cost_bps:g} bps injected on every fill",
            f"  Sharpe: backtest {self.backtest_sharpe:.2f}, live {self.live_sharpe:.2f}; "
            f"divergence flag {flag} ({self.detail})",
            *execution,
            f"  attribution: execution (spread and impact) {self.bps_per_trade:.1f} bps per trade"
            f" x {self.trades_per_month:.1f} trades per month x 12"
            f" x {per_trade_notional:.2%} of NLV a trade = {self.bps_per_year:.0f} bps per year",
            "  see it: livedesk (Risk pane, then a for Attribution) or "
            "livedesk report --attribution",
        ]


def read_figures(journal, engine, sessions: int, risk=None) -> ScenarioFigures:
    """The scenario's figures from the demo journal and its risk engine (``risk``: the
    ``[risk]`` settings of the tests, the defaults when None)."""
    from livedesk.backend.console.risk_view import RiskTable
    from livedesk.backend.risk.attribution_source import attribute_pages

    pages = attribute_pages(journal, [STRATEGY])
    a = pages.per.get(STRATEGY)
    block = RiskTable(engine, n_boot=500, risk=risk).block(STRATEGY)
    sharpe = next(line for line in block.lines if line.metric == "sharpe_ratio")
    flag, raised = block.divergence()
    nlv = engine.snapshot().get("nlv") or math.nan
    return ScenarioFigures(
        sessions=sessions,
        trades=len({f["order_id"] for f in journal.fills(STRATEGY)}),  # orders, not partials
        notional=a.notional if a is not None else 0.0,
        spread_impact_usd=a.usd["spread_impact"] if a is not None else 0.0,
        nlv=float(nlv),
        backtest_sharpe=sharpe.backtest,
        live_sharpe=sharpe.live,
        flag=flag,
        detail=raised or sharpe.detail or sharpe.reason,
        execution=block.execution.detail,
    )


async def run_slippage(
    settings,
    sessions: int = 252,
    cost_bps: float = 6.0,
    report=None,
    hook: Callable | None = None,
    start: dt.date | None = None,
) -> ScenarioFigures:
    """Run the slippage scenario on the demo account (a new one starts at ``start``, by
    default ``sessions`` before the latest session); ``hook(rig)`` (tests) is called with
    the opened rig (gateway, app, journal) before the first session."""
    from livedesk.backend.demo.fastforward import step_sessions, store_references
    from livedesk.backend.demo.prepare import ensure_bundle
    from livedesk.backend.demo.rig import open_demo

    async with open_demo(settings, [STRATEGY], sessions, start) as rig:
        await asyncio.to_thread(ensure_bundle, settings)
        if hook is not None:
            hook(rig)
        rig.gateway.faults.set_impact(cost_bps)
        try:
            result = await step_sessions(rig.gateway, rig.controller, [STRATEGY], sessions, report)
        finally:
            rig.gateway.faults.set_impact(0)
        if result.errors:
            raise RuntimeError(f"{STRATEGY} failed: {result.errors[STRATEGY]}")
        errors = await store_references(
            rig.controller, [STRATEGY], result.sessions, journal=rig.journal, risk=rig.engine
        )
        if errors:
            raise RuntimeError(f"backtest reference of {STRATEGY} failed: {errors[STRATEGY]}")
        return read_figures(rig.journal, rig.engine, result.sessions, settings.risk)


def run_scenario_command(args: argparse.Namespace, settings, err: TextIO) -> int:
    """``livedesk demo --scenario NAME``; returns the exit code."""
    from livedesk.backend.demo.lock import DemoBusy
    from livedesk.backend.demo.progress import ProgressBar

    if args.sessions < 21:
        print(f"livedesk demo: --sessions {args.sessions}: at least 21 (a month)", file=err)
        return 2
    if not (math.isfinite(args.cost_bps) and 0 <= args.cost_bps <= 1000):
        print(f"livedesk demo: --cost-bps {args.cost_bps}: between 0 and 1000", file=err)
        return 2
    bar = ProgressBar(err)
    try:
        figures = asyncio.run(run_slippage(settings, args.sessions, args.cost_bps, bar))
    except DemoBusy as exc:
        print(f"livedesk demo: {exc}", file=err)
        return 2
    except RuntimeError as exc:
        bar.finish()
        print(f"livedesk demo: {exc}", file=err)
        return 1
    bar.finish()
    print("\n".join(figures.lines(args.cost_bps)))
    return 0
