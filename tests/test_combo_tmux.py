"""End-to-end in a real terminal (tmux), keys only: build a straddle, preview it, send it,
see it fill.

Runs the builder's host (``python -m livedesk.tui.screens.combo_demo``: the embedded sim
gateway at speed 1 and the Combo builder) at 100x30. tmux comes from the system; without
it the test skips.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

TMUX = shutil.which("tmux")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)"),
]


SOCKET = f"livedesk-combo-{os.getpid()}"
"""A tmux server of our own: sessions of other tests cannot resize or disturb ours."""


def tmux(*args: str) -> str:
    return subprocess.run(
        [TMUX, "-L", SOCKET, *args], capture_output=True, text=True, check=False
    ).stdout


def start(name: str, width: int, height: int, command: str) -> None:
    """A detached session of ``width`` x ``height`` running ``command``; the pane has its
    size before the command starts (a fresh server would otherwise start it at 80x24)."""
    tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), "sleep 60")
    tmux("respawn-pane", "-k", "-t", name, command)


def keys(name: str, *names: str) -> None:
    """Send keys at a fast typist's pace (a key right behind enter would still reach the
    field enter leaves: focus moves when the field's message is handled)."""
    for k in names:
        tmux("send-keys", "-t", name, k)
        time.sleep(0.2)


def wait_screen(name: str, predicate, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", name)
        if predicate(screen):
            return screen
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")


LEG = re.compile(
    r"\s(BUY|SELL)\s+1\s+([CP])\s+(\d+)\s+(\d{8})\s+\d+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
)


def preview_words(screen: str) -> str:
    """The preview box's text with its wrapped lines joined (the box sits on the left)."""
    inside = [m.group(1).strip() for m in re.finditer(r"^│ (.*?) +│", screen, re.M)]
    return " ".join(inside)


def legs(screen: str) -> list[tuple]:
    return [m.groups() for line in screen.splitlines() if (m := LEG.search(line))]


def test_build_preview_send_a_straddle_by_keys_in_tmux() -> None:
    name = f"ld-combo-{os.getpid()}"
    cmd = f"env -u COLUMNS -u LINES TERM=xterm-256color {sys.executable} -m livedesk.tui.screens.combo_demo; echo EXIT=$?; sleep 30"
    start(name, 100, 30, cmd)
    try:
        wait_screen(
            name,
            lambda s: "Combo builder" in s and re.search(r"expiry \d{8} \(\d+ DTE\)", s),
            80,
            "the builder with SPY's chain",
        )
        # focus starts in the legs table (its keys in the footer): t s works at once
        wait_screen(name, lambda s: "buy leg" in s, 20, "focus in the legs table")
        keys(name, "t")
        wait_screen(name, lambda s: "straddle" in s and "Template" in s, 20, "the template menu")
        keys(name, "s")
        screen = wait_screen(name, lambda s: len(legs(s)) == 2, 30, "two quoted legs")
        (a1, r1, k1, e1, *_), (a2, r2, k2, e2, *_) = legs(screen)
        assert (a1, a2) == ("BUY", "BUY") and {r1, r2} == {"C", "P"} and k1 == k2 and e1 == e2
        assert "template: straddle" in screen and "DEBIT" in screen
        keys(name, "Tab", "Right")  # order panel: natural price
        wait_screen(name, lambda s: re.search(r"\snatural\s", s) is not None, 10, "natural mode")
        keys(name, "Enter")
        screen = wait_screen(name, lambda s: "initial margin" in s, 30, "the what-if")
        words = re.search(
            r"BUY 1 SPY straddle (\d{8}) (\d+) @ ([\d.]+) DEBIT", preview_words(screen)
        )
        assert words and words.group(1) == e1 and words.group(2) == k1
        assert "valid for" in screen
        keys(name, "B")
        screen = wait_screen(name, lambda s: "Filled 1" in s, 40, "the fill")
        assert re.search(r"order #\d+ Filled 1 @ \+[\d.]+", screen)
        keys(name, "Escape", "C-q")
        screen = wait_screen(name, lambda s: "EXIT=" in s, 30, "the exit")
        assert "EXIT=0" in screen
    finally:
        tmux("kill-server")
