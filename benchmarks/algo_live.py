"""zipline algorithms live (issue 25) figures, printed with their conditions.

1. Live ``handle_data`` of a minute-mode algorithm with 10 assets calling
   ``data.history(assets, "price", 60, "1m")`` (plus ``data.current``) on the simulated
   gateway (``speed=0``, stepped one minute per bar): the whole decision per bar
   (``AlgoStrategy.run_once``: broker clock, schedule scan, the user's code on its worker
   thread, state saved to the journal) — mean / p95 / max over ``--bars`` bars. Target p95
   <= 20 ms.
2. ``pipeline_output`` on the 506-asset demo bundle (a 252-day return and 30-day average
   dollar volume pipeline): first call (engine build + run) and one uncached run per
   session for 5 sessions. Target <= 0.5 s.
3. Plugin discovery of 50 strategy files (``livedesk strategy new`` skeletons): a fresh
   ``registry.load_plugins`` (import + validate each) — mean / p95 / max of 5 rounds.
   Target <= 0.3 s.

Run: ``.venv/bin/python benchmarks/algo_live.py [--bars 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")
NY = ZoneInfo("America/New_York")
DAY = dt.date(2026, 11, 16)
SYMBOLS = ("AAPL", "MSFT", "AMZN", "GOOGL", "JPM", "XOM", "KO", "PG", "IBM", "CVX")
ALGO = """
from zipline.api import record, symbols


def initialize(context):
    context.assets = symbols(*SYMBOLS_HERE)


def handle_data(context, data):
    h = data.history(context.assets, "price", 60, "1m")
    fast, slow = h.iloc[-10:].mean(), h.mean()
    px = data.current(context.assets, "price")
    record(signal=float(((fast - slow) / px).sum()))
""".replace("SYMBOLS_HERE", repr(SYMBOLS))


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    return (
        f"mean {statistics.mean(xs) * 1e3:.2f} ms, p95 {p95 * 1e3:.2f} ms, "
        f"max {xs[-1] * 1e3:.2f} ms (n={len(xs)})"
    )


async def minute_bench(bars: int, folder: Path) -> None:
    from livedesk.backend.algo.strategy import algo_strategy_class
    from livedesk.backend.journal import Journal
    from livedesk.backend.sim.gateway import SimGateway
    from livedesk.backend.sim.market.model import MarketModel
    from livedesk.backend.strategies.context import StrategyContext
    from livedesk.backend.trading.app import TradingApp
    from tests.test_algo_live import write_demo_bundle

    market = MarketModel(seed=7, session=DAY)
    write_demo_bundle("demo", market, SYMBOLS, include_current=False)
    start = dt.datetime.combine(DAY, dt.time(10, 30), NY).timestamp()
    gw = SimGateway(port=0, market=market, speed=0.0, start_time=start, tick_interval=0.05)
    await gw.start()
    path = folder / "ten_assets.py"
    path.write_text(ALGO)
    cls = algo_strategy_class("ten-assets", path, frequency="minute", refresh_demo=False)
    strategy = cls()
    app = await TradingApp.connect("127.0.0.1", gw.port, client_id=3)
    journal = Journal(folder / "j.sqlite3")
    ctx = StrategyContext(app, strategy.name, journal=journal)
    try:
        t0 = time.perf_counter()
        await strategy.run_once(ctx)  # warm-up: load, initialize, open 10 minute feeds
        warm = time.perf_counter() - t0
        module = strategy.runtime.algo.module
        user, inner = module.handle_data, []

        def timed(context, data):
            t = time.perf_counter()
            user(context, data)
            inner.append(time.perf_counter() - t)

        module.handle_data = timed
        times = []
        for _ in range(bars):
            gw.advance(60, step=60.0)
            await asyncio.sleep(0.01)  # let the streamed bars arrive
            ctx.orders, ctx.recorded = [], {}
            t0 = time.perf_counter()
            d = await strategy.run_once(ctx)
            times.append(time.perf_counter() - t0)
            assert "signal" in d.values, d
        print(
            f"1. minute handle_data, {len(SYMBOLS)} assets, data.history 60 x 1m + data.current, "
            f"sim gateway speed=0 stepped 60 s per bar, {os.cpu_count()} cores: first decision "
            f"(load + initialize + 10 feeds) {warm:.2f} s;\n   handle_data per bar (the "
            f"algorithm's code with its data calls, on its worker thread) {stats(inner)} "
            f"(target p95 <= 20 ms);\n   the whole decision per bar (broker clock request, "
            f"schedule, thread hand-off, journal) {stats(times)}"
        )
    finally:
        await strategy.on_stop(ctx)
        app.disconnect()
        journal.close()
        await gw.stop()


def pipeline_bench() -> None:
    import pandas as pd
    from zipline.pipeline import Pipeline
    from zipline.pipeline.factors import AverageDollarVolume, Returns

    from livedesk.backend.algo.pipeline import LivePipelines
    from livedesk.backend.bundles.ingest import ingest_demo
    from livedesk.backend.bundles.store import load_bundle

    t0 = time.perf_counter()
    ingest_demo(7, DAY, name="demo-full")
    ingest = time.perf_counter() - t0
    data = load_bundle("demo-full")
    assets = len(data.asset_finder.sids)
    pipe = Pipeline(
        columns={"ret": Returns(window_length=252), "adv": AverageDollarVolume(window_length=30)}
    )
    t0 = time.perf_counter()
    engine = LivePipelines("demo-full", data)
    out = engine.output("p", pipe, pd.Timestamp(DAY))
    first = time.perf_counter() - t0
    last = pd.Timestamp(data.equity_daily_bar_reader.last_available_dt).tz_localize(None)
    sessions = data.equity_daily_bar_reader.sessions
    sessions = pd.DatetimeIndex(sessions).tz_localize(None)
    days = sessions[sessions <= last][-5:]
    times = []
    for d in days:
        t0 = time.perf_counter()
        engine.output("p", pipe, d)
        times.append(time.perf_counter() - t0)
    print(
        f"2. pipeline_output, demo bundle ({assets} assets, ingest {ingest:.1f} s), "
        f"Returns(252) + AverageDollarVolume(30), {len(out)} rows: first call (engine + run) "
        f"{first:.3f} s; one session uncached {stats(times)} (target <= 0.5 s)"
    )


def discovery_bench(folder: Path) -> None:
    from livedesk.backend.strategies import registry
    from livedesk.backend.strategies.skeleton import write_skeleton

    plugins = folder / "plugins"
    plugins.mkdir()
    for i in range(50):
        write_skeleton(f"bench-{i:02d}", plugins, symbol="SPY")
    times = []
    for _ in range(6):
        registry.forget_plugins()
        t0 = time.perf_counter()
        errors = registry.load_plugins([str(plugins)], base=folder, entry_points=True)
        times.append(time.perf_counter() - t0)
        assert not errors, errors
    found = [n for n in registry.available_strategies() if n.startswith("bench-")]
    print(
        f"3. plugin discovery, {len(found)} plugin files (+ their 50 test files, skipped) and "
        f"the installed entry points: first (cold imports of what the plugins import) "
        f"{times[0]:.3f} s; then {stats(times[1:])} (target <= 0.3 s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, default=200)
    args = ap.parse_args()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"conditions: {os.cpu_count()} cores, load average {load} (1 / 5 / 15 min)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k in ("DATA", "STATE", "CONFIG"):
            os.environ[f"LIVEDESK_{k}_DIR"] = str(folder / k.lower())
        discovery_bench(folder)
        asyncio.run(minute_bench(args.bars, folder))
        pipeline_bench()


if __name__ == "__main__":
    main()
