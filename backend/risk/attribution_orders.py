"""Journal order and fill rows as :class:`AttributionOrder` records, combos split into legs.

A BAG order (conId 0, or fills on other conIds than the order's) becomes one order per leg:
the leg's ratio from its fills (leg quantity over the combo units filled), its side from its
fills, its decision mid (else its first fill's mid, else its price) as the arrival.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from livedesk.backend.risk.attribution import AttributionFill, AttributionOrder, DecisionRecord


def fill_of(row: Mapping[str, Any]) -> AttributionFill:
    mid = row.get("fill_mid")
    return AttributionFill(
        float(row["t"]),
        float(row["qty"]),
        float(row["price"]),
        float(row["commission"] or 0.0),
        float(mid) if mid is not None else math.nan,
    )


def side_of(side: str) -> str:
    return "BUY" if side in ("BOT", "BUY") else "SELL"


def decision_mid(decisions: Sequence[DecisionRecord], con_id: int, t: float) -> float:
    """The mid of ``con_id`` at the latest decision at or before ``t`` (NaN when none)."""
    for d in reversed(decisions):
        if d.t <= t and con_id in d.mids:
            return float(d.mids[con_id])
    return math.nan


def combo_legs(
    o: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], decisions: Sequence[DecisionRecord]
) -> list[AttributionOrder]:
    """A BAG order as one order per leg (see the module doc)."""
    by_leg: dict[int, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_leg.setdefault(int(r["con_id"]), []).append(r)
    units = float(o["filled"] or 0.0) or float(o["qty"])
    out = []
    for con_id, legs in by_leg.items():
        first = legs[0]
        leg_qty = sum(float(r["qty"]) for r in legs)
        ratio = leg_qty / units if units > 0 else 1.0
        mid = decision_mid(decisions, con_id, float(o["submitted_at"]))
        fallback = first["fill_mid"] if first["fill_mid"] is not None else first["price"]
        arrival = mid if math.isfinite(mid) else float(fallback)
        out.append(
            AttributionOrder(
                f"{o['order_id']}.{con_id}",
                con_id,
                f"{first['symbol'] or o['symbol'] or 'combo'} {con_id}",
                side_of(first["side"]),
                ratio * float(o["qty"]),
                float(o["submitted_at"]),
                arrival,
                float(first["multiplier"] or 1.0),
                tuple(fill_of(r) for r in legs),
                mid,
            )
        )
    return out


def orders_with_fills(
    orders: Sequence[Mapping[str, Any]],
    fills: Sequence[Mapping[str, Any]],
    decisions: Sequence[DecisionRecord] = (),
) -> tuple[list[AttributionOrder], list[str]]:
    """Orders with their fills (matched by order id), combos split into legs; those without an
    arrival mid skipped with the reason."""
    by_order: dict[int, list[Mapping[str, Any]]] = {}
    for f in fills:
        by_order.setdefault(f["order_id"], []).append(f)
    out: list[AttributionOrder] = []
    skipped: list[str] = []
    for o in orders:
        rows = by_order.pop(o["order_id"], [])
        legs = [r for r in rows if r["con_id"] is not None and r["con_id"] != o["con_id"]]
        if not o["con_id"] or legs:
            if rows and all(r["con_id"] for r in rows):
                out += combo_legs(o, rows, decisions)
            else:
                skipped.append(f"combo order {o['order_id']} ({o['symbol']}): no leg filled")
            continue
        mid = o["arrival_mid"]
        if mid is None:
            mid = next((r["arrival_mid"] for r in rows if r["arrival_mid"] is not None), None)
        if mid is None or not math.isfinite(mid) or mid <= 0:
            skipped.append(f"order {o['order_id']} ({o['symbol']}): no arrival mid")
            continue
        mult = next((float(r["multiplier"]) for r in rows if r["multiplier"]), 1.0)
        con_id = int(o["con_id"])
        out.append(
            AttributionOrder(
                str(o["order_id"]),
                con_id,
                o["symbol"] or str(con_id),
                o["action"],
                float(o["qty"]),
                float(o["submitted_at"]),
                float(mid),
                mult,
                tuple(fill_of(r) for r in rows),
                decision_mid(decisions, con_id, float(o["submitted_at"])),
            )
        )
    skipped += [f"fill of unknown order {oid}" for oid in by_order]
    return out, skipped
