"""Checks IB applies to an order before it reaches the book, with IB's error codes and texts.

* **Order id** — a new order's id must be a positive signed 32-bit integer above the last id
  the client used (103 "Duplicate order id" otherwise); re-sending a working order's id
  modifies it.
* **Contract** — when the order names a conId, the contract fields it also sends must agree
  with that conId: a known but different ``secType`` or a different ``symbol`` (or
  ``currency``) gets 200 "No security definition", an unknown ``secType`` 321.
* **Quantity** — whole units only (IB refuses fractional sizes over the API: 10243).
* **Prices** — a limit or stop price must be a positive multiple of the contract's minimum
  tick (110).

Every check raises :class:`~livedesk.backend.sim.errors.OrderReject` and changes nothing.
"""

from __future__ import annotations

import math

from ib_async import Contract, Order

from livedesk.backend.sim.broker.order_types import is_set, priced_fields
from livedesk.backend.sim.errors import OrderReject, no_definition
from livedesk.backend.sim.market.instruments import Instrument

MAX_ORDER_ID = 2**31 - 1
SEC_TYPES = frozenset(
    "STK OPT FUT CONTFUT BAG CASH IND FOP WAR BOND CMDTY FUND CFD CRYPTO NEWS IOPT EVENT".split()
)
TICK_TOLERANCE = 1e-6
"""How far (in ticks) a price may sit from the grid and still count as on it (float noise)."""
FRACTIONAL_MSG = (
    "Fractional-sized order cannot be placed via API. Please use desktop version to place "
    "this order."
)
OFF_TICK_MSG = "The price does not conform to the minimum price variation for this contract."


def check_order_id(order_id: int, last_used: int) -> None:
    """A new order's id: positive 32-bit and above ``last_used`` (error 103)."""
    if not 0 < order_id <= MAX_ORDER_ID:
        raise OrderReject(
            103,
            f"Duplicate order id: {order_id} (order ids are positive 32-bit integers)",
        )
    if order_id <= last_used:
        raise OrderReject(
            103, f"Duplicate order id: {order_id} (the last order id used is {last_used})"
        )


def check_contract(contract: Contract, inst: Instrument) -> None:
    """The order's contract fields must describe the instrument its conId names."""
    sec_type = (contract.secType or "").upper()
    if sec_type and sec_type not in SEC_TYPES:
        raise OrderReject(
            321, f"Error validating request.-'bN' : cause - Invalid security type: {sec_type}"
        )
    if sec_type and sec_type != inst.sec_type and (sec_type, inst.sec_type) != ("CONTFUT", "FUT"):
        raise no_definition()  # a CONTFUT names its front month's conId
    if contract.symbol and contract.symbol.upper() != inst.symbol.upper():
        raise no_definition()
    if contract.currency and contract.currency.upper() != inst.currency:
        raise no_definition()


def check_quantity(qty: float) -> None:
    """Whole units only (positive quantities are checked before, error 434)."""
    if qty != math.floor(qty):
        raise OrderReject(10243, FRACTIONAL_MSG)


def on_tick(price: float, tick: float) -> bool:
    """Whether ``price`` is a positive multiple of ``tick`` (up to float round-off)."""
    ticks = price / tick
    n = round(ticks)
    return n >= 1 and abs(ticks - n) <= TICK_TOLERANCE


def check_prices(order: Order, inst: Instrument) -> None:
    """The prices an order type uses (limit, stop, trigger, trailing stop) must sit on the
    tick grid; optional ones only when they are set."""
    for name, required in priced_fields(order.orderType):
        price = float(getattr(order, name))
        if required or is_set(price):
            if not on_tick(price, inst.min_tick):
                raise OrderReject(
                    110, f"{OFF_TICK_MSG} {name}={price!r}, minimum tick {inst.min_tick:g}"
                )


def check_order(contract: Contract, order: Order, inst: Instrument) -> None:
    """Contract agreement, whole quantity and on-tick prices of one single-leg order."""
    check_contract(contract, inst)
    check_quantity(float(order.totalQuantity))
    check_prices(order, inst)
