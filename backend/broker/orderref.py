"""Idempotency keys in ``orderRef``: ``"<strategy>#<key>"``.

Every order LiveDesk sends carries a key unique to that order, so after a reconnect or a
crash the order can be found again at the gateway (open orders, completed orders, today's
executions all echo ``orderRef``) and is never sent a second time. The strategy name stays
recoverable: :func:`strategy_of` is what the risk feed, the journal and the report read.
"""

from __future__ import annotations

import secrets

SEPARATOR = "#"


def new_key() -> str:
    """A fresh idempotency key (12 hex digits, random)."""
    return secrets.token_hex(6)


def make_ref(strategy: str, key: str) -> str:
    """The ``orderRef`` of an order of ``strategy`` with idempotency ``key``."""
    if SEPARATOR in strategy:
        raise ValueError(f"a strategy name may not contain {SEPARATOR!r}: {strategy!r}")
    return f"{strategy}{SEPARATOR}{key}"


def strategy_of(order_ref: str | None) -> str:
    """The strategy name of an ``orderRef`` ("" when none); a ref without a key is the name."""
    return (order_ref or "").split(SEPARATOR, 1)[0]


def key_of(order_ref: str | None) -> str:
    """The idempotency key of an ``orderRef`` ("" when it has none)."""
    ref = order_ref or ""
    return ref.split(SEPARATOR, 1)[1] if SEPARATOR in ref else ""
