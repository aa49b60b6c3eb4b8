"""Parity: the same algorithm file, backtested and run live, places the same orders.

An order is (session date in New York, symbol, signed quantity). The live side is read from
the journal (every decision's orders, ``sent`` ones only unless a dry run), the backtest
side from zipline's ``perf["orders"]``. :func:`compare` pairs them per session and symbol
and explains every difference.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

REASONS = {
    "not_live": "the live strategy made no decision on this session",
    "not_backtest": "the session is outside the backtest span",
    "missing_live": "the backtest ordered, live did not (refused by the guard, no price, or a "
    "different decision on the broker's bars)",
    "missing_backtest": "live ordered, the backtest did not (a decision on different data: "
    "live bars, fills or portfolio value)",
    "quantity": "same decision, different size: sized on the broker's price / NetLiquidation "
    "or on a position that filled differently",
}


@dataclass(frozen=True, order=True)
class OrderRow:
    """One order: session, symbol, signed quantity (+ buy, - sell)."""

    date: dt.date
    symbol: str
    quantity: float

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["date"] = self.date.isoformat()
        return d


@dataclass
class ParityReport:
    """Matched orders and every difference with its reason."""

    matched: list[OrderRow] = field(default_factory=list)
    differences: list[tuple[str, str]] = field(default_factory=list)
    """(what, why) per difference."""
    sessions: list[dt.date] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def lines(self) -> list[str]:
        span = (
            f"{self.sessions[0]:%Y-%m-%d} .. {self.sessions[-1]:%Y-%m-%d}" if self.sessions else "-"
        )
        head = (
            f"parity over {len(self.sessions)} sessions ({span}): {len(self.matched)} orders "
            f"match, {len(self.differences)} difference{'s' * (len(self.differences) != 1)}"
        )
        return [head] + [f"  {what}: {why}" for what, why in self.differences]


def _text(o: OrderRow) -> str:
    return f"{o.date:%Y-%m-%d} {o.symbol} {o.quantity:+g}"


def compare(
    backtest: list[OrderRow],
    live: list[OrderRow],
    live_sessions: list[dt.date],
    backtest_sessions: list[dt.date] | None = None,
) -> ParityReport:
    """Pair the orders over the sessions both sides ran; explain each difference."""
    live_days = set(live_sessions)
    bt_days = set(backtest_sessions) if backtest_sessions is not None else live_days
    days = sorted(live_days & bt_days)
    report = ParityReport(sessions=days)

    def net(rows: list[OrderRow]) -> dict[tuple[dt.date, str], float]:
        out: dict[tuple[dt.date, str], float] = defaultdict(float)
        for r in rows:
            out[(r.date, r.symbol)] += r.quantity
        return out

    b, lv = net(backtest), net(live)
    for key in sorted(set(b) | set(lv)):
        day, symbol = key
        qb, ql = b.get(key), lv.get(key)
        if day not in live_days:
            report.differences.append((_text(OrderRow(day, symbol, qb or 0)), REASONS["not_live"]))
        elif day not in bt_days:
            report.differences.append(
                (_text(OrderRow(day, symbol, ql or 0)), REASONS["not_backtest"])
            )
        elif ql is None:
            report.differences.append(
                (f"backtest {_text(OrderRow(day, symbol, qb))}", REASONS["missing_live"])
            )
        elif qb is None:
            report.differences.append(
                (f"live {_text(OrderRow(day, symbol, ql))}", REASONS["missing_backtest"])
            )
        elif abs(qb - ql) > 1e-9:
            report.differences.append(
                (f"{day:%Y-%m-%d} {symbol}: backtest {qb:+g}, live {ql:+g}", REASONS["quantity"])
            )
        else:
            report.matched.append(OrderRow(day, symbol, qb))
    return report


def live_orders(journal, strategy: str, include_unsent: bool = False):
    """(orders, sessions with a decision) of ``strategy`` from the journal, New York dates."""
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    rows: list[OrderRow] = []
    days: set[dt.date] = set()
    for run in journal.runs():
        if run["strategy"] != strategy:
            continue
        for d in journal.decisions(run["id"]):
            detail = d["detail"] or {}
            if detail.get("skipped_reason") or "summary" not in detail:
                continue
            day = dt.datetime.fromtimestamp(d["t"], ny).date()
            days.add(day)
            for o in detail.get("orders", []):
                if not (o.get("sent") or include_unsent):
                    continue
                sign = 1.0 if o["action"] == "BUY" else -1.0
                rows.append(
                    OrderRow(day, o["contract"].rsplit(" ", 1)[0], sign * float(o["quantity"]))
                )
    return sorted(rows), sorted(days)
