"""monthly-factor (issue 15) figures: bundle ingest, the Pipeline at 500 / 2,000 / 20,000 assets,
``livedesk run monthly-factor --once --dry-run`` on the demo, and ``run_algorithm`` backtests.

Prints, with the conditions:

1. ingest time per asset: the demo bundle (the simulated market's 506 US stocks, 520
   sessions) and the S&P 500 CSV (505 tickers, 1,259 sessions; read + validate, then write);
2. the Pipeline for one date on synthetic bundles of 500, 2,000 and 20,000 random-walk
   assets (502 sessions) — each size in a fresh process: bundle load, first run, then
   5 repeats (mean / p95 / max). Reference on this machine (ZIPLINE_NOTES, zipline-reloaded
   3.2): 0.24 / 0.98 / 3.1 s first run. The synthetic bundles are built once and reused
   across runs (in ``$LIVEDESK_BENCH_DIR``, default ``<tmp>/livedesk-bench``);
3. the whole ``livedesk run monthly-factor --once --dry-run`` on the embedded demo gateway,
   the demo bundle already built (3 runs, each a new process) — target <= 5 s;
4. ``run_algorithm`` backtests: the demo bundle's full span (its 520 sessions allow one
   year of full 253-session factor windows) and a 2-year backtest on the same market model
   with 773 history sessions (``demo-long``).

Run: ``.venv/bin/python benchmarks/monthly_factor.py`` (first run several minutes: the
20,000-asset bundle takes ~2 min to build; later runs reuse it).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SIZES = (500, 2_000, 20_000)
SYNTH_SESSIONS = 502
REPEATS = 5
DRY_RUNS = 3


def bench_dir() -> Path:
    return Path(
        os.environ.get("LIVEDESK_BENCH_DIR") or Path(tempfile.gettempdir()) / "livedesk-bench"
    )


def env() -> dict[str, str]:
    base = bench_dir()
    out = dict(os.environ)
    out.update(
        LIVEDESK_DATA_DIR=str(base / "data"),
        LIVEDESK_STATE_DIR=str(base / "state"),
        LIVEDESK_CONFIG_DIR=str(base / "config"),
    )
    return out


def stats(xs: list[float]) -> str:
    a = sorted(xs)
    p95 = a[min(len(a) - 1, round(0.95 * (len(a) - 1)))]
    return f"mean {statistics.fmean(a):.3f} s, p95 {p95:.3f} s, max {a[-1]:.3f} s (n={len(a)})"


def synthetic_frames(n: int, sessions: pd.DatetimeIndex) -> tuple[dict, dict]:
    from livedesk.backend.bundles.writer import AssetSpec

    rng = np.random.default_rng(n)
    frames, specs = {}, {}
    drift = rng.normal(0, 0.0004, n)
    for k in range(n):
        close = 40.0 * np.exp(np.cumsum(rng.normal(drift[k], 0.015, len(sessions))))
        vol = np.rint(rng.lognormal(13, 1.0) * rng.lognormal(0, 0.3, len(sessions)))
        sym = f"S{k:05d}"
        frames[sym] = pd.DataFrame(
            {
                "open": close,
                "high": close * 1.01,
                "low": close * 0.99,
                "close": close,
                "volume": vol,
            },
            index=sessions,
        )
        specs[sym] = AssetSpec(k, sym, "NYSE", sym)
    return frames, specs


def ensure_synthetic(n: int) -> tuple[str, float | None]:
    """Bundle ``synth-N`` (built once); returns its name and the build time when built now."""
    from livedesk.backend.bundles.calendar import xnys_calendar
    from livedesk.backend.bundles.paths import BundleError
    from livedesk.backend.bundles.store import bundle_info
    from livedesk.backend.bundles.writer import IngestSummary, write_bundle

    name = f"synth-{n}"
    try:
        bundle_info(name)
        return name, None
    except BundleError:
        pass
    sessions = xnys_calendar().sessions_window(pd.Timestamp("2024-06-03"), SYNTH_SESSIONS)
    t0 = time.perf_counter()
    frames, specs = synthetic_frames(n, sessions)
    summary = IngestSummary(name, "synthetic", f"{n} random walks", "", 0, 0, "", "")
    write_bundle(name, frames, specs, summary)
    return name, time.perf_counter() - t0


def pipeline_one(n: int) -> dict:
    """In this (fresh) process: load the bundle, run one date, repeat; JSON figures."""
    name, built = ensure_synthetic(n)
    t0 = time.perf_counter()
    import zipline  # noqa: F401

    t_import = time.perf_counter() - t0
    from livedesk.backend.momentum.pipeline import FactorEngine

    t0 = time.perf_counter()
    engine = FactorEngine(name)
    t_load = time.perf_counter() - t0
    day = engine.last_session
    t0, c0 = time.perf_counter(), time.process_time()
    first = engine.run(day)
    t_first, c_first = time.perf_counter() - t0, time.process_time() - c0
    repeats, cpu = [], []
    for _ in range(REPEATS):
        t0, c0 = time.perf_counter(), time.process_time()
        engine.run(day)
        repeats.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "n": n,
        "built": built,
        "import": t_import,
        "load": t_load,
        "first": t_first,
        "first_cpu": c_first,
        "repeats": repeats,
        "repeats_cpu": cpu,
        "picks": len(first.picks.weights),
        "universe": first.picks.universe,
    }


def ingest_figures() -> None:
    from livedesk.backend.bundles.ingest import ingest_csv, ingest_demo

    t0 = time.perf_counter()
    import zipline  # noqa: F401

    print(f"zipline import (once per process): {time.perf_counter() - t0:.2f} s")
    t0, c0 = time.perf_counter(), time.process_time()
    s = ingest_demo(7)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"ingest --demo: {s.assets} assets x {s.sessions} sessions in {total:.2f} s "
        f"(CPU {cpu:.2f} s) "
        f"(market paths + write; write alone {s.seconds:.2f} s) = "
        f"{total / s.assets * 1000:.1f} ms/asset; bundle {s.bytes / 2**20:.1f} MiB"
    )
    found = None
    for base in (ROOT / ".." / "shared", Path("/work/shared")):
        if (base / "data" / "sp500_daily_2013_2018.csv.gz").is_file():
            found = base / "data" / "sp500_daily_2013_2018.csv.gz"
            break
    if found is None:
        print("ingest --csv: skipped (sp500_daily_2013_2018.csv.gz not found)")
        return
    t0, c0 = time.perf_counter(), time.process_time()
    s, data = ingest_csv(found, "sp500")
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"ingest --csv S&P 500: {data.rows_read} rows, {s.assets} assets x {s.sessions} sessions "
        f"in {total:.2f} s (CPU {cpu:.2f} s; read + validate {total - s.seconds:.2f} s, write {s.seconds:.2f} s) = "
        f"{total / s.assets * 1000:.1f} ms/asset; {s.rows_repaired} repaired, "
        f"{s.rows_refused} refused, {s.gap_sessions} gap sessions; {s.bytes / 2**20:.1f} MiB"
    )


def pipeline_figures() -> None:
    reference = {500: 0.24, 2_000: 0.98, 20_000: 3.1}
    for n in SIZES:
        out = subprocess.run(
            [sys.executable, __file__, "--pipeline-one", str(n)],
            capture_output=True,
            text=True,
            env=env(),
        )
        if out.returncode != 0:
            print(f"pipeline, {n} assets: FAILED\n{out.stderr[-3000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        built = f"bundle built now in {r['built']:.1f} s; " if r["built"] else "bundle reused; "
        print(
            f"pipeline, one date, {n:>6} assets: {built}load {r['load']:.2f} s, "
            f"first run {r['first']:.2f} s (CPU {r['first_cpu']:.2f} s; reference "
            f"{reference[n]:.2f} s), repeat {stats(r['repeats'])} (CPU mean "
            f"{statistics.fmean(r['repeats_cpu']):.2f} s); universe {r['universe']}, "
            f"{r['picks']} picks"
        )


def dry_run_figures() -> None:
    from livedesk.backend.bundles.ingest import ingest_demo
    from livedesk.backend.bundles.paths import BundleError
    from livedesk.backend.bundles.store import bundle_info
    from livedesk.backend.momentum.factor import xnys_calendar

    today = xnys_calendar().date_to_session(
        pd.Timestamp.now(tz="America/New_York").tz_localize(None).normalize(), "previous"
    )
    try:
        meta = bundle_info("demo").meta
    except BundleError:
        meta = {}
    if (meta.get("extra") or {}).get("session") != f"{today:%Y-%m-%d}":
        ingest_demo(7)
    times, cpu = [], []
    for _ in range(DRY_RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "livedesk.tui.cli",
                "run",
                "monthly-factor",
                "--once",
                "--dry-run",
            ],  # fmt: skip
            capture_output=True,
            text=True,
            env=env(),
            cwd=str(ROOT),
        )
        times.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if out.returncode != 0:
            print(out.stdout[-2000:], out.stderr[-2000:])
            raise SystemExit("livedesk run monthly-factor failed")
    orders = sum(1 for line in out.stdout.splitlines() if line.strip().startswith("PLAN "))
    print(
        f"livedesk run monthly-factor --once --dry-run (new process, embedded demo gateway, "
        f"bundle built): {stats(times)}, CPU {stats(cpu)}, {orders} planned orders — "
        "target <= 5 s"
    )


def backtest_figures() -> None:
    from livedesk.backend.bundles.demo import demo_frames
    from livedesk.backend.bundles.paths import BundleError
    from livedesk.backend.bundles.store import bundle_info
    from livedesk.backend.bundles.writer import IngestSummary, write_bundle
    from livedesk.backend.momentum.backtest import run_backtest
    from livedesk.backend.sim.market.model import MarketModel

    c0 = time.process_time()
    r = run_backtest("demo")
    cpu = time.process_time() - c0
    print(
        f"run_algorithm on the demo bundle, full span {r.start:%Y-%m-%d}..{r.end:%Y-%m-%d} "
        f"({len(r.returns)} sessions, {len(r.rebalances)} rebalances): {r.seconds:.2f} s "
        f"(CPU {cpu:.2f} s)"
    )
    try:
        bundle_info("demo-long")
    except BundleError:
        market = MarketModel(seed=7, history_sessions=773, install_derivatives=False)
        frames, specs = demo_frames(market)
        summary = IngestSummary("demo-long", "demo", "seed 7, 773 sessions", "", 0, 0, "", "")
        write_bundle("demo-long", frames, specs, summary)
    c0 = time.process_time()
    r = run_backtest("demo-long", days=504)
    cpu = time.process_time() - c0
    print(
        f"run_algorithm 2-year backtest (demo market model, 773 sessions, {r.start:%Y-%m-%d}.."
        f"{r.end:%Y-%m-%d}, {len(r.returns)} sessions, {len(r.rebalances)} rebalances): "
        f"{r.seconds:.2f} s (CPU {cpu:.2f} s); total return {r.metrics['total_return']:+.1%}, "
        f"Sharpe {r.metrics['sharpe']:.2f}"
    )


def main() -> None:
    warnings.filterwarnings("ignore")
    os.environ.update(env())
    print(
        f"conditions: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}, data in {bench_dir()}"
    )
    ingest_figures()
    pipeline_figures()
    dry_run_figures()
    backtest_figures()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--pipeline-one":
        warnings.filterwarnings("ignore")
        print(json.dumps(pipeline_one(int(sys.argv[2]))))
    else:
        main()
