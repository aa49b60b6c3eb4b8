"""A notebook session with IB's own ``ibapi`` client (9.81 or 10.x) against a TWS port.

Used two ways by ``tests/test_sim_clients.py``:

* in-process, for the ``ibapi`` in the test environment (``ibapi-stable``, 10.x): the
  test calls :func:`run_notebook` in a worker thread while its event loop serves the
  simulated gateway;
* as a subprocess, ``python -m tests.ibapi_notebook HOST PORT``, for ``ibapi`` 9.81, which
  installs the same top-level module ``ibapi`` and so lives in its own directory on
  ``PYTHONPATH``. It prints the result as one JSON line.

``ibapi`` runs its reader and message loop in threads and calls the ``EWrapper`` methods
from the loop thread; every step here waits for its answer with a bounded timeout and
records a missing answer instead of hanging. Decoder failures are collected from the
``ibapi`` loggers (``diff len fields``, ``BadMessage``), from decoder error codes
(505, 507, 508) and from an exception escaping the message loop.
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
import threading
import time
import traceback
from collections import defaultdict
from decimal import Decimal

from ibapi.client import EClient
from ibapi.contract import ComboLeg, Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order
from ibapi.wrapper import EWrapper

DECODER_ERROR_CODES = {505, 507, 508}
DECODER_LOG_MARKERS = ("diff len fields", "BadMessage", "Bad message", "Error handling fields")
WEEKLY = "20261127"
"""An option expiry of the tests' fixed session (2026-11-20)."""


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.levelno >= logging.ERROR or any(m in text for m in DECODER_LOG_MARKERS):
            self.failures.append(f"{record.name}: {text[:500]}")


class NotebookApp(EWrapper, EClient):
    """EWrapper + EClient recording every answer the notebook waits for."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, self)
        self.cond = threading.Condition()
        self.done: set = set()
        self.data: dict = defaultdict(list)
        self.errors: list[tuple[int, int, str]] = []
        self.next_id = 0
        self.accounts = ""
        self.loop_error = ""

    # ---- waiting -------------------------------------------------------------------
    def mark(self, key, value=None) -> None:
        with self.cond:
            if value is not None:
                self.data[key].append(value)
            else:
                self.done.add(key)
            self.cond.notify_all()

    def wait(self, predicate, timeout: float, what: str, timeouts: list[str]) -> bool:
        with self.cond:
            ok = self.cond.wait_for(predicate, timeout)
        if not ok:
            timeouts.append(what)
        return ok

    # ---- EWrapper ------------------------------------------------------------------
    def error(self, reqId, *args) -> None:
        # 9.81: code, msg; early 10.x: code, msg, json; later 10.x: time, code, msg, json
        code, msg = (args[1], args[2]) if isinstance(args[1], int) else (args[0], args[1])
        with self.cond:
            self.errors.append((int(reqId), int(code), str(msg)))
            self.cond.notify_all()

    def nextValidId(self, orderId) -> None:
        self.next_id = int(orderId)
        self.mark("nextValidId")

    def managedAccounts(self, accountsList) -> None:
        self.accounts = accountsList
        self.mark("managedAccounts")

    def updateAccountValue(self, key, val, currency, accountName) -> None:
        self.mark("accountValue", (key, val, currency))

    def updatePortfolio(self, contract, position, *args) -> None:
        self.mark("portfolio", (contract.conId, float(position)))

    def accountDownloadEnd(self, accountName) -> None:
        self.mark("accountDownloadEnd")

    def position(self, account, contract, position, avgCost) -> None:
        self.mark("position", (contract.conId, float(position), float(avgCost)))

    def positionEnd(self) -> None:
        self.mark("positionEnd")

    def contractDetails(self, reqId, contractDetails) -> None:
        self.mark(("details", reqId), contractDetails)

    def contractDetailsEnd(self, reqId) -> None:
        self.mark(("detailsEnd", reqId))

    def historicalData(self, reqId, bar) -> None:
        self.mark(("bars", reqId), bar)

    def historicalDataEnd(self, reqId, start, end) -> None:
        self.mark(("barsEnd", reqId))

    def tickPrice(self, reqId, tickType, price, attrib) -> None:
        self.mark(("price", reqId), (int(tickType), float(price)))

    def tickSize(self, reqId, tickType, size) -> None:
        self.mark(("size", reqId), (int(tickType), float(size)))

    def tickOptionComputation(self, reqId, tickType, *args) -> None:
        # 9.81 and 10.x: tickAttrib, impliedVol, delta, optPrice, pvDividend, gamma, vega,
        # theta, undPrice
        self.mark(("greeks", reqId), (int(tickType), *[float(x) for x in args[1:]]))

    def openOrder(self, orderId, contract, order, orderState) -> None:
        self.mark(
            "openOrder",
            (int(orderId), contract.secType, order.orderType, float(order.totalQuantity),
             float(order.lmtPrice), orderState.status),
        )  # fmt: skip

    def openOrderEnd(self) -> None:
        self.mark("openOrderEnd")

    def orderStatus(self, orderId, status, filled, remaining, *args) -> None:
        self.mark(("status", int(orderId)), (status, float(filled), float(remaining)))

    def execDetails(self, reqId, contract, execution) -> None:
        ex = execution
        row = (int(reqId), int(ex.orderId), contract.conId, contract.secType, ex.execId,
               ex.side, float(ex.shares), float(ex.price))  # fmt: skip
        self.mark("exec", row)

    def execDetailsEnd(self, reqId) -> None:
        self.mark(("execEnd", reqId))

    def commissionReport(self, commissionReport) -> None:  # 9.81
        r = commissionReport
        self.mark("commission", (r.execId, float(r.commission), r.currency))

    def commissionAndFeesReport(self, commissionAndFeesReport) -> None:  # 10.x
        r = commissionAndFeesReport
        self.mark("commission", (r.execId, float(r.commissionAndFees), r.currency))

    def pnl(self, reqId, dailyPnL, unrealizedPnL, realizedPnL) -> None:
        self.mark(("pnl", reqId), (float(dailyPnL), float(unrealizedPnL), float(realizedPnL)))

    def securityDefinitionOptionParameter(
        self, reqId, exchange, underlyingConId, tradingClass, multiplier, expirations, strikes
    ) -> None:
        self.mark(("chain", reqId), (exchange, int(underlyingConId), sorted(expirations),
                                     sorted(float(s) for s in strikes)))  # fmt: skip

    def securityDefinitionOptionParameterEnd(self, reqId) -> None:
        self.mark(("chainEnd", reqId))

    def completedOrder(self, contract, order, orderState) -> None:
        self.mark("completed", (contract.secType, order.orderType, orderState.status,
                                float(order.totalQuantity), int(order.permId)))  # fmt: skip

    def completedOrdersEnd(self) -> None:
        self.mark("completedEnd")


def _stock(symbol: str) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


def _order(action: str, qty: float, order_type: str, limit: float | None = None) -> Order:
    o = Order()
    o.action, o.orderType = action, order_type
    o.totalQuantity = Decimal(str(qty)) if isinstance(o.totalQuantity, Decimal) else qty
    if limit is not None:
        o.lmtPrice = limit
    # IB's own defaults for these are rejected by current TWS builds
    o.eTradeOnly = False
    o.firmQuoteOnly = False
    return o


def _cancel(app: NotebookApp, order_id: int) -> None:
    params = inspect.signature(app.cancelOrder).parameters
    if len(params) == 1:  # 9.81
        app.cancelOrder(order_id)
        return
    try:
        from ibapi.order_cancel import OrderCancel
    except ImportError:  # 10.x before OrderCancel: cancelOrder(orderId, manualCancelOrderTime)
        app.cancelOrder(order_id, "")
        return
    app.cancelOrder(order_id, OrderCancel())


class Session:
    """One connected NotebookApp with its message loop thread."""

    def __init__(self, host: str, port: int, client_id: int, timeout: float) -> None:
        self.timeout = timeout
        self.timeouts: list[str] = []
        for attempt in range(3):
            self._start(host, port, client_id)
            if not self._refused():
                break
            # 326: the gateway has not yet seen the previous connection of this client id
            # close (a reconnect straight after a disconnect, as TWS answers it too): retry
            self.close()
            time.sleep(0.5 * (attempt + 1))
        self.wait(self._handshaken, "connect")
        self._req = 9000

    def _start(self, host: str, port: int, client_id: int) -> None:
        self.app = NotebookApp()
        self.app.connect(host, port, client_id)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _handshaken(self) -> bool:
        return {"nextValidId", "managedAccounts"} <= self.app.done

    def _in_use(self) -> bool:
        return any(code == 326 for _, code, _ in self.app.errors)

    def _refused(self) -> bool:
        """Wait for the handshake's answer; True when it was "client id in use" (326)."""
        self.app.wait(lambda: self._handshaken() or self._in_use(), self.timeout, "connect", [])
        with self.app.cond:
            return not self._handshaken() and self._in_use()

    def _run(self) -> None:
        try:
            self.app.run()
        except Exception:  # a decoder exception ends ibapi's loop: report it
            self.app.loop_error = traceback.format_exc()

    def wait(self, predicate, what: str, timeout: float | None = None) -> bool:
        # after a first timeout the session is broken: fail the remaining steps fast
        limit = 0.3 if self.timeouts else (timeout or self.timeout)
        return self.app.wait(predicate, limit, what, self.timeouts)

    def req_id(self) -> int:
        self._req += 1
        return self._req

    def order_id(self) -> int:
        self.app.next_id += 1
        return self.app.next_id - 1

    def errors_for(self, req_id: int) -> list[int]:
        with self.app.cond:
            return [code for rid, code, _ in self.app.errors if rid == req_id]

    def details(self, contract: Contract) -> list:
        rid = self.req_id()
        self.app.reqContractDetails(rid, contract)
        self.wait(
            lambda: ("detailsEnd", rid) in self.app.done or self.errors_for(rid),
            f"contractDetails {contract.symbol}",
        )
        return list(self.app.data[("details", rid)])

    def bars(self, contract: Contract, duration: str, size: str) -> list:
        rid = self.req_id()
        self.app.reqHistoricalData(rid, contract, "", duration, size, "TRADES", 1, 1, False, [])
        self.wait(lambda: ("barsEnd", rid) in self.app.done, f"bars {size}")
        return [
            (b.date, float(b.open), float(b.high), float(b.low), float(b.close), float(b.volume))
            for b in self.app.data[("bars", rid)]
        ]

    def fills_of(self, order_id: int) -> list:
        return [e for e in self.app.data["exec"] if e[1] == order_id]

    def commissions_of(self, exec_ids: set) -> list:
        return [c for c in self.app.data["commission"] if c[0] in exec_ids]

    def close(self) -> None:
        # ibapi's reader thread may already have closed the socket (it sets ``conn`` to None);
        # a second ``disconnect()`` then dereferences None inside ibapi itself.
        if self.app.conn is not None:
            try:
                self.app.disconnect()
            except AttributeError:
                pass  # the reader thread closed it in between
        self.thread.join(5)


def run_notebook(host: str, port: int, client_id: int = 11, timeout: float = 10.0) -> dict:
    """Drive the notebook scenario; return what it saw (JSON-serialisable)."""
    collector = _LogCollector()
    logger = logging.getLogger("ibapi")
    logger.addHandler(collector)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    out: dict = {"client": "ibapi", "decoder_failures": []}
    try:
        _scenario(out, host, port, client_id, timeout)
    except Exception:  # keep what was seen so far: the test reports it
        out["crash"] = traceback.format_exc()
    finally:
        logger.removeHandler(collector)
        logger.setLevel(old_level)
    out["decoder_failures"] += collector.failures
    return json.loads(json.dumps(out, default=str))  # the same shape in-process as via stdout


def _scenario(out: dict, host: str, port: int, client_id: int, timeout: float) -> None:
    """Run the steps, filling ``out`` as it goes (lists are shared, so a crash keeps them)."""
    s = Session(host, port, client_id, timeout)
    app = s.app
    out["timeouts"] = s.timeouts
    out["errors"] = app.errors
    out["server_version"] = app.serverVersion()
    out["accounts"] = app.accounts

    # account values and positions
    app.reqAccountUpdates(True, "")
    s.wait(lambda: "accountDownloadEnd" in app.done, "accountDownloadEnd")
    out["account_values"] = {k: v for k, v, cur in app.data["accountValue"] if cur == "USD"}
    app.reqPositions()
    s.wait(lambda: "positionEnd" in app.done, "positionEnd")
    out["positions_before"] = list(app.data["position"])

    # qualify: a known and an unknown stock, then the contract details
    [aapl_details] = s.details(_stock("AAPL")) or [None]
    aapl = aapl_details.contract
    out["aapl"] = {
        "conId": aapl.conId,
        "primaryExchange": aapl.primaryExchange,
        "minTick": aapl_details.minTick,
        "longName": aapl_details.longName,
        "timeZoneId": aapl_details.timeZoneId,
    }
    rid = s.req_id()
    app.reqContractDetails(rid, _stock("NOPE1"))
    s.wait(lambda: s.errors_for(rid), "unknown contract error")
    out["unknown_errors"] = s.errors_for(rid)

    # daily and minute bars
    out["daily_bars"] = s.bars(aapl, "5 D", "1 day")
    out["minute_bars"] = s.bars(aapl, "1800 S", "1 min")

    # streaming quotes
    rid = s.req_id()
    app.reqMktData(rid, aapl, "", False, False, [])
    s.wait(
        lambda: (
            {1, 2} <= {t for t, _ in app.data[("price", rid)]}
            and {0, 3} <= {t for t, _ in app.data[("size", rid)]}
        ),
        "quotes",
    )
    out["prices"] = dict(app.data[("price", rid)])
    out["sizes"] = dict(app.data[("size", rid)])
    app.cancelMktData(rid)

    # a market order with its execution and commission
    mkt_id = s.order_id()
    app.placeOrder(mkt_id, aapl, _order("BUY", 100, "MKT"))
    s.wait(
        lambda: (
            ("Filled", 100.0, 0.0) in app.data[("status", mkt_id)]
            and s.fills_of(mkt_id)
            and s.commissions_of({f[4] for f in s.fills_of(mkt_id)})
        ),
        "market order fill and commission",
    )
    out["market_fills"] = s.fills_of(mkt_id)
    out["market_commissions"] = s.commissions_of({f[4] for f in s.fills_of(mkt_id)})

    # a limit order, open orders, then cancel
    lmt_id = s.order_id()
    app.placeOrder(lmt_id, aapl, _order("BUY", 10, "LMT", 1.0))
    s.wait(lambda: any(st[0] == "Submitted" for st in app.data[("status", lmt_id)]), "limit")
    app.data["openOrder"].clear()
    app.done.discard("openOrderEnd")
    app.reqOpenOrders()
    s.wait(lambda: "openOrderEnd" in app.done, "openOrderEnd")
    out["open_orders"] = list(app.data["openOrder"])
    _cancel(app, lmt_id)
    s.wait(lambda: any(st[0] == "Cancelled" for st in app.data[("status", lmt_id)]), "cancel")
    out["limit_statuses"] = [st[0] for st in app.data[("status", lmt_id)]]

    # executions
    app.data["exec"].clear()
    rid = s.req_id()
    app.reqExecutions(rid, ExecutionFilter())
    s.wait(lambda: ("execEnd", rid) in app.done, "execDetailsEnd")
    out["executions"] = [e for e in app.data["exec"] if e[0] == rid]

    # PnL
    rid = s.req_id()
    app.reqPnL(rid, app.accounts.split(",")[0], "")
    s.wait(lambda: app.data[("pnl", rid)], "pnl")
    out["pnl"] = app.data[("pnl", rid)][:1]
    app.cancelPnL(rid)

    # an option chain with greeks
    rid = s.req_id()
    spy = _stock("SPY")
    [spy_details] = s.details(spy) or [None]
    app.reqSecDefOptParams(rid, "SPY", "", "STK", spy_details.contract.conId)
    s.wait(lambda: ("chainEnd", rid) in app.done, "option chain")
    chains = app.data[("chain", rid)]
    out["chains"] = [(ex, und, len(exps), len(ks)) for ex, und, exps, ks in chains]
    smart = next(c for c in chains if c[0] == "SMART")
    strikes = smart[3]
    rid = s.req_id()
    app.reqMktData(rid, spy_details.contract, "", False, False, [])
    s.wait(lambda: any(t == 4 for t, _ in app.data[("price", rid)]), "SPY last")
    centre = next(p for t, p in app.data[("price", rid)] if t == 4)
    app.cancelMktData(rid)
    strike = min(strikes, key=lambda k: abs(k - centre))
    legs = []
    for right in ("C", "P"):
        opt = Contract()
        opt.symbol, opt.secType, opt.exchange, opt.currency = "SPY", "OPT", "SMART", "USD"
        opt.lastTradeDateOrContractMonth, opt.strike, opt.right = WEEKLY, strike, right
        opt.multiplier = "100"
        [d] = s.details(opt) or [None]
        legs.append(d.contract)
    rid = s.req_id()
    app.reqMktData(rid, legs[0], "", False, False, [])
    s.wait(lambda: any(g[0] == 13 for g in app.data[("greeks", rid)]), "option greeks")
    model = next(g for g in app.data[("greeks", rid)] if g[0] == 13)
    out["call_model_greeks"] = {
        "impliedVol": model[1],
        "delta": model[2],
        "optPrice": model[3],
        "gamma": model[5],
        "vega": model[6],
        "theta": model[7],
        "undPrice": model[8],
    }
    app.cancelMktData(rid)

    # a 2-leg BAG order (long straddle)
    bag = Contract()
    bag.symbol, bag.secType, bag.exchange, bag.currency = "SPY", "BAG", "SMART", "USD"
    bag.comboLegs = []
    for leg in legs:
        cl = ComboLeg()
        cl.conId, cl.ratio, cl.action, cl.exchange = leg.conId, 1, "BUY", "SMART"
        bag.comboLegs.append(cl)
    bag_id = s.order_id()
    app.placeOrder(bag_id, bag, _order("BUY", 1, "MKT"))
    s.wait(
        lambda: (
            any(st[0] == "Filled" for st in app.data[("status", bag_id)])
            and len(s.fills_of(bag_id)) == 2
            and len(s.commissions_of({f[4] for f in s.fills_of(bag_id)})) == 2
        ),
        "BAG fill",
    )
    out["bag_fills"] = s.fills_of(bag_id)
    out["bag_commissions"] = s.commissions_of({f[4] for f in s.fills_of(bag_id)})
    out["leg_con_ids"] = [leg.conId for leg in legs]

    app.reqPositions()
    time.sleep(0.2)
    out["positions_after"] = sorted({p[0]: p for p in app.data["position"]}.values())
    if app.loop_error:
        out["decoder_failures"].append(f"loop: {app.loop_error}")
    s.close()

    # completed orders after a reconnect
    s2 = Session(host, port, client_id, timeout)
    s.timeouts += s2.timeouts
    s2.timeouts = s.timeouts
    out["errors_after_reconnect"] = s2.app.errors
    s2.app.reqCompletedOrders(False)
    s2.wait(lambda: "completedEnd" in s2.app.done, "completedOrdersEnd")
    out["completed"] = list(s2.app.data["completed"])
    if s2.app.loop_error:
        out["decoder_failures"].append(f"loop: {s2.app.loop_error}")
    s2.close()


def main(argv: list[str]) -> int:
    host, port = argv[0], int(argv[1])
    client_id = int(argv[2]) if len(argv) > 2 else 11
    try:
        result = run_notebook(host, port, client_id)
    except Exception:
        result = {"crash": traceback.format_exc()}
    import ibapi

    result["ibapi_file"] = ibapi.__file__
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
