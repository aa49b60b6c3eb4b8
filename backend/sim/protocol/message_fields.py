"""Field groups shared by several server -> client encoders."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ib_async import Contract
from ib_async.contract import TagValue


def strict(x: float, what: str) -> float:
    """A float for a field the decoder parses without a fallback for empty text."""
    if x is None or math.isnan(x):
        raise ValueError(f"{what} must be a number, got {x!r}")
    return x


def contract11(c: Contract, exchange: str) -> list:
    """The 11 contract fields shared by position, portfolio, order and execution messages."""
    return [
        int(c.conId),
        c.symbol,
        c.secType,
        c.lastTradeDateOrContractMonth,
        c.strike,
        c.right,
        c.multiplier,
        exchange,
        c.currency,
        c.localSymbol,
        c.tradingClass,
    ]


def tag_values(params: Sequence[TagValue] | None) -> list:
    """A count followed by that many (tag, value) pairs."""
    params = params or []
    out: list = [len(params)]
    for p in params:
        out += [p.tag, p.value]
    return out
