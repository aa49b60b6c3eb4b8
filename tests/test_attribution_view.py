"""The console's Attribution view (Pilot): waterfall and top trades per strategy, cycling, close."""

from __future__ import annotations

import pytest

pytest.importorskip("textual")

from textual.app import App  # noqa: E402
from textual.widgets import Static  # noqa: E402

from livedesk.backend.journal import Journal  # noqa: E402
from livedesk.backend.risk.attribution_source import attribute_pages  # noqa: E402
from livedesk.tui.screens.attribution import AttributionScreen  # noqa: E402
from tests.test_report_attribution import NLV, T0, _strategy  # noqa: E402


class Host(App):
    def __init__(self, source, strategy=None) -> None:
        super().__init__()
        self.source, self.strategy = source, strategy

    def on_mount(self) -> None:
        self.push_screen(AttributionScreen(self.source, self.strategy))


def _text(screen, wid: str) -> str:
    return str(screen.query_one(f"#{wid}", Static).render())


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as j:
        j.record_sample(T0, 0.0, NLV, 0.0)
        _strategy(j, "alpha", 1, 11, 50.04, 51.0)
        _strategy(j, "beta", 2, 12, 50.02, 49.0)
        j.set_backtest_reference("alpha", [0.002], {"sharpe_ratio": 1.5}, ["2026-09-21"])
        yield j


async def test_view_shows_the_waterfall_and_top_trades_and_cycles(journal) -> None:
    app = Host(lambda: attribute_pages(journal), "beta")
    async with app.run_test(size=(140, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, AttributionScreen)
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.current is not None:
                break
        assert screen.current == "beta"
        assert "Attribution — beta  (2/3)" in _text(screen, "attribution-title")
        assert "live" in _text(screen, "attribution-waterfall")
        # beta: spread −100 × 0.01 = −$1.00 (filled at 50.02, mid then 50.01).
        assert "BETA #12 -1.00" in _text(screen, "attribution-top")
        await pilot.press("right")
        assert screen.current == "total"
        await pilot.press("right")
        assert screen.current == "alpha"
        water = _text(screen, "attribution-waterfall")
        assert water.splitlines()[1].startswith("backtest") and "model/regime" in water
        await pilot.press("left")
        assert screen.current == "total"
        await pilot.press("escape")
        assert not isinstance(app.screen, AttributionScreen)


async def test_view_says_when_it_cannot_attribute() -> None:
    def failing():
        raise ValueError("no NetLiquidation sample in the journal")

    app = Host(failing)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.error:
                break
        assert "no NetLiquidation" in _text(screen, "attribution-title")
        await pilot.press("right")  # nothing to cycle: no error
        await pilot.press("q")
        assert not isinstance(app.screen, AttributionScreen)


async def test_risk_pane_key_a_opens_the_attribution_view(market, tmp_path) -> None:
    from livedesk.tui.app import SPEC
    from tests.conftest import until
    from tests.console_helpers import connected, make_app, make_session

    assert SPEC["attribution"].key == "a" and SPEC["attribution"].scope == "risk"
    session, gw = make_session(market, tmp_path)
    j = session.journal
    j.record_sample(T0, 0.0, NLV, 0.0)
    _strategy(j, "alpha", 1, 11, 50.04, 51.0)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await connected(pilot)
        await pilot.press("4", "a")
        await until(lambda: isinstance(app.screen, AttributionScreen))
        screen = app.screen
        await until(lambda: screen.current is not None, 5)
        assert screen.current == "alpha"
        assert "ALPHA #11 -3.00" in _text(screen, "attribution-top")
        assert "ideal" in _text(screen, "attribution-waterfall")
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, AttributionScreen))


async def test_a_failing_strategy_is_its_own_page_and_the_others_show(tmp_path) -> None:
    from livedesk.backend.report.attribution import attribution_report
    from tests.test_attribution_windows import GW, _manual_condor, _rebalance_30s

    with Journal(tmp_path / "j.sqlite3") as j:
        j.record_sample(GW - 7200, 0.0, NLV, 0.0)
        _manual_condor(j, GW - 3600)
        _rebalance_30s(j, GW)
        j.record_order(
            5, action="BUY", qty=1, order_type="MKT", strategy="beta", symbol="B", con_id=5,
            bid=9.99, ask=10.01, t=0.0,
        )  # fmt: skip
        app = Host(lambda: attribute_pages(j), "alpha")
        async with app.run_test(size=(140, 50)) as pilot:
            screen = app.screen
            for _ in range(100):
                await pilot.pause(0.02)
                if screen.current is not None:
                    break
            assert screen.order == ["alpha", "beta", "manual", "total"]
            # alpha: spread 100 × (50.02 − 50.03) = −1.00 (see test_attribution_windows)
            assert "ALPHA #11 -1.00" in _text(screen, "attribution-top")
            assert "0.00 days" in _text(screen, "attribution-summary")
            await pilot.press("right")
            assert screen.current == "beta"
            assert "no submission time" in _text(screen, "attribution-summary")
            await pilot.press("right")
            assert screen.current == "manual"
            components = _text(screen, "attribution-components")
            assert "-40.00" in components  # 4 legs × 2 × 0.05 × 100 of spread and impact
            # the CLI report says the same for the manual page
            import io

            buf = io.StringIO()
            attribution_report(j, buf)
            manual = buf.getvalue().split("== Strategy manual ==")[1].split("== Total")[0]
            assert components.splitlines()[1] in manual


async def test_a_progressive_view_shows_each_page_while_the_rest_is_computed(journal) -> None:
    import threading

    gate = threading.Event()

    def held(partial=None):  # alpha's page, then the rest waits (as a slow strategy would)
        def first(pages):
            partial(pages)
            if "alpha" in pages.per and "beta" not in pages.per:
                gate.wait(10)

        return attribute_pages(journal, partial=first)

    class ProgressiveHost(App):
        def on_mount(self) -> None:
            self.push_screen(AttributionScreen(held, None, progressive=True))

    app = ProgressiveHost()
    async with app.run_test(size=(140, 50)) as pilot:
        screen = app.screen
        for _ in range(200):
            await pilot.pause(0.02)
            if screen.current is not None:
                break
        assert screen.order == ["alpha"] and screen.pending == ("beta", "total")
        assert "Attribution — alpha  (1/1 + 2 computing)" in _text(screen, "attribution-title")
        assert "still computing: beta, total" in _text(screen, "attribution-help")
        assert "ALPHA #11 -3.00" in _text(screen, "attribution-top")  # 100 × (50.01 − 50.04)
        gate.set()
        for _ in range(200):
            await pilot.pause(0.02)
            if not screen.pending and "total" in screen.order:
                break
        assert screen.order == ["alpha", "beta", "total"] and screen.current == "alpha"
        assert "still computing" not in _text(screen, "attribution-help")
        await pilot.press("right")
        assert "BETA #12 -1.00" in _text(screen, "attribution-top")
