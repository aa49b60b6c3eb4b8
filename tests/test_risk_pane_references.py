"""The Risk pane's backtest column and stale references (#22).

Two strategies of the fake controller have references stored in the console's journal:
``alpha`` built with its current parameters (threshold 2.0), ``beta`` built with ``top=10``
while it now runs with ``top=20``. Expected texts are written by hand: the Backtest column
shows each reference's figures beside the live ones, ``beta``'s first line says STALE and why
(what changed, as ``livedesk report`` says it), ``alpha``'s its span. Pilot, then snapshots at 80x24 and 160x50.
"""

from __future__ import annotations

import pytest

from livedesk.backend.console.risk_view import RiskTable
from livedesk.backend.journal import Journal
from livedesk.backend.risk.engine import RiskEngine
from tests.conftest import until
from tests.console_helpers import connected, make_app, make_session

SPAN = {"span_start": "2026-05-01T16:00:00-04:00", "span_end": "2026-10-30T16:00:00-04:00"}
STALE = "stale: built with top=10 (now 20)"


def store_references(journal: Journal) -> None:
    """27 daily returns each: enough for the annualised figures (20) to show."""
    journal.set_backtest_reference(
        "alpha", [0.01, -0.005, 0.002] * 9, {"sharpe_ratio": 1.25, "cum_returns": 0.0069}
    )
    journal.save_state("backtest:alpha", {"params": {"threshold": 2.0}, **SPAN})
    journal.set_backtest_reference(
        "beta", [0.004, 0.003, -0.001] * 9, {"sharpe_ratio": 0.8, "cum_returns": 0.006}
    )
    journal.save_state("backtest:beta", {"params": {"top": 10}, **SPAN})


def test_the_risk_table_marks_a_reference_built_with_other_parameters(tmp_path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        store_references(j)
        engine = RiskEngine(j)
        engine.restore()
        current = {"alpha": {"threshold": 2.0}, "beta": {"top": 20}}
        table = RiskTable(engine, n_boot=50, params=lambda: current)
        blocks = {b.key: b for b in table.blocks()}
        assert blocks["alpha"].reference == "ref 2026-05-01..2026-10-30"
        assert blocks["alpha"].stale == ""
        assert blocks["beta"].stale == STALE
        sharpe = {b: next(x for x in blocks[b].lines if x.metric == "sharpe_ratio") for b in blocks}
        assert sharpe["alpha"].backtest == 1.25 and sharpe["beta"].backtest == 0.8
        current["beta"] = {"top": 10}  # configured as built: current again
        assert {b.key: b.stale for b in table.blocks()}["beta"] == ""
        # without the current parameters nothing is claimed
        assert all(b.stale == "" for b in RiskTable(engine, n_boot=50).blocks())


@pytest.fixture
def console(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    store_references(session.journal)
    return make_app(session, tmp_path), session, gw


def _cells(pane, key) -> list[str]:
    return [text for text, _ in pane.table.cells(key)]


async def _risk_shown(pilot, session) -> None:
    await connected(pilot)
    await until(lambda: session.controller is not None, 10)
    await until(lambda: session.engine is not None and "account" in session.engine.keys(), 10)
    await pilot.press("4")
    pilot.app.tick(force=True)
    await pilot.pause(1.2)


async def test_the_pane_shows_the_backtest_column_and_marks_the_stale_reference(console) -> None:
    from livedesk.tui.widgets.risk import RiskPane

    app, session, _gw = console
    async with app.run_test(size=(160, 50)) as pilot:
        await _risk_shown(pilot, session)
        pane = app.query_one(RiskPane)
        await until(lambda: ("beta", "") in [r.key for r in pane.table.rows], 10)
        beta = _cells(pane, ("beta", ""))
        assert beta[0] == "beta" and beta[4] == "STALE"
        assert beta[5].startswith("top=10 (now 20); ref 2026-05-01..2026-10-30; daily n=")
        alpha = _cells(pane, ("alpha", ""))
        assert alpha[4] == "" and alpha[5].startswith("ref 2026-05-01..2026-10-30; daily n=")
        # the Backtest column beside Live: the stored figures, by hand
        assert _cells(pane, ("alpha", "sharpe_ratio"))[2] == "1.25"
        assert _cells(pane, ("beta", "sharpe_ratio"))[2] == "0.80"
        assert _cells(pane, ("alpha", "cum_returns"))[2] == "0.69%"
        # a stale reference's figures in the warning colour
        assert pane.table.cells(("beta", "sharpe_ratio"))[2][1] == "warn"
        assert pane.table.cells(("alpha", "sharpe_ratio"))[2][1] == ""


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_risk_references_snapshot(snap_compare, console, size) -> None:
    app, session, _gw = console

    async def run_before(pilot) -> None:
        from livedesk.tui.widgets.risk import RiskPane

        await _risk_shown(pilot, session)
        table = pilot.app.query_one(RiskPane).table
        # scroll beta's block into view, the cursor on its name
        await until(lambda: table.select_key(("beta", "drag")), 10)
        table.select_key(("beta", ""))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_livedesk_report_marks_the_reference_stale_against_the_config(
    tmp_path, capsys, monkeypatch
) -> None:
    """The command line end to end: the parameters come from ``--config``."""
    from livedesk.tui.cli import main

    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        j.set_backtest_reference("crack-spread", [0.001, -0.002], {"sharpe_ratio": 0.5})
        j.save_state("backtest:crack-spread", {"params": {"window": 20}, **SPAN})
    config = tmp_path / "config.toml"
    config.write_text("[strategies.crack-spread]\nwindow = 30\n")
    assert main(["--config", str(config), "report", "--journal", str(path)]) == 0
    out = capsys.readouterr().out
    assert "== Strategy crack-spread ==" in out
    assert (
        "backtest reference 2026-05-01 .. 2026-10-30: STALE (stale: built with window=20 (now 30))"
        in out
    )
    config.write_text("[strategies.crack-spread]\nwindow = 20\n")
    assert main(["--config", str(config), "report", "--journal", str(path)]) == 0
    assert "2026-10-30: current parameters" in capsys.readouterr().out
