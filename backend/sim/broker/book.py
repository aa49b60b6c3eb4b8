"""The simulated broker: order book of record, executions and the account, with no I/O.

The gateway's client sessions call :class:`SimBroker` and turn the events it emits into
TWS messages. Everything here runs on simulated time supplied by the caller.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ib_async import CommissionReport, Contract, Execution, ExecutionFilter, Order

from livedesk.backend.sim.broker import combos, links, order_types, validation
from livedesk.backend.sim.broker.account import Holding, MarginFn, SimAccount, stock_margin
from livedesk.backend.sim.broker.events import Event, FillEvent, OrderUpdate, PortfolioChanged
from livedesk.backend.sim.broker.lifecycle import OrderLifecycle
from livedesk.backend.sim.broker.margin import MarginModel
from livedesk.backend.sim.broker.matching import MatchingEngine, SimOrder, Touch
from livedesk.backend.sim.errors import OrderReject, no_definition, rejected
from livedesk.backend.sim.market.instruments import Instrument
from livedesk.backend.sim.market.model import MarketModel
from livedesk.backend.trading.orders import estimate_commission

__all__ = [
    "Event",
    "FillEvent",
    "OrderReject",
    "OrderUpdate",
    "PortfolioChanged",
    "SimBroker",
    "contract_of",
]

NEW_YORK = ZoneInfo("America/New_York")
FOREX_COMMISSION_RATE, FOREX_MIN_COMMISSION = 0.2e-4, 2.0


def ib_commission(inst: Instrument, qty: float, price: float) -> float:
    """IB-style fixed commissions: per share with a minimum and a maximum, per contract for
    derivatives; forex 0.2 bps of the value, at least $2."""
    if inst.sec_type == "CASH":
        return max(FOREX_COMMISSION_RATE * abs(qty * price * inst.multiplier), FOREX_MIN_COMMISSION)
    return estimate_commission(inst.sec_type, qty, price, inst.multiplier)


def execution_time(epoch: float) -> dt.datetime:
    """An execution timestamp in New York time, as TWS reports it."""
    return dt.datetime.fromtimestamp(epoch, NEW_YORK).replace(microsecond=0)


@dataclass
class SimBroker(OrderLifecycle):
    """Orders, executions and the account of the simulated gateway."""

    market: MarketModel
    account: SimAccount = field(default_factory=SimAccount)
    engine: MatchingEngine = field(default_factory=MatchingEngine)
    read_only: bool = False
    next_perm_id: int = 1_000_001
    next_exec_seq: int = 1
    orders: dict[tuple[int, int], SimOrder] = field(default_factory=dict)
    executions: list[FillEvent] = field(default_factory=list)
    used_ids: dict[int, int] = field(default_factory=dict)
    reject_next: list[str] = field(default_factory=list)
    partial_next: int = 0
    latency: float = 0.0
    margin_for: Callable[[Holding], MarginFn] | None = None
    on_change: Callable[[], None] | None = None
    margin_model: MarginModel | None = None
    settlement: str = "physical"
    settled_session: dt.date | None = None

    def __post_init__(self) -> None:
        if self.margin_model is None:
            self.margin_model = MarginModel(self.instrument)

    # ---- market access -------------------------------------------------------------
    def instrument(self, con_id: int) -> Instrument | None:
        """The instrument with this conId, if the simulated market lists it."""
        return self.market.registry.by_con_id(con_id)

    def touch(self, inst: Instrument, now: float) -> Touch:
        """The top of book for ``inst`` at ``now``."""
        q = self.market.quote(inst.con_id, now)
        return Touch(q.bid, q.ask, q.bid_size, q.ask_size, q.last, inst.min_tick)

    def mark(self, con_id: int, now: float) -> float:
        """Mark price used for valuation (the last trade)."""
        return self.market.last_price(con_id, now)

    def marks(self, now: float) -> dict[int, float]:
        """Mark prices of every holding."""
        return {cid: self.mark(cid, now) for cid in self.account.holdings}

    def _margin_fn(self, h: Holding) -> MarginFn:
        return self.margin_for(h) if self.margin_for else stock_margin

    def account_values(self, now: float, account: SimAccount | None = None) -> dict[str, float]:
        """IB account values at ``now`` (of ``account``, a trial copy, when given)."""
        acct = account or self.account
        prices = {cid: self.mark(cid, now) for cid in acct.holdings}
        return acct.values(prices, self._margin_fn, margin=self.margin_of(acct, prices, now))

    def margin_of(self, account: SimAccount, prices: dict[int, float], now: float):
        """Portfolio margin of ``account`` (see :mod:`livedesk.backend.sim.broker.margin`)."""
        if self.margin_for is not None:
            return account.margin(prices, self._margin_fn)
        return self.margin_model.margin(
            account.holdings.values(), prices, lambda cid: self.mark(cid, now)
        )

    def expired(self, inst: Instrument, now: float | None = None) -> bool:
        """Whether a dated contract can no longer trade (its last day is over)."""
        if not inst.last_trade_date:
            return False
        last = inst.last_trade_date[:8]
        today = f"{self.market.session:%Y%m%d}"
        if last < today:
            return True
        return last == today and now is not None and now >= self.market.session_close()

    def is_open(self, now: float) -> bool:
        """Whether the simulated exchange is in its regular session."""
        return self.market.session_open() <= now < self.market.session_close()

    # ---- orders ------------------------------------------------------------------
    def validate(
        self, client_id: int, order_id: int, contract: Contract, order: Order, now: float
    ) -> Instrument:
        """Check an order as a gateway would; raise :class:`OrderReject` with IB's code."""
        self._check_read_only()
        order_types.check_bounds(order)
        if contract.secType == "BAG":
            raise ValueError("use validate_combo for BAG contracts")
        inst = self.instrument(contract.conId) if contract.conId else None
        if inst is None:
            found = self.market.registry.find(
                contract.symbol, contract.secType or "STK", currency=contract.currency or None
            )
            if len(found) > 1:
                raise OrderReject(
                    200, f"The contract description specified for {contract.symbol} is ambiguous."
                )
            if not found:
                raise no_definition()
            inst = found[0]
            if inst.sec_type == "CONTFUT":  # the order trades the front month itself
                inst = self.instrument(inst.con_id)
        validation.check_contract(contract, inst)
        if self.expired(inst, now):
            raise rejected(f"The contract {inst.local_symbol or inst.symbol} has expired")
        if inst.sec_type == "IND":
            raise rejected(f"{inst.symbol} is an index: indices cannot be traded")
        self._check_order(order, now=now)
        validation.check_quantity(float(order.totalQuantity))
        validation.check_prices(order, inst)
        if self.reject_next:
            raise OrderReject(201, f"Order rejected - reason:{self.reject_next.pop(0)}")
        self._check_buying_power(
            [(inst, self._side(order) * float(order.totalQuantity), self.mark(inst.con_id, now))],
            now,
        )
        return inst

    def _check_read_only(self) -> None:
        if self.read_only:
            raise OrderReject(
                321,
                "Error validating request.-'bW' : cause - The API interface is currently in Read-Only mode.",
            )

    @staticmethod
    def _side(order: Order) -> int:
        return 1 if order.action.upper() == "BUY" else -1

    def _check_order(self, order: Order, combo: bool = False, now: float = 0.0) -> None:
        order_types.check_bounds(order)
        qty = float(order.totalQuantity)
        if not math.isfinite(qty) or qty <= 0:
            raise OrderReject(434, "The order size cannot be zero or negative.")
        if order.action.upper() not in ("BUY", "SELL"):
            raise OrderReject(
                321, f"Error validating request.-'bK' : cause - Invalid side: {order.action!r}"
            )
        order_types.check_type_and_tif(order, now)
        for name, required in order_types.priced_fields(order.orderType):
            if combo:
                break
            price = float(getattr(order, name))
            if not required and not order_types.is_set(price):
                continue
            if not math.isfinite(price) or price <= 0 or price >= 1e307:
                raise OrderReject(
                    110,
                    f"The price does not conform to the minimum price variation for this contract: {name}={price}",
                )

    def check_what_if(self, contract: Contract, order: Order, inst: Instrument, now: float) -> None:
        """The checks a what-if order gets (everything but margin: what-if reports it)."""
        order_types.check_bounds(order)
        if inst.sec_type == "IND":
            raise rejected(f"{inst.symbol} is an index: indices cannot be traded")
        self._check_order(order, now=now)
        validation.check_order(contract, order, inst)

    def check_what_if_combo(self, order: Order, now: float) -> None:
        """The order checks of a what-if BAG order (its legs are checked by the caller)."""
        self._check_order(order, combo=True, now=now)

    def validate_combo(self, contract: Contract, order: Order, now: float) -> list[combos.Leg]:
        """Check a BAG order against IB's combo rules; raise :class:`OrderReject`."""
        self._check_read_only()
        order_types.check_bounds(order)
        legs = combos.resolve_legs(contract, self.instrument, lambda i: self.expired(i, now))
        self._check_order(order, combo=True, now=now)
        validation.check_quantity(float(order.totalQuantity))
        combos.check_order(legs, order)
        if self.reject_next:
            raise OrderReject(201, f"Order rejected - reason:{self.reject_next.pop(0)}")
        side, qty = self._side(order), float(order.totalQuantity)
        self._check_buying_power(
            [
                (leg.inst, side * leg.sign * leg.ratio * qty, self.mark(leg.inst.con_id, now))
                for leg in legs
            ],
            now,
        )
        return legs

    def trial(
        self, fills: list[tuple[Instrument, float, float]], commission: bool = False
    ) -> SimAccount:
        """A copy of the account after hypothetical fills ``(instrument, signed qty, price)``."""
        trial = self.account.copy()
        for inst, signed, price in fills:
            fee = ib_commission(inst, abs(signed), price) if commission else 0.0
            trial.apply_fill(inst.con_id, signed, price, inst.multiplier, fee)
        return trial

    def _check_buying_power(self, fills: list[tuple[Instrument, float, float]], now: float) -> None:
        grows = False
        for inst, signed, _ in fills:
            held = self.account.position(inst.con_id)
            new_qty = held + signed
            grows = grows or not (abs(new_qty) <= abs(held) and new_qty * held >= 0)
        if not grows:
            return  # reducing exposure never needs margin
        trial = self.trial(fills)
        prices = {cid: self.mark(cid, now) for cid in trial.holdings}
        nlv = trial.net_liquidation(prices)
        need = self.margin_of(trial, prices, now).initial
        if not need <= nlv:  # NaN-safe: an undefined margin never passes
            raise OrderReject(
                201,
                "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED "
                f"POSITION YOUR EQUITY WITH LOAN VALUE [{nlv:,.2f} USD] MUST EXCEED THE INITIAL "
                f"MARGIN [{need:,.2f} USD]",
            )

    def place(
        self, client_id: int, order_id: int, contract: Contract, order: Order, now: float
    ) -> list[Event]:
        """Accept a new order or modify a working one; returns the events to publish."""
        existing = self.orders.get((client_id, order_id))
        if existing is not None and not existing.is_working:
            raise OrderReject(103, f"Duplicate order id: {order_id}")
        if existing is None:
            validation.check_order_id(order_id, self.used_ids.get(client_id, 0))
        legs: list[combos.Leg] = []
        if contract.secType == "BAG":
            legs = self.validate_combo(contract, order, now)
            qualified = contract
        else:
            qualified = contract_of(self.validate(client_id, order_id, contract, order, now))
        if existing is not None:
            return self._modify(existing, order, now)
        order.orderId = order_id
        order.clientId = client_id
        order.tif = order.tif or "DAY"
        so = SimOrder(order_id, client_id, self.next_perm_id, qualified, order, now, legs=legs)
        so.held = links.admit(self.orders, so)
        order.permId = self.next_perm_id
        self.next_perm_id += 1
        so.not_before = now + self.latency
        if self.partial_next > 0:
            self.partial_next -= 1
            so.chunk = max(1.0, math.ceil(float(order.totalQuantity) / 3))
        self.orders[(client_id, order_id)] = so
        self.used_ids[client_id] = max(self.used_ids.get(client_id, 0), order_id)
        group = [so] + (links.release(self.orders, so) if order.transmit else [])
        for o in group:
            o.status = "Submitted" if self._live(o, now) else "PreSubmitted"
        events: list[Event] = [OrderUpdate(o) for o in group]
        for o in group:
            events += self._match(o, now)
        self._changed()
        return events

    def _modify(self, so: SimOrder, new: Order, now: float) -> list[Event]:
        if float(new.totalQuantity) < so.filled:
            raise OrderReject(
                10148, "OrderId that needs to be modified cannot be modified: quantity below filled"
            )
        if new.orderType != so.order.orderType:
            raise OrderReject(105, "Order being modified does not match original order: order type")
        for name in (
            "totalQuantity", "lmtPrice", "auxPrice", "tif", "outsideRth", "orderRef",
            "trailingPercent", "lmtPriceOffset", "goodTillDate", "transmit",
        ):  # fmt: skip
            setattr(so.order, name, getattr(new, name))
        group = [so] + (links.release(self.orders, so) if new.transmit else [])
        for o in group:
            o.status = "Submitted" if self._live(o, now) else "PreSubmitted"
        events: list[Event] = [OrderUpdate(o) for o in group]
        for o in group:
            events += self._match(o, now)
        self._changed()
        return events

    def cancel(self, client_id: int, order_id: int) -> list[Event]:
        """Cancel a working order; raise 10147 for an unknown id, 161 if it cannot be cancelled."""
        so = self.orders.get((client_id, order_id))
        if so is None:
            raise OrderReject(10147, f"OrderId {order_id} that needs to be cancelled is not found.")
        if not so.is_working:
            raise OrderReject(
                161,
                f"Cancel attempted when order is not in a cancellable state. Order permId ={so.perm_id}",
            )
        events = self._cancel(so)
        self._changed()
        return events

    def global_cancel(self) -> list[Event]:
        """Cancel every working order of every client."""
        events: list[Event] = []
        for so in self.orders.values():
            if so.is_working:
                so.status = "Cancelled"
                events.append(OrderUpdate(so))
        if events:
            self._changed()
        return events

    def working(self) -> list[SimOrder]:
        """Orders that can still fill."""
        return [o for o in self.orders.values() if o.is_working]

    def roll_session(self, close: float) -> None:
        """Start a new session's books (before the market rolls): daily PnL and realized PnL
        restart from the marks at the last ``close``; finished orders and the previous
        session's executions are dropped (the order-id watermark stays)."""
        self.account.roll_session({cid: self.mark(cid, close) for cid in self.account.holdings})
        self.orders = {key: so for key, so in self.orders.items() if so.is_working}
        self.executions = []
        self._changed()

    def settle_expired(self, now: float, cash: bool | None = None) -> list[Event]:
        """Settle options and futures whose last trading day ended at or before ``now``.

        Options settle at intrinsic value: physically (``settlement="physical"``, the default)
        into 100 shares per contract bought or sold at the strike, or in ``cash``; out-of-the-
        money options expire worthless.  Futures are cash-settled at the final price.  Working
        orders on the settled contracts are cancelled.  Runs once per session.
        """
        if now < self.market.session_close():
            return []
        self.settled_session = self.market.session
        cash = self.settlement == "cash" if cash is None else cash
        close = self.market.session_close()
        events: list[Event] = []
        changed: list[int] = []
        for h in list(self.account.holdings.values()):
            inst = self.instrument(h.con_id)
            if h.qty == 0 or inst is None or not self.expired(inst, now):
                continue
            qty = h.qty
            if inst.sec_type == "FUT":
                final = self.market.last_price(inst.con_id, close)
                self.account.apply_fill(inst.con_id, -qty, final, inst.multiplier, 0.0)
            elif inst.sec_type == "OPT":
                und = self.market.last_price(inst.underlying_con_id, close)
                value = (
                    max(und - inst.strike, 0.0)
                    if inst.right == "C"
                    else max(inst.strike - und, 0.0)
                )
                und_inst = self.instrument(inst.underlying_con_id)
                if cash or value <= 0 or und_inst.sec_type == "IND":  # indices settle in cash
                    self.account.apply_fill(inst.con_id, -qty, value, inst.multiplier, 0.0)
                else:
                    self.account.apply_fill(inst.con_id, -qty, 0.0, inst.multiplier, 0.0)
                    shares = qty * inst.multiplier * (1 if inst.right == "C" else -1)
                    self.account.apply_fill(und_inst.con_id, shares, inst.strike, 1.0, 0.0)
                    changed.append(und_inst.con_id)
            else:
                continue
            changed.append(inst.con_id)
        gone = {cid for cid in changed if self.expired(self.instrument(cid), now)}
        for so in self.working():  # orders on the settled contracts, not on their underlyings
            if any(leg.inst.con_id in gone for leg in so.legs) or so.contract.conId in gone:
                so.status = "Cancelled"
                events.append(OrderUpdate(so))
        if changed:
            events.append(PortfolioChanged(tuple(dict.fromkeys(changed))))
            self._changed()
        return events

    def _match_combo(self, so: SimOrder, now: float) -> list[Event]:
        """Fill every leg of a BAG order at once, or nothing."""
        if not so.legs:
            so.legs = combos.resolve_legs(so.contract, self.instrument, lambda i: False)
        prices = combos.fill_prices(self.market, so.legs, so.sign, so.order, now)
        if prices is None:
            return []
        qty = so.remaining
        events: list[Event] = []
        fills = []
        for leg, price in zip(so.legs, prices, strict=True):
            leg_qty = leg.ratio * qty
            side = so.sign * leg.sign
            prior = [
                f for f in self.executions if f.order is so and f.contract.conId == leg.inst.con_id
            ]
            cum = sum(f.execution.shares for f in prior) + leg_qty
            avg = (
                sum(f.execution.shares * f.execution.price for f in prior) + leg_qty * price
            ) / cum
            fills.append((leg, leg_qty, price, side, cum, avg))
        so.book_fill(qty, combos.net_price(so.legs, prices))
        for leg, leg_qty, price, side, cum, avg in fills:
            events.append(self._record(so, leg.inst, leg_qty, price, side, now, cum, avg))
        events.append(OrderUpdate(so))
        events.append(PortfolioChanged(tuple(leg.inst.con_id for leg in so.legs)))
        return events

    def _execute(
        self, so: SimOrder, inst: Instrument, qty: float, price: float, now: float
    ) -> FillEvent:
        so.book_fill(qty, price)
        return self._record(so, inst, qty, price, so.sign, now, so.filled, so.avg_fill_price)

    def _record(
        self,
        so: SimOrder,
        inst: Instrument,
        qty: float,
        price: float,
        side: int,
        now: float,
        cum_qty: float,
        avg_price: float,
    ) -> FillEvent:
        """Book one execution of ``qty`` of ``inst`` (side +1 bought, -1 sold) for ``so``."""
        commission = ib_commission(inst, qty, price)
        so.commission += commission
        realized = self.account.apply_fill(
            inst.con_id, side * qty, price, inst.multiplier, commission
        )
        exec_id = f"{so.perm_id:08x}.{self.next_exec_seq:08x}.01.01"
        self.next_exec_seq += 1
        ex = Execution(
            execId=exec_id,
            time=execution_time(now),
            acctNumber=self.account.account_id,
            exchange=inst.primary_exchange if inst.sec_type in ("STK", "OPT") else inst.exchange,
            side="BOT" if side > 0 else "SLD",
            shares=qty,
            price=price,
            permId=so.perm_id,
            clientId=so.client_id,
            orderId=so.order_id,
            cumQty=cum_qty,
            avgPrice=avg_price,
            orderRef=so.order.orderRef or "",
            lastLiquidity=2 if so.order.orderType == "LMT" else 1,
        )
        report = CommissionReport(
            execId=exec_id,
            commission=round(commission, 6),
            currency=self.account.currency,
            realizedPNL=realized if realized else 1.7976931348623157e308,
            yield_=1.7976931348623157e308,
            yieldRedemptionDate=0,
        )
        contract = so.contract if so.contract.conId == inst.con_id else contract_of(inst)
        fe = FillEvent(so, contract, ex, report)
        self.executions.append(fe)
        return fe

    def executions_matching(self, client_id: int, flt: ExecutionFilter) -> list[FillEvent]:
        """Today's executions that pass an IB ExecutionFilter. As TWS does, the account's
        executions of every client id pass an empty filter (``clientId`` 0);
        ``client_id`` (the requester) does not narrow them."""
        out = []
        for fe in self.executions:
            ex, c = fe.execution, fe.contract
            if flt.clientId and ex.clientId != flt.clientId:
                continue
            if flt.acctCode and flt.acctCode != ex.acctNumber:
                continue
            if flt.symbol and flt.symbol.upper() != c.symbol:
                continue
            if flt.secType and flt.secType.upper() != c.secType:
                continue
            if flt.exchange and flt.exchange.upper() not in (ex.exchange, c.exchange):
                continue
            if flt.side and flt.side.upper()[0] != ex.side[0]:
                continue
            if flt.time and ex.time.strftime("%Y%m%d %H:%M:%S") < flt.time[:17]:
                continue
            out.append(fe)
        return out

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()


def contract_of(inst: Instrument) -> Contract:
    """The fully qualified ib_async Contract of a simulated instrument."""
    return Contract(
        secType=inst.sec_type,
        conId=inst.con_id,
        symbol=inst.symbol,
        lastTradeDateOrContractMonth=inst.last_trade_date,
        strike=inst.strike,
        right=inst.right,
        multiplier=""
        if inst.multiplier == 1 and inst.sec_type == "STK"
        else f"{inst.multiplier:g}",
        exchange=inst.exchange,
        primaryExchange=inst.primary_exchange,
        currency=inst.currency,
        localSymbol=inst.local_symbol or inst.symbol,
        tradingClass=inst.trading_class or inst.symbol,
    )
