"""Snapshot tests of the Combo builder with an iron condor at 80×24 and 160×50.

The host starts its own simulated gateway (seed 7, fixed session, clock stopped), so the
quotes, greeks and chart are the same on every run. Review a changed snapshot with
``pytest --snapshot-update`` only after reading the report.
"""

from __future__ import annotations

import pytest

from livedesk.tui.screens.combo_demo import ComboDemoApp
from tests.conftest import TEST_SESSION, until


async def _settled(pilot) -> None:
    app = pilot.app
    await until(lambda: app.builder is not None and app.builder.ready.is_set(), 15)
    chart = app.builder.query_one("#combo-chart")
    await until(lambda: chart.renders >= 1 and "expiry" in chart.text, 10)
    await pilot.pause(0.3)
    app.builder.repaint()
    await until(lambda: chart.current, 10)  # the chart of the final curve, not an earlier one
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_iron_condor_snapshot(snap_compare, size: tuple[int, int]) -> None:
    app = ComboDemoApp(template="iron condor", session=TEST_SESSION)
    assert snap_compare(app, terminal_size=size, run_before=_settled)
