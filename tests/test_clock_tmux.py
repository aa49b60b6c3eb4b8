"""End-to-end in tmux: the console on a simulated gateway run by another process, whose clock
is on another day than the wall clock (and runs 60x): the header follows the gateway's clock
and calendar; kill the gateway → the header keeps the PAPER badge, account and NLV (stale)
and says DISCONNECTED; restart it → CONNECTED, fresh.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.test_console_tmux import TMUX, tmux, wait_screen

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def header(screen: str) -> str:
    return "\n".join(screen.splitlines()[:2])


def test_console_follows_a_gateway_on_another_day_and_survives_its_death(tmp_path):
    livedesk = Path(sys.executable).with_name("livedesk")
    port = free_port()
    wall = dt.datetime.now(ZoneInfo("America/New_York"))
    day = "2026-11-20" if wall.date() != dt.date(2026, 11, 20) else "2026-11-19"
    gw_name, ui_name = f"ld-gw-{os.getpid()}", f"ld-ui-{os.getpid()}"
    env = " ".join(
        f"{k}={tmp_path}"
        for k in ("LIVEDESK_STATE_DIR", "LIVEDESK_CONFIG_DIR", "LIVEDESK_DATA_DIR")
    )
    gateway = f"env {env} {livedesk} sim-gateway --port {port} --speed 60 --start {day}T10:30"
    console = (
        f"env TERM=xterm-256color {env} {livedesk} --host 127.0.0.1 --port {port}; "
        "echo EXIT=$?; sleep 30"
    )
    tmux("new-session", "-d", "-s", gw_name, "-x", "100", "-y", "10", gateway)
    try:
        time.sleep(2.0)
        tmux("new-session", "-d", "-s", ui_name, "-x", "160", "-y", "50", console)
        screen = wait_screen(
            ui_name, lambda s: "CONNECTED" in s and " PAPER " in s, 40, "PAPER and CONNECTED"
        )
        # the gateway's 10:30+ on a session day: open (the wall clock is elsewhere)
        screen = wait_screen(
            ui_name, lambda s: re.search(r"1\d:\d\d:\d\d ET open, closes in", s), 20,
            "the gateway's clock in the header",
        )  # fmt: skip
        assert "DU0000001" in header(screen)
        nlv = re.search(r"NLV \$([\d,]+)", header(screen))
        assert nlv is not None
        tmux("kill-session", "-t", gw_name)  # the gateway dies
        screen = wait_screen(
            ui_name, lambda s: "DISCONNECTED" in header(s) or "CONNECTING" in header(s), 20,
            "DISCONNECTED",
        )  # fmt: skip
        screen = wait_screen(ui_name, lambda s: "stale" in header(s), 10, "the stale NLV")
        top = header(screen)
        assert " PAPER " in top and "DU0000001" in top and f"${nlv.group(1)}" in top
        assert re.search(r"reconnecting( in \d+ s|…)", top), top
        tmux("new-session", "-d", "-s", gw_name, "-x", "100", "-y", "10", gateway)
        screen = wait_screen(
            ui_name, lambda s: "CONNECTED" in header(s) and "stale" not in header(s)
            and "DISCONNECTED" not in header(s), 60, "CONNECTED again",
        )  # fmt: skip
        assert re.search(r"1\d:\d\d:\d\d ET open", header(screen))
        tmux("send-keys", "-t", ui_name, "q")
        wait_screen(ui_name, lambda s: "EXIT=0" in s, 20, "a clean exit")
    finally:
        tmux("kill-session", "-t", ui_name)
        tmux("kill-session", "-t", gw_name)
