"""The Executions view of the Orders pane: every fill, today's and the journal's.

Rows come from the journal (fills of earlier runs, loaded at start) merged with ib_async's
own fills of this session, one row per execution id. Time is the broker's: the
execution's own time (ib_async stamps a live ``Fill`` with the local wall clock, not used),
the broker clock at journaling for a journalled one. Slippage is the
Orders pane's figure (:func:`~livedesk.backend.risk.execution.order_slippage` against the
order's arrival mid), measured on the fill's own price and quantity; a combo's leg fills
have none (the combo is measured as one order, in the Orders view).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.console.views import clean
from livedesk.backend.risk.execution import OrderSlippage, order_slippage

NO_SLIPPAGE = OrderSlippage(math.nan, math.nan, math.nan)
SIDES = {"BOT": "BUY", "SLD": "SELL"}


@dataclass(frozen=True)
class ExecutionRow:
    """One execution."""

    exec_id: str
    time: float
    """Epoch seconds, broker time."""
    contract: str
    side: str
    """``BUY`` or ``SELL``."""
    quantity: float
    price: float
    commission: float
    """NaN until IB's commission report arrives."""
    currency: str
    slippage: OrderSlippage
    strategy: str
    order_id: int = 0
    leg: bool = False
    """A leg of a combo order (measured as one order in the Orders view)."""


def _stamp(when) -> float:
    """Epoch seconds of a datetime (NaN when missing)."""
    return when.timestamp() if hasattr(when, "timestamp") else math.nan


def _side(side: str) -> str:
    return SIDES.get(side.upper(), side.upper())


def _multiplier(contract) -> float:
    if contract.secType in ("STK", "CASH", ""):
        return 1.0
    try:
        return float(contract.multiplier or 1.0)
    except ValueError:
        return 1.0


def live_rows(
    fills: Iterable,
    trades: Iterable,
    arrival: Mapping[int, float | None],
    label: Callable[[object], str],
) -> list[ExecutionRow]:
    """Rows of ib_async ``Fill`` objects; ``trades`` tell each fill's order (a combo's
    leg fills are not measured on their own)."""
    combos = {t.order.orderId for t in trades if t.contract.secType == "BAG"}
    refs = {t.order.orderId: t.order.orderRef for t in trades}
    rows = []
    for f in fills:
        ex, c, report = f.execution, f.contract, f.commissionReport
        side = _side(ex.side)
        price, qty = clean(ex.price), clean(ex.shares)
        slip = NO_SLIPPAGE
        if ex.orderId not in combos:
            slip = order_slippage(side, price, arrival.get(ex.orderId), _multiplier(c), qty)
        commission = clean(report.commission) if report is not None and report.execId else math.nan
        rows.append(
            ExecutionRow(
                exec_id=ex.execId,
                time=_stamp(ex.time) if ex.time else _stamp(f.time),
                contract=label(c),
                side=side,
                quantity=qty,
                price=price,
                commission=commission,
                currency=(report.currency if report is not None else "") or c.currency,
                slippage=slip,
                strategy=strategy_of(ex.orderRef or refs.get(ex.orderId, "")),
                order_id=ex.orderId,
                leg=ex.orderId in combos,
            )
        )
    return rows


def journal_rows(
    fills: Iterable[Mapping], label: Callable[[int | None, str], str]
) -> list[ExecutionRow]:
    """Rows of journalled fills (``Journal.fills()``); ``label(con_id, symbol)`` names the
    contract."""
    rows = []
    for f in fills:
        side = _side(f["side"])
        price, qty = clean(f["price"]), clean(f["qty"])
        mid = f.get("arrival_mid")
        slip = order_slippage(side, price, mid, f.get("multiplier") or 1.0, qty)
        rows.append(
            ExecutionRow(
                exec_id=f["exec_id"],
                time=clean(f["t"]),
                contract=label(f.get("con_id"), f.get("symbol") or ""),
                side=side,
                quantity=qty,
                price=price,
                commission=clean(f.get("commission")),
                currency=f.get("commission_currency") or "",
                slippage=slip if mid is not None else NO_SLIPPAGE,
                strategy=f.get("strategy") or "",
                order_id=f.get("order_id") or 0,
            )
        )
    return rows


def execution_rows(
    journalled: Iterable[ExecutionRow], live: Iterable[ExecutionRow]
) -> list[ExecutionRow]:
    """One row per execution id, oldest first: a live fill replaces its journalled copy
    (IB's time and commission), keeping the journal's slippage when the live one has none."""
    by_id = {r.exec_id: r for r in journalled}
    for r in live:
        old = by_id.get(r.exec_id)
        if old is not None and not r.leg and not math.isfinite(r.slippage.per_unit):
            r = _with_slippage(r, old.slippage)
        by_id[r.exec_id] = r
    return sorted(by_id.values(), key=lambda r: r.time if math.isfinite(r.time) else 0.0)


def _with_slippage(row: ExecutionRow, slip: OrderSlippage) -> ExecutionRow:
    from dataclasses import replace

    return replace(row, slippage=slip)
