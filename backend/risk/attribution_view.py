"""What an attribution looks like on screen: the waterfall steps, text bars and top trades.

Shared by ``livedesk report --attribution`` and the console's Attribution view, so both show
the same figures. Pure text; no terminal or Textual code.
"""

from __future__ import annotations

from dataclasses import dataclass

from livedesk.backend.risk.attribution import EXECUTION, LABELS, Attribution

STEPS = ("model", *EXECUTION, "residual")


@dataclass(frozen=True)
class Step:
    """One bar of the waterfall: a level (backtest, ideal, live) or a component in between."""

    label: str
    bps: float
    start: float
    end: float
    level: bool


def waterfall(a: Attribution) -> list[Step]:
    """backtest → (model/regime) → ideal → each execution cost → residual → live, in bps of NLV.

    Without a backtest the waterfall starts at the ideal path.
    """

    def bps(usd: float) -> float:
        return usd / a.nlv * 1e4

    steps: list[Step] = []
    names = list(STEPS)
    if a.backtest_pnl is not None and "model" in a.usd:
        steps.append(Step("backtest", bps(a.backtest_pnl), 0.0, bps(a.backtest_pnl), True))
        steps.append(
            Step(LABELS["model"], a.bps("model"), bps(a.backtest_pnl), bps(a.ideal_pnl), False)
        )
    names.remove("model")
    level = bps(a.ideal_pnl)
    steps.append(Step("ideal", level, 0.0, level, True))
    for name in names:
        if name in a.usd:
            v = a.bps(name)
            steps.append(Step(LABELS[name], v, level, level + v, False))
            level += v
    steps.append(Step("live", bps(a.live_pnl), 0.0, bps(a.live_pnl), True))
    return steps


def waterfall_text(a: Attribution, width: int = 100) -> str:
    """The waterfall as fixed-width text bars (▇ for a level, ▒ for a cost, █ for a gain)."""
    steps = waterfall(a)
    lo = min(min(s.start, s.end) for s in steps)
    hi = max(max(s.start, s.end) for s in steps)
    label_w, num_w = 26, 11
    bar_w = max(10, width - label_w - 2 * num_w - 2)
    span = (hi - lo) or 1.0

    def col(x: float) -> int:
        return round((x - lo) / span * (bar_w - 1))

    lines = [f"{'step':<{label_w}}{'bps':>{num_w}}{'cum bps':>{num_w}}  0 at column {col(0.0)}"]
    for s in steps:
        a0, a1 = sorted((col(s.start), col(s.end)))
        glyph = "▇" if s.level else ("█" if s.bps >= 0 else "▒")
        bar = " " * a0 + glyph * max(1, a1 - a0)
        cum = s.end
        lines.append(f"{s.label:<{label_w}}{s.bps:>+{num_w}.2f}{cum:>{num_w}.2f}  {bar}")
    return "\n".join(lines)


def component_table(a: Attribution) -> str:
    """Components in $, bps of NLV and annualised bps, with their total."""
    lines = [f"{'component':<26}{'USD':>14}{'bps':>10}{'bps/year':>11}"]
    for name, usd, bps, ann in a.rows():
        lines.append(f"{LABELS[name]:<26}{usd:>14,.2f}{bps:>10.2f}{ann:>11.1f}")
    total = sum(r[1] for r in a.rows())
    against = "backtest" if a.backtest_pnl is not None else "ideal"
    lines.append(
        f"{'= live - ' + against:<26}{total:>14,.2f}{total / a.nlv * 1e4:>10.2f}"
        f"{total / a.nlv * 1e4 * 365.25 / a.window_days:>11.1f}"
    )
    return "\n".join(lines)


def top_trades_text(a: Attribution) -> str:
    """The trades that contributed most to each execution component."""
    lines = []
    for name in EXECUTION:
        top = [c for c in a.top.get(name, ()) if abs(c.usd) > 1e-9]
        if not top:
            continue
        shown = ", ".join(f"{c.symbol} #{c.key} {c.usd:+,.2f}" for c in top)
        lines.append(f"{LABELS[name]:<26}{shown}")
    return "\n".join(lines) if lines else "no trade contributed to an execution cost"
