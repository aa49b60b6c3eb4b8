"""Row models of the Positions and Orders panes, built from ib_async's own objects.

Pure functions of their inputs (portfolio items, trades, attribution, arrival mids), so they
are tested without a gateway and rebuilt cheaply four times a second.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.console.labels import combo_label, contract_label
from livedesk.backend.console.market_clock import NEW_YORK
from livedesk.backend.contracts import describe
from livedesk.backend.risk.execution import OrderSlippage, order_slippage

NAN = math.nan
UNSET = 1.7976931348623157e308
DONE_STATUSES = {"Filled", "Cancelled", "ApiCancelled", "Inactive"}


def clean(x: float | None) -> float:
    """A finite float, else NaN (IB sends ``UNSET_DOUBLE`` for "no value")."""
    if x is None or isinstance(x, bool):
        return NAN
    try:
        v = float(x)
    except (TypeError, ValueError):
        return NAN
    return v if math.isfinite(v) and abs(v) < UNSET else NAN


@dataclass(frozen=True)
class PositionRow:
    """One line of the Positions pane (a combo's legs carry its label in ``group``)."""

    con_id: int
    symbol: str
    sec_type: str
    quantity: float
    avg_cost: float
    market_price: float
    market_value: float
    unrealized: float
    realized: float
    weight: float
    strategy: str
    group: str = ""
    multiplier: float = 1.0


def combo_groups(portfolio: Iterable, combos: Mapping[int, str]) -> dict[str, str]:
    """Combo id → its trader's label, from the legs held (``SPY iron condor 31DEC26 …``)."""
    legs: dict[str, list] = {}
    symbols: dict[str, str] = {}
    for item in portfolio:
        group = combos.get(item.contract.conId)
        qty = clean(item.position)
        if group and qty:
            legs.setdefault(group, []).append((item.contract, qty))
            symbols[group] = group.split(":", 1)[0]
    return {g: combo_label(symbols[g], ls) for g, ls in legs.items()}


def position_rows(
    portfolio: Iterable,
    nlv: float,
    attribution: Mapping[int, Mapping[str, float]] | None = None,
    combos: Mapping[int, str] | None = None,
    marks: Mapping[int, float] | None = None,
) -> list[PositionRow]:
    """Rows from ib_async ``PortfolioItem`` objects.

    ``attribution`` maps conId → {strategy: signed quantity} (from ``orderRef`` of fills);
    ``combos`` maps a leg's conId → its combo's label; ``marks`` overrides the market price
    with a live mid where one streams (market value and unrealized PnL follow it).
    IB's ``averageCost`` of futures and options includes the multiplier; the row shows it
    per unit, like the market price.
    """
    attribution = attribution or {}
    combos = combos or {}
    marks = marks or {}
    portfolio = list(portfolio)
    labels = combo_groups(portfolio, combos)
    rows = []
    for item in portfolio:
        c = item.contract
        qty = clean(item.position)
        if not qty:
            continue
        mult = clean(c.multiplier) if c.multiplier else 1.0
        mult = mult if mult and mult > 0 else 1.0
        price = clean(item.marketPrice)
        value = clean(item.marketValue)
        unreal = clean(item.unrealizedPNL)
        avg = clean(item.averageCost) / (mult if c.secType != "STK" else 1.0)
        mark = marks.get(c.conId)
        if mark is not None and math.isfinite(mark) and mark > 0 and mark != price:
            value = qty * mark * mult
            unreal = (mark - avg) * qty * mult if math.isfinite(avg) else unreal
            price = mark
        strategies = attribution.get(c.conId, {})
        names = sorted(n for n, q in strategies.items() if q and n)
        weight = value / nlv if nlv and math.isfinite(nlv) and nlv > 0 else NAN
        rows.append(
            PositionRow(
                con_id=c.conId,
                symbol=contract_label(c),
                sec_type=c.secType,
                quantity=qty,
                avg_cost=avg,
                market_price=price,
                market_value=value,
                unrealized=unreal,
                realized=clean(item.realizedPNL),
                weight=weight,
                strategy=",".join(names),
                group=labels.get(combos.get(c.conId, ""), ""),
                multiplier=mult,
            )
        )
    return rows


@dataclass(frozen=True)
class OrderRow:
    """One line of the Orders pane: a working order or one of today's orders."""

    order_id: int
    perm_id: int
    time: float
    strategy: str
    contract: str
    side: str
    quantity: float
    filled: float
    remaining: float
    order_type: str
    limit: float
    status: str
    avg_fill: float
    slippage_bps: float
    slippage: OrderSlippage | None = None
    """bps of the notional at the arrival mid, or $ per unit when the mid is too small."""

    @property
    def working(self) -> bool:
        """Still able to fill (not filled, cancelled or inactive)."""
        return self.status not in DONE_STATUSES


def order_rows(
    trades: Iterable,
    arrival: Mapping[int, float | None],
    first_seen: Mapping[int, float],
    label: Callable[[object], str] = describe,
) -> list[OrderRow]:
    """Rows from ib_async ``Trade`` objects.

    ``arrival`` maps order id → the mid when the order was sent (slippage is measured
    against it, sign-aware: positive is a cost); ``first_seen`` maps order id → epoch time
    (else the first fill's time is used).
    """
    rows = []
    for t in trades:
        o, s, c = t.order, t.orderStatus, t.contract
        when = first_seen.get(o.orderId)
        if when is None and t.fills:
            when = t.fills[0].time.timestamp()
        avg = clean(s.avgFillPrice) if s.filled else NAN
        slip = order_slippage(
            o.action, avg, arrival.get(o.orderId), order_multiplier(t), clean(s.filled)
        )
        rows.append(
            OrderRow(
                order_id=o.orderId,
                perm_id=o.permId,
                time=when if when is not None else NAN,
                strategy=strategy_of(o.orderRef),
                contract=label(c),
                side=o.action,
                quantity=clean(o.totalQuantity),
                filled=clean(s.filled),
                remaining=clean(s.remaining),
                order_type=o.orderType,
                limit=clean(o.lmtPrice) if o.orderType in ("LMT", "STP LMT") else NAN,
                status=s.status or "PendingSubmit",
                avg_fill=avg,
                slippage_bps=slip.bps,
                slippage=slip,
            )
        )
    return rows


def order_multiplier(trade) -> float:
    """Dollars per price point of one unit: 1 for stocks; a combo's legs' multiplier."""
    c = trade.contract
    if c.secType == "STK":
        return 1.0
    for f in trade.fills:  # a BAG: its legs' multiplier (the legs carry it)
        if f.contract.multiplier:
            return float(f.contract.multiplier)
    try:
        return float(c.multiplier or (100 if c.secType in ("BAG", "OPT") else 1))
    except ValueError:
        return 1.0


def ny_time(t: float) -> str:
    """``HH:MM:SS`` in New York (blank for NaN)."""
    if not math.isfinite(t):
        return ""
    return dt.datetime.fromtimestamp(t, NEW_YORK).strftime("%H:%M:%S")
