"""``livedesk demo``: the demo account's own commands (``livedesk demo reset``).

Imports nothing heavy: the parser is built for every ``livedesk`` invocation.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def add_demo_parser(sub) -> argparse.ArgumentParser:
    """Add ``livedesk demo`` (options on ``demo`` itself, actions as sub-commands)."""
    d = sub.add_parser(
        "demo",
        help="the persistent demo account: --fast-forward N, --scenario slippage, reset",
        description="The demo account (the embedded simulated gateway's positions, orders, "
        "cash and clock, and its journal) persists in the user data directory and is shared "
        "by `livedesk`, `livedesk run`, `livedesk strategies` and `livedesk report`.",
    )
    dsub = d.add_subparsers(dest="demo_command", metavar="ACTION")
    r = dsub.add_parser(
        "reset",
        help="start the demo account over: $1,000,000 cash, no positions or orders, the clock "
        "at the latest session, an empty journal (backtest references are kept)",
    )
    r.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    return d


def run_demo_command(
    args: argparse.Namespace,
    settings,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Dispatch ``livedesk demo …``; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if getattr(args, "demo_command", None) == "reset":
        from livedesk.backend.demo.reset import reset_command

        return reset_command(settings, yes=args.yes, stdin=stdin or sys.stdin, out=out, err=err)
    from livedesk.backend.demo.headless import run_demo_run

    return run_demo_run(args, settings, err)
