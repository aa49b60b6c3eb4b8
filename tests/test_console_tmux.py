"""End-to-end: the real ``livedesk`` command in a real terminal (tmux), driven by keys.

Starts the console on the embedded sim gateway (sped up 60x so the crack-spread strategy has
fresh bars), waits for SIM and the Positions pane, toggles a strategy and sees its state
change, runs it now and sees its order and fill in Orders, quits with ``q`` and checks the
exit status and that the terminal was restored (no alternate screen left, cursor visible).
tmux comes from the system (``.ci/run`` installs it when missing); without it the test skips.
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


def tmux(*args: str) -> str:
    return subprocess.run([TMUX, *args], capture_output=True, text=True, check=False).stdout


def wait_screen(name: str, predicate, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", name)
        if predicate(screen):
            return screen
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")


def row_of(screen: str, needle: str) -> str:
    return next((line for line in screen.splitlines() if needle in line), "")


def test_console_end_to_end_in_tmux(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[sim]\nspeed = 60\n\n[strategies.crack-spread]\nthreshold = 0.01\n")
    livedesk = Path(sys.executable).with_name("livedesk")
    name = f"ld-e2e-{os.getpid()}"
    env = " ".join(
        f"{k}={tmp_path}"
        for k in ("LIVEDESK_STATE_DIR", "LIVEDESK_CONFIG_DIR", "LIVEDESK_DATA_DIR")
    )
    command = f"env TERM=xterm-256color {env} {livedesk} --config {config}; echo EXIT=$?; sleep 30"
    tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "24", command)
    try:
        wait_screen(name, lambda s: " SIM " in s and "1 Positions" in s, 30, "SIM and Positions")
        wait_screen(name, lambda s: "CONNECTED" in s, 30, "the connection")
        tmux("send-keys", "-t", name, "5")
        wait_screen(
            name, lambda s: "stopped" in row_of(s, "crack-spread"), 15, "crack-spread stopped"
        )
        tmux("send-keys", "-t", name, "Space")
        wait_screen(
            name,
            lambda s: any(w in row_of(s, "crack-spread") for w in ("waiting", "running")),
            15,
            "crack-spread started",
        )
        tmux("send-keys", "-t", name, "Space")
        wait_screen(
            name, lambda s: "stopped" in row_of(s, "crack-spread"), 15, "crack-spread stopped"
        )
        time.sleep(3)  # a few simulated minutes: fresh one-minute bars
        screen = ""
        for _attempt in range(4):
            tmux("send-keys", "-t", name, "r")
            tmux("send-keys", "-t", name, "2")
            try:
                screen = wait_screen(
                    name,
                    lambda s: re.search(r"\d/0 ", row_of(s, "crack-spre")) is not None,
                    8,
                    "the strategy's filled order",
                )
                break
            except AssertionError:
                tmux("send-keys", "-t", name, "5")
                time.sleep(2)
        else:
            raise AssertionError(f"no filled crack-spread order:\n{screen}")
        order = row_of(screen, "crack-spre")  # filled: nothing remaining
        assert ("BUY" in order or "SELL" in order) and re.search(r"\d/0 ", order), order
        tmux("send-keys", "-t", name, "1")
        wait_screen(name, lambda s: "crack-spread" in s, 10, "the position's strategy")
        tmux("send-keys", "-t", name, "q")
        screen = wait_screen(
            name, lambda s: "EXIT=" in s or "Quit LiveDesk?" in s, 20, "the exit or its question"
        )
        if "Quit LiveDesk?" in screen:  # a strategy order still works: q asks first
            assert "working order" in screen
            tmux("send-keys", "-t", name, "Tab")
            tmux("send-keys", "-t", name, "Enter")
        screen = wait_screen(name, lambda s: "EXIT=" in s, 20, "the exit status")
        assert "EXIT=0" in screen
        assert "Traceback" not in screen
        flags = tmux("display-message", "-p", "-t", name, "#{alternate_on} #{cursor_flag}").split()
        assert flags == ["0", "1"], f"alternate screen / cursor flags after exit: {flags}"
    finally:
        tmux("kill-session", "-t", name)


def title_style(screen: str, title: str) -> str:
    """The escape sequences tmux draws right before a pane's border title (``-e`` capture)."""
    found = re.search(r"((?:\x1b\[[0-9;]*m)+) " + re.escape(title) + " ", screen)
    assert found, f"no styled title {title!r} on screen:\n{screen!r}"
    return found.group(1)


def test_the_focus_mark_moves_between_pane_titles_on_screen(tmp_path):
    """In the grid a pane switch repaints the two titles' rows only (``Pane.refresh``): the
    terminal must still show the new focused title in the accent and the old one plain."""
    livedesk = Path(sys.executable).with_name("livedesk")
    name = f"ld-focus-{os.getpid()}"
    env = " ".join(
        f"{k}={tmp_path}"
        for k in ("LIVEDESK_STATE_DIR", "LIVEDESK_CONFIG_DIR", "LIVEDESK_DATA_DIR")
    )
    # pytest's own COLUMNS=80 / LINES=24 would size the console before the terminal does
    command = f"env -u COLUMNS -u LINES TERM=xterm-256color {env} {livedesk}; sleep 30"
    # the pane has its size before the console starts (a fresh server starts it at 80x24)
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50", "sleep 60")
    tmux("respawn-pane", "-k", "-t", name, command)
    try:
        wait_screen(name, lambda s: "CONNECTED" in s and "─ 3 Equity ─" in s, 30, "the grid")
        titles = ("1 Positions", "2 Orders", "3 Equity")
        marked: set[str] = set()  # the focused look, the same whichever pane holds it
        for key, focused in (("2", "2 Orders"), ("3", "3 Equity"), ("1", "1 Positions")):
            tmux("send-keys", "-t", name, key)
            deadline = time.monotonic() + 10
            while True:
                screen = tmux("capture-pane", "-e", "-p", "-t", name)
                seen = {t: title_style(screen, t) for t in titles}
                others = {seen[t] for t in titles if t != focused}
                if seen[focused] not in others and "48;5;" in seen[focused]:
                    break
                assert time.monotonic() < deadline, f"after {key}: title styles {seen}"
                time.sleep(0.1)
            marked.add(seen[focused])
            assert not any("48;5;" in seen[t] for t in titles if t != focused), seen
        assert len(marked) == 1, marked
    finally:
        tmux("kill-session", "-t", name)
