"""``livedesk demo --fast-forward N`` / ``--scenario NAME``: the demo account, headless.

Opens the demo account (its gateway state file and journal, :mod:`.account`) under its lock,
with the gateway's clock frozen, runs the strategies over N sessions (:mod:`.fastforward`),
stores their backtest references over the same sessions, saves and exits. A progress bar on
stderr (plain lines when stderr is not a terminal). Exit codes: 0 done, 1 a strategy or a
reference failed, 2 bad arguments or the demo account is in use.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from typing import TextIO

SCENARIOS = ("slippage",)


def add_demo_run_args(p: argparse.ArgumentParser) -> None:
    """The fast-forward and scenario flags of ``livedesk demo``."""
    p.add_argument(
        "--fast-forward",
        type=int,
        metavar="N",
        help="run the strategies on the demo account over N sessions at top speed, then exit",
    )
    p.add_argument(
        "--strategies",
        metavar="A,B",
        help="with --fast-forward: which strategies (default: monthly-factor, options-combo, "
        "crack-spread)",
    )
    p.add_argument(
        "--scenario",
        choices=SCENARIOS,
        help="slippage: the monthly factor over a simulated year with an injected execution "
        "cost (--cost-bps), then live vs backtest and the attribution",
    )
    p.add_argument(
        "--cost-bps",
        type=float,
        default=6.0,
        help="with --scenario slippage: execution cost injected on every fill (default 6)",
    )
    p.add_argument(
        "--sessions",
        type=int,
        default=252,
        help="with --scenario: sessions to simulate (default 252, a year)",
    )


def run_demo_run(args: argparse.Namespace, settings, err: TextIO | None = None) -> int:
    """Run ``livedesk demo --fast-forward`` / ``--scenario``; returns the exit code."""
    err = err or sys.stderr
    if args.scenario and args.fast_forward is not None:
        print("livedesk demo: --fast-forward and --scenario: one at a time", file=err)
        return 2
    if args.scenario:
        from livedesk.backend.demo.scenario import run_scenario_command

        return run_scenario_command(args, settings, err)
    if args.fast_forward is None:
        print(
            "livedesk demo: say what to do: --fast-forward N, --scenario NAME, "
            "or livedesk demo reset",
            file=err,
        )
        return 2
    try:
        names = check_request(args.fast_forward, args.strategies, settings)
    except ValueError as exc:
        print(f"livedesk demo: {exc}", file=err)
        return 2
    from livedesk.backend.demo.lock import DemoBusy
    from livedesk.backend.demo.progress import ProgressBar

    bar = ProgressBar(err)
    try:
        outcome = asyncio.run(fast_forward(settings, args.fast_forward, names, bar))
    except DemoBusy as exc:
        print(f"livedesk demo: {exc}", file=err)
        return 2
    bar.finish()
    print(outcome.summary(), file=err)
    return 0 if outcome.ok else 1


def check_request(sessions: int, strategies: str | None, settings) -> list[str]:
    """The strategy names of a fast-forward; ValueError naming the bad flag."""
    from livedesk.backend.demo.fastforward import BUILTINS
    from livedesk.backend.strategies.registry import available_strategies, load_plugins_for

    if sessions < 1:
        raise ValueError(f"--fast-forward {sessions}: must be at least 1 session")
    if not strategies:
        return list(BUILTINS)
    names = [n.strip() for n in strategies.split(",") if n.strip()]
    load_plugins_for(settings)
    known = available_strategies()
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(
            f"--strategies {strategies}: unknown {', '.join(unknown) or 'empty list'} "
            f"(known: {', '.join(sorted(known))})"
        )
    return list(dict.fromkeys(names))


@dataclass
class Outcome:
    """A fast-forward and its references."""

    result: object
    reference_errors: dict[str, str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.result.errors and not self.reference_errors

    def summary(self) -> str:
        lines = [f"fast-forward: {self.result.summary()} in {self.seconds:.0f} s"]
        lines += [f"  {n} FAILED: {e}" for n, e in self.result.errors.items()]
        lines += [
            f"  backtest reference of {n} FAILED: {e}" for n, e in self.reference_errors.items()
        ]
        return "\n".join(lines)


async def fast_forward(settings, sessions: int, names: list[str], report=None) -> Outcome:
    """Fast-forward the demo account ``sessions`` sessions with ``names``, then store their
    backtest references over those sessions."""
    from livedesk.backend.demo.fastforward import step_sessions, store_references
    from livedesk.backend.demo.prepare import ensure_bundle
    from livedesk.backend.demo.rig import open_demo

    started = time.monotonic()
    async with open_demo(settings, names, sessions) as rig:
        if "monthly-factor" in names:
            await asyncio.to_thread(ensure_bundle, settings)
        result = await step_sessions(rig.gateway, rig.controller, names, sessions, report)
        errors = await store_references(
            rig.controller,
            [n for n in names if n not in result.errors],
            max(result.sessions, 1),
            journal=rig.journal,
            risk=rig.engine,
            report=report,
        )
    return Outcome(result, errors, time.monotonic() - started)
