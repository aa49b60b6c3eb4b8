"""``livedesk bundle ingest|list|clean``: argument parsing and terminal output.

Imports nothing heavy at module import (the CLI builds its parser from here for
``livedesk --help``); zipline is loaded by the sub-command that writes or reads a bundle.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from livedesk.backend.bundles.paths import DEMO_BUNDLE, BundleError, zipline_root


def add_bundle_parser(sub) -> None:
    """Add ``bundle`` and its sub-commands to the CLI's sub-parsers."""
    b = sub.add_parser(
        "bundle",
        help="zipline data bundles: ingest the demo market or your CSV, list, clean",
        description="zipline data bundles, stored under the LiveDesk data dir "
        "(ZIPLINE_ROOT=<data dir>/zipline; ~/.zipline is never touched).",
    )
    bsub = b.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    i = bsub.add_parser(
        "ingest",
        help="build a bundle from the demo market (--demo) or a daily OHLCV CSV (--csv PATH)",
        description="Build a bundle. --demo: the simulated market's daily history (same seed "
        "as the gateway -> the same prices). --csv PATH: one file "
        "date,open,high,low,close,volume,Name (plain or .gz) or a directory of SYMBOL.csv "
        "files (zipline csvdir layout, optional dividend,split columns). Gaps are filled "
        "with the previous close and zero volume; bad rows are reported with file:line and "
        "repaired or refused (see the README).",
    )
    src = i.add_mutually_exclusive_group(required=True)
    src.add_argument("--demo", action="store_true", help="the simulated market's history")
    src.add_argument("--csv", metavar="PATH", help="a CSV file or a directory of per-symbol CSVs")
    i.add_argument("--name", help="bundle name (default: 'demo', or the CSV file's name)")
    i.add_argument(
        "--seed", type=int, default=None, help="market seed for --demo (default: settings)"
    )
    i.add_argument("--strict", action="store_true", help="refuse the whole ingest on any bad row")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    bsub.add_parser("list", help="the bundles, their span, assets, size and ingestions")
    c = bsub.add_parser("clean", help="remove old ingestions of a bundle (keeps the newest)")
    c.add_argument("name", help="bundle name")
    c.add_argument("--keep", type=int, default=1, help="ingestions to keep (default 1)")
    c.add_argument("--all", action="store_true", help="remove the bundle entirely")


def run_bundle_command(args: argparse.Namespace, settings) -> int:
    """Run ``livedesk bundle ...``; returns the exit code."""
    try:
        if args.bundle_command == "ingest":
            return _ingest(args, settings)
        if args.bundle_command == "list":
            return _list()
        return _clean(args)
    except BundleError as exc:
        print(f"livedesk bundle: {exc}", file=sys.stderr)
        return 2


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on stderr, one task per phase (None when disabled)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr)
    tasks: dict[str, int] = {}
    with Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


def _ingest(args: argparse.Namespace, settings) -> int:
    import warnings

    from livedesk.backend.bundles.ingest import MAX_LISTED, ingest_csv, ingest_demo, issue_lines

    warnings.filterwarnings("ignore", category=FutureWarning, module="zipline")
    with progress_bar(not args.quiet) as progress:
        if args.demo:
            seed = args.seed if args.seed is not None else settings.sim.seed
            summary = ingest_demo(seed, name=args.name or DEMO_BUNDLE, progress=progress)
            data = None
        else:
            summary, data = ingest_csv(args.csv, args.name, strict=args.strict, progress=progress)
    if data is not None:
        if data.issues:
            print(f"{len(data.issues)} bad row(s):")
            for line in issue_lines(data, MAX_LISTED):
                print(f"  {line}")
        if data.gaps:
            worst = sorted(data.gaps.items(), key=lambda kv: -kv[1])[:10]
            print(
                f"gaps filled in {len(data.gaps)} symbol(s): "
                + ", ".join(f"{s} {n}" for s, n in worst)
                + (" ..." if len(data.gaps) > 10 else "")
            )
        for w in data.warnings[:10]:
            print(f"warning: {w}")
        if len(data.warnings) > 10:
            print(f"warning: ... and {len(data.warnings) - 10} more (in the ingest report)")
        if data.empty_symbols:
            print(f"no valid row, left out: {', '.join(data.empty_symbols)}")
    for line in summary.lines():
        print(line)
    return 0


def _list() -> int:
    from livedesk.backend.bundles.store import list_bundles

    found = list_bundles()
    if not found:
        print(f"no bundles under {zipline_root()}; run `livedesk bundle ingest --demo`")
        return 0
    print(f"bundles under {zipline_root()}:")
    head = f"{'name':<24} {'kind':<5} {'assets':>6} {'sessions':>8}  {'span':<23} {'MiB':>6} {'ingestions':>10}  newest"
    print(head)
    for b in found:
        m = b.meta
        span = f"{m.get('first_session', '?')}..{m.get('last_session', '?')}"
        print(
            f"{b.name:<24} {m.get('kind', '?'):<5} {m.get('assets', 0):>6} "
            f"{m.get('sessions', 0):>8}  {span:<23} {b.bytes / 2**20:>6.1f} "
            f"{len(b.ingestions):>10}  {b.latest}"
        )
    return 0


def _clean(args: argparse.Namespace) -> int:
    from livedesk.backend.bundles.store import clean_bundle

    removed, freed = clean_bundle(args.name, keep_last=0 if args.all else args.keep)
    if args.all:
        print(f"removed bundle {args.name!r}: {len(removed)} ingestion(s), {freed / 2**20:.1f} MiB")
    elif removed:
        print(
            f"removed {len(removed)} old ingestion(s) of {args.name!r} "
            f"({', '.join(removed)}), {freed / 2**20:.1f} MiB freed"
        )
    else:
        print(f"bundle {args.name!r}: nothing to clean (keeping {args.keep})")
    return 0
