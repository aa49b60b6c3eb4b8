"""Argument parsers and dispatch of ``livedesk strategies | run | backtest`` (imports nothing heavy)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

COMMANDS = ("strategies", "run", "backtest", "strategy")


def _connection_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="TWS / IB Gateway host (default from settings)")
    p.add_argument(
        "--port", type=int, default=None, help="API port; omitted: start the embedded demo gateway"
    )
    p.add_argument(
        "--client-id", type=int, default=None, help="API client id (default from settings)"
    )
    p.add_argument("--journal", help="journal file (default: in the user data dir)")


def _algo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--algo",
        metavar="FILE.py",
        help="an unmodified zipline-reloaded algorithm file (its name: the file's, kebab-case)",
    )
    if p.prog.endswith("run"):
        p.add_argument("--bundle", help="with --algo: the zipline bundle of its assets (demo)")
        p.add_argument(
            "--frequency", choices=("daily", "minute"), help="with --algo: bar frequency (daily)"
        )


def add_strategy_parsers(sub) -> None:
    """Add the three strategy sub-commands to ``livedesk``'s sub-parsers."""
    s = sub.add_parser(
        "strategies", help="list strategies: schedule, enabled, next run, last result"
    )
    s.add_argument("--journal", help="journal file (default: in the user data dir)")
    s.add_argument(
        "--demo",
        action="store_true",
        help="last runs from the demo account's journal (journal-DU0000001.sqlite3)",
    )

    r = sub.add_parser(
        "run",
        help="run one strategy headless (cron-friendly)",
        description="Run one strategy without the console. Exit 0 on success, 1 when the "
        "strategy fails (no data, refused order), 2 on bad settings, 3 on connection failure.",
    )
    r.add_argument("name", nargs="?", help="strategy name (see `livedesk strategies`)")
    _algo_args(r)
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

    n = sub.add_parser("strategy", help="your own strategies: `livedesk strategy new NAME`")
    nsub = n.add_subparsers(dest="strategy_command", metavar="ACTION", required=True)
    new = nsub.add_parser(
        "new",
        help="write a working strategy plugin and its test into <config dir>/strategies/",
    )
    new.add_argument("name", help="kebab-case strategy name, e.g. my-trend")
    new.add_argument("--symbol", default="SPY", help="the stock it trades (default SPY)")
    new.add_argument("--force", action="store_true", help="overwrite existing files")

    b = sub.add_parser(
        "backtest", help="replay history through a strategy and store its backtest reference"
    )
    b.add_argument("name", nargs="?", help="strategy name")
    _algo_args(b)
    b.add_argument(
        "--parity",
        action="store_true",
        help="with --algo: compare the backtest's orders with the live run's (journal), "
        "session by session, and list every difference with its reason",
    )
    b.add_argument("--days", type=int, default=None, help="sessions to replay (strategy default)")
    b.add_argument(
        "--cost-bps", type=float, default=1.0, help="cost per fill in basis points (default 1)"
    )
    b.add_argument("--start", help="first session YYYY-MM-DD (monthly-factor)")
    b.add_argument("--end", help="last session YYYY-MM-DD (monthly-factor)")
    b.add_argument("--bundle", help="zipline bundle (monthly-factor, --algo; default demo)")
    _connection_args(b)


def run_strategy_command(args: argparse.Namespace, settings) -> int:
    """Dispatch a parsed strategy sub-command; returns the exit code."""
    if args.command == "strategy":
        return new_strategy_command(args)
    from livedesk.backend.strategies import runner
    from livedesk.backend.strategies.registry import load_plugins_for

    load_plugins_for(settings)
    if args.command in ("run", "backtest"):
        code = _resolve_name(args)
        if code:
            return code
    journal = Path(args.journal) if getattr(args, "journal", None) else None
    if args.command == "strategies":
        if journal is None and (args.demo or not settings.broker_configured):
            journal = runner.sim_journal_path(settings)
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
            options={k: v for k in ("start", "end", "bundle") if (v := getattr(args, k, None))}
            | ({"parity": "1"} if getattr(args, "parity", False) else {}),
            host=args.host,
            port=args.port,
            client_id=args.client_id,
            journal_path=journal,
        )
    )


def _resolve_name(args: argparse.Namespace) -> int:
    """``--algo FILE``: register the file as a strategy and run it by name; 2 when refused."""
    import sys

    from livedesk.backend.config import ConfigError

    algo = getattr(args, "algo", None)
    if algo is None:
        if not args.name:
            print(
                f"livedesk {args.command}: give a strategy name or --algo FILE.py", file=sys.stderr
            )
            return 2
        if getattr(args, "parity", False):
            print(f"livedesk {args.command}: --parity needs --algo FILE.py", file=sys.stderr)
            return 2
        return 0
    from livedesk.backend.algo.loader import algo_name
    from livedesk.backend.algo.strategy import algo_strategy_class
    from livedesk.backend.strategies.registry import register

    name = args.name or algo_name(algo)
    defaults = {k: v for k in ("bundle", "frequency") if (v := getattr(args, k, None))}
    try:
        register(algo_strategy_class(name, algo, **defaults))
    except (ConfigError, ValueError) as exc:
        print(f"livedesk {args.command} --algo: refused: {exc}", file=sys.stderr)
        return 2
    args.name = name
    return 0


def new_strategy_command(args: argparse.Namespace) -> int:
    """``livedesk strategy new NAME``: exit 0 with the files written, 2 when refused."""
    import sys

    from livedesk.backend.config import ConfigError
    from livedesk.backend.strategies.skeleton import write_skeleton

    try:
        strategy_file, test_file = write_skeleton(args.name, symbol=args.symbol, force=args.force)
    except ConfigError as exc:
        print(f"livedesk strategy new: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {strategy_file}")
    print(f"wrote {test_file}")
    print(f"try it: livedesk run {args.name} --once --dry-run")
    return 0
