"""The daily cycle of the simulated gateway: the close, the night and the next session's open.

The simulated clock never stops at the close.  :class:`SessionCycle` runs before the broker
on every pulse and moves the books through the calendar:

* **At the close** (16:00 New York, or an early close): the closing auction fills MOC and
  LOC orders at the closing price, then DAY orders placed before it are
  cancelled (status ``Cancelled``, as IB reports an expired DAY order), then options and
  futures whose last trading day it was settle (:meth:`SimBroker.settle_expired`).
* **Overnight** nothing fills: GTC orders, and DAY orders placed after the close (they are
  for the next session), wait as ``PreSubmitted``.  Quotes stay at the close.
* **At the next XNYS session's open** (holidays and weekends skipped): the account rolls
  (daily and realized PnL restart from the marks at the close, so ``reqPnL`` dailyPnL
  resets), finished orders and the old executions are dropped, the market makes the new
  session current (a new intraday path from the previous close, one more daily bar) and the
  option and futures listings roll.  Waiting orders go live and match from the open on.

A clock that jumps over several sessions at once (a high ``--speed``) runs each close and
open in turn, so nothing is skipped.
"""

from __future__ import annotations

import datetime as dt

from livedesk.backend.sim.broker.book import Event, PortfolioChanged, SimBroker


class SessionCycle:
    """Closes and opens the simulated sessions as the clock passes them."""

    def __init__(self, broker: SimBroker) -> None:
        self.broker = broker
        self.market = broker.market
        self.closed: dt.date | None = None  # the last session whose close was processed
        self.rolls = 0

    def step(self, now: float) -> list[Event]:
        """Process every close and open at or before ``now``; the events to publish."""
        events: list[Event] = []
        while True:
            events += self._close(now)
            if now < self.market.next_session_open():
                return events
            events += self._open_next()

    def next_boundary(self, now: float) -> float:
        """The next calendar instant after ``now``: the open, the close or the next open."""
        m = self.market
        if now < m.session_open():
            return m.session_open()
        if now < m.session_close():
            return m.session_close()
        return m.next_session_open()

    def _close(self, now: float) -> list[Event]:
        m = self.market
        if now < m.session_close() or self.closed == m.session:
            return []
        self.closed = m.session
        events = self.broker.closing_auction(m.session_close())
        events += self.broker.expire_day_orders(m.session_close())
        return events + self.broker.settle_expired(now)

    def _open_next(self) -> list[Event]:
        self.broker.roll_session(self.market.session_close())
        self.market.roll()
        self.rolls += 1
        held = tuple(self.broker.account.holdings)
        return [PortfolioChanged(held)] if held else []
