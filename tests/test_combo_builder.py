"""Pilot tests of the Combo builder against the simulated gateway over a real socket.

A tiny host App pushes ``ComboBuilderScreen`` on a TradingApp connected to the ``gw`` fixture
(speed 0: quotes are frozen). "Nothing sent" is asserted on the gateway's own order book.
"""

from __future__ import annotations

import math

import pytest
from textual.app import App
from textual.widgets import Input

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.combos import legs as cb
from livedesk.backend.combos.legs import Leg
from livedesk.backend.combos.payoff import LegQuote
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.app import TradingApp
from livedesk.tui.screens.combo_builder import ComboBuilderScreen
from livedesk.tui.screens.combo_preview import ComboPreviewScreen
from livedesk.tui.widgets.combo_legs import ComboLegsTable
from livedesk.tui.widgets.combo_order import ComboOrderPanel
from tests.conftest import TEST_SESSION, until


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Host(App):
    def __init__(self, trading: TradingApp, **kw) -> None:
        super().__init__()
        self.trading, self.kw = trading, kw
        self.builder: ComboBuilderScreen | None = None

    def on_mount(self) -> None:
        self.builder = ComboBuilderScreen(self.trading, **self.kw)
        self.push_screen(self.builder)


@pytest.fixture
async def trading(gw: SimGateway, ib_log_guard):
    t = await TradingApp.connect("127.0.0.1", gw.port, client_id=21)
    t.today = lambda: TEST_SESSION
    yield t
    t.disconnect()


def sent(gw: SimGateway) -> list:
    return list(gw.broker.orders.values())


async def loaded(pilot, b: ComboBuilderScreen) -> None:
    await until(lambda: b.chain is not None and not math.isnan(b.feed.spot(b.symbol)), 5)
    await pilot.pause()


async def quoted(pilot, b: ComboBuilderScreen) -> None:
    await until(
        lambda: (
            b.form.legs
            and all(
                b.feed.quote(lg.key) and not math.isnan(b.feed.quote(lg.key).mid)
                for lg in b.form.legs
            )
        ),
        5,
    )
    await pilot.pause()
    b.repaint()


async def start(pilot, b: ComboBuilderScreen, template_key: str | None = None) -> None:
    """Wait for the chain (focus starts in the legs table), optionally pick a template."""
    await loaded(pilot, b)
    assert isinstance(b.app.focused, ComboLegsTable)
    if template_key:
        await pilot.press("t", template_key)
        await quoted(pilot, b)


# ---- opening, underlying, expiry ------------------------------------------------------------


async def test_opens_on_the_legs_with_spy_and_a_20_45_dte_expiry(trading) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await loaded(pilot, b)
        assert b.title == "Combo builder"
        assert isinstance(app.focused, ComboLegsTable)  # the builder's keys work at once
        assert app.screen.query_one("#combo-underlying", Input).value == "SPY"
        dte = cb.days_to(b.expiry, TEST_SESSION)
        firsts = [e for e in b.chain.expiries if 20 <= cb.days_to(e, TEST_SESSION) <= 45]
        assert 20 <= dte <= 45 and b.expiry == firsts[0]
        assert f"({dte} DTE)" in str(app.screen.query_one("#combo-expiry").render())
        await pilot.press("right_square_bracket")  # bound where the focus starts
        nxt = b.chain.expiries[b.chain.expiries.index(firsts[0]) + 1]
        assert b.expiry == nxt
        await pilot.press("u")  # the deliberate key: now letters go to the field
        box = app.focused
        assert isinstance(box, Input) and box.id == "combo-underlying"
        await pilot.press("left_square_bracket")  # in the input the key is typed, not bound
        assert b.expiry == nxt
        await pilot.press("escape")  # back to the legs, the builder stays open
        assert isinstance(app.focused, ComboLegsTable) and app.screen is b


async def test_template_keys_work_where_the_focus_starts(trading) -> None:
    app = Host(trading)
    async with app.run_test(size=(80, 24)) as pilot:
        b = app.builder
        await loaded(pilot, b)
        await pilot.press("t", "s")  # no click, no tab: t then s is a straddle
        await quoted(pilot, b)
        assert b.form.template == "straddle" and len(b.form.legs) == 2
        assert app.screen.query_one("#combo-underlying", Input).value == "SPY"


async def test_typing_replaces_completes_and_enter_moves_to_the_legs(trading) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await loaded(pilot, b)
        await pilot.press("u", "m", "s")  # u, then typing replaces the selected "SPY"
        box = app.focused
        assert box.value == "ms"
        await until(lambda: box._suggestion.upper() == "MSFT")
        await pilot.press("right")  # accept the completion
        assert box.value.upper() == "MSFT"
        await pilot.press("enter")
        await until(lambda: b.chain.symbol == "MSFT" and isinstance(app.focused, ComboLegsTable), 5)
        await pilot.press("escape")
    again = Host(trading)  # the last underlying used is pre-filled next time
    async with again.run_test(size=(100, 30)) as pilot:
        await loaded(pilot, again.builder)
        assert again.screen.query_one("#combo-underlying", Input).value == "MSFT"


async def test_unknown_symbol_is_shown_beside_the_field(trading, gw) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await loaded(pilot, b)
        await pilot.press("u", "z", "z", "z", "q", "enter")
        await until(lambda: "unknown contract" in b.underlying_error)
        assert "ZZZQ" in str(app.screen.query_one("#combo-underlying-msg").render())
        assert isinstance(app.focused, Input) and b.chain.symbol == "SPY"
        assert sent(gw) == []


async def test_expiry_keys_step_the_chain_expiries(trading) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "s")
        first = b.expiry
        i = b.chain.expiries.index(first)
        await pilot.press("right_square_bracket")
        assert b.expiry == b.chain.expiries[i + 1]
        assert {lg.expiry for lg in b.form.legs} == {b.chain.expiries[i + 1]}
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert b.expiry == b.chain.expiries[i - 1]


# ---- templates ------------------------------------------------------------------------------


async def test_every_template_is_filled_around_the_money_and_named(trading) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b)
        for key, name in cb.TEMPLATES.items():
            await pilot.press("t", key)
            await quoted(pilot, b)
            assert b.form.template == name
            assert f"template: {name}" in str(app.screen.query_one("#combo-template").render())
            spot = b.feed.spot("SPY")
            atm = b.chain.strikes[b.chain.atm_index(spot)]
            assert abs(atm - spot) <= 1.0  # SPY strikes are $1 apart
            assert b.form.legs == cb.make_template(name, b.chain, spot, b.expiry)
            strikes = sorted({lg.strike for lg in b.form.legs})
            assert strikes[0] <= atm <= strikes[-1]
            assert b.problems == []
            assert len(app.screen.query_one(ComboLegsTable).lines) == len(b.form.legs)


# ---- leg keys -------------------------------------------------------------------------------


async def test_leg_keys(trading) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "c")  # one BUY call at the money
        strikes = b.chain.strikes
        k0 = b.form.legs[0].strike
        i0 = strikes.index(k0)
        await pilot.press("k")
        assert b.form.legs[0].strike == strikes[i0 + 1]
        await pilot.press("up", "up")
        assert b.form.legs[0].strike == strikes[i0 + 3]
        await pilot.press("j", "down", "down")
        assert b.form.legs[0].strike == k0
        await pilot.press("l")
        assert b.form.legs[0].right == "P"
        await pilot.press("h")
        assert b.form.legs[0].right == "C"
        await pilot.press("space")
        assert b.form.legs[0].action == "SELL"
        await pilot.press("plus", "plus")
        assert b.form.legs[0].ratio == 3
        await pilot.press("minus")
        assert b.form.legs[0].ratio == 2
        await pilot.press("right_curly_bracket")
        assert b.form.legs[0].expiry == b.chain.expiries[b.chain.expiries.index(b.expiry) + 1]
        await pilot.press("left_curly_bracket")
        assert b.form.legs[0].expiry == b.expiry
        await pilot.press("b")
        assert len(b.form.legs) == 2 and b.form.legs[1].action == "BUY" and b.form.cursor == 1
        await pilot.press("s")
        assert len(b.form.legs) == 3 and b.form.legs[2].action == "SELL" and b.form.cursor == 2
        await pilot.press("1")
        assert b.form.cursor == 0
        await pilot.press("n")
        assert b.form.cursor == 1
        before = [lg.strike for lg in b.form.legs]
        await pilot.press("K")
        assert [lg.strike for lg in b.form.legs] == [strikes[strikes.index(k) + 1] for k in before]
        await pilot.press("J")
        assert [lg.strike for lg in b.form.legs] == before
        await pilot.press("d")
        assert len(b.form.legs) == 2 and b.form.template == "custom"


async def test_width_keys(trading) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "i")
        ks = b.chain.strikes
        before = [lg.strike for lg in b.form.legs]
        await pilot.press("w")
        after = [lg.strike for lg in b.form.legs]
        assert after == [
            ks[ks.index(before[0]) - 1],
            before[1],
            before[2],
            ks[ks.index(before[3]) + 1],
        ]
        assert [p for p in b.problems if p.field == "legs"] == []  # wings still equal
        await pilot.press("W")
        assert [lg.strike for lg in b.form.legs] == before
        await pilot.press("t", "s", "w")  # a straddle has no width
        assert "no width" in b.edit_error
        assert "no width" in str(app.screen.query_one("#combo-legs-msg").render())


async def test_order_panel_keys(trading) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "v")
        await pilot.press("tab")
        assert isinstance(app.focused, ComboOrderPanel)
        await pilot.press("up", "up")
        assert b.form.quantity == 3
        await pilot.press("down")
        assert b.form.quantity == 2
        mid = cb.round_tick(b.net.mid)
        assert b.form.price_mode == "mid" and b.current_limit() == mid
        await pilot.press("right")
        assert b.form.price_mode == "natural" and b.current_limit() == cb.round_tick(b.net.natural)
        await pilot.press("right")
        assert b.form.price_mode == "custom" and b.current_limit() == mid
        await pilot.press("left", "left")
        assert b.form.price_mode == "mid"
        await pilot.press("o")
        assert b.form.order_type == "MKT" and b.current_limit() is None
        await pilot.press("o", "e")
        box = app.focused
        assert box.id == "combo-limit"
        box.value = ""
        await pilot.press(*f"{mid + 0.05:.2f}", "enter")
        assert b.form.price_mode == "custom" and b.form.custom_limit == pytest.approx(mid + 0.05)
        assert isinstance(app.focused, ComboOrderPanel)
        text = str(app.screen.query_one(ComboOrderPanel).render())
        assert f"{mid + 0.05:+.2f} ({cb.price_words(mid + 0.05)})" in text


async def test_net_price_greeks_and_payoff_are_shown(trading) -> None:
    app = Host(trading)
    async with app.run_test(size=(160, 50)) as pilot:
        b = app.builder
        await start(pilot, b, "i")
        quotes = [b.feed.quote(lg.key) for lg in b.form.legs]
        mid = sum(lg.sign * lg.ratio * q.mid for lg, q in zip(b.form.legs, quotes, strict=True))
        natural = sum(
            (q.ask if lg.sign > 0 else -q.bid) for lg, q in zip(b.form.legs, quotes, strict=True)
        )
        assert b.net.mid == pytest.approx(mid) and b.net.natural == pytest.approx(natural)
        assert mid < 0  # a short condor is a credit
        text = str(app.screen.query_one(ComboOrderPanel).render())
        assert "CREDIT" in text and f"{cb.round_tick(mid):+.2f}" in text
        delta = sum(lg.sign * q.delta for lg, q in zip(b.form.legs, quotes, strict=True)) * 100
        assert f"Δ {delta:+.1f}" in text
        s = b.summary
        wing = b.form.legs[1].strike - b.form.legs[0].strike
        assert s.max_profit == pytest.approx(-cb.round_tick(mid) * 100)
        assert s.max_loss == pytest.approx((wing + cb.round_tick(mid)) * 100)
        assert 0 < s.pop < 1 and "PoP" in text
        chart = app.screen.query_one("#combo-chart")
        await until(lambda: chart.renders >= 1)  # plotext runs in a thread worker
        assert "expiry" in chart.text and "today" in chart.text


# ---- invalid input: shown inline, nothing sent ----------------------------------------------


async def preview_refused(pilot, b: ComboBuilderScreen, gw: SimGateway, needle: str) -> None:
    b.repaint()
    assert any(needle in p.message for p in b.problems), b.problems
    await pilot.press("enter")
    await pilot.pause()
    assert not isinstance(b.app.screen, ComboPreviewScreen)
    assert "cannot preview" in b.message
    await pilot.press("B")
    await pilot.pause()
    assert sent(gw) == []


async def test_no_legs(trading, gw) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b)
        await preview_refused(pilot, b, gw, "no legs")
        assert "no legs" in str(app.screen.query_one("#combo-legs-msg").render())


async def test_ratio_zero_and_duplicate_and_unequal_wings_by_keys(trading, gw) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "c")
        await pilot.press("minus")
        await preview_refused(pilot, b, gw, "ratio must be 1 or more, got 0")
        await pilot.press("minus")
        await preview_refused(pilot, b, gw, "got -1")
        await pilot.press("t", "s", "2", "h")  # the put becomes a second call at the strike
        await preview_refused(pilot, b, gw, "duplicates leg 1")
        await pilot.press("t", "i", "k")  # the lowest put moves in: wings unequal
        await preview_refused(pilot, b, gw, "unequal wings")
        assert "!" in str(app.screen.query_one(ComboLegsTable).render()) or b.problems
        legs = b.form.legs
        b.set_legs((legs[0], legs[2], legs[1], legs[3]), "iron condor")  # put/call swapped
        await preview_refused(pilot, b, gw, "needs 4 legs: put, put, call, call")
        crossed = (legs[0], legs[1], cb.step_strike(legs, 2, b.chain, -30)[2], legs[3])
        b.set_legs(crossed, "iron condor")
        await preview_refused(pilot, b, gw, "strikes crossed")
        await pilot.press("t", "b", "3", "k")
        await preview_refused(pilot, b, gw, "butterfly: unequal wings")


async def test_strike_not_in_chain_unknown_and_expired_expiry(trading, gw) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "s")
        good = b.form.legs
        b.set_legs((good[0], Leg("BUY", 1, "P", good[1].strike + 0.5, b.expiry, "SPY")))
        await preview_refused(pilot, b, gw, "is not in the chain")
        b.set_legs((good[0], Leg("BUY", 1, "P", good[1].strike, "20261119", "SPY")))
        await preview_refused(pilot, b, gw, "unknown expiry 20261119")
        b.set_legs(good, "straddle")
        trading.today = lambda: TEST_SESSION.replace(year=2027)
        await preview_refused(pilot, b, gw, "has passed")
        trading.today = lambda: TEST_SESSION


async def test_legs_on_different_underlyings(trading, gw) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "c")
        await pilot.press("u", "a", "a", "p", "l", "enter")
        await until(lambda: b.chain.symbol == "AAPL", 5)
        await pilot.press("b")
        await preview_refused(pilot, b, gw, "different underlyings: AAPL, SPY")


async def test_missing_quotes_no_mid_and_market_refused(trading, gw) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b)
        gw.faults.set_market_data_fault("no-permission", ["SPY"])
        await pilot.press("t", "v")
        await pilot.pause(0.3)
        assert math.isnan(b.net.mid)
        await preview_refused(pilot, b, gw, "no two-sided quote on every leg, so no mid")
        await pilot.press("o")
        await preview_refused(pilot, b, gw, "market order refused")
        assert any("—" in line for line in app.screen.query_one(ComboLegsTable).lines)


async def test_nan_quote_of_one_leg(trading, gw, monkeypatch) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "s")
        real = b.feed.quote
        bad = b.form.legs[1].key
        monkeypatch.setattr(
            b.feed, "quote", lambda k: LegQuote(math.nan, math.nan) if k == bad else real(k)
        )
        await preview_refused(pilot, b, gw, "no mid")


async def test_quantity_zero_and_collar(trading, gw) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "v")
        await pilot.press("tab", "down")
        assert b.form.quantity == 0
        await preview_refused(pilot, b, gw, "quantity must be 1 or more")
        assert "quantity must be" in str(app.screen.query_one(ComboOrderPanel).render())
        await pilot.press("up", "e")
        app.focused.value = ""
        far = cb.round_tick(b.net.mid) + 2.0
        await pilot.press(*f"{far:.2f}", "enter")
        await preview_refused(pilot, b, gw, "the guard allows")
        await pilot.press("e")
        app.focused.value = ""
        await pilot.press("x", "enter")  # restricted input: nothing typed → empty → not a number
        assert app.focused.id == "combo-limit"  # the field stays open to be fixed
        assert "is not a number" in str(app.screen.query_one(ComboOrderPanel).render())
        await pilot.press("escape")
        await preview_refused(pilot, b, gw, "is not a number")


async def test_read_only_and_halted(trading, gw) -> None:
    app = Host(trading)
    async with app.run_test(size=(100, 30)) as pilot:
        b = app.builder
        await start(pilot, b, "s")
        trading.readonly = True
        await preview_refused(pilot, b, gw, "read-only")
        trading.readonly = False
        trading.guard.halt("kill switch test")
        await preview_refused(pilot, b, gw, "HALTED (kill switch test)")
        assert "HALTED" in str(app.screen.query_one(ComboOrderPanel).render())


# ---- preview and send -----------------------------------------------------------------------


async def open_preview(pilot, b: ComboBuilderScreen) -> ComboPreviewScreen:
    await pilot.press("enter")
    await until(lambda: isinstance(b.app.screen, ComboPreviewScreen) and b.app.screen.ready, 5)
    await pilot.pause()
    return b.app.screen


async def test_preview_shows_words_what_if_and_focus_on_cancel(trading, gw) -> None:
    app = Host(trading, clock=FakeClock())
    async with app.run_test(size=(120, 40)) as pilot:
        b = app.builder
        await start(pilot, b, "i")
        limit = b.current_limit()
        screen = await open_preview(pilot, b)
        assert app.focused.id == "combo-preview-cancel"
        words = str(screen.query_one("#combo-preview-words").render())
        ks = "/".join(cb.fmt_strike(lg.strike) for lg in b.form.legs)
        assert words == f"SELL 1 SPY iron condor {b.expiry} {ks} @ {-limit:.2f} CREDIT"
        assert f"BAG BUY 1 at {limit:+.2f}" in str(screen.query_one("#combo-preview-bag").render())
        what_if = str(screen.query_one("#combo-preview-whatif").render())
        wing = (b.form.legs[1].strike - b.form.legs[0].strike) * 100
        assert f"initial margin {wing:,.2f}" in what_if and "commission" in what_if
        assert "buying power used" in what_if
        await pilot.press("enter")  # Cancel has the focus
        await pilot.pause()
        assert isinstance(app.screen, ComboBuilderScreen) and sent(gw) == []


async def test_preview_expires_after_30_s(trading, gw) -> None:
    clock = FakeClock()
    app = Host(trading, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        b = app.builder
        await start(pilot, b, "s")
        await open_preview(pilot, b)
        clock.t += 30.0
        await pilot.press("B")
        await pilot.pause()
        assert "30 s old" in b.message and sent(gw) == []
        await pilot.press("B")
        assert "no preview" in b.message and sent(gw) == []


async def test_an_edit_invalidates_the_preview(trading, gw) -> None:
    app = Host(trading, clock=FakeClock())
    async with app.run_test(size=(120, 40)) as pilot:
        b = app.builder
        await start(pilot, b, "s")
        await open_preview(pilot, b)
        await pilot.press("escape")
        await pilot.pause()
        assert b.preview is not None
        await pilot.press("k")
        assert b.preview is None and "no longer valid" in b.message
        await pilot.press("B")
        assert "no preview" in b.message and sent(gw) == []


async def test_send_places_exactly_the_previewed_order_and_it_fills(trading, gw) -> None:
    clock = FakeClock()
    app = Host(trading, clock=clock, tag="desk-7")
    async with app.run_test(size=(120, 40)) as pilot:
        b = app.builder
        await start(pilot, b, "s")
        await pilot.press("tab", "up", "right")  # 2 lots at the natural price (marketable)
        legs, limit = b.form.legs, b.current_limit()
        await open_preview(pilot, b)
        clock.t += 29.0
        await pilot.press("shift+b")
        await until(lambda: len(sent(gw)) == 1, 5)
        so = sent(gw)[0]
        by_con = {b.feed.contract(lg.key).conId: lg for lg in legs}
        assert so.contract.secType == "BAG" and len(so.contract.comboLegs) == 2
        assert [(by_con[cl.conId], cl.ratio, cl.action) for cl in so.contract.comboLegs] == [
            (lg, lg.ratio, lg.action) for lg in legs
        ]
        assert so.order.action == "BUY" and so.order.orderType == "LMT"
        assert float(so.order.totalQuantity) == 2 and so.order.lmtPrice == pytest.approx(limit)
        assert strategy_of(so.order.orderRef) == "desk-7"
        await until(lambda: "Filled" in b.message, 5)
        assert "Filled 2" in str(app.screen.query_one("#combo-status").render())
        assert b.preview is None
        await pilot.press("B")  # one preview sends once
        await pilot.pause()
        assert len(sent(gw)) == 1


async def test_send_button_and_a_rejection_shows_the_ib_code(trading, gw) -> None:
    app = Host(trading, clock=FakeClock())
    async with app.run_test(size=(120, 40)) as pilot:
        b = app.builder
        await start(pilot, b, "s")
        gw.faults.reject_next_order("no margin today")
        screen = await open_preview(pilot, b)
        await pilot.click("#combo-preview-send")
        await until(lambda: "rejected" in b.message, 5)
        assert "IB 201" in b.message and "no margin today" in b.message
        assert screen is not app.screen and len(sent(gw)) <= 1
