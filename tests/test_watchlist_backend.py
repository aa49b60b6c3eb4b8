"""The Textual-free pieces of the Watchlist, the account figures and the Executions view."""

from __future__ import annotations

import datetime as dt
import math
import re
import stat
from types import SimpleNamespace as NS

import pytest

from livedesk.backend.console.account_view import account_figures
from livedesk.backend.console.executions import ExecutionRow, execution_rows, journal_rows
from livedesk.backend.console.watchlist import (
    Remembered,
    Watchlist,
    WatchlistError,
    check_symbols,
    normalise,
    quote_row,
    read_remembered,
    write_remembered,
)
from livedesk.backend.risk.execution import OrderSlippage
from livedesk.tui.widgets.watchlist import spark_text

TODAY = dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("text", "name"),
    [("aapl", "AAPL"), ("  cl   f27 ", "CL F27"), ("spy 31dec26 528 c", "SPY 31DEC26 528 C")],
)
def test_symbols_are_named_as_the_ticket_reads_them(text, name):
    assert normalise(text, TODAY) == name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a symbol"),
        ("12X", "'12X' is not a symbol"),
        ("AAPL 12", "unexpected '12' after AAPL"),
        ("SPY 31DEC26 528", "needs a strike and C/P"),
        ("QQ F27", "unknown futures root 'QQ'"),
    ],
)
def test_a_bad_symbol_says_what_is_wrong(text, message):
    with pytest.raises(WatchlistError, match=re.escape(message)):
        normalise(text, TODAY)


def test_settings_symbols_are_checked_and_kept_once():
    assert check_symbols(["aapl", "AAPL", "cl f27"], TODAY) == ("AAPL", "CL F27")
    with pytest.raises(ValueError, match=r"\[watchlist\] symbols must be a list"):
        check_symbols("AAPL", TODAY)
    with pytest.raises(ValueError, match=r"\[watchlist\] symbols: 1X"):
        check_symbols(["AAPL", "1X"], TODAY)


def test_remembered_changes_apply_to_the_settings_and_are_written_user_only(tmp_path):
    r = Remembered(added=("NVDA", "AAPL"), removed=("MSFT",))
    assert r.apply(["AAPL", "MSFT", "XOM"]) == ["AAPL", "XOM", "NVDA"]
    path = tmp_path / "state" / "watchlist.json"
    write_remembered(path, r)
    assert read_remembered(path) == r
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["watchlist.json"]  # no temp file left
    path.write_text("{not json")
    assert read_remembered(path) == Remembered()  # unreadable: nothing remembered


def test_removing_a_settings_symbol_is_remembered_and_readding_forgets_that(tmp_path):
    path = tmp_path / "wl.json"
    wl = Watchlist(["AAPL", "MSFT"], path, today=lambda: TODAY)
    assert wl.remove("MSFT") and not wl.remove("MSFT")
    assert read_remembered(path) == Remembered((), ("MSFT",))
    assert Watchlist(["AAPL", "MSFT"], path, today=lambda: TODAY).symbols == ["AAPL"]


async def test_adding_needs_the_gateway(tmp_path):
    wl = Watchlist(["AAPL"], tmp_path / "wl.json", today=lambda: TODAY)
    with pytest.raises(WatchlistError, match="AAPL is already in the watchlist"):
        await wl.add("aapl")
    with pytest.raises(WatchlistError, match="not connected"):
        await wl.add("MSFT")
    assert wl.symbols == ["AAPL"] and not (tmp_path / "wl.json").exists()


def test_a_quote_row_measures_change_against_the_previous_close():
    row = quote_row("X", 100.9, 101.1, 101.0, 100.0, 5000.0)
    assert (row.change, row.change_pct, row.volume) == (
        pytest.approx(1.0),
        pytest.approx(0.01),
        5000,
    )
    mid = quote_row("X", 99.0, 99.2, math.nan, 100.0, None)  # no trade yet: the mid
    assert mid.change == pytest.approx(-0.9) and math.isnan(mid.volume)
    unset = quote_row("X", 1.7976931348623157e308, -1, math.nan, math.nan, math.nan)
    assert math.isnan(unset.bid) and math.isnan(unset.change)


def test_sparkline_scales_low_to_high_and_keeps_the_newest():
    assert spark_text([1.0, 2.0, 3.0]) == "▁▅█"  # 1 + round(0.5 * 7) = 5 (round half even)
    assert spark_text([5.0, 5.0]) == "▄▄"
    assert spark_text([]) == ""
    # 28 points in 14 cells: each cell shows the last of its two points (the odd ones)
    values = [float(i % 2) * i for i in range(28)]  # 0, 1, 0, 3, … 0, 27
    assert spark_text(values, 14) == spark_text([float(i) for i in range(1, 28, 2)], 14)


def _value(tag, value, currency, account="DU1"):
    return NS(account=account, tag=tag, value=value, currency=currency, modelCode="")


def test_account_figures_in_the_base_currency():
    values = [
        _value("NetLiquidation", "1000", "EUR"),
        _value("TotalCashValue", "700", "USD"),
        _value("TotalCashValue", "650", "BASE"),
        _value("TotalCashValue", "600", "EUR"),
        _value("BuyingPower", "2000", "EUR"),
        _value("BuyingPower", "9", "EUR", account="DU2"),
        _value("InitMarginReq", "1.7976931348623157E308", "EUR"),
    ]
    pnl = [NS(account="DU1", modelCode="", realizedPnL=12.5, unrealizedPnL=-3.0, dailyPnL=9.5)]
    figures = {f.label: (f.value, f.currency) for f in account_figures(values, pnl, "DU1")}
    assert figures["Cash"] == (650.0, "EUR")  # IB's BASE summary, in the base currency
    assert figures["Buying power"] == (2000.0, "EUR")
    assert math.isnan(figures["Init. margin"][0])  # IB's "no value"
    assert math.isnan(figures["Excess liquidity"][0])  # not reported
    assert figures["Day realised"] == (12.5, "EUR")
    assert figures["Day unrealised"] == (-3.0, "EUR")


def _fill(exec_id, **kw):
    base = dict(exec_id=exec_id, side="BOT", qty=10.0, price=101.0, t=1.0e9, con_id=1,
                symbol="AAPL", strategy="alpha", commission=1.0, commission_currency="USD",
                arrival_mid=100.0, multiplier=1.0, order_id=3)  # fmt: skip
    return base | kw


def test_journalled_fills_measure_slippage_like_the_orders_pane():
    [row] = journal_rows([_fill("e1")], lambda con_id, symbol: f"{symbol}#{con_id}")
    assert (row.contract, row.side, row.quantity, row.price) == ("AAPL#1", "BUY", 10.0, 101.0)
    assert row.slippage.bps == pytest.approx(100.0)  # (101 - 100) / 100 * 1e4, a buy: a cost
    assert row.slippage.per_unit == pytest.approx(1.0)
    [sold] = journal_rows([_fill("e2", side="SLD", arrival_mid=None)], lambda c, s: s)
    assert sold.side == "SELL" and math.isnan(sold.slippage.bps)


def test_a_live_fill_replaces_its_journalled_copy():
    slip = OrderSlippage(0.5, 50.0, 1000.0)
    none = OrderSlippage(math.nan, math.nan, math.nan)
    journalled = [
        ExecutionRow("a", 2.0, "AAPL", "BUY", 1, 10, math.nan, "", slip, "s"),
        ExecutionRow("b", 1.0, "AAPL", "BUY", 1, 10, 1.0, "USD", slip, "s"),
    ]
    live = [ExecutionRow("a", 3.0, "AAPL STK", "BUY", 1, 10, 1.0, "USD", none, "s")]
    rows = execution_rows(journalled, live)
    assert [r.exec_id for r in rows] == ["b", "a"]  # oldest first
    assert (rows[1].time, rows[1].commission, rows[1].slippage) == (3.0, 1.0, slip)
