"""Positions a trader can read: options and futures by their trader's names, combos by their
recognised strategy and strikes, a sold combo as sold with its credit, the symbol column
sized to its content, the Strategies pane's gross exposure and positions count, no -0."""

from __future__ import annotations

import pytest
from ib_async import Contract, Order

from livedesk.backend.console.labels import combo_label, contract_label
from livedesk.backend.contracts import combo_leg, option, spread, stock
from livedesk.tui import format as fmt
from livedesk.tui.widgets.positions import position_table_rows
from livedesk.tui.widgets.strategies import strategy_table_rows
from tests.conftest import TEST_SESSION, until
from tests.console_helpers import buy, connected, make_app, make_session


def opt(strike: float, right: str, expiry: str = "20261231", symbol: str = "SPY") -> Contract:
    return Contract(
        secType="OPT", symbol=symbol, lastTradeDateOrContractMonth=expiry, strike=strike,
        right=right, multiplier="100",
    )  # fmt: skip


def test_trader_names_of_contracts() -> None:
    assert contract_label(opt(528, "C")) == "SPY 31DEC26 528 C"
    assert contract_label(opt(527.5, "PUT", "20270115")) == "SPY 15JAN27 527.5 P"
    fut = Contract(secType="FUT", symbol="CL", lastTradeDateOrContractMonth="20261120")
    assert contract_label(fut) == "CL X26"
    fut.lastTradeDateOrContractMonth = "202701"
    assert contract_label(fut) == "CL F27"
    assert contract_label(Contract(secType="STK", symbol="AAPL")) == "AAPL"


@pytest.mark.parametrize(
    ("legs", "label"),
    [
        ([(opt(513, "P"), 1), (opt(518, "P"), -1), (opt(538, "C"), -1), (opt(543, "C"), 1)],
         "SPY iron condor 31DEC26 513/518/538/543"),
        ([(opt(513, "P"), -1), (opt(518, "P"), 1), (opt(538, "C"), 1), (opt(543, "C"), -1)],
         "SPY iron condor 31DEC26 513/518/538/543"),
        ([(opt(528, "C"), 1), (opt(528, "P"), 1)], "SPY straddle 31DEC26 528"),
        ([(opt(520, "P"), -2), (opt(535, "C"), -2)], "SPY strangle 31DEC26 520/535"),
        ([(opt(528, "C"), 1), (opt(538, "C"), -1)], "SPY call vertical 31DEC26 528/538"),
        ([(opt(520, "C"), 1), (opt(528, "C"), -2), (opt(536, "C"), 1)],
         "SPY butterfly 31DEC26 520/528/536"),
        ([(opt(528, "C"), -1), (opt(528, "C", "20270129"), 1)],
         "SPY calendar 528 C 31DEC26/29JAN27"),
        ([(opt(528, "C"), 1), (opt(530, "P"), 1), (opt(540, "C"), 3)], "SPY combo 31DEC26 528/530/540"),
    ],
)  # fmt: skip
def test_combos_are_recognised(legs, label) -> None:
    assert combo_label("SPY", legs) == label


def test_no_minus_zero() -> None:
    assert fmt.signed(-0.3) == ("0", "dim") and fmt.qty(-0.0) == "0"
    assert fmt.pct(-0.00001, 1) == "0.0%" and fmt.bps(-0.04) == "0.0"
    assert fmt.money(-0.4) == "$0" and fmt.signed(-1.6) == ("-2", "down")


async def test_positions_and_strategies_panes_read_like_a_trader(market, tmp_path) -> None:
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        a = session.app
        a.today = lambda: TEST_SESSION
        spy = await a.resolve_contract(stock("SPY"))
        chains = await a.ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)
        chain = next(c for c in chains if c.exchange == "SMART")
        expiry = sorted(e for e in chain.expirations if e > TEST_SESSION.strftime("%Y%m%d"))[0]
        k = sorted(chain.strikes)
        i = min(range(len(k)), key=lambda j: abs(k[j] - gw.market.last_price(spy.conId, gw.now())))
        condor = [(option("SPY", expiry, k[i - 3], "P"), 1, "BUY"),
                  (option("SPY", expiry, k[i - 2], "P"), 1, "SELL"),
                  (option("SPY", expiry, k[i + 2], "C"), 1, "SELL"),
                  (option("SPY", expiry, k[i + 3], "C"), 1, "BUY")]  # fmt: skip
        bag = await a.resolve_contract(spread([combo_leg(c, r, s) for c, r, s in condor]))
        sent = await a.send_order(bag, Order(action="BUY", totalQuantity=1, orderType="MKT"),
                                  strategy="beta")  # fmt: skip
        await buy(session, "AAPL", 100, "alpha")
        await buy(session, "XOM", -60, "beta")
        gw.advance(2)
        await until(lambda: len(session.positions()) == 6 and sent.trade.isDone(), 5)
        await pilot.pause(0.6)
        strikes = "/".join(f"{x:g}" for x in (k[i - 3], k[i - 2], k[i + 2], k[i + 3]))
        from livedesk.backend.console.labels import expiry_text

        label = f"SPY iron condor {expiry_text(expiry)} {strikes}"
        rows = {r.key: r for r in position_table_rows(session.positions())}
        head = rows[("combo", label)]
        cells = app.pane("positions").table.cells(("combo", label))
        legs = [p for p in session.positions() if p.group == label]
        net = sum(p.quantity * p.avg_cost for p in legs)  # hand: the credit received per unit
        assert net < 0 and head.values[1] == "SOLD" and head.values[2] == -1
        assert cells[3][0] == f"{fmt.price(-net)} cr" and cells[2][0] == "-1"
        leg_names = sorted(p.symbol for p in legs)
        assert all(n.startswith(f"SPY {expiry_text(expiry)} ") for n in leg_names)
        assert any(n.endswith(" C") for n in leg_names) and any(n.endswith(" P") for n in leg_names)
        table = app.pane("positions").table
        assert table.columns[0].width == max(len(label), len("└ " + max(leg_names, key=len)))
        assert label in "".join(table.render_line(y).text for y in range(table.size.height))
        # Strategies: gross exposure and number of positions, never summed share counts
        books = session.strategy_books()
        by = {p.symbol: p for p in session.positions()}
        xom = abs(-60 * by["XOM"].market_price)
        condor_gross = sum(abs(p.quantity * p.market_price * 100) for p in legs)
        assert books["beta"][1] == 5
        assert books["beta"][0] == pytest.approx(xom + condor_gross)
        assert books["alpha"] == (pytest.approx(100 * by["AAPL"].market_price), 1)
        srows = {r.key: r for r in strategy_table_rows(session.strategies(), books)}
        assert srows["beta"].cells[5][0] == fmt.money(xom + condor_gross)
        assert srows["beta"].cells[6][0] == "5"
