"""Orders that depend on each other, as TWS links them: transmit groups, brackets and OCA.

* **transmit** — an order sent with ``transmit=False`` is accepted and held (status
  ``PreSubmitted``, never matched) until an order of its group — the same parent chain —
  arrives with ``transmit=True`` (or it is re-sent with ``transmit=True``); then the whole
  group is released at once.  That is how a bracket is sent: parent and first child
  untransmitted, the last child transmitting.
* **brackets** — a child (``parentId`` set) stays held (``PreSubmitted``) until its parent
  has filled completely; a parent cancelled (or expired) cancels its working children.
  Children of one parent are one OCA group that reduces: a fill of one reduces the others
  by the same quantity, and the others are cancelled once it has filled.
* **OCA** (``ocaGroup``) — ``ocaType`` 1 (also 0, unset): any fill of one order cancels the
  other working orders of the group; 2 and 3: the others are reduced by the filled quantity
  and cancelled when nothing remains (3 differs from 2 at IB only by not blocking the
  others while an order routes — the simulator routes instantly).
"""

from __future__ import annotations

from collections.abc import Iterable

from livedesk.backend.sim.broker.matching import SimOrder
from livedesk.backend.sim.errors import OrderReject

Orders = dict[tuple[int, int], SimOrder]


def parent_of(orders: Orders, so: SimOrder) -> SimOrder | None:
    """The order's parent (same client), if it has one the book knows."""
    pid = int(so.order.parentId or 0)
    return orders.get((so.client_id, pid)) if pid else None


def admit(orders: Orders, so: SimOrder) -> str:
    """Why a new order is held ("" when live); raise for a parent that cannot take children."""
    pid = int(so.order.parentId or 0)
    parent = parent_of(orders, so)
    if pid and parent is None:
        raise OrderReject(135, f"Can't find order with id ={pid}")
    if parent is not None and not parent.is_working and parent.status != "Filled":
        raise OrderReject(
            201, f"Order rejected - reason:parent order {pid} is {parent.status.lower()}"
        )
    if not so.order.transmit:
        return "transmit"
    if parent is not None and (parent.held or parent.status != "Filled"):
        return "parent"
    return ""


def root_of(orders: Orders, so: SimOrder) -> SimOrder:
    """The top of the order's parent chain."""
    seen = {id(so)}
    while (parent := parent_of(orders, so)) is not None and id(parent) not in seen:
        seen.add(id(parent))
        so = parent
    return so


def release(orders: Orders, so: SimOrder) -> list[SimOrder]:
    """A transmitting order arrived: release every untransmitted order of its group."""
    root = root_of(orders, so)
    released = []
    for other in orders.values():
        if other.held == "transmit" and other.is_working and root_of(orders, other) is root:
            parent = parent_of(orders, other)
            waiting = parent is not None and (parent.held or parent.status != "Filled")
            other.held = "parent" if waiting else ""
            released.append(other)
    for other in released:  # a released parent may hold a child released with it
        parent = parent_of(orders, other)
        if other.held == "" and parent is not None and parent.held:
            other.held = "parent"
    return released


def children(orders: Orders, so: SimOrder) -> list[SimOrder]:
    """The working orders whose parent is ``so``."""
    return [
        o
        for o in orders.values()
        if o.is_working
        and o.client_id == so.client_id
        and int(o.order.parentId or 0) == so.order_id
        and o is not so
    ]


def descendants(orders: Orders, so: SimOrder) -> list[SimOrder]:
    """Every working order below ``so`` in its parent chain."""
    out: list[SimOrder] = []
    todo = children(orders, so)
    while todo:
        child = todo.pop()
        if child not in out:
            out.append(child)
            todo += children(orders, child)
    return out


def activate_children(orders: Orders, parent: SimOrder) -> list[SimOrder]:
    """The parent filled: its held children go live."""
    live = []
    for child in children(orders, parent):
        if child.held == "parent":
            child.held = ""
            live.append(child)
    return live


def oca_siblings(orders: Orders, so: SimOrder) -> Iterable[tuple[SimOrder, bool]]:
    """Working orders one-cancels-all with ``so``: ``(order, cancel_on_any_fill)``."""
    group = so.order.ocaGroup or ""
    pid = int(so.order.parentId or 0)
    for other in orders.values():
        if other is so or not other.is_working:
            continue
        if group and other.order.ocaGroup == group:
            yield other, int(so.order.ocaType or 0) in (0, 1)
        elif pid and other.client_id == so.client_id and int(other.order.parentId or 0) == pid:
            yield other, False
