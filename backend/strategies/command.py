"""Argument parsers and dispatch of ``livedesk strategies | run | backtest`` (imports nothing heavy)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

COMMANDS = ("strategies", "run", "backtest")


def _connection_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="TWS / IB Gateway host (default from settings)")
    p.add_argument(
        "--port", type=int, default=None, help="API port; omitted: start the embedded demo gateway"
    )
    p.add_argument(
        "--client-id", type=int, default=None, help="API client id (default from settings)"
    )
    p.add_argument("--journal", help="journal file (default: in the user data dir)")


def add_strategy_parsers(sub) -> None:
    """Add the three strategy sub-commands to ``livedesk``'s sub-parsers."""
    s = sub.add_parser(
        "strategies", help="list strategies: schedule, enabled, next run, last result"
    )
    s.add_argument("--journal", help="journal file (default: in the user data dir)")
    s.add_argument(
        "--demo", action="store_true", help="last runs from the demo journal (journal-sim.sqlite3)"
    )

    r = sub.add_parser(
        "run",
        help="run one strategy headless (cron-friendly)",
        description="Run one strategy without the console. Exit 0 on success, 1 when the "
        "strategy fails (no data, refused order), 2 on bad settings, 3 on connection failure.",
    )
    r.add_argument("name", help="strategy name (see `livedesk strategies`)")
    r.add_argument("--once", action="store_true", help="one decision now, then exit")
    r.add_argument(
        "--dry-run", action="store_true", help="print the decision and planned orders; send nothing"
    )
    r.add_argument(
        "--if-due",
        action="store_true",
        help="with --once: only when a run is due (monthly: the month-end run not yet made; "
        "others: the market is open), else exit 0 (for cron)",
    )
    _connection_args(r)

    b = sub.add_parser(
        "backtest", help="replay history through a strategy and store its backtest reference"
    )
    b.add_argument("name", help="strategy name")
    b.add_argument("--days", type=int, default=None, help="sessions to replay (strategy default)")
    b.add_argument(
        "--cost-bps", type=float, default=1.0, help="cost per fill in basis points (default 1)"
    )
    b.add_argument("--start", help="first session YYYY-MM-DD (monthly-factor)")
    b.add_argument("--end", help="last session YYYY-MM-DD (monthly-factor)")
    b.add_argument("--bundle", help="zipline bundle (monthly-factor; default from its settings)")
    _connection_args(b)


def run_strategy_command(args: argparse.Namespace, settings) -> int:
    """Dispatch a parsed strategy sub-command; returns the exit code."""
    from livedesk.backend.strategies import runner

    journal = Path(args.journal) if getattr(args, "journal", None) else None
    if args.command == "strategies":
        if journal is None and args.demo:
            journal = runner.sim_journal_path()
        return runner.print_strategies(settings, journal_path=journal)
    if args.command == "run":
        return asyncio.run(
            runner.run_strategy(
                args.name,
                settings,
                once=args.once,
                dry_run=args.dry_run,
                if_due=args.if_due,
                host=args.host,
                port=args.port,
                client_id=args.client_id,
                journal_path=journal,
            )
        )
    return asyncio.run(
        runner.run_backtest(
            args.name,
            settings,
            days=args.days,
            cost_bps=args.cost_bps,
            options={k: v for k in ("start", "end", "bundle") if (v := getattr(args, k, None))},
            host=args.host,
            port=args.port,
            client_id=args.client_id,
            journal_path=journal,
        )
    )
