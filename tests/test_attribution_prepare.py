"""The Attribution view on a long record while the demo's first-launch preparation runs (Pilot).

A fast-forward journals one run per decision: a 22-session demo record holds ~10,000 runs.
Reading their decisions one run at a time scanned the whole decisions table per run, and the
view stayed "computing…" for minutes (170 s on a 22-session record). Here the record has
:data:`RUNS` runs, and the preparation is held in its bundle step by a thread that keeps
computing (it competes for the interpreter as the real ingest does) until the test ends; the
view must show its components within :data:`BOUND` seconds all the same.
"""

from __future__ import annotations

import base64
import threading
import time

import numpy as np
import pytest

pytest.importorskip("textual")

from textual.widgets import Static  # noqa: E402

from livedesk.backend.journal import Journal  # noqa: E402
from livedesk.backend.risk.attribution_source import decision_detail  # noqa: E402
from livedesk.tui.screens.attribution import AttributionScreen  # noqa: E402
from tests.conftest import until  # noqa: E402
from tests.console_helpers import FakeController, connected, make_app, make_session  # noqa: E402
from tests.test_report_attribution import NLV, T0, _strategy  # noqa: E402

RUNS = 6000
"""Runs of one decision each besides the two strategies' own (a fast-forward's shape)."""
BOUND = 10.0
"""Seconds within which the components must show (the whole view took ~40 s before the fix on this record)."""


def long_record(path) -> None:
    """alpha and beta as in the report tests, and :data:`RUNS` more runs of alpha that hold
    its target (one decision each, as the fast-forward journals them): no trade, same PnL.
    Each carries the inputs a crack-spread decision records (119 one-minute bars of four
    symbols, float64, base64: ~5 kB)."""
    bars = base64.b64encode(np.arange(119 * 4, dtype="<f8").tobytes()).decode()
    with Journal(path, synchronous="NORMAL") as j:
        j.record_sample(T0, 0.0, NLV, 0.0)
        _strategy(j, "alpha", 1, 11, 50.04, 51.0)
        _strategy(j, "beta", 2, 12, 50.02, 49.0)
        for k in range(RUNS):
            t = T0 + 2 + k * 0.4  # before its last decision (T0 + 3000, mid 51)
            run = j.start_run("alpha", t=t)
            j.record_decision(
                run, "decision", decision_detail({"bars_f8": bars}, {1: 100}, {1: 50.0}), t=t
            )


class PreparingController(FakeController):
    """The fake controller that also lists a built-in, so the preparation has work."""

    names = ["crack-spread"]


def _text(screen, wid: str) -> str:
    return str(screen.query_one(f"#{wid}", Static).render())


async def test_components_show_while_the_preparation_is_blocked(
    market, tmp_path, monkeypatch
) -> None:
    from livedesk.backend.demo import prepare

    long_record(tmp_path / "journal.sqlite3")
    busy, release = threading.Event(), threading.Event()
    started = threading.Event()

    def slow_bundle(settings, progress=None) -> bool:
        started.set()
        busy.wait(30)
        while not release.is_set():  # computing, like the ingest, until the test is over
            sum(i * i for i in range(20_000))
        raise RuntimeError("test over")

    monkeypatch.setattr(prepare, "has_bundle", lambda name="demo": False)
    monkeypatch.setattr(prepare, "ensure_bundle", slow_bundle)
    session, gw = make_session(market, tmp_path, controller=False)
    session.controller_factory = lambda app, **k: PreparingController(app, **k)
    app = make_app(session, tmp_path)
    app.demo_prepare = True
    try:
        async with app.run_test(size=(140, 45)) as pilot:
            await connected(pilot)
            await until(started.is_set, 10)
            assert app.status == "preparing the demo: building the demo bundle…"
            await pilot.press("4")
            busy.set()  # from here the preparation's thread competes for the interpreter
            t0 = time.monotonic()
            await pilot.press("a")  # (Pilot then waits up to 2 s for an idle process)
            await until(lambda: isinstance(app.screen, AttributionScreen))
            screen = app.screen
            await until(lambda: "total" in screen.order, BOUND)  # every page computed
            elapsed = time.monotonic() - t0
            assert not app._demo_task.done()  # the preparation is still held meanwhile
            assert screen.order == ["alpha", "beta", "total"]
            assert screen.current == "alpha"
            # alpha bought 100 at 50.04 with the mid at 50.01: spread −$3.00; its 6,000
            # further decisions hold the same 100 and add no trade
            assert "ALPHA #11 -3.00" in _text(screen, "attribution-top")
            assert "1 orders filled" in _text(screen, "attribution-summary")
            # ideal: 100 × (51 − 50) = $100 from the first decision's mid to the last mark
            # live: 100 × (51 − 50.04) − $1 commission = $95
            assert "ideal 100.00 · live 95.00" in _text(screen, "attribution-summary")
            assert "spread and impact" in _text(screen, "attribution-components")
            assert elapsed < BOUND
    finally:
        release.set()
        await gw.stop()
