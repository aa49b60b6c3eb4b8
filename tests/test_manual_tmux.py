"""End-to-end trading by hand in the real console (bare ``livedesk``, tmux 120x30, the embedded
sim gateway), keys only: ``:buy AAPL 10 mkt`` → preview → ``shift+b`` → AAPL 10 in Positions
and its fill in Orders; a limit buy modified to another price with ``m`` (the same order, no
new one); ``X`` on the position closes it; a bracket whose children stay inactive while the
parent rests and are cancelled with it. tmux comes from the system; without it the test skips.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)"),
]

SOCKET = f"livedesk-manual-{os.getpid()}"
"""A tmux server of our own: sessions of other tests cannot resize or disturb ours."""


def tmux(*args: str) -> str:
    return subprocess.run(
        [TMUX, "-L", SOCKET, *args], capture_output=True, text=True, check=False
    ).stdout


def keys(name: str, *names: str) -> None:
    for k in names:
        tmux("send-keys", "-t", name, k)
        time.sleep(0.2)


def command(name: str, text: str) -> None:
    """``:`` then ``text`` then enter: the command line."""
    keys(name, ":")
    tmux("send-keys", "-t", name, "-l", text)
    time.sleep(0.2)
    keys(name, "Enter")


def wait_screen(name: str, predicate, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", name)
        if predicate(screen):
            return screen
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")


def rows(screen: str, *needles: str) -> list[str]:
    return [line for line in screen.splitlines() if all(n in line for n in needles)]


def order_rows(screen: str, *needles: str) -> list[str]:
    """Rows of the Orders table (they start with the time), a toast's text cut off."""
    found = []
    for line in screen.splitlines():
        m = re.match(r"^│(\d\d:\d\d:\d\d .*)", line)
        if m and all(n in m.group(1) for n in needles):
            found.append(m.group(1))
    return found


def preview(name: str, words: str) -> float:
    """Wait for the preview showing ``words``; its mid."""
    screen = wait_screen(
        name, lambda s: words in s and "guard: OK" in s, 30, f"the preview of {words}"
    )
    return float(re.search(r"mid ([\d.]+)", screen).group(1))


def test_buy_modify_close_and_a_bracket_by_hand(tmp_path) -> None:
    livedesk = Path(sys.executable).with_name("livedesk")
    name = f"ld-manual-{os.getpid()}"
    env = " ".join(
        f"{k}={tmp_path}"
        for k in ("LIVEDESK_STATE_DIR", "LIVEDESK_CONFIG_DIR", "LIVEDESK_DATA_DIR")
    )
    cmd = f"env -u COLUMNS -u LINES TERM=xterm-256color {env} {livedesk}; echo EXIT=$?; sleep 30"
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "30", "sleep 60")
    tmux("respawn-pane", "-k", "-t", name, cmd)
    try:
        wait_screen(name, lambda s: "CONNECTED" in s, 90, "the console connected")
        # 1. the command line's buy, previewed, sent with shift+b
        command(name, "buy AAPL 10 mkt")
        mid = preview(name, "BUY 10 AAPL MKT DAY")
        keys(name, "B")
        wait_screen(
            name, lambda s: rows(s, "AAPL", "STK", " 10 ", "manual"), 30, "AAPL 10 in Positions"
        )
        keys(name, "2")
        screen = wait_screen(
            name, lambda s: rows(s, "AAPL", "BUY", "10/0", "MKT", "Filled"), 30, "the fill"
        )
        keys(name, "e")  # the Executions view of the Orders pane: the fill, with its commission
        wait_screen(
            name,
            lambda s: "no executions" not in s and rows(s, "manual", "AAPL", "BUY", " 10 ", "USD"),
            30,
            "the fill in Executions",
        )
        keys(name, "e")  # back to the orders
        wait_screen(name, lambda s: rows(s, "AAPL", "BUY", "10/0", "Filled"), 30, "Orders again")
        # 2. a limit buy under the market, modified to another price with m
        first, second = round(mid * 0.97, 2), round(mid * 0.975, 2)
        command(name, f"buy AAPL 5 lmt {first:.2f}")
        preview(name, f"BUY 5 AAPL LMT limit {first:g} DAY")
        keys(name, "B")
        wait_screen(
            name, lambda s: rows(s, "AAPL", "BUY", "0/5", f"{first:.2f}", "Submitted"), 30, "LMT"
        )
        keys(name, "G", "m")
        wait_screen(name, lambda s: "Modify order #" in s, 10, "the modify dialog")
        keys(name, "C-u")
        tmux("send-keys", "-t", name, "-l", f"{second:.2f}")
        keys(name, "Enter")
        preview(name, f"to BUY 5 AAPL LMT limit {second:g} DAY")
        keys(name, "B")
        screen = wait_screen(
            name,
            lambda s: rows(s, "AAPL", "BUY", "0/5", f"{second:.2f}", "Submitted"),
            30,
            "the modified price",
        )
        assert len(order_rows(screen, "AAPL", "BUY", " LMT ")) == 1  # the same order, none new
        # 3. X on the position closes it
        keys(name, "1")
        wait_screen(name, lambda s: rows(s, "AAPL", "STK", " 10 "), 10, "Positions")
        keys(name, "X")
        preview(name, "SELL 10 AAPL MKT DAY")
        keys(name, "B")
        wait_screen(name, lambda s: "no open positions" in s, 30, "the position closed")
        # 4. a bracket: its exits wait (PreSubmitted) while the parent rests; cancelling the
        # parent cancels them
        tp, sl = round(mid * 1.03, 2), round(mid * 0.95, 2)
        command(name, f"buy AAPL 4 lmt {first:.2f} tp {tp:.2f} sl {sl:.2f}")
        preview(name, f"BUY 4 AAPL LMT limit {first:g} DAY · take-profit SELL {tp:g}")
        keys(name, "B")
        keys(name, "2")
        screen = wait_screen(
            name,
            lambda s: (
                rows(s, "AAPL", "BUY", "0/4", "Submitted")
                and len(rows(s, "AAPL", "SELL", "0/4", "PreSubmit")) == 2
            ),
            30,
            "the parent working, its two exits held",
        )
        assert rows(screen, "SELL", "0/4", "LMT", f"{tp:.2f}", "PreSubmit")
        assert rows(screen, "SELL", "0/4", "STP", "PreSubmit")
        keys(name, "G", "k", "k", "x")  # the parent: two rows above the stop-loss
        wait_screen(name, lambda s: "Cancel order" in s and "BUY 4" in s, 10, "the cancel")
        keys(name, "Tab", "Enter")
        wait_screen(
            name,
            lambda s: len(rows(s, "AAPL", "0/4", "Cancelled")) == 3,
            30,
            "the parent and both exits cancelled",
        )
        # quit: the modified limit still works, so q asks first
        keys(name, "q")
        screen = wait_screen(name, lambda s: "Quit LiveDesk?" in s, 20, "the quit question")
        keys(name, "Tab", "Enter")
        screen = wait_screen(name, lambda s: "EXIT=" in s, 30, "the exit status")
        assert "EXIT=0" in screen and "Traceback" not in screen
    finally:
        tmux("kill-server")
