"""The order ticket form's fields (text as typed) read into an :class:`OrderTicket`.

Pure: every field is checked and every problem is named beside its field in words
(``limit: '18o' is not a number``); a ticket comes out only when nothing is wrong.
Contracts are typed as on the command line (``AAPL``, ``CL F27``, ``SPY 31DEC26 528 C``,
``EUR.USD``, ``SPX``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from livedesk.backend.manual.command_line import Price
from livedesk.backend.manual.symbols import ParsedSymbol, SymbolError, parse_symbol
from livedesk.backend.manual.ticket import ORDER_TYPES, SIZE_KINDS, TIFS, OrderTicket, Problem

LIMIT_TYPES = ("LMT", "STP LMT", "LOC")
STOP_TYPES = ("STP", "STP LMT")


@dataclass
class TicketForm:
    """What the form holds: text fields as typed, choices as picked."""

    contract: str = ""
    action: str = "BUY"
    size: str = ""
    size_kind: str = "quantity"
    order_type: str = "MKT"
    limit: str = ""
    stop: str = ""
    trail: str = ""
    tif: str = "DAY"
    take_profit: str = ""
    stop_loss: str = ""
    outside_rth: bool = False


def _number(text: str, field: str, problems: list[Problem]) -> float | None:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        problems.append(Problem(field, f"{text!r} is not a number"))
        return None
    if not math.isfinite(value):
        problems.append(Problem(field, f"{text!r} is not a finite number"))
        return None
    return value


def _price(text: str, field: str, what: str, problems: list[Problem]) -> float | None:
    text = text.strip()
    if not text:
        problems.append(Problem(field, f"a {what} (> 0) is needed for this order type"))
        return None
    value = _number(text, field, problems)
    if value is not None and not value > 0:
        problems.append(Problem(field, f"{what} must be positive, got {text}"))
        return None
    return value


def _size(form: TicketForm, problems: list[Problem]) -> float | None:
    text = form.size.strip().lstrip("$").rstrip("%")
    if form.size_kind not in SIZE_KINDS:
        problems.append(Problem("size", f"size kind must be one of {', '.join(SIZE_KINDS)}"))
        return None
    if not text:
        problems.append(Problem("size", "a size is needed: a quantity, $ value or % of NLV"))
        return None
    value = _number(text, "size", problems)
    if value is None:
        return None
    if not value > 0:
        problems.append(Problem("size", f"size must be more than 0, got {form.size.strip()}"))
        return None
    if form.size_kind == "quantity" and value != int(value):
        problems.append(Problem("size", f"a quantity is a whole number, got {text}"))
        return None
    if form.size_kind == "percent":
        if value > 100:
            problems.append(Problem("size", f"at most 100% of NLV, got {text}%"))
            return None
        return value / 100.0
    return value


def _trail(text: str, problems: list[Problem]) -> tuple[float | None, float | None]:
    text = text.strip()
    if not text:
        problems.append(Problem("trail", "a trailing amount (0.50) or percent (1%) is needed"))
        return None, None
    if text.endswith("%"):
        pct = _number(text[:-1], "trail", problems)
        if pct is not None and not 0 < pct < 100:
            problems.append(
                Problem("trail", f"trailing percent must be between 0 and 100, got {text}")
            )
            return None, None
        return None, pct
    amount = _number(text, "trail", problems)
    if amount is not None and not amount > 0:
        problems.append(Problem("trail", f"trailing amount must be positive, got {text}"))
        return None, None
    return amount, None


def _exit(text: str, field: str, what: str, problems: list[Problem]) -> Price | None:
    text = text.strip()
    if not text:
        return None
    value = _number(text, field, problems)
    if value is None:
        return None
    if text[0] in "+-":
        if value == 0:
            problems.append(Problem(field, f"a {what} offset cannot be 0"))
            return None
        return Price(value, offset=True)
    if not value > 0:
        problems.append(Problem(field, f"{what} price must be positive, got {text}"))
        return None
    return Price(value)


def read_symbol(text: str, today: dt.date) -> ParsedSymbol:
    """The contract typed in the contract field (SymbolError when it names none)."""
    words = text.upper().split()
    parsed = parse_symbol(words, today)
    if parsed.words < len(words):
        raise SymbolError(f"unexpected {words[parsed.words]!r} after {parsed.label}")
    return parsed


def read_form(form: TicketForm, today: dt.date) -> tuple[OrderTicket | None, list[Problem]]:
    """The ticket the form describes, or None with every problem found."""
    problems: list[Problem] = []
    symbol = None
    if not form.contract.strip():
        problems.append(Problem("contract", "type a contract: AAPL, CL F27, SPY 31DEC26 528 C"))
    else:
        try:
            symbol = read_symbol(form.contract, today)
        except SymbolError as exc:
            problems.append(Problem("contract", str(exc)))
    if form.action not in ("BUY", "SELL"):
        problems.append(Problem("action", f"action must be BUY or SELL, got {form.action!r}"))
    if form.order_type not in ORDER_TYPES:
        problems.append(Problem("type", f"order type must be one of {', '.join(ORDER_TYPES)}"))
    if form.tif not in TIFS:
        problems.append(Problem("tif", f"time in force must be one of {', '.join(TIFS)}"))
    size = _size(form, problems)
    kind = form.order_type
    limit = _price(form.limit, "limit", "limit price", problems) if kind in LIMIT_TYPES else None
    stop = _price(form.stop, "stop", "stop price", problems) if kind in STOP_TYPES else None
    amount = percent = None
    if kind == "TRAIL":
        amount, percent = _trail(form.trail, problems)
    take_profit = _exit(form.take_profit, "take-profit", "take-profit", problems)
    stop_loss = _exit(form.stop_loss, "stop-loss", "stop-loss", problems)
    if problems or symbol is None or size is None:
        return None, problems
    ticket = OrderTicket(
        contract=symbol.contract,
        label=symbol.label,
        action=form.action,
        size_kind=form.size_kind,
        size=size,
        order_type=kind,
        limit=limit,
        stop=stop,
        trail_amount=amount,
        trail_percent=percent,
        tif=form.tif,
        outside_rth=form.outside_rth,
        take_profit=take_profit,
        stop_loss=stop_loss,
    )
    quantity = int(size) if form.size_kind == "quantity" else 1  # $ / %: sized at preview
    problems = [  # an offset from a MKT order's price is known at the preview (the mid)
        p for p in ticket.problems(quantity, None) if "needs a price to start from" not in p.message
    ]
    return (None, problems) if problems else (ticket, [])
