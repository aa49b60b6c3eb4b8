"""End-to-end in the real console (bare ``livedesk``, tmux 160x50), keys only: ``c`` opens
the Combo builder, a straddle is built, previewed and sent, and its order and fill show in
the console's Orders and Positions panes. tmux comes from the system; without it the test
skips.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.test_combo_tmux import keys, legs, preview_words, start, tmux, wait_screen

TMUX = shutil.which("tmux")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)"),
]


def test_console_c_builds_sends_and_fills_a_straddle(tmp_path) -> None:
    livedesk = Path(sys.executable).with_name("livedesk")
    name = f"ld-combo-console-{os.getpid()}"
    env = " ".join(
        f"{k}={tmp_path}"
        for k in ("LIVEDESK_STATE_DIR", "LIVEDESK_CONFIG_DIR", "LIVEDESK_DATA_DIR")
    )
    command = (
        f"env -u COLUMNS -u LINES TERM=xterm-256color {env} {livedesk}; echo EXIT=$?; sleep 30"
    )
    start(name, 160, 50, command)
    try:
        wait_screen(name, lambda s: "CONNECTED" in s, 90, "the console connected")
        keys(name, "c")
        wait_screen(
            name,
            lambda s: "Combo builder" in s and re.search(r"expiry \d{8} \(\d+ DTE\)", s),
            60,
            "the builder with SPY's chain",
        )
        wait_screen(name, lambda s: "buy leg" in s, 20, "focus starts in the legs table")
        keys(name, "t", "s")
        screen = wait_screen(name, lambda s: len(legs(s)) == 2, 30, "two quoted legs")
        strike = legs(screen)[0][2]
        keys(name, "Tab", "Right", "Enter")  # natural price (marketable), then preview
        screen = wait_screen(name, lambda s: "initial margin" in s, 30, "the what-if")
        words = preview_words(screen)  # the box on the left may wrap its lines
        assert re.search(rf"BUY 1 SPY straddle \d{{8}} {strike} @ [\d.]+ DEBIT", words)
        keys(name, "B")
        wait_screen(name, lambda s: re.search(r"order #\d+ Filled 1", s), 40, "the fill")
        keys(name, "Escape", "2")  # back in the console: the Orders pane
        screen = wait_screen(
            name,
            lambda s: any("SPY straddle" in line and "LMT" in line for line in s.splitlines()),
            30,
            "the combo order in Orders",
        )  # the combo by its recognised strategy (was "BAG SPY: +1 #…")
        orders = [line for line in screen.splitlines() if "SPY straddle" in line and "LMT" in line]
        assert "manual" in orders[0] and "BUY" in orders[0] and "1/0" in orders[0]
        keys(name, "1")  # the Positions pane: both legs, tagged manual
        screen = wait_screen(
            name,
            lambda s: sum("OPT" in line and "manual" in line for line in s.splitlines()) == 2,
            30,
            "the legs in Positions",
        )
        assert any("SPY straddle" in line and f" {strike}" in line for line in screen.splitlines())
    finally:
        tmux("kill-server")
