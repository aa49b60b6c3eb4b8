"""Fast-forward benchmark: simulated sessions per wall minute and resident memory per session.

    .venv/bin/python benchmarks/demo_fastforward.py [--sessions 60] [--strategies a,b]

Runs ``livedesk demo --fast-forward``'s driver on a fresh demo account in a temporary data
dir (the demo bundle is built first and not timed; the backtest references afterwards are
timed apart). Prints wall seconds per session (mean/p95/max), sessions per wall minute
(target >= 10 on 2 cores), CPU seconds, and the RSS after each tenth session with its trend
over the run (target: flat), and over the second half alone (after the one-time costs:
zipline is imported at the first month start).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mib() -> float:
    """Resident set size now (not the peak), MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=60)
    p.add_argument("--strategies", default="monthly-factor,options-combo,crack-spread")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="livedesk-ffbench-") as root:
        os.environ["LIVEDESK_DATA_DIR"] = root
        os.environ["LIVEDESK_STATE_DIR"] = str(Path(root) / "state")
        os.environ["LIVEDESK_CONFIG_DIR"] = str(Path(root) / "config")
        from livedesk.backend.config import load_settings
        from livedesk.backend.demo.fastforward import step_sessions, store_references
        from livedesk.backend.demo.prepare import ensure_bundle
        from livedesk.backend.demo.rig import open_demo

        settings = load_settings(None)
        names = [n for n in args.strategies.split(",") if n]
        if "monthly-factor" in names:
            ensure_bundle(settings)
        marks: list[tuple[int, float, float]] = []  # (sessions done, wall, rss)

        def report(done: int, total: int, what: str) -> None:
            if not marks or done > marks[-1][0]:
                marks.append((done, time.monotonic(), rss_mib()))
                print(f"  {done}/{total} {what} rss {marks[-1][2]:.1f} MiB", file=sys.stderr)
                if done % 10 == 0:  # a running figure, should the run be stopped early
                    wall = marks[-1][1] - marks[0][1]
                    print(
                        f"after {done} sessions: {done / wall * 60:.1f} sessions per wall "
                        f"minute, rss {marks[-1][2]:.1f} MiB (start {marks[0][2]:.1f}), "
                        f"load {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )

        async def run():
            async with open_demo(settings, names, args.sessions) as rig:
                marks.append((0, time.monotonic(), rss_mib()))
                cpu0 = time.process_time()
                result = await step_sessions(
                    rig.gateway, rig.controller, names, args.sessions, report
                )
                cpu = time.process_time() - cpu0
                t0 = time.monotonic()
                errors = await store_references(
                    rig.controller, names, result.sessions, journal=rig.journal, risk=rig.engine
                )
                return result, cpu, time.monotonic() - t0, errors

        result, cpu, ref_seconds, errors = asyncio.run(run())
    walls = [b[1] - a[1] for a, b in zip(marks, marks[1:], strict=False)]
    total = marks[-1][1] - marks[0][1]
    n = result.sessions
    print(
        f"conditions: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
        f"python {platform.python_version()}, strategies {', '.join(names)}, frozen clock"
    )
    print(f"run: {result.summary()}; errors {result.errors or 'none'}")
    print(
        f"wall per session: mean {total / max(n, 1):.2f} s, p95 {percentile(walls, 0.95):.2f} s, "
        f"max {max(walls, default=float('nan')):.2f} s; CPU {cpu / max(n, 1):.2f} s per session"
    )
    print(f"speed: {n / total * 60:.1f} simulated sessions per wall minute (target >= 10)")
    print(
        f"backtest references over the {n} sessions: {ref_seconds:.1f} s; errors {errors or 'none'}"
    )
    rss = [(d, r) for d, _, r in marks]
    shown = [x for x in rss if x[0] % 10 == 0 or x is rss[-1]]
    print("rss MiB: " + ", ".join(f"{d}: {r:.1f}" for d, r in shown))
    half = len(rss) // 2
    if half >= 2:
        first = sum(r for _, r in rss[1:half]) / max(half - 1, 1)
        second = sum(r for _, r in rss[half:]) / max(len(rss) - half, 1)
        per = (second - first) / max(rss[-1][0] / 2, 1)
        print(f"rss trend: {per:+.2f} MiB per session (second half vs first half mean)")
        # the first month start imports zipline and builds its pipeline once (~60 MiB):
        # growth is judged over the second half, after every one-time cost
        mid = rss[half]
        steady = (rss[-1][1] - mid[1]) / max(rss[-1][0] - mid[0], 1)
        print(
            f"rss over the second half: {mid[1]:.1f} MiB after {mid[0]} sessions, "
            f"{rss[-1][1]:.1f} after {rss[-1][0]}: {steady:+.3f} MiB per session"
        )
    print(f"peak rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
