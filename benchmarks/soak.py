"""Soak benchmark: a long seeded run with random faults; prints what the issue asks for.

    .venv/bin/python benchmarks/soak.py [--seed 1] [--days 5] [--step 60] [--fault-rate 0.1]

Figures: faults injected by type (incl. those striking orders in flight), reconnect time
p50/p95/max (from the gateway being reachable again to the session reconciled), orders
sent, fills, lost fills, duplicate orders (by key and by strategy/contract/decision at the
gateway), final position mismatches, faults after which decisions did not resume, the
three strategies' decisions, and resident memory per simulated day with its trend. The
process holds LiveDesk and the simulated gateway; the soak's own records of every order and
execution (for the final checks) are kept in an SQLite file, not in its memory.
``--strategies ''`` runs the stand-in traders alone.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness lives in tests/

from tests.soak_harness import Soak, SoakConfig, percentile  # noqa: E402

STEPS_PER_DAY_AT_60S = 390  # 6.5 h regular session


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--days", type=float, default=5.0, help="trading sessions to simulate")
    p.add_argument("--step", type=float, default=60.0, help="simulated seconds per step")
    p.add_argument("--fault-rate", type=float, default=0.1, help="chance of a fault per step")
    p.add_argument("--wall-limit", type=float, default=3600.0)
    p.add_argument(
        "--strategies",
        default="crack-spread,options-combo,monthly-factor",
        help="real strategies under fault beside the traders (comma-separated; '' for none)",
    )
    p.add_argument("--step-pause", type=float, default=0.3, help="real seconds per step")
    p.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        default=None,
        help="the first session, YYYY-MM-DD (default today's; e.g. a month's last days: "
        "the monthly factor's month-end run in a short soak)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    steps = int(args.days * 23_400 / args.step)
    t0 = time.monotonic()

    def progress(res) -> None:  # a long run shows its figures as it goes
        print(f"  day {res.sessions}: RSS {res.rss_by_day[-1]:.1f} MiB, orders sent "
              f"{res.orders_sent}, decisions {res.decisions}, faults "
              f"{sum(res.faults.values())}, reconnects {len(res.reconnect_seconds)}, "
              f"link {res.link}, "
              f"{time.monotonic() - t0:.0f} s wall", flush=True)  # fmt: skip

    cfg = SoakConfig(
        seed=args.seed,
        steps=steps,
        step_seconds=args.step,
        fault_rate=args.fault_rate,
        wall_limit=args.wall_limit,
        strategies=tuple(n for n in args.strategies.split(",") if n),
        strategy_params={"crack-spread": {"threshold": 0.02, "weight": 0.02}},
        step_pause=args.step_pause if args.strategies else 0.005,
        session=args.start,
        demo_bundle="monthly-factor" in args.strategies.split(","),
        on_day=progress,
    )
    with tempfile.TemporaryDirectory() as d:
        os.environ.setdefault("LIVEDESK_DATA_DIR", str(Path(d) / "data"))
        os.environ.setdefault("LIVEDESK_STATE_DIR", str(Path(d) / "state"))
        res = asyncio.run(Soak(cfg, Path(d) / "journal.sqlite3").run())
    rc = res.reconnect_seconds
    print(f"soak: seed {args.seed}, {res.steps} steps of {args.step:g} simulated s over "
          f"{res.sessions} sessions ({res.sim_seconds / 3600:.1f} simulated h of trading hours "
          f"and nights), {res.wall_seconds:.1f} s wall; Python {platform.python_version()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(res.faults.items()))
          + f" (total {sum(res.faults.values())})")  # fmt: skip
    print(f"reconnects: {len(rc)}; time to reconciled p50 {percentile(rc, 0.5):.3f} s, "
          f"p95 {percentile(rc, 0.95):.3f} s, max {max(rc, default=float('nan')):.3f} s "
          "(target p95 <= 5 s)")  # fmt: skip
    print(
        f"decisions {res.decisions} (paused {res.paused}, refused {res.refused}); "
        f"orders sent {res.orders_sent}, at the gateway {res.gateway_orders}; "
        f"fills {res.gateway_fills} at the gateway, {res.journal_fills} journaled"
    )
    print(
        f"lost fills {res.lost_fills} (must be 0); phantom fills {res.phantom_fills}; "
        f"duplicate orders {res.duplicate_orders} (must be 0); "
        f"final position mismatches {len(res.position_mismatches)} (must be 0)"
    )
    print(f"duplicate intents at the gateway (strategy, contract, decision) "
          f"{res.duplicate_intents} (must be 0); faults striking orders in flight "
          f"{res.inflight_faults}; faults not resumed from within {cfg.resume_steps} steps "
          f"{len(res.unresumed_faults)} (must be 0) {res.unresumed_faults[:5]}")  # fmt: skip
    print(f"strategies stopped on an error: {len(res.strategy_errors)} (must be 0)")
    for line in res.duplicate_detail[:5]:
        print(f"  duplicate intent: {line}")
    for name in cfg.strategies:
        print(f"strategy {name}: {res.strategy_status.get(name)}, journaled "
              f"{dict(res.strategy_kinds.get(name, {}))}"
              + (f", error {res.strategy_errors[name]}" if name in res.strategy_errors else ""))  # fmt: skip
        for reason, n in res.strategy_skips.get(name, Counter()).most_common(4):
            print(f"  skipped {n}x: {reason}")
    print("resident memory MiB at each tenth: " + " ".join(f"{m:.1f}" for m in res.rss_mib)
          + f"; peak {res.peak_rss_mib:.1f}")  # fmt: skip
    print("resident memory MiB at each simulated day: "
          + " ".join(f"{m:.1f}" for m in res.rss_by_day)
          + f"; trend {res.rss_growth_per_day:+.2f} MiB/day (target <= 1)")  # fmt: skip
    after = res.rss_by_day[res.warm_from :]  # the trend leaves out the warm-up
    if after:
        print(f"resident memory after the warm-up ({res.warm_from} days: until every strategy "
              f"had decided once): first {after[0]:.1f} MiB, last "
              f"{after[-1]:.1f} MiB over {len(after)} days "
              f"({(after[-1] - after[0]) / max(len(after) - 1, 1):+.2f} MiB/day end to end)")  # fmt: skip
    if res.steps < steps:
        print(f"stopped by the wall limit ({args.wall_limit:g} s) after {res.steps} of {steps} "
              f"steps: {res.sessions} of {args.days:g} sessions")  # fmt: skip
    if res.halted:
        print(f"final reconciliation failed: {res.halted}")
    return 0 if res.ok and not res.halted and not res.strategy_errors else 1


if __name__ == "__main__":
    sys.exit(main())
