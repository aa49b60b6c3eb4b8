"""`RiskFeed`: wires a TradingApp's live ib_async events into the journal and the RiskEngine.

* Orders sent (:class:`livedesk.backend.events.OrderSent`) are journalled with their arrival bid/ask.
* Executions are attributed to a strategy by ``orderRef`` (through
  :func:`~livedesk.backend.events.strategy_of`) and fed to the engine with the arrival mid of
  their order and the live mid when the fill arrives (journalled as ``fill_mid``, which splits
  delay from spread and impact in the attribution); commission reports follow.
* ``reqPnL`` updates (about once a second) feed the account's return series together with
  NetLiquidation; the engine's sampler keeps one sample per interval.
* Per-strategy PnL: each strategy's fills form its own book (cash and positions), marked at
  the live mid (last fill price when no quote streams). A strategy's equity is the account's
  NetLiquidation when the feed started plus that PnL — documented so its returns are read as
  "return on the whole account's capital".
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.broker.session_orders import combo_record
from livedesk.backend.events import Event, OrderSent
from livedesk.backend.risk.engine import ComboOrder, RiskEngine, order_key

NEW_YORK = ZoneInfo("America/New_York")


def ny_session(t: float) -> dt.date:
    """The New York calendar date of epoch ``t`` (the trading session it belongs to)."""
    return dt.datetime.fromtimestamp(t, NEW_YORK).date()


@dataclass
class StrategyBook:
    """One strategy's cash and positions, built from its fills."""

    cash: float = 0.0
    positions: dict[int, float] = field(default_factory=dict)
    multipliers: dict[int, float] = field(default_factory=dict)
    last_price: dict[int, float] = field(default_factory=dict)

    def fill(
        self,
        con_id: int,
        signed_qty: float,
        price: float,
        multiplier: float,
        commission: float = 0.0,
    ) -> None:
        """Book one execution."""
        self.cash -= signed_qty * price * multiplier + commission
        self.positions[con_id] = self.positions.get(con_id, 0.0) + signed_qty
        self.multipliers[con_id] = multiplier
        self.last_price[con_id] = price

    def pnl(self, marks: dict[int, float]) -> float:
        """Cash plus positions at ``marks`` (last fill price where no mark is known)."""
        value = sum(
            q * marks.get(c, self.last_price[c]) * self.multipliers[c]
            for c, q in self.positions.items()
        )
        return self.cash + value


class RiskFeed:
    """Subscribes to a TradingApp's events and keeps the RiskEngine and journal current."""

    def __init__(self, app, engine: RiskEngine, clock: Callable[[], float] | None = None) -> None:
        self.app = app
        self.engine = engine
        own = getattr(app, "clock", None)
        self.clock: Callable[[], float] = clock or (
            own.time if own is not None and hasattr(own, "time") else time.time
        )
        """Stamps orders, fills and samples: the broker clock (``TradingApp.clock``)."""
        self.books: dict[str, StrategyBook] = {}
        self._arrival: dict[int, float | None] = {}
        self._start_nlv: float | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._pnl = None

    def start(self) -> None:
        """Start listening (call once connected).

        With a :class:`~livedesk.backend.broker.session.BrokerSession` the feed takes every
        execution from the session (live ones and those missed while disconnected, once
        each) and its PnL subscription is renewed after every reconnect.
        """
        ib = self.app.ib
        self._unsubscribe = self.app.bus.subscribe(self._on_event)
        session = self._session()
        if session is not None:
            session.fill_sink = self._on_fill
            session.add_restore_hook(self._renew_pnl)
        else:
            ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        ib.pnlEvent += self._on_pnl
        self._pnl = ib.reqPnL(self.app.account)

    def _session(self):
        return getattr(self.app, "session", None)

    def _renew_pnl(self) -> None:
        """Subscribe PnL again (after a reconnect, or on 1101 on the same connection, where
        ib_async still holds the old subscription: it is cancelled first)."""
        ib = self.app.ib
        if self._pnl is None or not ib.isConnected():
            return
        account = self.app.account
        if (account, "") in ib.wrapper.pnlKey2ReqId:
            ib.cancelPnL(account)
        self._pnl = ib.reqPnL(account)

    def _on_fill(self, trade, fill) -> bool:
        return self._on_exec(trade, fill)

    def stop(self) -> None:
        """Stop listening and cancel the PnL subscription."""
        ib = self.app.ib
        if self._unsubscribe:
            self._unsubscribe()
        session = self._session()
        if session is not None and session.fill_sink == self._on_fill:
            session.fill_sink = session.journal_fill
        ib.execDetailsEvent -= self._on_exec
        ib.commissionReportEvent -= self._on_commission
        ib.pnlEvent -= self._on_pnl
        if self._pnl is not None and ib.isConnected():
            ib.cancelPnL(self.app.account)
        self._pnl = None

    # ---- handlers ------------------------------------------------------------------
    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, OrderSent):
            self._arrival[ev.order_id] = ev.mid
            session = self._session()
            if session is not None and session.journal is self.engine.journal:
                return  # the session journaled it before it was placed (write-ahead)
            self.engine.journal.record_order(
                ev.order_id,
                action=ev.action,
                qty=ev.quantity,
                order_type=ev.order_type,
                client_id=self.app.ib.client.clientId,
                perm_id=ev.perm_id or None,
                order_ref=ev.order_ref or ev.strategy or None,
                strategy=strategy_of(ev.strategy) or None,
                symbol=ev.symbol,
                con_id=ev.con_id,
                limit_price=ev.limit_price,
                bid=ev.bid,
                ask=ev.ask,
                t=self.clock(),  # the fills' clock, so orders and fills share one time line
                **self._combo_record(ev),
            )

    def _combo_record(self, ev: OrderSent) -> dict:
        for trade in self.app.ib.trades():
            if trade.order.orderId == ev.order_id:
                return combo_record(trade.contract, ev.bid, ev.ask)
        return {}

    def _on_exec(self, trade, fill) -> bool:
        ex, c = fill.execution, fill.contract
        strategy = strategy_of(ex.orderRef or (trade.order.orderRef if trade else ""))
        mult = float(c.multiplier or 1) if c.secType != "STK" else 1.0
        fill_mid = self.app.marks().get(c.conId)
        arrival = self._arrival.get(ex.orderId)
        bag = trade.contract if trade is not None else None
        if bag is not None and bag.secType == "BAG" and c.secType != "BAG":
            # a leg of a combo order: measured with its siblings against the net mid
            key = order_key(ex.permId, ex.orderId)
            if key is not None:
                ratios = {leg.conId: float(leg.ratio) for leg in bag.comboLegs or []}
                self.engine.note_combo(key, ComboOrder(trade.order.action, arrival, ratios))
            arrival = None  # the net mid is not this leg's mid
        counted = self.engine.on_fill(
            strategy or None,
            ex.execId,
            ex.side,
            ex.shares,
            ex.price,
            arrival,
            None,
            mult,
            self.clock(),
            order_id=ex.orderId,
            perm_id=ex.permId,
            symbol=c.symbol,
            con_id=c.conId,
            fill_mid=fill_mid if fill_mid is not None and math.isfinite(fill_mid) else None,
        )
        if counted and strategy:
            sign = 1.0 if ex.side in ("BOT", "BUY") else -1.0
            self.books.setdefault(strategy, StrategyBook()).fill(
                c.conId, sign * ex.shares, ex.price, mult
            )
        return counted

    def _on_commission(self, trade, fill, report) -> None:
        self.engine.on_commission(report.execId, report.commission)
        strategy = strategy_of(fill.execution.orderRef or trade.order.orderRef)
        if strategy in self.books:
            self.books[strategy].cash -= report.commission

    def _on_pnl(self, pnl) -> None:
        nlv = self.app.net_liquidation
        if not all(math.isfinite(x) for x in (pnl.dailyPnL, nlv)) or nlv <= 0:
            return  # an incomplete update is not a sample
        t = self.clock()
        session = ny_session(t)
        unreal = pnl.unrealizedPnL if math.isfinite(pnl.unrealizedPnL) else 0.0
        real = pnl.realizedPnL if math.isfinite(pnl.realizedPnL) else 0.0
        self.engine.on_pnl(t, pnl.dailyPnL, unreal, real, nlv, session)
        if self._start_nlv is None:
            self._start_nlv = nlv
        marks = self.app.marks()
        for name, book in self.books.items():
            value = book.pnl(marks)
            self.engine.on_strategy_pnl(name, t, value, self._start_nlv + value, session)
