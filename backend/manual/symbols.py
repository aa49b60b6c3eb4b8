"""Contracts as a trader types them: ``AAPL``, ``CL F27`` / ``CLF7``, ``SPY 31DEC26 528 C``,
forex pairs ``EUR.USD`` / ``EURUSD`` and the indices ``SPX``, ``NDX``, ``VIX``.

Pure: the words in, an unqualified ib_async contract (from :mod:`livedesk.backend.contracts`)
out, or a :class:`SymbolError` saying which word is wrong and what was expected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ib_async import Contract, Forex, Index

from livedesk.backend.contracts import ContractError, future, option, stock

MONTH_CODES = "FGHJKMNQUVXZ"
"""CME month codes, January (F) to December (Z)."""

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

FUTURE_EXCHANGES = {
    "CL": "NYMEX",
    "HO": "NYMEX",
    "RB": "NYMEX",
    "NG": "NYMEX",
    "ES": "CME",
    "NQ": "CME",
    "MES": "CME",
    "MNQ": "CME",
    "GC": "COMEX",
}
"""Futures roots the ticket knows, with their exchange."""

CURRENCIES = ("USD", "EUR", "GBP", "AUD", "NZD", "JPY", "CHF", "CAD")
"""Currencies of the forex pairs the ticket knows (IDEALPRO)."""

INDEX_EXCHANGES = {"SPX": "CBOE", "NDX": "NASDAQ", "VIX": "CBOE"}
"""Indices the ticket knows, with their exchange (quoted, not traded: IB refuses orders)."""

_FOREX = re.compile(r"^([A-Z]{3})\.?([A-Z]{3})$")
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
_FUTURE_GLUED = re.compile(r"^([A-Z]{1,3})([FGHJKMNQUVXZ])(\d{1,2})$")
_MONTH_YEAR = re.compile(r"^([FGHJKMNQUVXZ])(\d{1,2})$")
_EXPIRY = re.compile(r"^(\d{1,2})([A-Z]{3})(\d{2})$")


class SymbolError(ValueError):
    """The words do not name a contract; ``word`` is the index of the offending one."""

    def __init__(self, message: str, word: int = 0) -> None:
        super().__init__(message)
        self.word = word


@dataclass(frozen=True)
class ParsedSymbol:
    """A contract and how many words it took."""

    contract: Contract
    words: int
    label: str


def future_month(code: str, year: str, today: dt.date) -> str:
    """``F``, ``27`` → ``202701``; a one-digit year is the first such year from ``today``."""
    month = MONTH_CODES.index(code) + 1
    if len(year) == 2:
        full = 2000 + int(year)
    else:
        full = today.year - today.year % 10 + int(year)
        if (full, month) < (today.year, today.month):
            full += 10
    return f"{full:04d}{month:02d}"


def _future(root: str, month: str, label: str, words: int) -> ParsedSymbol:
    exchange = FUTURE_EXCHANGES.get(root)
    if exchange is None:
        known = ", ".join(sorted(FUTURE_EXCHANGES))
        raise SymbolError(f"unknown futures root {root!r} (known: {known})")
    return ParsedSymbol(future(root, month, exchange), words, label)


def parse_symbol(words: Sequence[str], today: dt.date) -> ParsedSymbol:
    """The contract named by the first words of ``words`` (upper-cased by the caller)."""
    if not words:
        raise SymbolError("expected a symbol (AAPL, CL F27, SPY 31DEC26 528 C)")
    first = words[0]
    glued = _FUTURE_GLUED.match(first)
    if glued and glued.group(1) in FUTURE_EXCHANGES:
        root, code, year = glued.groups()
        return _future(root, future_month(code, year, today), first, 1)
    pair = _FOREX.match(first)
    if pair and pair.group(1) in CURRENCIES and pair.group(2) in CURRENCIES:
        base, quote = pair.groups()
        if base == quote:
            raise SymbolError(f"{first!r}: a pair needs two different currencies")
        return ParsedSymbol(Forex(base + quote), 1, f"{base}.{quote}")
    if not _SYMBOL.match(first):
        raise SymbolError(f"{first!r} is not a symbol")
    if len(words) >= 2 and _MONTH_YEAR.match(words[1]):
        code, year = _MONTH_YEAR.match(words[1]).groups()
        return _future(first, future_month(code, year, today), f"{first} {words[1]}", 2)
    if len(words) >= 2 and _EXPIRY.match(words[1]):
        return _option(words, today)
    if first in INDEX_EXCHANGES:
        return ParsedSymbol(Index(first, INDEX_EXCHANGES[first], "USD"), 1, first)
    try:
        return ParsedSymbol(stock(first), 1, first)
    except ContractError as exc:
        raise SymbolError(str(exc)) from exc


def _option(words: Sequence[str], today: dt.date) -> ParsedSymbol:
    symbol, expiry = words[0], words[1]
    day, mon, year = _EXPIRY.match(expiry).groups()
    if mon not in MONTHS:
        raise SymbolError(f"{expiry!r}: unknown month {mon!r} (JAN … DEC)", 1)
    try:
        date = dt.date(2000 + int(year), MONTHS.index(mon) + 1, int(day))
    except ValueError as exc:
        raise SymbolError(f"{expiry!r} is not a date", 1) from exc
    if date < today:
        raise SymbolError(f"{expiry!r} has expired", 1)
    if len(words) < 4:
        raise SymbolError(f"an option needs a strike and C/P after {expiry}", len(words))
    try:
        strike = float(words[2])
    except ValueError as exc:
        raise SymbolError(f"strike {words[2]!r} is not a number", 2) from exc
    if not strike > 0:
        raise SymbolError(f"strike must be positive, got {words[2]}", 2)
    right = {"C": "C", "CALL": "C", "P": "P", "PUT": "P"}.get(words[3])
    if right is None:
        raise SymbolError(f"expected C or P, got {words[3]!r}", 3)
    contract = option(symbol, date.strftime("%Y%m%d"), strike, right)
    label = f"{symbol} {expiry} {words[2]} {right}"
    return ParsedSymbol(contract, 4, label)
