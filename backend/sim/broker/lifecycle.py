"""How working orders live on in the simulated book: matching each pulse, the auctions, the
times in force, and what one order's fill or cancel does to the orders linked to it.

A mixin of :class:`~livedesk.backend.sim.broker.book.SimBroker` (it uses the broker's
market, engine and book); the order types are :mod:`.order_types`, the links between
orders (transmit groups, brackets, OCA) :mod:`.links`.
"""

from __future__ import annotations

from livedesk.backend.sim.broker import links, order_types
from livedesk.backend.sim.broker.events import Event, OrderUpdate, PortfolioChanged
from livedesk.backend.sim.broker.matching import SimOrder
from livedesk.backend.sim.market.instruments import Instrument


class OrderLifecycle:
    """Matching, auctions, expiry and order links (mixed into ``SimBroker``)."""

    def _live(self, so: SimOrder, now: float) -> bool:
        """Whether a working order is at the (simulated) exchange now: ``Submitted``."""
        if so.held or not self.is_open(now):
            return False
        return not (so.order.tif == "OPG" and so.submitted_at >= self.market.session_open())

    def _cancel(self, so: SimOrder) -> list[Event]:
        """Cancel ``so`` and its working bracket children (TWS cancels them with it)."""
        family = [so] + links.descendants(self.orders, so)
        for o in family:
            o.status = "Cancelled"
        return [OrderUpdate(o) for o in family]

    def step(self, now: float) -> list[Event]:
        """Advance the book to ``now``: working orders go live at the open and match.

        The close and the next open (DAY expiry, settlement, the session roll) are the
        :class:`~livedesk.backend.sim.rollover.SessionCycle`'s, which runs first.
        """
        events: list[Event] = []
        for so in self.working():
            if so.order.tif == "GTD" and so.is_working:
                until = order_types.parse_good_till(so.order.goodTillDate)
                if until is not None and now >= until:
                    events += self._cancel(so)
        if not self.is_open(now):
            if events:
                self._changed()
            return events
        for so in self.working():
            if so.status == "PreSubmitted" and self._live(so, now):
                so.status = "Submitted"
                events.append(OrderUpdate(so))
            events += self._match(so, now)
        if events:
            self._changed()
        return events

    def closing_auction(self, close: float) -> list[Event]:
        """Fill the MOC and LOC orders placed before ``close`` at the closing price (a LOC
        whose limit the close does not reach is cancelled)."""
        events: list[Event] = []
        for so in self.working():
            if so.order.orderType not in order_types.CLOSING_AUCTION or so.held:
                continue
            if so.submitted_at >= close or not so.is_working:
                continue
            inst = self.instrument(so.contract.conId)
            price = self.mark(inst.con_id, close)
            if so.order.orderType == "LOC" and so.sign * (float(so.order.lmtPrice) - price) < 0:
                events += self._cancel(so)
                continue
            events += self._fill(so, inst, so.remaining, price, close)
            events.append(PortfolioChanged((inst.con_id,)))
        if events:
            self._changed()
        return events

    def expire_day_orders(self, close: float) -> list[Event]:
        """Cancel the DAY orders placed before the session's ``close`` (IB: "Cancelled");
        orders placed after it are for the next session and keep working."""
        events: list[Event] = []
        for so in self.working():
            if so.is_working and so.order.tif == "DAY" and so.submitted_at < close:
                events += self._cancel(so)
        if events:
            self._changed()
        return events

    def _match(self, so: SimOrder, now: float) -> list[Event]:
        if so.is_working and not so.held and so.order.tif in ("IOC", "FOK"):
            if not self.is_open(now):
                return self._cancel(so)  # nothing can fill immediately while closed
        if not self.is_open(now) or not so.is_working or so.held or now < so.not_before:
            return []  # closed, done, held, or still in flight (the injected fill latency)
        if so.contract.secType == "BAG":
            return self._match_combo(so, now)
        inst = self.instrument(so.contract.conId)
        if so.order.tif == "OPG":
            return self._opening(so, inst)
        touch = self.touch(inst, now)
        once = so.order.tif in ("IOC", "FOK")
        if so.order.tif == "FOK":
            whole = self.engine.peek(so, inst.con_id, touch, now)
            if whole is None or whole[0] < so.remaining - 1e-9:
                return self._cancel(so)
        cap = order_types.schedule_cap(
            so.order,
            so.submitted_at,
            self.market.session_close(),
            now,
            lambda t: self.market.quote(inst.con_id, t).volume,
        )
        events: list[Event] = []
        while so.is_working:
            room = None if cap is None else cap - so.filled
            if room is not None and room <= 0:
                break
            fill = self.engine.next_fill(so, inst.con_id, touch, now, room)
            if fill is None:
                break
            events += self._fill(so, inst, fill[0], fill[1], now)
        if events:
            events.append(PortfolioChanged((inst.con_id,)))
        if once and so.is_working:
            events += self._cancel(so)  # IOC: the rest is cancelled
        return events

    def _opening(self, so: SimOrder, inst: Instrument) -> list[Event]:
        """An OPG order placed before this session's open: the whole order at the open price
        (a limit the open does not reach is cancelled)."""
        opened = self.market.session_open()
        if so.submitted_at >= opened:
            return []  # placed during the session: for the next open
        price = self.mark(inst.con_id, opened)
        if so.order.orderType == "LMT" and so.sign * (float(so.order.lmtPrice) - price) < 0:
            return self._cancel(so)
        events = self._fill(so, inst, so.remaining, price, opened)
        return events + [PortfolioChanged((inst.con_id,))]

    def _fill(
        self, so: SimOrder, inst: Instrument, qty: float, price: float, now: float
    ) -> list[Event]:
        """One execution of a single-contract order and what it sets off: a filled parent
        releases its bracket children, a fill cancels or reduces its OCA siblings."""
        events: list[Event] = [self._execute(so, inst, qty, price, now), OrderUpdate(so)]
        for other, cancel_all in list(links.oca_siblings(self.orders, so)):
            if cancel_all:
                events += self._cancel(other)
            else:
                other.order.totalQuantity = max(float(other.order.totalQuantity) - qty, 0.0)
                if other.remaining <= 1e-9:
                    events += self._cancel(other)
                else:
                    events.append(OrderUpdate(other))
        if so.status == "Filled":
            live = links.activate_children(self.orders, so)
            for child in live:
                child.status = "Submitted" if self._live(child, now) else "PreSubmitted"
                events.append(OrderUpdate(child))
            for child in live:  # a child that fills may cancel its sibling first
                if child.is_working:
                    events += self._match(child, now)
        return events
