"""Screenshots of the real console for the docs, exported as SVG by Textual.

``python tools/screenshots.py`` gives the demo account a record first (``livedesk demo
--fast-forward N`` in temporary config, data and state directories, so your own demo account
is untouched), then opens the real console on it — the same app bare ``livedesk`` runs — and
saves one SVG per shot into ``docs/img/``:

* ``console.svg`` — the grid at 160×50 (README and the docs' home page);
* ``risk.svg`` — the Risk pane, live vs backtest, at 100×30;
* ``attribution.svg`` — the Attribution view at 120×40;
* ``combo-builder.svg`` — the combo builder on an iron condor at 120×40;
* ``help.svg`` — the help of the Positions pane at 100×30.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"


@dataclass(frozen=True)
class Shot:
    """One screenshot: file name, terminal size, keys pressed after connecting."""

    name: str
    size: tuple[int, int]
    keys: Sequence[str]
    settle: float = 1.5


SHOTS = (
    Shot("console.svg", (160, 50), ("1",)),
    Shot("risk.svg", (100, 30), ("4",)),
    Shot("attribution.svg", (120, 40), ("4", "a"), settle=15.0),
    Shot("combo-builder.svg", (120, 40), ("c", "t", "i"), settle=3.0),
    Shot("help.svg", (100, 30), ("1", "question_mark")),
)


async def take(shot: Shot, out: Path, timeout: float) -> Path:
    """Open the console as bare ``livedesk`` does, press the keys, save the SVG."""
    from livedesk.backend.config import load_settings
    from livedesk.tui.console import build_app, console_target

    settings = load_settings(None)
    app = build_app(settings, console_target(settings))
    async with app.run_test(size=shot.size, notifications=False) as pilot:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not app.connected:
            if loop.time() > end:
                raise SystemExit(f"screenshots: the console did not connect in {timeout} s")
            await asyncio.sleep(0.05)
        await pilot.pause(shot.settle)
        for key in shot.keys:
            await pilot.press(key)
            await pilot.pause(0.5)
        await pilot.pause(shot.settle)
        for _ in range(int(timeout)):  # a view still computing its figures: wait for them
            if "computing" not in app.export_screenshot():
                break
            await pilot.pause(1.0)
        path = out / shot.name
        path.write_text(app.export_screenshot(title="LiveDesk"), encoding="utf-8")
    return path


def fast_forward(sessions: int) -> None:
    """Give the temporary demo account a record (the ``livedesk demo`` command)."""
    cmd = [sys.executable, "-m", "livedesk", "demo", "--fast-forward", str(sessions)]
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-forward", type=int, default=25, metavar="N",
                        help="sessions of record before the shots (0: none)")  # fmt: skip
    parser.add_argument("--only", nargs="*", help="only these shots (file names)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder (default docs/img)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to connect")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="livedesk-shots-") as tmp:
        for name in ("CONFIG", "DATA", "STATE"):
            os.environ[f"LIVEDESK_{name}_DIR"] = str(Path(tmp) / name.lower())
        if args.fast_forward:
            fast_forward(args.fast_forward)
        args.out.mkdir(parents=True, exist_ok=True)
        for shot in SHOTS:
            if args.only and shot.name not in args.only:
                continue
            print(f"wrote {asyncio.run(take(shot, args.out, args.timeout))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
