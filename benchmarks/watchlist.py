"""Watchlist pane cost: the 4 Hz refresh with 100 streaming symbols (the most it holds).

Prints, with their conditions, the time of one ``WatchlistPane.refresh_from`` (the rows
rebuilt from the tickers and handed to the Line API table) and of drawing every visible
line of the table after it (an upper bound of the repaint: Textual redraws only the lines
whose rows changed), p50 / p95 / max, headless at 160x50 and 80x24 (the Watchlist shown),
while the simulated gateway streams at 60x speed.

Run: ``python benchmarks/watchlist.py [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_SYMBOLS = 100


def _symbols() -> tuple[str, ...]:
    from livedesk.backend.sim.market.instruments import default_registry

    names = [i.symbol for i in default_registry() if i.sec_type == "STK" and " " not in i.symbol]
    return tuple(dict.fromkeys(n for n in names if n != "SHOP"))[:N_SYMBOLS]


async def measure(size: tuple[int, int], seconds: float) -> dict[str, list[float]]:
    from livedesk.backend.config import Settings, WatchlistSettings
    from livedesk.backend.console.session import ConsoleSession, Target
    from livedesk.backend.journal import Journal
    from livedesk.backend.sim.gateway import SimGateway
    from livedesk.backend.sim.market.model import MarketModel
    from livedesk.tui.app import LiveDeskApp

    market = MarketModel(seed=7)
    tmp = Path(tempfile.mkdtemp())
    gw = SimGateway(port=0, market=market, speed=60.0, start_time=market.session_open() + 3600)
    settings = Settings(watchlist=WatchlistSettings(_symbols()))
    session = ConsoleSession(
        settings,
        Target(),
        gateway_factory=lambda: gw,
        journal=Journal(tmp / "journal.sqlite3"),
        controller_factory=lambda *a, **k: None,
        watchlist_path=tmp / "watchlist.json",
    )
    app = LiveDeskApp(session, theme_state=tmp / "console.json", theme_dirs=[])
    handler: list[float] = []
    frame: list[float] = []
    async with app.run_test(size=size, notifications=False) as pilot:
        while not app.connected:
            await asyncio.sleep(0.05)
        await pilot.press("7")
        await session.watchlist.wait_ready()
        pane = app.pane("watchlist")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            pane.refresh_from(session, False)
            t1 = time.perf_counter()
            for y in range(pane.table.size.height):
                pane.table.render_line(y)
            t2 = time.perf_counter()
            handler.append((t1 - t0) * 1000)
            frame.append((t2 - t0) * 1000)
            await asyncio.sleep(0.25)
        rows = sum(1 for r in session.watchlist.rows() if r.volume == r.volume)
    return {"handler": handler, "frame": frame, "rows": [rows]}


def _stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
    return f"p50 {statistics.median(xs):.2f} / p95 {p95:.2f} / max {xs[-1]:.2f} ms (n={len(xs)})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    load = os.getloadavg()[0]
    print(f"watchlist: {N_SYMBOLS} symbols, sim speed 60, 4 Hz, headless; "
          f"{os.cpu_count()} cores, load average {load:.1f}")  # fmt: skip
    for size in ((160, 50), (80, 24)):
        out = asyncio.run(measure(size, args.seconds))
        print(f"{size[0]}x{size[1]} ({out['rows'][0]} rows quoted)")
        print(f"  refresh_from       {_stats(out['handler'])}")
        print(f"  + visible lines    {_stats(out['frame'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
