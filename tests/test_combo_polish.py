"""#21 item 8, the Combo builder: its own help, the limit editor beside its label, the status
line under the legs, a preview that leaves the payoff in view, validation in words from the
guard's collar, max loss never negative, no cell on the terminal's default background.

Pilot and snapshots at 80×24 and 160×50 (seed 7, fixed session, frozen clock).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from textual.widgets import Input

from livedesk.backend.combos import legs as cb
from livedesk.backend.combos.legs import Leg
from livedesk.backend.combos.payoff import payoff_summary
from livedesk.tui.screens.combo_demo import ComboDemoApp
from livedesk.tui.screens.combo_help import ComboHelpScreen
from livedesk.tui.screens.combo_preview import ComboPreviewScreen
from livedesk.tui.screens.help import HelpScreen
from livedesk.tui.widgets.combo_order import ComboOrderPanel
from tests.conftest import TEST_SESSION, until
from tests.console_helpers import make_app, make_session
from tests.test_combo_snapshots import _settled
from tests.test_console_snapshots import _settled as console_settled

SIZES = [(80, 24), (160, 50)]
TODAY = dt.date(2026, 11, 20)
EXP = "20261218"


def _leg(action: str, right: str, strike: float) -> Leg:
    return Leg(action, 1, right, strike, EXP, "SPY")


# ---- by hand: validation words and max loss ------------------------------------------------


def test_collar_in_words_from_the_issue() -> None:
    # hand: |−9.00 − (−3.00)| = 6.00; 15 % of |−3.00| = 0.45 > the 0.10 combo minimum
    assert cb.collar_problem(-9.0, -3.0, 0.15, 0.10) == (
        "limit -9.00 is 6.00 from the mid -3.00; the guard allows 0.45 (15 % of the mid)"
    )
    # hand: mid 0.40: 5 % is 0.02 < 0.10, so the combo minimum is what the guard allows
    assert cb.collar_problem(0.60, 0.40, 0.05, 0.10) == (
        "limit 0.60 is 0.20 from the mid 0.40; the guard allows 0.10 (its minimum for combos)"
    )
    assert cb.collar_problem(-3.40, -3.0, 0.15, 0.10) is None  # 0.40 <= 0.45


def test_max_loss_of_a_credit_condor_by_hand() -> None:
    condor = (
        _leg("BUY", "P", 513),
        _leg("SELL", "P", 518),
        _leg("SELL", "C", 538),
        _leg("BUY", "C", 543),
    )
    s = payoff_summary(condor, [None] * 4, -3.15, TODAY, 1, 100.0)
    # hand: below 513 the puts pay 513 − 518 = −5.00; +3.15 credit → −1.85 × 100 = −185;
    # between 518 and 538 nothing is owed: +3.15 × 100 = 315
    assert s.max_loss == pytest.approx(185.0) and s.max_profit == pytest.approx(315.0)
    assert s.breakevens == pytest.approx((514.85, 541.15))  # 518 − 3.15, 538 + 3.15
    # sold for more than the wings are wide (7.00 > 5.00): no loss anywhere, never negative
    rich = payoff_summary(condor, [None] * 4, -7.00, TODAY, 1, 100.0)
    assert rich.max_loss == 0.0 and rich.max_profit == pytest.approx(700.0)


def test_max_loss_of_a_debit_straddle_by_hand() -> None:
    straddle = (_leg("BUY", "C", 528), _leg("BUY", "P", 528))
    s = payoff_summary(straddle, [None] * 2, 10.00, TODAY, 2, 100.0)
    # hand: at 528 both expire worthless: −10.00 × 100 × 2 = −2,000; above, unlimited
    assert s.max_loss == pytest.approx(2000.0) and s.max_profit == float("inf")
    assert s.breakevens == pytest.approx((518.0, 538.0))
    # bought below its intrinsic floor (a 0.00 debit): nothing to lose, not −0
    free = payoff_summary(straddle, [None] * 2, 0.0, TODAY, 1, 100.0)
    assert free.max_loss == 0.0


# ---- Pilot: the builder ----------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_own_help_limit_editor_status_and_preview_layout(size) -> None:
    app = ComboDemoApp(template="iron condor", session=TEST_SESSION)
    async with app.run_test(size=size) as pilot:
        await _settled(pilot)
        b = app.builder
        # the status line sits right under the legs (and their messages), above the panel
        legs_msg = b.query_one("#combo-legs-msg").region
        status = b.query_one("#combo-status").region
        panel = b.query_one(ComboOrderPanel).region
        assert status.y == legs_msg.bottom and status.bottom <= panel.y
        # e: the editor opens on the Limit row (the panel's second line), after "Limit   "
        await pilot.press("e")
        await pilot.pause(0.2)
        box = b.query_one("#combo-limit", Input)
        assert box.has_focus and box.region.y == panel.y + 1 and box.region.x == panel.x + 8
        line = str(b.query_one(ComboOrderPanel).render()).splitlines()[1]
        assert line.startswith("Limit   ")
        await pilot.press("escape")
        assert not box.display and app.screen is b
        # ?: the builder's own help, not the console's
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ComboHelpScreen)
        text = "\n".join(str(w.render()) for w in app.screen.query("Static"))
        for words in ("t              template", "buy leg", "strike+", "iron condor", "qty+"):
            assert words in text, words
        await pilot.press("escape")
        assert app.screen is b
        # the preview leaves the payoff chart in view, Send and Cancel on screen
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ComboPreviewScreen), 5)
        await until(lambda: app.screen.ready, 10)
        await pilot.pause(0.2)
        preview = app.screen.query_one("#combo-preview").region
        chart = b.query_one("#combo-chart").region
        assert not preview.overlaps(chart) and chart.width >= 30
        send = app.screen.query_one("#combo-preview-send").region
        assert send.bottom <= size[1] and send.height == 1


async def test_validation_in_words_uses_the_guards_real_collar() -> None:
    app = ComboDemoApp(template="iron condor", session=TEST_SESSION)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settled(pilot)
        b = app.builder
        guard = b.trading.guard
        guard.limits = dataclasses.replace(guard.limits, limit_collar=0.15, min_combo_collar=0.10)
        mid = b.net.mid
        far = round(mid - 6.0, 2)
        await pilot.press("e")
        box = b.query_one("#combo-limit", Input)
        box.value = ""
        await pilot.press(*f"{far:.2f}", "enter")
        await pilot.pause(0.2)
        # hand: 6.00 from the mid; the guard allows 15 % of |mid| (above its 0.10 minimum)
        want = (
            f"limit {far:.2f} is 6.00 from the mid {mid:.2f}; "
            f"the guard allows {0.15 * abs(mid):.2f} (15 % of the mid)"
        )
        assert want in str(b.query_one(ComboOrderPanel).render())
        gw_orders = len(app.gateway.broker.orders)
        await pilot.press("enter")
        assert want in b.message and len(app.gateway.broker.orders) == gw_orders


@pytest.mark.parametrize("size", SIZES)
def test_builder_help_snapshot(snap_compare, size) -> None:
    async def run_before(pilot) -> None:
        await _settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    app = ComboDemoApp(template="iron condor", session=TEST_SESSION)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_builder_limit_editor_snapshot(snap_compare, size) -> None:
    async def run_before(pilot) -> None:
        await _settled(pilot)
        await pilot.press("e")
        await pilot.pause(0.3)
        pilot.app.builder.query_one("#combo-limit", Input).cursor_blink = False

    app = ComboDemoApp(template="iron condor", session=TEST_SESSION)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


# ---- in the console: ? is the builder's, no default background ------------------------------


def _default_background_cells(app) -> list[tuple[int, int, str]]:
    """(row, column, text) of every drawn segment without a background colour of its own."""
    out = []
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        x = 0
        for seg in strip:
            bg = seg.style.bgcolor if seg.style is not None else None
            if seg.text and (bg is None or bg.is_default):
                out.append((y, x, seg.text))
            x += seg.cell_length
    return out


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", ["livedesk-dark", "livedesk-light", "livedesk-high-contrast"])
async def test_no_cell_on_the_default_background_in_the_console(market, tmp_path, size, theme):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=size) as pilot:
        await console_settled(pilot, session, gw)
        app.use_theme(theme)
        await pilot.press("c")
        await until(lambda: getattr(app.screen, "chain", None) is not None, 15)
        b = app.screen
        await pilot.press("t", "i")
        await until(lambda: b.ready.is_set(), 10)
        await pilot.pause(0.3)
        assert _default_background_cells(app) == []
        await pilot.press("e")
        await pilot.pause(0.2)
        assert _default_background_cells(app) == []
        await pilot.press("escape", "question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ComboHelpScreen) and not isinstance(app.screen, HelpScreen)
        assert _default_background_cells(app) == []
        await pilot.press("escape", "enter")
        await until(lambda: isinstance(app.screen, ComboPreviewScreen), 5)
        await pilot.pause(0.3)
        assert _default_background_cells(app) == []
