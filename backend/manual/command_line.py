"""The console's command line (``:``): its grammar, its errors and its completion.

::

    buy AAPL 100 lmt 180.50          sell AAPL 100 mkt          buy CL F27 1 mkt
    buy AAPL 10% mkt  (of NLV)       buy AAPL $5000 mkt         buy AAPL 100 stp lmt 99 98.5 gtc
    buy AAPL 100 lmt 180 tp +2 sl -1 (bracket: offsets from the limit, or prices)
    close AAPL                       flatten crack-spread       cancel all      cancel 42

Pure: text in, a command (or a :class:`CommandError` naming the word at fault and the column
where it starts) out. Nothing here sends anything: every order command becomes a ticket and
the same preview as the order ticket.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from livedesk.backend.manual.symbols import ParsedSymbol, SymbolError, parse_symbol

VERBS = ("buy", "sell", "close", "flatten", "cancel")
ORDER_TYPE_WORDS = ("mkt", "lmt", "stp", "trail", "moc", "loc")
TIF_WORDS = ("day", "gtc", "ioc")
FLAGS = ("outside-rth",)
BRACKET_WORDS = ("tp", "sl")


class CommandError(ValueError):
    """What is wrong, and the column (0-based) of the word at fault."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Price:
    """A price, or an offset (``+2`` / ``-1``) from the order's reference price."""

    value: float
    offset: bool = False


@dataclass(frozen=True)
class OrderCommand:
    action: str  # BUY / SELL
    symbol: ParsedSymbol
    size_kind: str  # quantity / value / percent
    size: float
    order_type: str = "MKT"  # MKT LMT STP "STP LMT" TRAIL MOC LOC
    limit: float | None = None
    stop: float | None = None
    trail_amount: float | None = None
    trail_percent: float | None = None
    tif: str = "DAY"
    outside_rth: bool = False
    take_profit: Price | None = None
    stop_loss: Price | None = None


@dataclass(frozen=True)
class CloseCommand:
    symbol: ParsedSymbol


@dataclass(frozen=True)
class FlattenCommand:
    strategy: str


@dataclass(frozen=True)
class CancelCommand:
    order_id: int | None  # None: cancel all


Command = OrderCommand | CloseCommand | FlattenCommand | CancelCommand


def _words(text: str) -> tuple[list[str], list[int]]:
    words, columns = [], []
    for m in re.finditer(r"\S+", text):
        words.append(m.group())
        columns.append(m.start())
    return words, columns


class _Cursor:
    def __init__(self, text: str) -> None:
        self.words, self.columns = _words(text)
        self.i = 0
        self.end = len(text)

    def column(self, i: int | None = None) -> int:
        i = self.i if i is None else i
        return self.columns[i] if i < len(self.columns) else self.end

    def peek(self) -> str | None:
        return self.words[self.i].lower() if self.i < len(self.words) else None

    def take(self, what: str) -> str:
        word = self.peek()
        if word is None:
            raise CommandError(f"expected {what}", self.end)
        self.i += 1
        return word

    def fail(self, message: str, i: int | None = None) -> CommandError:
        return CommandError(message, self.column(i))


def _number(cur: _Cursor, word: str, what: str, i: int) -> float:
    try:
        value = float(word)
    except ValueError:
        raise cur.fail(f"{what} {word!r} is not a number", i) from None
    if not math.isfinite(value):
        raise cur.fail(f"{what} {word!r} is not a finite number", i)
    return value


def _price(cur: _Cursor, what: str) -> float:
    i = cur.i
    value = _number(cur, cur.take(what), what, i)
    if not value > 0:
        raise cur.fail(f"{what} must be positive, got {cur.words[i]}", i)
    return value


def _size(cur: _Cursor) -> tuple[str, float]:
    i = cur.i
    word = cur.take("a size: 100 shares, $5000 or 10%")
    if word.startswith("$"):
        kind, text = "value", word[1:].replace(",", "")
    elif word.endswith("%"):
        kind, text = "percent", word[:-1]
    else:
        kind, text = "quantity", word.replace(",", "")
    value = _number(cur, text, "size", i)
    if not value > 0:
        raise cur.fail(f"size must be more than 0, got {word}", i)
    if kind == "quantity" and value != int(value):
        raise cur.fail(f"a quantity is a whole number, got {word}", i)
    if kind == "percent":
        if value > 100:
            raise cur.fail(f"at most 100% of NLV, got {word}", i)
        value /= 100.0
    return kind, value


def _symbol(cur: _Cursor, today: dt.date) -> ParsedSymbol:
    rest = [w.upper() for w in cur.words[cur.i :]]
    try:
        parsed = parse_symbol(rest, today)
    except SymbolError as exc:
        raise cur.fail(str(exc), cur.i + exc.word) from None
    cur.i += parsed.words
    return parsed


def _order_type(cur: _Cursor, fields: dict) -> None:
    i = cur.i
    word = cur.take("an order type")
    if word == "mkt":
        fields["order_type"] = "MKT"
    elif word == "lmt":
        fields["order_type"], fields["limit"] = "LMT", _price(cur, "limit price")
    elif word == "stp" and cur.peek() == "lmt":  # stp lmt STOP LIMIT
        cur.take("lmt")
        fields["order_type"], fields["stop"] = "STP LMT", _price(cur, "stop price")
        fields["limit"] = _price(cur, "limit price")
    elif word == "stp":  # stp STOP, or stp STOP lmt LIMIT
        fields["order_type"], fields["stop"] = "STP", _price(cur, "stop price")
        if cur.peek() == "lmt":
            cur.take("lmt")
            fields["order_type"], fields["limit"] = "STP LMT", _price(cur, "limit price")
    elif word == "trail":
        j = cur.i
        amount = cur.take("a trailing amount (0.50) or percent (1%)")
        fields["order_type"] = "TRAIL"
        if amount.endswith("%"):
            pct = _number(cur, amount[:-1], "trailing percent", j)
            if not 0 < pct < 100:
                raise cur.fail(f"trailing percent must be between 0 and 100, got {amount}", j)
            fields["trail_percent"] = pct
        else:
            value = _number(cur, amount, "trailing amount", j)
            if not value > 0:
                raise cur.fail(f"trailing amount must be positive, got {amount}", j)
            fields["trail_amount"] = value
    elif word == "moc":
        fields["order_type"] = "MOC"
    elif word == "loc":
        fields["order_type"], fields["limit"] = "LOC", _price(cur, "limit price")
    else:
        raise cur.fail(f"unknown order type {word!r} (mkt, lmt, stp, stp lmt, trail, moc, loc)", i)


def _bracket_price(cur: _Cursor, what: str) -> Price:
    i = cur.i
    word = cur.take(f"a {what} price (180.5) or offset (+2 / -1)")
    value = _number(cur, word, what, i)
    if word[0] in "+-":
        if value == 0:
            raise cur.fail(f"a {what} offset cannot be 0", i)
        return Price(value, offset=True)
    if not value > 0:
        raise cur.fail(f"{what} price must be positive, got {word}", i)
    return Price(value)


def _order(cur: _Cursor, action: str, today: dt.date) -> OrderCommand:
    symbol = _symbol(cur, today)
    kind, size = _size(cur)
    fields: dict = {}
    if cur.peek() is not None and cur.peek() not in (*TIF_WORDS, *FLAGS, *BRACKET_WORDS):
        _order_type(cur, fields)
    while (word := cur.peek()) is not None:
        i = cur.i
        cur.take(word)
        if word in TIF_WORDS:
            fields["tif"] = word.upper()
        elif word == "outside-rth":
            fields["outside_rth"] = True
        elif word == "tp":
            fields["take_profit"] = _bracket_price(cur, "take-profit")
        elif word == "sl":
            fields["stop_loss"] = _bracket_price(cur, "stop-loss")
        else:
            raise cur.fail(f"unexpected {cur.words[i]!r} (day, gtc, ioc, outside-rth, tp, sl)", i)
    if fields.get("order_type") in ("MOC", "LOC") and fields.get("tif", "DAY") != "DAY":
        raise cur.fail(f"{fields['order_type']} is a DAY order (the close of today)")
    return OrderCommand(action.upper(), symbol, kind, size, **fields)


def parse_command(text: str, today: dt.date) -> Command:
    """The command ``text`` says; CommandError (with the column of the word at fault)."""
    cur = _Cursor(text)
    verb = cur.peek()
    if verb is None:
        raise CommandError("type a command: buy, sell, close, flatten or cancel", 0)
    cur.take(verb)
    if verb in ("buy", "sell"):
        return _order(cur, verb, today)
    if verb == "close":
        command: Command = CloseCommand(_symbol(cur, today))
    elif verb == "flatten":
        command = FlattenCommand(cur.take("a strategy name"))
    elif verb == "cancel":
        i = cur.i
        word = cur.take("'all' or an order id")
        if word == "all":
            command = CancelCommand(None)
        elif word.isdigit():
            command = CancelCommand(int(word))
        else:
            raise cur.fail(f"cancel takes 'all' or an order id, got {cur.words[i]!r}", i)
    else:
        raise cur.fail(f"unknown command {cur.words[0]!r} (buy, sell, close, flatten, cancel)", 0)
    if cur.peek() is not None:
        raise cur.fail(f"unexpected {cur.words[cur.i]!r} at the end")
    return command


def complete(text: str, symbols: Sequence[str] = (), strategies: Sequence[str] = ()) -> list[str]:
    """Completions of the word being typed (the last one, or a new one after a space)."""
    words = text.split()
    new_word = not text or text[-1].isspace()
    prefix = "" if new_word else words[-1].lower()
    done = words if new_word else words[:-1]
    if not done:
        options: Sequence[str] = VERBS
    elif done[0].lower() == "flatten" and len(done) == 1:
        options = strategies
    elif done[0].lower() == "cancel" and len(done) == 1:
        options = ("all",)
    elif done[0].lower() in ("buy", "sell", "close") and len(done) == 1:
        options = symbols
    elif done[0].lower() in ("buy", "sell") and len(done) >= 3:
        options = (*ORDER_TYPE_WORDS, *TIF_WORDS, *FLAGS, *BRACKET_WORDS)
    else:
        options = ()
    return [o for o in options if o.lower().startswith(prefix)]
