"""Early exercise and lapse of a long option position (``exerciseOptions``).

Exercising ``n`` contracts of a call buys, of a put sells, ``n`` x multiplier shares of the
underlying at the strike; the option position shrinks by ``n`` (booked at zero, as at
expiry settlement in :meth:`SimBroker.settle_expired`). A lapse just gives the contracts up.
"""

from __future__ import annotations

from livedesk.backend.sim.broker.book import PortfolioChanged, SimBroker
from livedesk.backend.sim.errors import OrderReject
from livedesk.backend.sim.market.instruments import Instrument

EXERCISE, LAPSE = 1, 2


def exercise(broker: SimBroker, inst: Instrument, action: int, qty: int, now: float):
    """Exercise (``action`` 1) or lapse (2) ``qty`` long contracts of ``inst``.

    Raises OrderReject (321) for a non-option, an expired option, a bad action or quantity,
    or more contracts than the account holds long; nothing changes then.
    """
    if inst.sec_type != "OPT":
        raise OrderReject(321, "Error validating request: only options can be exercised")
    if action not in (EXERCISE, LAPSE):
        raise OrderReject(321, f"Error validating request: exercise action {action} is not 1 or 2")
    if qty <= 0:
        raise OrderReject(321, "Error validating request: the exercise quantity must be positive")
    if broker.expired(inst, now):
        raise OrderReject(321, "Error validating request: the option has expired")
    held = broker.account.position(inst.con_id)
    if qty > held:
        raise OrderReject(
            321,
            f"Error validating request: cannot exercise {qty} contracts, "
            f"the long position is {held:g}",
        )
    account = broker.account
    account.apply_fill(inst.con_id, -qty, 0.0, inst.multiplier, 0.0)
    changed = [inst.con_id]
    if action == EXERCISE:
        shares = qty * inst.multiplier * (1 if inst.right == "C" else -1)
        account.apply_fill(inst.underlying_con_id, shares, inst.strike, 1.0, 0.0)
        changed.append(inst.underlying_con_id)
    if broker.on_change:
        broker.on_change()
    return [PortfolioChanged(tuple(changed))]
