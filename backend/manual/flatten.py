"""Flatten everything after the kill switch: every position closed at market, then HALTED.

The kill switch has already cancelled every working order and halted the strategies (the guard
is HALTED: only cancels). Here the cancels are awaited, the guard goes to REDUCING (only orders
that shrink a position pass), each position gets its opposite market order through
``TradingApp.send_order`` (guard, pacing, write-ahead journal, ``manual#key``), and the guard
is HALTED again whatever happened.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ib_async import Contract, Order

from livedesk.backend.contracts import ContractError, describe
from livedesk.backend.errors import PriceUnavailable
from livedesk.backend.manual.sender import MANUAL
from livedesk.backend.trading.guard import TradingState
from livedesk.backend.trading.results import OrderRefused

if TYPE_CHECKING:
    from livedesk.backend.trading.app import TradingApp


@dataclass
class Flattened:
    """What flattening did: the orders sent and the positions it could not close (why)."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def wait_cancels(app: TradingApp, timeout: float = 5.0) -> bool:
    """Wait until no order works any more (the kill switch's cancels confirmed)."""
    deadline = time.monotonic() + timeout
    while any(not t.isDone() for t in app.ib.openTrades()):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def flatten_everything(app: TradingApp, reason: str) -> Flattened:
    """Close every position at market under REDUCING, then HALTED (``reason``) again.

    Raises OrderRefused before anything changes when the session cannot send orders at all
    (read-only, a LIVE account not confirmed).
    """
    refusals = app.account_guard.check()
    if refusals:
        raise OrderRefused(refusals)
    out = Flattened()
    if not await wait_cancels(app):
        out.failed.append("working orders still not cancelled after 5 s: nothing flattened")
        return out
    app.guard.set_state(TradingState.REDUCING, f"{reason}: flattening")
    try:
        for con_id, held in list(app.positions.items()):
            qty = float(held.position)
            if not qty:
                continue
            label = describe(held.contract)
            order = Order(
                action="SELL" if qty > 0 else "BUY", totalQuantity=abs(qty), orderType="MKT"
            )
            try:
                contract = await app.resolve_contract(Contract(conId=con_id))
                await app.send_order(contract, order, strategy=MANUAL)
            except (OrderRefused, PriceUnavailable, ContractError) as exc:
                out.failed.append(f"{label}: {exc}")
                continue
            out.sent.append(f"{order.action} {abs(qty):g} {label}")
    finally:
        app.guard.halt(reason)
    return out
