"""Strategy runtime figures against the simulated gateway (run in its own process, as a real one).

Prints:

1. one ``crack-spread`` iteration after warm-up (``run_now``, new-bar path: bars come from
   the ``keepUpToDate`` feeds, no history request), mean / p95 / max — target <= 20 ms;
2. messages the client sends to the gateway per iteration (counted at
   ``ib.client.sendMsg``; the gateway clock is re-read when older than 0.5 s) — target <= 2;
3. strategy start to first decision on the demo gateway (``--speed 60``): the warm-up
   (four one-week 1-minute histories) and the wait for the first scheduled run;
4. a 5-day ``crack-spread`` backtest replay (download of 4 x 5 sessions of 1-minute bars
   plus the bar-by-bar replay), and the replay alone — target <= 10 s;
5. for reference, one cold ``options-combo`` decision (chain, option snapshots, GARCH fit)
   and a GARCH(1,1) fit on a year of daily returns.

6. ``monthly-factor`` (issue 15): bundle ingest per asset, the Pipeline for one date at
   500 / 2,000 / 20,000 assets, ``run monthly-factor --once --dry-run`` on the demo and
   ``run_algorithm`` backtests — :mod:`benchmarks/monthly_factor.py`, run as a child process
   (zipline is heavy); ``--skip-monthly-factor`` leaves it out.

Run: ``.venv/bin/python benchmarks/strategies.py`` (about a minute, plus the monthly-factor
figures: several minutes the first time, when the 20,000-asset bundle is built).
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from livedesk.backend.events import EventBus
from livedesk.backend.journal import Journal
from livedesk.backend.strategies import GatewayClock, StrategyController, create_strategy
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.trading.app import TradingApp

ITERATIONS = 40
SPEED = 60.0


def stats(xs: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    a = sorted(x * scale for x in xs)
    p95 = a[min(len(a) - 1, int(round(0.95 * (len(a) - 1))))]
    return f"mean {statistics.fmean(a):.2f} {unit}, p95 {p95:.2f} {unit}, max {a[-1]:.2f} {unit} (n={len(a)})"


async def start_gateway(tmp: str, speed: float) -> tuple[asyncio.subprocess.Process, int]:
    env = dict(os.environ)
    env.update(
        LIVEDESK_CONFIG_DIR=f"{tmp}/cfg",
        LIVEDESK_STATE_DIR=f"{tmp}/state",
        LIVEDESK_DATA_DIR=f"{tmp}/data",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livedesk.tui.cli",
        "sim-gateway",
        "--port",
        "0",
        "--speed",
        str(speed),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    return proc, int(line.rsplit(":", 1)[1])


class Counter:
    """Counts messages the ib_async client sends."""

    def __init__(self, ib) -> None:
        self.n = 0
        self.kinds: list[str] = []
        original = ib.client.sendMsg

        def counting(msg):
            self.n += 1
            self.kinds.append(str(msg).split("\0", 1)[0])
            return original(msg)

        ib.client.sendMsg = counting


async def iteration_figures(port: int, journal: Journal) -> None:
    app = await TradingApp.connect("127.0.0.1", port, 21)
    counter = Counter(app.ib)
    ctl = StrategyController(
        app,
        bus=EventBus(),
        journal=journal,
        strategies=[create_strategy("crack-spread", {"weight": 0.02})],
        clock=GatewayClock.of(app.ib),
    )
    await asyncio.sleep(12)  # at speed 60: 12 simulated minutes after the open, fresh bars
    t0 = time.perf_counter()
    first = await ctl.run_now("crack-spread")
    cold = time.perf_counter() - t0
    warm_msgs = counter.n
    print(
        f"crack-spread cold run_now (resolve 4 contracts + 4 x 1 W of 1-min bars + decision): "
        f"{cold * 1000:.0f} ms, {warm_msgs} messages; decision: {first.summary}"
    )
    times, fresh, msgs, hist = [], [], [], 0
    skipped: list[str] = []
    extra: list[str] = []
    cpu: list[float] = []
    for i in range(ITERATIONS):
        await asyncio.sleep(0.6)  # a new gateway second (and new 1-min bars at speed 60)
        before = counter.n
        k0 = len(counter.kinds)
        if i % 2 == 0:
            # as in the controller's loop: the scheduler read the gateway clock to wake up
            await ctl.clock.refresh()
            t0, c0 = time.perf_counter(), time.process_time()
            d = await ctl.run_now("crack-spread")
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        else:  # worst case: the iteration itself asks the gateway for the time
            t0 = time.perf_counter()
            d = await ctl.run_now("crack-spread")
            fresh.append(time.perf_counter() - t0)
        msgs.append(counter.n - before)
        hist += sum(1 for k in counter.kinds[k0:] if k == "20")  # REQ_HISTORICAL_DATA
        if d.skipped:
            skipped.append(d.skipped_reason)
        if counter.n - before > 2:
            names = {
                "49": "reqCurrentTime",
                "3": "placeOrder",
                "1": "reqMktData",
                "20": "reqHistoricalData",
            }
            extra.append("+".join(names.get(k, k) for k in counter.kinds[k0:]))
    print(
        f"crack-spread iteration after warm-up (new bars only, clock just read by the "
        f"scheduler): {stats(times)} — target <= 20 ms"
    )
    print(f"  CPU time of this process per iteration (the machine is shared): {stats(cpu)}")
    print(f"crack-spread iteration including its own reqCurrentTime round trip: {stats(fresh)}")
    print(
        f"messages to the gateway per iteration (clock read + orders): mean "
        f"{statistics.fmean(msgs):.2f}, max {max(msgs)} (history requests: {hist}) — target <= 2"
    )
    if extra:
        print(f"  iterations above 2 messages: {extra} (the first order also subscribes its quote)")
    print(
        f"  decisions: {len(msgs) - len(skipped)} taken, {len(skipped)} skipped {sorted(set(skipped))}"
    )
    await ctl.close()
    app.disconnect()


async def start_figures(port: int, journal: Journal) -> None:
    app = await TradingApp.connect("127.0.0.1", port, 22)
    ctl = StrategyController(
        app,
        bus=EventBus(),
        journal=journal,
        strategies=[create_strategy("crack-spread", {"weight": 0.02})],
        clock=GatewayClock.of(app.ib),
    )
    got = asyncio.Event()
    stamps: dict[str, float] = {}
    ctl.listeners.append(
        lambda name, d: (stamps.setdefault("first", time.perf_counter()), got.set())
    )
    strategy = ctl.strategy("crack-spread")
    original = strategy.on_start

    async def timed_on_start(ctx):
        await original(ctx)
        stamps["warm"] = time.perf_counter()

    strategy.on_start = timed_on_start
    t0 = time.perf_counter()
    await ctl.start("crack-spread")
    await asyncio.wait_for(got.wait(), 30)
    print(
        f"strategy start to first decision on the demo (--speed {SPEED:g}): "
        f"{stamps['first'] - t0:.2f} s (warm-up {stamps['warm'] - t0:.2f} s, then the wait "
        f"for the next scheduled minute: at most 60 s / speed = {60 / SPEED:.1f} s)"
    )
    await ctl.close()
    app.disconnect()


async def backtest_figures(port: int) -> None:
    app = await TradingApp.connect("127.0.0.1", port, 23)
    s = create_strategy("crack-spread")
    ctx = StrategyContext(app, s.name, dry_run=True)
    app.today = ctx.clock.today
    await ctx.now()
    marks: dict[str, float] = {}

    def progress(done: int, total: int, what: str) -> None:
        marks["downloaded" if done == total - 1 else "replayed" if done == total else "-"] = (
            time.perf_counter()
        )

    t0 = time.perf_counter()
    r = await s.backtest(ctx, 5, 1.0, progress)
    total = time.perf_counter() - t0
    replay = marks["replayed"] - marks["downloaded"]
    print(
        f"5-day crack-spread backtest replay ({r.bars} aligned minute bars, {r.trades} trades): "
        f"{total:.2f} s including the download of 4 x 5 sessions, replay alone "
        f"{replay * 1000:.0f} ms — target <= 10 s"
    )
    app.disconnect()


async def options_figures(port: int) -> None:
    from livedesk.backend.strategies.volatility import fit_garch

    app = await TradingApp.connect("127.0.0.1", port, 24)
    ctl = StrategyController(
        app,
        bus=EventBus(),
        strategies=[create_strategy("options-combo")],
        dry_run=True,
        clock=GatewayClock.of(app.ib),
    )
    t0 = time.perf_counter()
    d = await ctl.run_now("options-combo")
    cold = time.perf_counter() - t0
    print(f"options-combo cold decision (dry run): {cold:.2f} s — {d.summary}")
    r = np.random.default_rng(1).standard_normal(251) * 0.01
    fit_garch(r)
    ts = []
    for i in range(10):
        r = np.random.default_rng(i).standard_normal(251) * 0.01
        t0 = time.perf_counter()
        fit_garch(r)
        ts.append(time.perf_counter() - t0)
    print(f"GARCH(1,1) fit on 251 daily returns (BFGS, 3 starts): {stats(ts)}")
    app.disconnect()


async def main() -> None:
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    print(
        f"conditions: gateway in its own process (livedesk sim-gateway --speed {SPEED:g}), "
        f"loopback, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = await start_gateway(tmp, SPEED)
        journal = Journal(Path(tmp) / "journal.sqlite3", synchronous="NORMAL")
        try:
            await iteration_figures(port, journal)
            await start_figures(port, journal)
            await backtest_figures(port)
            await options_figures(port)
        finally:
            journal.close()
            proc.terminate()
            await proc.wait()


def monthly_factor_figures() -> None:
    """The monthly-factor figures (``benchmarks/monthly_factor.py``) in a child process."""
    import subprocess

    subprocess.run([sys.executable, str(Path(__file__).with_name("monthly_factor.py"))], check=True)


if __name__ == "__main__":
    asyncio.run(main())
    if "--skip-monthly-factor" not in sys.argv[1:]:
        monthly_factor_figures()
