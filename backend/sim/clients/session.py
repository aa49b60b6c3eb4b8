"""One API client of the simulated gateway: request dispatch, subscriptions and streams.

The socket side — handshake bytes, framing limits, arrival timestamps, the output buffer and
its backpressure — is :mod:`livedesk.backend.sim.clients.transport`.  The handlers are grouped by
concern: contracts, orders, dispatch and streaming here; market data in
:mod:`~livedesk.backend.sim.clients.market_requests`; positions, account values and PnL in
:mod:`~livedesk.backend.sim.clients.account_requests` (mixins of :class:`ClientSession`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from ib_async import Contract, ContractDetails, OrderState

from livedesk.backend.sim.broker import combos
from livedesk.backend.sim.broker.book import FillEvent, OrderReject, contract_of
from livedesk.backend.sim.broker.matching import SimOrder
from livedesk.backend.sim.clients.account_requests import AccountRequests
from livedesk.backend.sim.clients.data_requests import DataRequests
from livedesk.backend.sim.clients.market_requests import BarSub, MarketDataRequests, MarketDataSub
from livedesk.backend.sim.clients.pacing import HistoricalPacer, MessagePacer
from livedesk.backend.sim.control.faults import CONTROL_MSG_ID
from livedesk.backend.sim.market import rules
from livedesk.backend.sim.market.history import NEW_YORK, HistoryError
from livedesk.backend.sim.market.instruments import Instrument
from livedesk.backend.sim.protocol import messages as m
from livedesk.backend.sim.protocol import requests as rq
from livedesk.backend.sim.protocol.versions import (
    LATEST,
    Protocol,
    VersionRefused,
    negotiate,
    protocol,
)
from livedesk.backend.sim.protocol.wire import encode_frame

if TYPE_CHECKING:
    from livedesk.backend.sim.clients.transport import Connection
    from livedesk.backend.sim.gateway import SimGateway

log = logging.getLogger("livedesk.sim.session")

NYMEX_HOURS = "{prev:%Y%m%d}:1800-{day:%Y%m%d}:1700"


class ClientSession(MarketDataRequests, AccountRequests, DataRequests):
    """Serves one API client: its requests, subscriptions and streams.

    The bytes (handshake, framing, limits, output buffer) are the job of its
    :class:`~livedesk.backend.sim.clients.transport.Connection`, which calls :meth:`on_handshake`,
    :meth:`on_frame` and :meth:`on_closed`.  One socket carries one client id: a second
    ``startApi`` is refused, and the id is released whenever the socket closes.
    """

    def __init__(self, gw: SimGateway, conn: Connection) -> None:
        self.gw = gw
        self.conn = conn
        self.client_id = -1
        self.proto: Protocol = LATEST  # the negotiated version's rules, set at the handshake
        self.started = False
        self.conflated = 0
        self.market_data_type = 1
        self.mkt: dict[int, MarketDataSub] = {}
        self.bars: dict[int, BarSub] = {}
        self.account_updates = False
        self.positions_sub = False
        self.multi: dict[int, str] = {}
        self.summary: dict[int, tuple[str, ...]] = {}
        self.pnl: set[int] = set()
        self.pnl_single: dict[int, int] = {}
        self.pacer = MessagePacer()
        self.hist_pacer = HistoricalPacer()
        self.closed = False
        self.init_data()
        self._out: list[bytes] = []
        self._handlers = {
            rq.ReqMktData: self.on_mkt_data,
            rq.CancelMktData: self.on_cancel_mkt_data,
            rq.PlaceOrder: self.on_place_order,
            rq.CancelOrder: self.on_cancel_order,
            rq.ReqOpenOrders: self.on_open_orders,
            rq.ReqAllOpenOrders: self.on_open_orders,
            rq.ReqAutoOpenOrders: lambda r: None,
            rq.ReqAccountUpdates: self.on_account_updates,
            rq.ReqExecutions: self.on_executions,
            rq.ReqIds: self.on_req_ids,
            rq.ReqContractDetails: self.on_contract_details,
            rq.ReqManagedAccts: self.on_managed,
            rq.ReqHistoricalData: self.on_historical,
            rq.CancelHistoricalData: self.on_cancel_historical,
            rq.ReqCurrentTime: self.on_current_time,
            rq.ReqGlobalCancel: self.on_global_cancel,
            rq.ReqMarketDataType: self.on_market_data_type,
            rq.ReqPositions: self.on_positions,
            rq.CancelPositions: self.on_cancel_positions,
            rq.ReqAccountSummary: self.on_account_summary,
            rq.CancelAccountSummary: self.on_cancel_summary,
            rq.ReqAccountUpdatesMulti: self.on_multi,
            rq.CancelAccountUpdatesMulti: self.on_cancel_multi,
            rq.ReqPositionsMulti: self.on_positions_multi,
            rq.CancelPositionsMulti: lambda r: None,
            rq.ReqPnL: self.on_pnl,
            rq.CancelPnL: self.on_cancel_pnl,
            rq.ReqPnLSingle: self.on_pnl_single,
            rq.CancelPnLSingle: self.on_cancel_pnl_single,
            rq.ReqCompletedOrders: self.on_completed,
            rq.ReqHeadTimestamp: self.on_head_timestamp,
            rq.CancelHeadTimestamp: lambda r: None,
            rq.ReqUserInfo: self.on_user_info,
            rq.ReqSecDefOptParams: self.on_sec_def_opt_params,
            **self.data_handlers(),
        }

    # ---- output ----------------------------------------------------------------------
    def send(self, fields: list) -> None:
        """Encode and queue one message (dropped while the gateway is silent)."""
        if self.closed or self.gw.silent:
            return
        if not self._out:
            asyncio.get_running_loop().call_soon(self.flush)
        self._out.append(encode_frame(fields))

    def send_frame(self, frame: bytes) -> None:
        """Queue one frame already encoded (:mod:`~livedesk.backend.sim.protocol.fast_frames`)."""
        if self.closed or self.gw.silent:
            return
        if not self._out:
            asyncio.get_running_loop().call_soon(self.flush)
        self._out.append(frame)

    def flush(self) -> None:
        """Write every frame queued in this loop iteration with one socket write."""
        if self._out and not self.closed:
            self.conn.write(b"".join(self._out))
        self._out.clear()

    def send_error(self, req_id: int, code: int, msg: str, force: bool = False) -> None:
        """Send an error or notice."""
        if force and self.gw.silent:
            return
        self.send(m.error(req_id, code, msg, proto=self.proto))

    def close(self) -> None:
        """Drop the connection (frames already queued are sent first)."""
        if not self.closed:
            self.flush()
            self.closed = True
            self.conn.close()

    # ---- lifecycle (called by the connection) ------------------------------------------
    def on_handshake(self, min_version: int, max_version: int) -> list | None:
        """The reply to the client's version range, or None (after error 530) to refuse it."""
        try:
            version = negotiate(min_version, max_version)
        except VersionRefused as exc:
            log.warning("refusing client v%d..v%d: %s", min_version, max_version, exc)
            self.conn.write_frames([m.error(-1, exc.code, str(exc), proto=None)])
            return None
        self.proto = protocol(version)
        now = dt.datetime.fromtimestamp(self.gw.now(), NEW_YORK)
        return [version, now.strftime("%Y%m%d %H:%M:%S US/Eastern")]

    def on_closed(self) -> None:
        """The socket is gone (whatever way it closed): release the client id."""
        self.closed = True
        self._out.clear()
        self.gw.unregister(self)

    def on_frame(self, fields: list[str], arrival: float) -> None:
        """Serve one request frame; ``arrival`` is when it was read off the socket."""
        if fields and fields[0] == str(CONTROL_MSG_ID):
            self.conn.api_started()
            self._control(fields[1:])
            return
        if self.gw.silent:
            return
        verdict = self.pacer.record(arrival)
        if verdict:
            self.send_error(
                -1,
                100,
                f"Max rate of messages per second has been exceeded:max=50 rec={len(self.pacer.times)} (1)",
            )
            if verdict == "disconnect":
                log.warning("client %d disconnected for repeated pacing violations", self.client_id)
                self.close()
                return
        try:
            req = rq.parse_request(fields, proto=self.proto)
        except rq.RequestError as exc:
            self.send_error(exc.req_id, exc.code, exc.msg)
            return
        except Exception:  # a parser bug must not take the connection down
            log.exception("could not parse request %s", fields[:2])
            self.send_error(-1, 320, "Error reading request: malformed message")
            return
        if isinstance(req, rq.StartApi):
            self._start_api(req)
            return
        if not self.started:
            self.send_error(
                -1, 321, "Error validating request: the API has not been started (startApi)"
            )
            return
        handler = self._handlers.get(type(req))
        if handler is None:
            self.send_error(
                -1, 321, f"Error validating request: {type(req).__name__} is not supported"
            )
            return
        try:
            handler(req)
        except OrderReject as exc:
            self.send_error(
                getattr(req, "order_id", getattr(req, "req_id", -1)), exc.code, exc.message
            )
        except HistoryError as exc:
            self.send_error(getattr(req, "req_id", -1), 321, f"Error validating request: {exc}")
        except Exception:  # the gateway must never crash on a client's request
            log.exception("request %s failed", type(req).__name__)
            self.send_error(
                getattr(req, "req_id", -1), 320, "Error reading request: internal error"
            )

    def _control(self, fields: list[str]) -> None:
        refusal = self.gw.faults.refusal(self.conn.peer)
        if refusal:
            self.conn.write_frames([[CONTROL_MSG_ID, "error", refusal]])
            return
        self.gw.track(asyncio.ensure_future(self._run_control(fields)))

    async def _run_control(self, fields: list[str]) -> None:
        try:
            reply = await self.gw.faults.control(fields[0] if fields else "status", fields[1:])
            frame = [CONTROL_MSG_ID, "ok", reply]
        except (ValueError, IndexError) as exc:
            frame = [CONTROL_MSG_ID, "error", str(exc)]
        self.conn.write_frames([frame])

    def _start_api(self, req: rq.StartApi) -> None:
        if self.started:
            self.send_error(
                -1,
                321,
                "Error validating request: the API is already started on this connection "
                f"(client id {self.client_id}); one client id per socket",
            )
            return
        self.client_id = req.client_id
        if not self.gw.register(self):
            self.send_error(
                -1,
                326,
                "Unable to connect as the client id is already in use. Retry with a unique client id.",
            )
            self.flush()
            self.closed = True
            self.conn.close_later(0.05)
            return
        self.started = True
        self.conn.api_started()
        self.send(m.managed_accounts([self.gw.broker.account.account_id]))
        self.send(m.next_valid_id(self.gw.next_order_id()))
        for code, text in (
            (2104, "Market data farm connection is OK:usfarm"),
            (2106, "HMDS data farm connection is OK:ushmds"),
            (2158, "Sec-def data farm connection is OK:secdefnj"),
        ):
            self.send_error(-1, code, text)

    # ---- contracts ---------------------------------------------------------------------
    def resolve(self, c: Contract, req_id: int) -> Instrument:
        """The one instrument a request's contract names; OrderReject(200) otherwise."""
        reg = self.gw.market.registry
        if c.conId:
            inst = reg.by_con_id(c.conId)
            if inst is None:
                raise OrderReject(200, "No security definition has been found for the request")
            return inst
        found = self._candidates(c)
        if not found:
            raise OrderReject(200, "No security definition has been found for the request")
        if len(found) > 1:
            raise OrderReject(
                200, f"The contract description specified for {c.symbol} is ambiguous."
            )
        return found[0]

    def _candidates(self, c: Contract) -> list[Instrument]:
        kw = {}
        when = c.lastTradeDateOrContractMonth
        if when and c.secType == "FUT" and len(when) == 6:
            kw["contract_month"] = when
        elif when:
            kw["last_trade_date"] = when
        if c.strike:
            kw["strike"] = float(c.strike)
        if c.right:
            kw["right"] = c.right[0].upper()
        if c.localSymbol:
            kw["local_symbol"] = c.localSymbol
        if c.tradingClass:
            kw["trading_class"] = c.tradingClass
        return self.gw.market.registry.find(
            c.symbol or "",
            c.secType or None,
            currency=c.currency or None,
            exchange=None if c.exchange in ("", "SMART") else c.exchange,
            **kw,
        )

    def details(self, inst: Instrument) -> ContractDetails:
        """ContractDetails of an instrument, with its trading hours."""
        day = self.gw.market.session
        o = dt.datetime.fromtimestamp(self.gw.market.session_open(), NEW_YORK)
        c = dt.datetime.fromtimestamp(self.gw.market.session_close(), NEW_YORK)
        hours = f"{day:%Y%m%d}:{o:%H%M}-{day:%Y%m%d}:{c:%H%M}"
        liquid = hours
        if inst.sec_type == "FUT":
            prev = self.gw.market.sessions[-2].date()
            hours = NYMEX_HOURS.format(prev=prev, day=day)
        under = (
            self.gw.market.registry.by_con_id(inst.underlying_con_id)
            if inst.underlying_con_id
            else None
        )
        exchanges = {
            "STK": f"SMART,{inst.primary_exchange}",
            "OPT": "SMART,CBOE,AMEX,ISE,PHLX",
        }
        valid = exchanges.get(inst.sec_type, inst.exchange)
        return ContractDetails(
            contract=contract_of(inst),
            marketName=inst.trading_class or inst.symbol,
            minTick=inst.min_tick,
            orderTypes=rules.ORDER_TYPES,
            validExchanges=valid,
            marketRuleIds=rules.rule_ids(inst, valid),
            underConId=inst.underlying_con_id,
            underSymbol=under.symbol if under else "",
            underSecType=under.sec_type if under else "",
            priceMagnifier=1,
            longName=inst.long_name,
            industry=inst.industry,
            category=inst.category,
            timeZoneId="US/Eastern",
            tradingHours=hours,
            liquidHours=liquid,
            aggGroup=1,
            stockType="COMMON" if inst.sec_type == "STK" else "",
            minSize=1.0,
            sizeIncrement=1.0,
            suggestedSizeIncrement=100.0 if inst.sec_type == "STK" else 1.0,
            contractMonth=inst.contract_month or inst.last_trade_date[:6],
            realExpirationDate=inst.last_trade_date,
        )

    def on_contract_details(self, req: rq.ReqContractDetails) -> None:
        c = req.contract
        if c.conId:
            inst = self.gw.market.registry.by_con_id(c.conId)
            found = [inst] if inst else []
        else:
            found = self._candidates(c)
        if not found:
            self.send_error(
                req.req_id, 200, "No security definition has been found for the request"
            )
            return
        for inst in found:
            self.send(m.contract_details(req.req_id, self.details(inst), proto=self.proto))
        self.send(m.contract_details_end(req.req_id))

    # ---- orders ------------------------------------------------------------------------
    def on_place_order(self, req: rq.PlaceOrder) -> None:
        if req.order.whatIf:
            self._what_if(req)
            return
        try:
            if req.contract.secType != "BAG":
                self.resolve(req.contract, req.order_id)
            events = self.gw.broker.place(
                self.client_id, req.order_id, req.contract, req.order, self.gw.now()
            )
        except OrderReject as exc:
            self.send_error(req.order_id, exc.code, exc.message)
            return
        self.gw.publish(events)

    def _what_if(self, req: rq.PlaceOrder) -> None:
        from livedesk.backend.sim.broker.whatif import what_if_fills, what_if_state

        broker = self.gw.broker
        now = self.gw.now()
        order = req.order
        if req.contract.secType == "BAG":
            broker.check_what_if_combo(order, now)
            legs = combos.resolve_legs(
                req.contract, broker.instrument, lambda i: broker.expired(i, now)
            )
            combos.check_order(legs, order)
            contract = req.contract
            units = [(leg.inst, leg.sign * leg.ratio) for leg in legs]
        else:
            inst = self.resolve(req.contract, req.order_id)
            contract = contract_of(inst)
            units = [(inst, 1.0)]
        if req.contract.secType != "BAG":
            broker.check_what_if(req.contract, order, inst, now)
        before = broker.account_values(now)
        state = what_if_state(broker, what_if_fills(broker, units, order, now), now, before)
        order.orderId = req.order_id
        order.clientId = self.client_id
        self.send(m.open_order(contract, order, state, proto=self.proto))

    def on_cancel_order(self, req: rq.CancelOrder) -> None:
        try:
            events = self.gw.broker.cancel(self.client_id, req.order_id)
        except OrderReject as exc:
            self.send_error(req.order_id, exc.code, exc.message)
            return
        self.gw.publish(events)

    def on_global_cancel(self, req: rq.ReqGlobalCancel) -> None:
        self.gw.publish(self.gw.broker.global_cancel())

    def send_order(self, so: SimOrder) -> None:
        """openOrder + orderStatus for one order."""
        state = OrderState(
            status=so.status,
            commission=so.commission if so.filled else 1.7976931348623157e308,
            commissionCurrency=self.gw.broker.account.currency,
            warningText="",
        )
        self.send(m.open_order(so.contract, so.order, state, proto=self.proto))
        self.send(
            m.order_status(
                so.order_id,
                so.status,
                so.filled,
                so.remaining,
                so.avg_fill_price,
                so.perm_id,
                so.order.parentId,
                so.last_fill_price,
                so.client_id,
                so.why_held,
            )
        )

    def send_exec(self, fe: FillEvent, req_id: int = -1) -> None:
        """execDetails for one execution."""
        self.send(m.exec_details(req_id, fe.contract, fe.execution, proto=self.proto))

    def send_commission(self, fe: FillEvent) -> None:
        """commissionReport for one execution."""
        r = fe.report
        realized = None if r.realizedPNL >= 1e307 else r.realizedPNL
        self.send(m.commission_report(r.execId, r.commission, r.currency, realized))

    def on_open_orders(self, req) -> None:
        for so in self.gw.broker.working():
            if (
                so.client_id == self.client_id
                or self.client_id == 0
                or isinstance(req, rq.ReqAllOpenOrders)
            ):
                self.send_order(so)
        self.send(m.open_order_end())

    def on_completed(self, req: rq.ReqCompletedOrders) -> None:
        for so in self.gw.broker.orders.values():
            if not so.is_working:
                state = OrderState(
                    status=so.status,
                    completedStatus=so.status,
                    completedTime=dt.datetime.fromtimestamp(so.submitted_at, NEW_YORK).strftime(
                        "%Y%m%d %H:%M:%S America/New_York"
                    ),
                )
                self.send(m.completed_order(so.contract, so.order, state, proto=self.proto))
        self.send(m.completed_orders_end())

    def on_executions(self, req: rq.ReqExecutions) -> None:
        for fe in self.gw.broker.executions_matching(self.client_id, req.exec_filter):
            self.send_exec(fe, req.req_id)
            self.send_commission(fe)
        self.send(m.exec_details_end(req.req_id))

    def on_req_ids(self, req: rq.ReqIds) -> None:
        self.send(m.next_valid_id(self.gw.next_order_id()))

    def on_current_time(self, req: rq.ReqCurrentTime) -> None:
        self.send(m.current_time(int(self.gw.now())))

    def on_managed(self, req: rq.ReqManagedAccts) -> None:
        self.send(m.managed_accounts([self.gw.broker.account.account_id]))

    def on_user_info(self, req: rq.ReqUserInfo) -> None:
        self.send(m.user_info(req.req_id, proto=self.proto))

    # ---- streaming ---------------------------------------------------------------------
    def stream(self, now: float, push_account: bool) -> None:
        """Periodic streaming: ticks, bar updates, and (every account interval) PnL/values.

        While the client's output is backed up (see :mod:`~livedesk.backend.sim.clients.transport`)
        the pass is skipped: subscriptions remember what was last queued, so the next pass
        sends only the latest values and the superseded ones are never queued (conflation).
        """
        if not self.started or self.closed:
            return
        if self.conn.conflating:
            self.conflated += 1
            return
        for req_id, sub in self.mkt.items():
            self._push_ticks(req_id, sub, now)
        self.stream_data(now)
        for req_id, bs in self.bars.items():
            self.push_bar(req_id, bs, now)
        if not push_account:
            return
        for req_id in self.pnl:
            self._send_pnl(req_id, now)
        for req_id in self.pnl_single:
            self._send_pnl_single(req_id, now)
        if self.account_updates:
            acct = self.gw.broker.account
            for con_id in acct.holdings:
                self._send_portfolio_item(con_id, now)
            self._send_account_values(now)
            self.send(
                m.account_update_time(dt.datetime.fromtimestamp(now, NEW_YORK).strftime("%H:%M"))
            )
        for req_id in self.summary:
            self._send_summary(req_id, now)
