"""Snapshot tests of the console: 80x24 (tabs) and 160x50 (grid) plus the key screens.

Deterministic: seed 7, the fixed test session, a frozen sim clock (speed 0, the header's
exchange clock reads it), a fake strategy controller, notifications off. Review a changed
snapshot with ``pytest --snapshot-report`` before ``--snapshot-update``.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.conftest import until
from tests.console_helpers import buy, connected, make_app, make_session


async def _settled(pilot, session, gw) -> None:
    await connected(pilot)
    fills = lambda: sum(e.source == "fill" for e in session.logs)  # noqa: E731
    for k, (symbol, qty, strategy) in enumerate(
        (("AAPL", 100, "alpha"), ("MSFT", 40, "beta"), ("XOM", -60, "beta")), 1
    ):  # one at a time: the Log tells the story in a deterministic order
        await buy(session, symbol, qty, strategy)
        if k < 3:
            await until(lambda k=k: fills() >= k, 5)
    gw.advance(2)
    await until(lambda: fills() >= 3, 5)
    await until(lambda: len(session.positions()) == 3, 5)
    await until(lambda: all(o.status == "Filled" for o in session.orders()), 5)
    await until(lambda: _risk_settled(session), 5)  # fills, commissions and an NLV sample
    await until(lambda: _account_settled(session, gw), 5)  # the commissions in NLV and PnL
    await pilot.pause(0.6)  # one refresh cycle after the last update
    # the equity line's last point is taken when the pane next draws: rebuild it from the
    # journal once the account values have settled, so it does not depend on timing
    session.equity.clear()
    pilot.app.tick(force=True)
    await pilot.pause(0.3)
    for i in pilot.app.screen.query(Input):
        i.cursor_blink = False


def _risk_settled(session) -> bool:
    """The risk engine has the three fills with their commissions and an account NLV."""
    engine = session.engine
    if engine is None:
        return False
    fills = engine.fills()
    track = engine.snapshot("account") if "account" in engine.keys() else None
    return (
        len(fills) == 3
        and all(f.commission is not None for f in fills)
        and track is not None
        and track["nlv"] > 0
    )


def _account_settled(session, gw) -> bool:
    """The app holds the gateway's own NetLiquidation and unrealised PnL (after the last
    commission: a frame drawn before showed them $1 to $3 off, a flaky snapshot)."""
    truth = gw.broker.account_values(gw.now())
    ib = session.app.ib
    nlv = [float(v.value) for v in ib.accountValues() if v.tag == "NetLiquidation"]
    pnl = [p.unrealizedPnL for p in ib.pnl()]
    return (
        bool(nlv and pnl)
        and abs(nlv[0] - truth["NetLiquidation"]) < 0.01
        and abs(pnl[0] - truth["UnrealizedPnL"]) < 0.01
    )


settled = _settled
"""Public for the other console snapshot files (same fixed frame)."""


@pytest.fixture
def console_app(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    return make_app(session, tmp_path), session, gw


def test_positions_80x24(snap_compare, console_app):
    app, session, gw = console_app

    async def run_before(pilot):
        await _settled(pilot, session, gw)
        await pilot.press("1")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_grid_160x50(snap_compare, console_app):
    app, session, gw = console_app

    async def run_before(pilot):
        await _settled(pilot, session, gw)
        await pilot.press("1")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(160, 50), run_before=run_before)


def test_orders_80x24(snap_compare, console_app):
    app, session, gw = console_app

    async def run_before(pilot):
        await _settled(pilot, session, gw)
        await pilot.press("2")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_kill_switch_dialog(snap_compare, console_app):
    app, session, gw = console_app

    async def run_before(pilot):
        await _settled(pilot, session, gw)
        await pilot.press("ctrl+k")
        await pilot.pause(0.3)
        for i in pilot.app.screen.query(Input):
            i.cursor_blink = False

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_strategies(snap_compare, console_app):
    app, session, gw = console_app

    async def run_before(pilot):
        await _settled(pilot, session, gw)
        await pilot.press("5", "question_mark")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_connection_failure_screen(snap_compare, market, tmp_path):
    from livedesk.backend.console.session import Target
    from livedesk.tui.screens.connect_failed import ConnectFailedScreen

    target = Target(host="127.0.0.1", port=9, client_id=3, timeout=1.0)  # nothing listens on 9
    session, _ = make_session(market, tmp_path, target=target)
    app = make_app(session, tmp_path)

    async def run_before(pilot):
        await until(lambda: isinstance(pilot.app.screen, ConnectFailedScreen), 10)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_high_contrast_theme(snap_compare, console_app):
    app, session, gw = console_app

    async def run_before(pilot):
        await _settled(pilot, session, gw)
        pilot.app.use_theme("livedesk-high-contrast")
        await pilot.press("1")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_risk_80x24(snap_compare, console_app):
    """Risk: the session's own figures, annualised ones 'n/a: 0 of 20 sessions'."""
    app, session, gw = console_app

    async def run_before(pilot) -> None:
        await _settled(pilot, session, gw)
        await pilot.press("4")
        await pilot.pause(1.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_log_80x24(snap_compare, console_app):
    """Log: orders sent and fills (price, slippage, commission), long lines wrapped."""
    app, session, gw = console_app

    async def run_before(pilot) -> None:
        await _settled(pilot, session, gw)
        await pilot.press("6")
        await pilot.pause(0.6)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
