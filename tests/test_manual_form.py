"""The pure parts of trading by hand from the panes: the ticket form read into a ticket (every
problem in words), forex pairs and indices as typed, and a modification that changes only the
price and quantity of the same order. Expected values are worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from ib_async import LimitOrder, Order, OrderStatus, Trade

from livedesk.backend.contracts import stock
from livedesk.backend.manual.command_line import Price
from livedesk.backend.manual.form import TicketForm, read_form
from livedesk.backend.manual.modify import (
    check_modification,
    modification_preview,
    modify_ticket,
    ticket_of_order,
)
from livedesk.backend.manual.symbols import SymbolError, parse_symbol

TODAY = dt.date(2026, 12, 7)


def read(**fields):
    return read_form(TicketForm(**fields), TODAY)


def test_a_full_form_reads_into_the_ticket_it_shows() -> None:
    ticket, problems = read(contract="aapl", action="SELL", size="1,200", order_type="STP LMT",
                            limit="179.5", stop="180", tif="GTC", take_profit="-5",
                            stop_loss="+2.5", outside_rth=True)  # fmt: skip
    assert problems == []
    assert (ticket.label, ticket.action, ticket.size_kind, ticket.size) == (
        "AAPL", "SELL", "quantity", 1200.0
    )  # fmt: skip
    assert (ticket.order_type, ticket.limit, ticket.stop, ticket.tif, ticket.outside_rth) == (
        "STP LMT", 179.5, 180.0, "GTC", True
    )  # fmt: skip
    assert ticket.take_profit == Price(-5.0, offset=True)
    assert ticket.stop_loss == Price(2.5, offset=True)
    # a sell: exits buy back; offsets from the limit 179.5 (the entry): 174.5 and 182
    parent, tp, sl = ticket.orders(1200)
    assert (tp.action, tp.orderType, tp.lmtPrice) == ("BUY", "LMT", 174.5)
    assert (sl.action, sl.orderType, sl.auxPrice) == ("BUY", "STP", 182.0)
    assert (parent.transmit, tp.transmit, sl.transmit) == (False, False, True)


def test_sizes_as_value_and_percent_and_the_trail() -> None:
    ticket, _ = read(contract="CL F27", size="$5,000", size_kind="value")
    assert (ticket.size_kind, ticket.size, ticket.contract.secType) == ("value", 5000.0, "FUT")
    ticket, _ = read(contract="AAPL", size="12.5%", size_kind="percent")
    assert (ticket.size_kind, ticket.size) == ("percent", pytest.approx(0.125))
    ticket, _ = read(contract="AAPL", size="3", order_type="TRAIL", trail="1.5%")
    assert (ticket.trail_percent, ticket.trail_amount) == (1.5, None)
    ticket, _ = read(contract="AAPL", size="3", order_type="TRAIL", trail="0.75")
    assert (ticket.trail_percent, ticket.trail_amount) == (None, 0.75)
    [order] = ticket.orders(3)
    assert (order.orderType, order.auxPrice) == ("TRAIL", 0.75)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"size": "10"}, [("contract", "type a contract: AAPL, CL F27, SPY 31DEC26 528 C")]),
        ({"contract": "AAPL"}, [("size", "a size is needed: a quantity, $ value or % of NLV")]),
        ({"contract": "AAPL", "size": "0"}, [("size", "size must be more than 0, got 0")]),
        ({"contract": "AAPL", "size": "2.5"}, [("size", "a quantity is a whole number, got 2.5")]),
        ({"contract": "AAPL", "size": "150", "size_kind": "percent"},
         [("size", "at most 100% of NLV, got 150%")]),
        ({"contract": "AAPL 12", "size": "1"}, [("contract", "unexpected '12' after AAPL")]),
        ({"contract": "ZZ F27", "size": "1"},
         [("contract", "unknown futures root 'ZZ' (known: CL, ES, GC, HO, MES, MNQ, NG, NQ, RB)")]),
        ({"contract": "AAPL", "size": "1", "order_type": "STP LMT", "limit": "-1"},
         [("limit", "limit price must be positive, got -1"),
          ("stop", "a stop price (> 0) is needed for this order type")]),
        ({"contract": "AAPL", "size": "1", "order_type": "TRAIL", "trail": "100%"},
         [("trail", "trailing percent must be between 0 and 100, got 100%")]),
        ({"contract": "AAPL", "size": "1", "order_type": "LOC", "limit": "10", "tif": "IOC"},
         [("tif", "LOC is a DAY order")]),
        ({"contract": "AAPL", "size": "1", "order_type": "MOC", "take_profit": "200"},
         [("bracket", "a bracket needs a MKT, LMT or STP parent, not MOC")]),
        ({"contract": "AAPL", "size": "1", "take_profit": "+0"},
         [("take-profit", "a take-profit offset cannot be 0")]),
        ({"contract": "AAPL", "size": "1", "order_type": "LMT", "limit": "100",
          "stop_loss": "101"}, [("bracket", "stop-loss 101 is above the entry 100: it would "
                                 "fill at once")]),
    ],
)  # fmt: skip
def test_every_problem_is_named_beside_its_field(fields, expected) -> None:
    ticket, problems = read(**fields)
    assert ticket is None
    assert [(p.field, p.message) for p in problems] == expected


def test_a_market_bracket_by_offsets_waits_for_the_mid() -> None:
    """Offsets from a MKT order's price are known at the preview (the mid), not in the form."""
    ticket, problems = read(contract="AAPL", size="5", take_profit="+3", stop_loss="-2")
    assert problems == []
    parent, tp, sl = ticket.orders(5, mid=150.0)
    assert (tp.lmtPrice, sl.auxPrice) == (153.0, 148.0)


def test_forex_pairs_and_indices_as_typed() -> None:
    for text in ("EUR.USD", "EURUSD"):
        parsed = parse_symbol([text], TODAY)
        c = parsed.contract
        assert (c.secType, c.symbol, c.currency, c.exchange, parsed.label) == (
            "CASH", "EUR", "USD", "IDEALPRO", "EUR.USD"
        )  # fmt: skip
    spx = parse_symbol(["SPX"], TODAY).contract
    assert (spx.secType, spx.symbol, spx.exchange) == ("IND", "SPX", "CBOE")
    ndx = parse_symbol(["NDX"], TODAY).contract
    assert (ndx.secType, ndx.exchange) == ("IND", "NASDAQ")
    opt = parse_symbol(["SPX", "31DEC26", "5000", "C"], TODAY).contract
    assert (opt.secType, opt.symbol, opt.strike) == ("OPT", "SPX", 5000.0)
    with pytest.raises(SymbolError, match="two different currencies"):
        parse_symbol(["USD.USD"], TODAY)
    assert parse_symbol(["EURO"], TODAY).contract.secType == "STK"  # not a pair: a symbol


# ---- modify ------------------------------------------------------------------------------------
def working(status: str = "Submitted", filled: float = 0.0) -> Trade:
    order = LimitOrder("BUY", 10, 150.25, orderId=42, permId=9001, orderRef="manual#abc",
                       tif="GTC", parentId=40)  # fmt: skip
    return Trade(stock("AAPL"), order, OrderStatus(orderId=42, status=status, filled=filled))


def test_a_modification_changes_price_and_quantity_of_the_same_order_only() -> None:
    trade = working()
    ticket = ticket_of_order(trade.order, trade.contract, "AAPL")
    assert (ticket.order_type, ticket.limit, ticket.size, ticket.tif) == ("LMT", 150.25, 10, "GTC")
    version = ticket.version
    modify_ticket(ticket, 12, 149.5)
    assert ticket.version == version + 1  # an edit: any older preview is stale
    preview = modification_preview(trade.order, ticket, now=100.0)
    [order] = preview.copies()
    assert type(order) is Order  # a plain Order (a LimitOrder cannot be copied by replace)
    assert (order.orderId, order.permId, order.orderRef, order.parentId) == (
        42, 9001, "manual#abc", 40
    )  # fmt: skip
    assert (order.totalQuantity, order.lmtPrice, order.action, order.tif) == (
        12.0, 149.5, "BUY", "GTC"
    )  # fmt: skip
    assert trade.order.lmtPrice == 150.25 and trade.order.totalQuantity == 10  # untouched


def test_a_stop_order_modifies_its_stop_price() -> None:
    order = Order(action="SELL", totalQuantity=5, orderType="STP", auxPrice=140.0, orderId=7)
    trade = Trade(stock("AAPL"), order, OrderStatus(orderId=7, status="Submitted"))
    ticket = ticket_of_order(order, trade.contract, "AAPL")
    modify_ticket(ticket, None, 138.0)
    [sent] = modification_preview(order, ticket, now=1.0).copies()
    assert (sent.auxPrice, sent.totalQuantity, sent.orderId) == (138.0, 5.0, 7)


@pytest.mark.parametrize(
    ("trade", "quantity", "price", "reasons"),
    [
        (working("Filled", 10), 12, None,
         ["order #42 is Filled: only a working order can be modified"]),
        (working(), None, None, ["give a new price or a new quantity"]),
        (working(), 0, None, ["quantity must be a whole number of 1 or more, got 0"]),
        (working(), 2.5, None, ["quantity must be a whole number of 1 or more, got 2.5"]),
        (working(filled=4), 4, None, ["quantity 4 is not above the 4 already filled"]),
        (working(), None, -1.0, ["price must be positive, got -1"]),
        (Trade(stock("AAPL"), Order(action="BUY", totalQuantity=1, orderType="MKT"),
               OrderStatus(status="Submitted")), None, 150.0,
         ["a MKT order has no price to modify (only its quantity)"]),
    ],
)  # fmt: skip
def test_what_cannot_be_modified_says_why(trade, quantity, price, reasons) -> None:
    assert check_modification(trade, quantity, price) == reasons
