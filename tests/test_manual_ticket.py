"""Trading by hand, the pure part: the command line's grammar and errors, contracts as typed,
the order ticket's sizing, orders, brackets and problems, and the 30 s preview rule.
Expected values are worked out by hand in each test."""

from __future__ import annotations

import datetime as dt

import pytest

from livedesk.backend.errors import AccountValueUnavailable, PriceUnavailable
from livedesk.backend.manual.command_line import (
    CancelCommand,
    CloseCommand,
    CommandError,
    FlattenCommand,
    OrderCommand,
    Price,
    complete,
    parse_command,
)
from livedesk.backend.manual.symbols import SymbolError, future_month, parse_symbol
from livedesk.backend.manual.ticket import OrderTicket, Preview
from livedesk.backend.trading.orders import Quote

TODAY = dt.date(2026, 12, 7)


def order(text: str) -> OrderCommand:
    cmd = parse_command(text, TODAY)
    assert isinstance(cmd, OrderCommand)
    return cmd


def test_the_documented_commands_parse() -> None:
    c = order("buy AAPL 100 lmt 180.50")
    assert (c.action, c.symbol.label, c.size_kind, c.size, c.order_type, c.limit) == (
        "BUY",
        "AAPL",
        "quantity",
        100.0,
        "LMT",
        180.5,
    )
    c = order("sell AAPL 100 mkt")
    assert (c.action, c.order_type, c.limit, c.tif) == ("SELL", "MKT", None, "DAY")
    c = order("buy CL F27 1 mkt")
    assert (c.symbol.contract.secType, c.symbol.contract.symbol) == ("FUT", "CL")
    assert c.symbol.contract.lastTradeDateOrContractMonth == "202701"
    assert c.symbol.contract.exchange == "NYMEX"
    c = order("buy AAPL 10% mkt")
    assert (c.size_kind, c.size) == ("percent", pytest.approx(0.10))
    c = order("buy AAPL $5000 mkt")
    assert (c.size_kind, c.size) == ("value", 5000.0)
    assert parse_command("close AAPL", TODAY) == CloseCommand(parse_symbol(["AAPL"], TODAY))
    assert parse_command("flatten crack-spread", TODAY) == FlattenCommand("crack-spread")
    assert parse_command("cancel all", TODAY) == CancelCommand(None)
    assert parse_command("cancel 42", TODAY) == CancelCommand(42)


def test_every_order_type_tif_and_bracket() -> None:
    c = order("buy AAPL 100 stp lmt 99 98.5 gtc outside-rth")
    assert (c.order_type, c.stop, c.limit, c.tif, c.outside_rth) == (
        "STP LMT",
        99.0,
        98.5,
        "GTC",
        True,
    )
    assert order("sell AAPL 5 stp 95").order_type == "STP"
    c = order("sell AAPL 5 stp 95 lmt 94.5")
    assert (c.order_type, c.stop, c.limit) == ("STP LMT", 95.0, 94.5)
    c = order("sell AAPL 5 trail 1.5%")
    assert (c.order_type, c.trail_percent, c.trail_amount) == ("TRAIL", 1.5, None)
    assert order("sell AAPL 5 trail 0.75").trail_amount == 0.75
    assert order("buy AAPL 5 moc").order_type == "MOC"
    c = order("buy AAPL 5 loc 180")
    assert (c.order_type, c.limit) == ("LOC", 180.0)
    assert order("buy AAPL 5 ioc").tif == "IOC" and order("buy AAPL 5 ioc").order_type == "MKT"
    c = order("buy AAPL 100 lmt 180 tp +2 sl -1")
    assert (c.take_profit, c.stop_loss) == (Price(2.0, True), Price(-1.0, True))
    c = order("BUY aapl 100 LMT 180 TP 185 SL 175")
    assert (c.symbol.label, c.take_profit, c.stop_loss) == ("AAPL", Price(185.0), Price(175.0))


@pytest.mark.parametrize(
    ("text", "words", "column"),
    [
        ("", "type a command", 0),
        ("purchase AAPL 1", "unknown command 'purchase'", 0),
        ("buy", "expected a symbol", 3),
        ("buy AAPL", "expected a size", 8),
        ("buy AAPL 0 mkt", "size must be more than 0", 9),
        ("buy AAPL -5 mkt", "size must be more than 0", 9),
        ("buy AAPL 1.5 mkt", "a quantity is a whole number", 9),
        ("buy AAPL 150% mkt", "at most 100% of NLV", 9),
        ("buy AAPL $abc mkt", "size 'abc' is not a number", 9),
        ("buy AAPL 10 lmt", "expected limit price", 15),
        ("buy AAPL 10 lmt x", "limit price 'x' is not a number", 16),
        ("buy AAPL 10 lmt -3", "limit price must be positive", 16),
        ("buy AAPL 10 lmt nan", "is not a finite number", 16),
        ("buy AAPL 10 foo", "unknown order type 'foo'", 12),
        ("buy AAPL 10 mkt extra", "unexpected 'extra'", 16),
        ("buy AAPL 10 moc gtc", "MOC is a DAY order", 19),
        ("buy AAPL 10 lmt 5 tp 0", "take-profit price must be positive", 21),
        ("buy AAPL 10 lmt 5 sl +0", "stop-loss offset cannot be 0", 21),
        ("buy AAPL 10 trail 150%", "between 0 and 100", 18),
        ("buy ZZ F27 1 mkt", "unknown futures root 'ZZ'", 4),
        ("buy $$$ 1 mkt", "'$$$' is not a symbol", 4),
        ("buy SPY 31DEC26 528 X 1", "expected C or P, got 'X'", 20),
        ("buy SPY 31DEC25 528 C 1", "has expired", 8),
        ("buy SPY 31FOO26 528 C 1", "unknown month 'FOO'", 8),
        ("buy SPY 31DEC26", "needs a strike and C/P", 15),
        ("cancel some", "cancel takes 'all' or an order id", 7),
        ("close AAPL now", "unexpected 'now' at the end", 11),
        ("flatten", "expected a strategy name", 7),
    ],
)
def test_a_bad_command_says_what_is_wrong_and_where(text: str, words: str, column: int) -> None:
    with pytest.raises(CommandError) as err:
        parse_command(text, TODAY)
    assert words in str(err.value)
    assert err.value.column == column


def test_futures_month_codes_and_glued_symbols() -> None:
    # F=Jan ... Z=Dec; a two-digit year is 20YY
    assert future_month("F", "27", TODAY) == "202701"
    assert future_month("Z", "26", TODAY) == "202612"
    # one digit: the first such year from today (Dec 2026): F7 -> 2027-01, Z6 -> 2026-12,
    # F6 (Jan 2026 has passed) -> 2036-01
    assert future_month("F", "7", TODAY) == "202701"
    assert future_month("Z", "6", TODAY) == "202612"
    assert future_month("F", "6", TODAY) == "203601"
    p = parse_symbol(["CLF7"], TODAY)
    assert (p.contract.symbol, p.contract.lastTradeDateOrContractMonth, p.words) == (
        "CL",
        "202701",
        1,
    )
    p = parse_symbol(["ES", "H27"], TODAY)
    assert (p.contract.exchange, p.contract.lastTradeDateOrContractMonth) == ("CME", "202703")
    with pytest.raises(SymbolError, match=r"unknown futures root 'ZZ' \(known: CL, ES, GC"):
        parse_symbol(["ZZ", "F27"], TODAY)
    assert parse_symbol(["ZZF7"], TODAY).contract.secType == "STK"  # not a known root: a ticker


def test_options_as_the_trader_writes_them() -> None:
    p = parse_symbol(["SPY", "31DEC26", "528", "C"], TODAY)
    c = p.contract
    assert (c.secType, c.symbol, c.lastTradeDateOrContractMonth, c.strike, c.right) == (
        "OPT",
        "SPY",
        "20261231",
        528.0,
        "C",
    )
    assert (p.words, p.label) == (4, "SPY 31DEC26 528 C")
    assert parse_symbol(["SPY", "15JAN27", "500", "PUT"], TODAY).contract.right == "P"


def test_completion_offers_what_can_come_next() -> None:
    assert complete("") == ["buy", "sell", "close", "flatten", "cancel"]
    assert complete("c") == ["close", "cancel"]
    assert complete("buy A", symbols=["AAPL", "AMZN", "MSFT"]) == ["AAPL", "AMZN"]
    assert complete("flatten ", strategies=["crack-spread", "options-combo"]) == [
        "crack-spread",
        "options-combo",
    ]
    assert complete("buy AAPL 100 l") == ["lmt", "loc"]
    assert complete("cancel ") == ["all"]


def test_ticket_sizes_like_the_primitives() -> None:
    t = OrderTicket.from_command(order("buy AAPL $5000 mkt"))
    # $5,000 at 180.00 x 1 = 27.78 shares -> 27 (the primitives round toward zero)
    assert t.quantity(Quote(180.0, "mid"), 1.0, 1_000_000.0) == 27
    t = OrderTicket.from_command(order("buy AAPL 10% mkt"))
    # 10 % of 250,000 = 25,000 at 180 = 138.9 -> 138
    assert t.quantity(Quote(180.0, "mid"), 1.0, 250_000.0) == 138
    t = OrderTicket.from_command(order("buy CL F27 $200000 mkt"))
    # $200,000 at 70.00 x 1,000 = 2.86 contracts -> 2
    assert t.quantity(Quote(70.0, "mid"), 1000.0, None) == 2
    assert OrderTicket.from_command(order("sell AAPL 7 mkt")).quantity(None, 1.0, None) == 7
    with pytest.raises(PriceUnavailable):
        OrderTicket.from_command(order("buy AAPL $5000 mkt")).quantity(None, 1.0, 1e6)
    with pytest.raises(AccountValueUnavailable):
        OrderTicket.from_command(order("buy AAPL 10% mkt")).quantity(Quote(180.0, "mid"), 1.0, None)


def test_orders_of_each_type() -> None:
    def one(text: str):
        [o] = OrderTicket.from_command(order(text)).orders(10)
        return o

    o = one("buy AAPL 10 lmt 180.5 gtc outside-rth")
    assert (o.action, o.totalQuantity, o.orderType, o.lmtPrice, o.tif, o.outsideRth) == (
        "BUY",
        10.0,
        "LMT",
        180.5,
        "GTC",
        True,
    )
    o = one("sell AAPL 10 stp lmt 99 98.5")
    assert (o.orderType, o.auxPrice, o.lmtPrice) == ("STP LMT", 99.0, 98.5)
    o = one("sell AAPL 10 trail 1.5%")
    assert (o.orderType, o.trailingPercent) == ("TRAIL", 1.5)
    assert one("sell AAPL 10 trail 0.5").auxPrice == 0.5
    o = one("buy AAPL 10 loc 180")
    assert (o.orderType, o.lmtPrice, o.tif) == ("LOC", 180.0, "DAY")
    assert one("buy AAPL 10 mkt").transmit is True


def test_a_bracket_is_a_parent_and_two_children_transmitted_last() -> None:
    t = OrderTicket.from_command(order("buy AAPL 100 lmt 180 tp +2 sl -1"))
    parent, tp, sl = t.orders(100)
    assert (parent.action, parent.orderType, parent.lmtPrice, parent.transmit) == (
        "BUY",
        "LMT",
        180.0,
        False,
    )
    # offsets from the limit: 180 + 2 = 182 take-profit (sell limit), 180 - 1 = 179 stop (sell stop)
    assert (tp.action, tp.orderType, tp.lmtPrice, tp.transmit) == ("SELL", "LMT", 182.0, False)
    assert (sl.action, sl.orderType, sl.auxPrice, sl.transmit) == ("SELL", "STP", 179.0, True)
    assert t.problems(100, 180.1) == []
    # a market parent takes offsets from the mid: sell 50 at market, tp -3 -> 97, sl +2 -> 102
    t = OrderTicket.from_command(order("sell AAPL 50 mkt tp -3 sl +2"))
    _, tp, sl = t.orders(50, mid=100.0)
    assert (tp.action, tp.lmtPrice, sl.action, sl.auxPrice) == ("BUY", 97.0, "BUY", 102.0)


def test_problems_name_the_field_and_the_numbers() -> None:
    t = OrderTicket.from_command(order("buy AAPL 1 lmt 190"))
    [p] = t.problems(1, 180.0, collar=0.05)
    # |190 - 180| = 10 from the mid; 5 % of 180 = 9.00 allowed
    assert p.field == "limit"
    assert p.message == "limit 190 is 10.00 from the mid 180; the guard allows 9.00 (5% of the mid)"
    assert t.problems(1, 181.0, collar=0.05) == []  # 9 from 181 <= 9.05
    assert [p.field for p in t.problems(0, 180.0)] == ["size"]
    bad = OrderTicket.from_command(order("buy AAPL 100 lmt 180 tp 175"))
    [p] = bad.problems(100, 180.0)
    assert p.field == "bracket" and "take-profit 175 is below the entry 180" in p.message
    bad = OrderTicket.from_command(order("buy AAPL 100 moc tp +1"))
    assert bad.problems(100, 180.0)[0].message.startswith(
        "a bracket needs a MKT, LMT or STP parent"
    )
    refused = t.problems(1, 181.0, refusals=("read-only connection",))
    assert refused and refused[0].field == "state" and refused[0].message == "read-only connection"


def test_closing_ticket_is_the_opposite_order_for_the_whole_position() -> None:
    p = parse_symbol(["AAPL"], TODAY)
    long = OrderTicket.closing(p.contract, p.label, 120.0)
    assert (long.action, long.quantity(None, 1.0, None), long.order_type) == ("SELL", 120, "MKT")
    short = OrderTicket.closing(p.contract, p.label, -30.0)
    assert (short.action, short.quantity(None, 1.0, None)) == ("BUY", 30)


def test_a_preview_is_sendable_for_30_s_and_only_unedited() -> None:
    t = OrderTicket.from_command(order("buy AAPL 10 lmt 180"))
    preview = Preview.of(t, 10, now=1_000.0, mid=180.0)
    assert preview.why_not_sendable(t, 1_000.0) is None
    assert preview.why_not_sendable(t, 1_029.9) is None
    assert preview.seconds_left(1_010.0) == 20.0
    assert "older than 30 s" in preview.why_not_sendable(t, 1_030.0)
    sent = preview.copies()
    assert sent[0] is not preview.orders[0] and sent[0].lmtPrice == 180.0
    t.edit(limit=179.5)
    assert "changed since the preview" in preview.why_not_sendable(t, 1_001.0)
    with pytest.raises(AttributeError, match="no field 'price'"):
        t.edit(price=1.0)
