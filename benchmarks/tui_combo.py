"""Combo builder performance: open → first complete frame, and strike step → repaint.

Prints, with their conditions:

* builder open → first complete frame with live quotes (target <= 500 ms): from pushing
  ``ComboBuilderScreen(template="iron condor")`` to the end of the first screen refresh in
  which the chain is loaded, every leg shows a live quote and the payoff chart is drawn;
* strike step → repaint (target p95 <= 50 ms): from the ``k`` / ``j`` key event reaching the
  app to the end of the first screen refresh showing the new strike with its quote and the
  new net price (legs table + net price), and to the end of the refresh showing the rebuilt
  payoff chart (plotext runs in a thread worker);
* CPU per strike step (process CPU time over the run / steps).

The simulated gateway runs in its own process (``livedesk sim-gateway``, speed 1: quotes
tick), like IB Gateway would; ``--in-process`` runs it in the app's event loop instead.
Run: ``python benchmarks/tui_combo.py`` (``--steps N``, ``--opens N``). The console's
``benchmarks/tui.py`` can call :func:`run` to print the same section.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stats(values: list[float]) -> str:
    """n, mean, p50, p95, max in ms."""
    if not values:
        return "n=0"
    v = sorted(values)

    def p(q: float) -> float:
        return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]

    return (
        f"n={len(v):3d}  mean {statistics.fmean(v):6.1f}  p50 {p(0.5):6.1f}  "
        f"p95 {p(0.95):6.1f}  max {v[-1]:6.1f} ms"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gateway(port: int) -> subprocess.Popen:
    """``livedesk sim-gateway`` on ``port`` (seed 7, speed 1) in a child process."""
    exe = Path(sys.executable).with_name("livedesk")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "livedesk"]
    proc = subprocess.Popen(
        [*cmd, "sim-gateway", "--port", str(port), "--seed", "7", "--speed", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("sim gateway did not start")


async def measure(size: tuple[int, int], port: int | None, opens: int, steps: int) -> dict:
    """Open the builder ``opens`` times, then step a strike ``steps`` times, headless."""
    from textual import events
    from textual.app import App

    from livedesk.backend.trading.app import TradingApp
    from livedesk.tui.screens.combo_builder import ComboBuilderScreen

    def probe(screen: ComboBuilderScreen) -> None:
        """Call ``screen.on_frame(end time)`` at the end of every screen refresh."""
        original = screen._on_timer_update

        def on_timer_update() -> None:
            original()
            if getattr(screen, "on_frame", None) is not None:
                screen.on_frame(time.perf_counter())

        screen._on_timer_update = on_timer_update
        screen._update_timer._callback = on_timer_update

    class Host(App):
        def __init__(self) -> None:
            super().__init__()
            self.trading = None
            self.gateway = None

        async def on_mount(self) -> None:
            p = port
            if p is None:
                from livedesk.backend.sim.gateway import SimGateway

                self.gateway = await SimGateway(port=0, seed=7, speed=1.0).start()
                p = self.gateway.port
            self.trading = await TradingApp.connect("127.0.0.1", p, client_id=31)
            if self.gateway is not None:
                session = self.gateway.market.session
                self.trading.today = lambda: session

    out: dict = {
        "open": [],
        "table": [],
        "chart": [],
        "table_cpu": [],
        "cpu_ms_per_step": float("nan"),
    }
    app = Host()
    async with app.run_test(size=size) as pilot:
        while app.trading is None:
            await asyncio.sleep(0.01)
        for _ in range(opens):
            done = asyncio.get_running_loop().create_future()
            screen = ComboBuilderScreen(app.trading, template="iron condor")
            chart = None

            def frame(end: float, screen=screen, done=done) -> None:
                nonlocal chart
                chart = chart or screen.query_one("#combo-chart")
                if (
                    not done.done()
                    and screen.ready.is_set()
                    and chart.renders >= 1
                    and chart._strips is not None
                ):
                    done.set_result(end)

            screen.on_frame = frame
            t0 = time.perf_counter()
            await app.push_screen(screen)
            probe(screen)
            end = await asyncio.wait_for(done, 30)
            out["open"].append((end - t0) * 1000)
            await pilot.pause(0.3)
            if len(out["open"]) < opens:
                app.pop_screen()
                await pilot.pause(0.3)
        b = screen
        await pilot.pause(0.5)  # focus starts in the legs table
        chart = b.query_one("#combo-chart")
        state: dict = {}
        original_post = app.post_message

        def post_message(message):
            if isinstance(message, events.Key) and message.key in ("j", "k"):
                state.update(
                    t0=time.perf_counter(),
                    cpu0=time.thread_time(),
                    version=b.form.version,
                    renders=chart.renders,
                    table=None,
                    chart=None,
                )
            return original_post(message)

        def frame(end: float) -> None:
            if "t0" not in state:
                return
            leg = b.form.legs[b.form.cursor] if b.form.legs else None
            q = b.feed.quote(leg.key) if leg else None
            quoted = q is not None and q.mid == q.mid
            if state["table"] is None and b.form.version > state["version"] and quoted:
                state["table"] = (end - state["t0"]) * 1000
                state["table_cpu"] = (time.thread_time() - state["cpu0"]) * 1000
            if state["chart"] is None and chart.renders > state["renders"] and chart._strips:
                state["chart"] = (end - state["t0"]) * 1000

        app.post_message = post_message
        b.on_frame = frame
        cpu0 = time.process_time()
        for i in range(steps):
            state.clear()
            await pilot.press("k" if i % 2 == 0 else "j")
            deadline = time.perf_counter() + 2
            while (
                not state.get("table") or not state.get("chart")
            ) and time.perf_counter() < deadline:
                await asyncio.sleep(0.002)
            if state.get("table"):
                out["table"].append(state["table"])
                out["table_cpu"].append(state["table_cpu"])
            if state.get("chart"):
                out["chart"].append(state["chart"])
            await asyncio.sleep(0.1)  # a trader's pace between steps
        cpu = time.process_time() - cpu0
        out["cpu_ms_per_step"] = cpu * 1000 / steps - 0.0
        if app.trading is not None:
            app.trading.disconnect()
        if app.gateway is not None:
            await app.gateway.stop()
    return out


def run(opens: int = 5, steps: int = 60, in_process: bool = False, print_fn=print) -> None:
    """Measure at 160x50 and 80x24 and print the figures."""
    proc = None
    port = None
    if not in_process:
        port = free_port()
        proc = start_gateway(port)
    try:
        load = os.getloadavg()
        print_fn(
            "Combo builder (iron condor on SPY), headless run_test, sim gateway "
            f"{'in-process' if in_process else 'in a child process'} at speed 1"
        )
        print_fn(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
            f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
        )
        for size in ((160, 50), (80, 24)):
            r = asyncio.run(measure(size, port, opens, steps))
            print_fn(f"\n{size[0]}x{size[1]}:")
            print_fn(
                f"  builder open → first complete frame with live quotes: {stats(r['open'])}"
                "  (target <= 500 ms)"
            )
            print_fn(
                f"  strike step → legs table + net price repainted:       {stats(r['table'])}"
                "  (target p95 <= 50 ms)"
            )
            print_fn(
                f"  strike step → payoff chart repainted:                 {stats(r['chart'])}"
                "  (target p95 <= 50 ms)"
            )
            print_fn(
                f"  strike step → repaint, main-thread CPU only:           {stats(r['table_cpu'])}"
            )
            print_fn(
                f"  CPU per strike step (whole process, incl. chart thread): "
                f"{r['cpu_ms_per_step']:.1f} ms"
            )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--opens", type=int, default=5, help="builder opens per size (5)")
    p.add_argument("--steps", type=int, default=60, help="strike steps per size (60)")
    p.add_argument("--in-process", action="store_true", help="sim gateway in the app's loop")
    a = p.parse_args()
    run(a.opens, a.steps, a.in_process)


if __name__ == "__main__":
    main()
