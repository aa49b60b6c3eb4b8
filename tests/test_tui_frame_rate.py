"""The console asks Textual for 120 frames a second (a keypress waits at most 8.3 ms for
its frame slot, not 16.7: #21's one-frame latency budget); a user's TEXTUAL_FPS wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "import livedesk.tui.app, textual.constants as c; print(c.MAX_FPS)"


@pytest.mark.parametrize(("user", "expected"), [(None, "120"), ("30", "30")])
def test_the_console_frame_rate(user, expected) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    if user is not None:
        env["TEXTUAL_FPS"] = user
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected
