"""Import cost: ``livedesk --help``, the console's start and the strategy registry never import
zipline; the monthly-factor strategy loads it only when it runs."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys, datetime as dt, contextlib, io
from livedesk.tui.cli import main
for argv in (["--help"], ["bundle", "--help"], ["bundle", "ingest", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
import livedesk.tui.app  # the console's module
from livedesk.backend.strategies.registry import available_strategies, create_strategy
assert "monthly-factor" in available_strategies()
s = create_strategy("monthly-factor")
s.schedule.next_run(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))
print(sorted(m for m in sys.modules if m == "zipline" or m.startswith("zipline.")))
import livedesk.backend.momentum.pipeline  # what a run imports: the check can see zipline
print("zipline" in sys.modules)
"""


def test_help_console_and_registry_do_not_import_zipline() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[]", "True"], out.stdout + out.stderr
