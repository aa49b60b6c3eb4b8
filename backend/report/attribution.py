"""``livedesk report --attribution``: why live differs from the backtest, from the journal.

Per strategy (or the one ``--strategy``) and in total, over the window from ``--since`` (00:00
UTC) to the last record: the components (model/regime, spread and impact, delay, commission,
missed and partial fills, residual) in dollars, bps of NetLiquidation and annualised bps; a
waterfall backtest → ideal → each cost → live drawn as text bars; the trades that contributed
most to each component; and the one-line explanation a divergence flag carries.

The ideal path replays the recorded decisions through the strategy's signal function when
one is registered for it (:data:`SIGNALS`, filled by the strategy runtime), otherwise through
the targets the decisions recorded.

``--csv DIR`` writes ``attribution.csv`` (one row per strategy and unit — usd, bps,
annualised_bps — whose component columns sum to the ``total`` column, live − backtest or
live − ideal without a backtest) and ``attribution_trades.csv`` (the top trades per component).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from livedesk.backend.journal import Journal
from livedesk.backend.risk.attribution import COMPONENTS, EXECUTION, LABELS, Attribution
from livedesk.backend.risk.attribution_source import attribute_pages, strategies_with_records
from livedesk.backend.risk.attribution_view import component_table, top_trades_text, waterfall_text

SIGNALS: dict[str, Callable] = {}
"""Strategy name → its replay signal (wrapping the same function object the strategy calls);
filled from :func:`livedesk.backend.risk.replay_signals.strategy_signals` on first use."""

TOTAL = "TOTAL"
UNITS = ("usd", "bps", "annualised_bps")


class AttributionError(Exception):
    """A problem the report states to the user, with an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def attribution_report(
    journal: Journal,
    out: TextIO,
    *,
    strategy: str | None = None,
    since: float | None = None,
    csv_dir: str | None = None,
    width: int = 100,
    nlv: float | None = None,
) -> int:
    """Print the attribution report (see the module docstring); returns the exit code."""
    known = strategies_with_records(journal)
    if strategy is not None and strategy not in known:
        listed = ", ".join(known) if known else "none recorded"
        raise AttributionError(f"unknown strategy {strategy!r}; known: {listed}", 2)
    names = [strategy] if strategy is not None else known
    if not names:
        print(f"No strategy orders or decisions in {journal.path} to attribute.", file=out)
        return 0
    if not SIGNALS:
        from livedesk.backend.risk.replay_signals import strategy_signals

        SIGNALS.update(strategy_signals())
    if nlv is not None and not (nlv > 0 and nlv < float("inf")):
        raise AttributionError(f"--nlv must be a positive amount, got {nlv:g}", 2)
    pages = attribute_pages(journal, names, since=since, signals=SIGNALS, nlv=nlv)
    per, total = dict(pages.per), pages.total
    print(f"LiveDesk attribution  journal: {journal.path}", file=out)
    for name in pages.names:
        if name in pages.errors:
            print(f"\n== Strategy {name} ==", file=out)
            print(f"cannot attribute: {pages.errors[name]}", file=out)
            continue
        a = per[name]
        replayed = "its signal function" if a.signal is not None else "the recorded targets"
        print(f"\n== Strategy {name} ==", file=out)
        print(_summary(a) + f"; ideal path replayed through {replayed}", file=out)
        _print_one(a, out, width)
    if total is not None and len(per) > 1:
        print("\n== Total ==", file=out)
        print(_summary(total), file=out)
        _print_one(total, out, width)
    if not per:
        return 1
    if csv_dir is not None and per:
        written = export_attribution_csv(per, total, Path(csv_dir))
        print(f"\nWrote {', '.join(p.name for p in written)} to {csv_dir}", file=out)
    return 0


def _summary(a: Attribution) -> str:
    bt = "n/a" if a.backtest_pnl is None else f"{a.backtest_pnl:,.2f}"
    return (
        f"window {a.window_days:.2f} days, NLV {a.nlv:,.2f}, {a.trades} orders filled, "
        f"notional {a.notional:,.0f}; PnL backtest {bt}, ideal {a.ideal_pnl:,.2f}, "
        f"live {a.live_pnl:,.2f}"
    )


def _print_one(a: Attribution, out: TextIO, width: int) -> None:
    print(component_table(a), file=out)
    print("\nwaterfall (bps of NLV)", file=out)
    print(waterfall_text(a, width), file=out)
    print("\ntop trades per component (USD)", file=out)
    print(top_trades_text(a), file=out)


def csv_rows(name: str, a: Attribution) -> list[list]:
    """The ``attribution.csv`` rows of one attribution: one per unit."""
    total_usd = sum(a.usd.values())
    factor = {
        "usd": 1.0,
        "bps": 1e4 / a.nlv,
        "annualised_bps": 1e4 / a.nlv * 365.25 / a.window_days,
    }
    rows = []
    for unit in UNITS:
        k = factor[unit]
        values = [a.usd[c] * k if c in a.usd else "" for c in COMPONENTS]
        rows.append([name, unit, *values, total_usd * k, a.window_days, a.nlv, a.trades])
    return rows


def export_attribution_csv(
    per: dict[str, Attribution], total: Attribution | None, directory: Path
) -> list[Path]:
    """Write ``attribution.csv`` and ``attribution_trades.csv`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "attribution.csv", directory / "attribution_trades.csv"]
    items = list(per.items()) + ([(TOTAL, total)] if total is not None else [])
    with paths[0].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["strategy", "unit", *COMPONENTS, "total", "window_days", "nlv", "trades"])
        for name, a in items:
            w.writerows(csv_rows(name, a))
    with paths[1].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["strategy", "component", "label", "rank", "order", "symbol", "usd", "bps"])
        for name, a in items:
            for comp in EXECUTION:
                for rank, c in enumerate(a.top.get(comp, ()), 1):
                    w.writerow(
                        [
                            name,
                            comp,
                            LABELS[comp],
                            rank,
                            c.key,
                            c.symbol,
                            c.usd,
                            c.usd / a.nlv * 1e4,
                        ]
                    )
    return paths
