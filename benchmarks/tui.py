"""Console performance: start-up, keypress latency, frame cost, CPU and memory.

Prints, with their conditions:

* start-up to the first complete frame with the demo connected — the real ``livedesk``
  command in a real terminal (tmux, 160x50): until the screen shows the SIM badge,
  CONNECTED and the Strategies rows (target <= 2 s);
* keypress -> repaint latency p50 / p95 / max for cursor moves and pane switches while 500
  positions tick at 4 Hz, headless and in a real terminal under tmux, at 160x50 (grid) and
  80x24 (tabs) (target p95 <= 16.7 ms, one frame at 60 Hz, #21), and the main thread's CPU
  time per keypress (what the key costs without waiting for a shared core). Latency is
  measured from the key event reaching the app (``post_message``) to the end of the first
  screen refresh after its action ran (the console's frame rate: 120 a second, see
  ``livedesk.tui``; a key waits at most 8.3 ms for its frame slot);
* frame cost per tick cycle: the 4 Hz refresh handler plus the screen refresh it causes
  (target p95 <= 15 ms);
* CPU while ticking (target <= 10 % of a core) and idle (target < 1 %);
* memory (RSS and Python heap) over 10 minutes of ticking (``--minutes``; no growth).

Run: ``python benchmarks/tui.py`` (all), ``--quick`` (shorter runs), ``--skip-tmux``.
The 500 positions are synthetic rows served by a ConsoleSession on the embedded sim
gateway (every row's price, value and PnL change at every tick).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_POSITIONS = 500
TICK_HZ = 4.0


# ---------------------------------------------------------------- the ticking session
def make_bench_session(market):
    """A ConsoleSession whose positions are 500 synthetic rows repriced at 4 Hz."""
    from livedesk.backend.config import Settings
    from livedesk.backend.console.session import ConsoleSession, Target
    from livedesk.backend.console.views import PositionRow
    from livedesk.backend.journal import Journal
    from livedesk.backend.sim.gateway import SimGateway

    class BenchSession(ConsoleSession):
        def __init__(self) -> None:
            gw = SimGateway(
                port=0, market=market, speed=0.0, start_time=market.session_open() + 3600
            )
            super().__init__(
                Settings(),
                Target(),
                gateway_factory=lambda: gw,
                journal=Journal(":memory:"),
                controller_factory=lambda app, **kw: None,
            )
            rng = random.Random(7)
            self.rng = rng
            self.base = [50 + rng.random() * 400 for _ in range(N_POSITIONS)]
            self.qty = [rng.choice((-1, 1)) * rng.randint(1, 50) * 10 for _ in range(N_POSITIONS)]
            self.prices = list(self.base)
            self.rows = self._build()
            self.ticking = True
            self.ticks = 0

        def _build(self):
            out = []
            for i in range(N_POSITIONS):
                p, q, b = self.prices[i], self.qty[i], self.base[i]
                out.append(
                    PositionRow(
                        con_id=10_000 + i,
                        symbol=f"SYM{i:03d}",
                        sec_type="STK",
                        quantity=q,
                        avg_cost=b,
                        market_price=p,
                        market_value=p * q,
                        unrealized=(p - b) * q,
                        realized=0.0,
                        weight=p * q / 1e7,
                        strategy="bench",
                    )
                )
            return out

        def tick(self) -> None:
            self.prices = [p * (1 + self.rng.gauss(0, 0.0005)) for p in self.prices]
            self.rows = self._build()
            self.ticks += 1
            self._bump("positions")

        def positions(self):
            return self.rows

        async def run_ticker(self) -> None:
            while True:
                await asyncio.sleep(1 / TICK_HZ)
                if self.ticking:
                    self.tick()

    return BenchSession()


class Probe:
    """Instruments a running app: key arrival, action, frames, tick-cycle cost."""

    def __init__(self, app) -> None:
        from textual import events

        self.app = app
        self.key_t0: float | None = None
        self.action_done = False
        self.latencies: dict[str, list[float]] = {"cursor": [], "switch": []}
        self.cpu: dict[str, list[float]] = {"cursor": [], "switch": []}
        self.key_cpu0 = 0.0
        self.kind = ""
        self.recording = True
        """Off once the measured keys are done (Pilot's own presses after them wait for
        the screen to settle: not a keypress latency)."""
        self.frames: list[float] = []
        self.cycles: list[float] = []
        self._tick_start: float | None = None
        self._tick_cost = 0.0
        original_post = app.post_message

        def post_message(message):
            if isinstance(message, events.Key) and self.key_t0 is None and self.recording:
                self.key_t0 = time.perf_counter()
                self.key_cpu0 = time.thread_time()
                self.kind = "switch" if message.key in "123456" else "cursor"
                self.action_done = False
            return original_post(message)

        app.post_message = post_message
        original_tick = app.tick

        def tick(force: bool = False):
            t = time.perf_counter()
            original_tick(force)
            self._tick_cost = time.perf_counter() - t
            self._tick_start = t

        app.tick = tick
        if app._timer is not None:  # the interval timer holds the bound method
            app._timer._callback = tick
        self._wrap_actions()

    def _wrap_actions(self) -> None:
        from livedesk.tui.widgets.line_table import LineTable

        probe = self
        original_cursor = LineTable.action_cursor
        original_show = type(self.app).action_show_pane

        def action_cursor(table, delta):
            before = table.cursor
            original_cursor(table, delta)
            if table.cursor == before:  # at an edge: nothing to repaint, nothing to time
                probe.key_t0 = None
            probe.action_done = True

        def action_show_pane(app, name):
            original_show(app, name)
            probe.action_done = True

        LineTable.action_cursor = action_cursor
        type(self.app).action_show_pane = action_show_pane

    def attach_screen(self, screen) -> None:
        original = screen._on_timer_update

        def on_timer_update():
            t = time.perf_counter()
            original()
            end = time.perf_counter()
            self.frames.append((end - t) * 1000)
            if self.key_t0 is not None and self.action_done:
                self.latencies[self.kind].append((end - self.key_t0) * 1000)
                self.cpu[self.kind].append((time.thread_time() - self.key_cpu0) * 1000)
                self.key_t0 = None
            if self._tick_start is not None:
                self.cycles.append((self._tick_cost + (end - t)) * 1000)
                self._tick_start = None

        screen._on_timer_update = on_timer_update
        screen._update_timer._callback = on_timer_update


def stats(values: list[float]) -> str:
    if not values:
        return "n=0"
    v = sorted(values)
    p = lambda q: v[min(len(v) - 1, int(round(q * (len(v) - 1))))]  # noqa: E731
    return (
        f"n={len(v):4d}  mean {statistics.fmean(v):6.1f}  p50 {p(0.5):6.1f}  "
        f"p95 {p(0.95):6.1f}  max {v[-1]:6.1f} ms"
    )


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


# ---------------------------------------------------------------- headless
async def headless(market, size: tuple[int, int], keys: int, seconds_cpu: float, minutes: float):
    from livedesk.tui.app import LiveDeskApp

    session = make_bench_session(market)
    app = LiveDeskApp(session, theme_state=None, theme_dirs=[])
    async with app.run_test(size=size) as pilot:
        while not app.connected:
            await asyncio.sleep(0.05)
        ticker = asyncio.get_running_loop().create_task(session.run_ticker())
        await pilot.press("1")
        await pilot.pause(1.0)
        gc.collect()
        gc.freeze()
        probe = Probe(app)
        probe.attach_screen(app.screen)
        await pilot.pause(2.0)
        probe.cycles.clear()
        probe.frames.clear()
        rng = random.Random(1)
        from textual import events

        for i in range(keys):
            if i % 4 == 3:
                key = "2" if app.active_pane == "positions" else "1"
            else:
                key = rng.choice(("down", "down", "down", "up"))
            app.post_message(events.Key(key, key if len(key) == 1 else None))
            await asyncio.sleep(0.09 + rng.random() * 0.12)  # keys land at every tick phase
        probe.recording = False
        await pilot.press("1")
        await pilot.pause(0.5)
        cycles_ticking = list(probe.cycles)
        # CPU while ticking, no keys
        c0, w0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds_cpu)
        cpu_tick = (time.process_time() - c0) / (time.perf_counter() - w0) * 100
        session.ticking = False
        await asyncio.sleep(1.0)
        c0, w0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds_cpu)
        cpu_idle = (time.process_time() - c0) / (time.perf_counter() - w0) * 100
        session.ticking = True
        memory = None
        if minutes > 0:
            memory = await memory_run(session, minutes)
        ticker.cancel()
        renders = app.pane("positions").table.renders
    return probe, cycles_ticking, cpu_tick, cpu_idle, memory, session.ticks, renders


async def memory_run(session, minutes: float) -> list[tuple[float, float, int]]:
    import tracemalloc

    tracemalloc.start()
    samples = []
    t0 = time.perf_counter()
    end = t0 + minutes * 60
    step = max(10.0, minutes * 60 / 10)
    while True:
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
        samples.append(((time.perf_counter() - t0) / 60, rss_mb(), current))
        if time.perf_counter() >= end:
            break
        await asyncio.sleep(min(step, end - time.perf_counter()))
    tracemalloc.stop()
    return samples


# ---------------------------------------------------------------- real terminal (tmux)
def child(out: Path, size: str, seconds: float) -> None:
    """Run the instrumented console in this (real) terminal for ``seconds``, then dump figures."""
    from livedesk.backend.sim.market.model import MarketModel
    from livedesk.tui.app import LiveDeskApp

    market = MarketModel(seed=7)
    session = make_bench_session(market)
    result: dict = {}

    class BenchApp(LiveDeskApp):
        def on_mount(self) -> None:
            self.run_worker(driver(), group="bench")

    app = BenchApp(session, theme_state=None, theme_dirs=[])

    async def driver() -> None:
        while not app.connected:
            await asyncio.sleep(0.05)
        ticker = asyncio.get_running_loop().create_task(session.run_ticker())
        await asyncio.sleep(1.0)
        gc.collect()
        gc.freeze()
        probe = Probe(app)
        probe.attach_screen(app.screen)
        (out.with_suffix(".ready")).write_text("ready")
        await asyncio.sleep(seconds)
        ticker.cancel()
        result.update(
            cursor=probe.latencies["cursor"],
            switch=probe.latencies["switch"],
            cycles=probe.cycles,
            cpu_cursor=probe.cpu["cursor"],
            cpu_switch=probe.cpu["switch"],
        )
        out.write_text(json.dumps(result))
        app.exit(0)

    app.run()


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def tmux_latency(size: tuple[int, int], keys: int) -> dict | None:
    out = Path(tempfile.mkdtemp()) / "tui-bench.json"
    name = f"ldbench{os.getpid()}x{size[0]}"
    cmd = f"{sys.executable} {Path(__file__).resolve()} --child {out} --seconds {keys * 0.16 + 6}"
    env = f"env TERM=xterm-256color LIVEDESK_STATE_DIR={out.parent} "
    tmux("new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), env + cmd)
    try:
        deadline = time.monotonic() + 60
        while not out.with_suffix(".ready").exists():
            if time.monotonic() > deadline:
                print("  the console did not get ready in 60 s; its screen:")
                print(tmux("capture-pane", "-p", "-t", name))
                return None
            time.sleep(0.1)
        rng = random.Random(2)
        pane = "positions"
        for i in range(keys):
            if i % 4 == 3:
                key, pane = ("2", "orders") if pane == "positions" else ("1", "positions")
            else:
                key = rng.choice(("Down", "Down", "Down", "Up"))
            tmux("send-keys", "-t", name, key)
            time.sleep(0.09 + rng.random() * 0.12)
        deadline = time.monotonic() + 30
        while not out.exists():
            if time.monotonic() > deadline:
                print("  no figures 30 s after the last key; the console's screen:")
                print(tmux("capture-pane", "-p", "-t", name))
                return None
            time.sleep(0.1)
        return json.loads(out.read_text())
    finally:
        tmux("kill-session", "-t", name)


def tmux_startup(runs: int) -> list[tuple[float, float, float]]:
    """Seconds to (first frame, connected frame, strategies listed), per run.

    First frame: anything of the console drawn. Connected: the SIM badge, CONNECTED and the
    account's NetLiquidation on screen with the panes drawn. Strategies listed: the
    crack-spread row in the Strategies pane (their modules load after the connection).
    """
    livedesk = Path(sys.executable).with_name("livedesk")
    results = []
    for run in range(runs):
        d = Path(tempfile.mkdtemp())
        name = f"ldstart{os.getpid()}{run}"
        env = (
            f"env TERM=xterm-256color LIVEDESK_STATE_DIR={d} LIVEDESK_CONFIG_DIR={d} "
            f"LIVEDESK_DATA_DIR={d} "
        )
        t0 = time.perf_counter()
        tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50", env + str(livedesk))
        first = connected = listed = math.nan
        try:
            while time.perf_counter() - t0 < 30:
                screen = tmux("capture-pane", "-p", "-t", name)
                now = time.perf_counter() - t0
                if math.isnan(first) and ("LiveDesk" in screen or "SIM" in screen):
                    first = now
                if math.isnan(connected) and all(
                    w in screen for w in ("SIM", "CONNECTED", "NLV $", "1 Positions")
                ):
                    connected = now
                if "crack-spread" in screen:
                    listed = now
                    break
                time.sleep(0.02)
        finally:
            tmux("send-keys", "-t", name, "q")
            time.sleep(0.5)
            tmux("kill-session", "-t", name)
            shutil.rmtree(d, ignore_errors=True)
        results.append((first, connected, listed))
    return results


# ---------------------------------------------------------------- main
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer keys, 1-minute memory run")
    p.add_argument("--skip-tmux", action="store_true", help="headless figures only")
    p.add_argument("--minutes", type=float, default=None, help="memory run length (default 10)")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=30, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, "", args.seconds)
        return
    keys = 80 if args.quick else 200
    minutes = args.minutes if args.minutes is not None else (1.0 if args.quick else 10.0)
    have_tmux = shutil.which("tmux") is not None and not args.skip_tmux
    print(f"LiveDesk console benchmark — {N_POSITIONS} positions repriced at {TICK_HZ:g} Hz")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, keys per run: {keys}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (other work competes for the cores)\n")

    if have_tmux:
        runs = tmux_startup(5)
        print("start-up, real `livedesk` in tmux 160x50 (process start to ...):")
        for i, (first, connected, listed) in enumerate(runs, 1):
            print(
                f"  run {i}: first frame {first:5.2f} s, connected (SIM, NLV, panes) "
                f"{connected:5.2f} s, strategies listed {listed:5.2f} s"
            )
        for label, k in (("connected", 1), ("strategies listed", 2)):
            done = [r[k] for r in runs if not math.isnan(r[k])]
            if done:
                print(
                    f"  {label}: mean {statistics.fmean(done):.2f} s, "
                    f"p50 {statistics.median(done):.2f} s, max {max(done):.2f} s (target <= 2 s)"
                )
        print()

    from livedesk.backend.sim.market.model import MarketModel

    market = MarketModel(seed=7)
    for size in ((160, 50), (80, 24)):
        probe, cycles, cpu_tick, cpu_idle, memory, ticks, renders = asyncio.run(
            headless(
                market,
                size,
                keys,
                10.0 if args.quick else 20.0,
                minutes if size == (160, 50) else 0,
            )
        )
        layout = "grid" if size[0] >= 140 else "tabs"
        print(f"headless {size[0]}x{size[1]} ({layout}):")
        print(f"  cursor move  {stats(probe.latencies['cursor'])}  (target p95 <= 16.7)")
        print(f"  pane switch  {stats(probe.latencies['switch'])}  (target p95 <= 16.7)")
        print("  CPU time of the main thread per keypress (excludes waiting for a core):")
        print(f"    cursor     {stats(probe.cpu['cursor'])}  (target p95 <= 16.7)")
        print(f"    switch     {stats(probe.cpu['switch'])}  (target p95 <= 16.7)")
        print(f"  tick cycle   {stats(cycles)}  (handler + repaint; target p95 <= 15)")
        print(f"  frames       {stats(probe.frames)}")
        print(
            f"  CPU ticking {cpu_tick:5.1f} % of a core (target <= 10), idle {cpu_idle:5.2f} % (target < 1)"
        )
        print(f"  ticks {ticks}, row strips rendered {renders}")
        if memory:
            print(f"  memory while ticking ({minutes:g} min, {int(minutes * 60 * TICK_HZ)} ticks):")
            for minute, rss, heap in memory:
                print(
                    f"    t={minute:5.1f} min  RSS {rss:7.1f} MB  traced heap {heap / 1e6:7.2f} MB"
                )
            growth = memory[-1][1] - memory[1][1] if len(memory) > 2 else math.nan
            heap_growth = (memory[-1][2] - memory[1][2]) / 1e6 if len(memory) > 2 else math.nan
            print(
                f"    growth after the first sample: RSS {growth:+.1f} MB, heap {heap_growth:+.2f} MB"
            )
        print()

    if have_tmux:
        # a session that outlives each run's: killing the last session stops the tmux server,
        # and the next run's new-session could reach the server while it was exiting
        keeper = f"ldkeep{os.getpid()}"
        tmux("new-session", "-d", "-s", keeper, "sleep 3600")
        try:
            terminal = {size: tmux_latency(size, keys) for size in ((160, 50), (80, 24))}
        finally:
            tmux("kill-session", "-t", keeper)
        for size, res in terminal.items():
            print(f"real terminal, tmux {size[0]}x{size[1]} (xterm-256color):")
            if res is None:
                print("  failed to run")
                continue
            print(f"  cursor move  {stats(res['cursor'])}  (target p95 <= 16.7)")
            print(f"  pane switch  {stats(res['switch'])}  (target p95 <= 16.7)")
            print(f"  tick cycle   {stats(res['cycles'])}  (target p95 <= 15)")
            print(f"  CPU per key: cursor {stats(res['cpu_cursor'])}")
            print(f"               switch {stats(res['cpu_switch'])}")
            print()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
