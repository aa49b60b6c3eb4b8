"""Persistence of the simulated gateway's state (``--state FILE``).

Positions, cash, working orders, today's executions and the order-id watermark are written
atomically (temporary file, fsync, rename) after every change, so a SIGTERM or a crash at
any point leaves either the previous or the new state on disk, never a torn file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

from ib_async import ComboLeg, CommissionReport, Contract, Execution, Order, OrderComboLeg, TagValue

from livedesk.backend.sim.account import Holding
from livedesk.backend.sim.broker import FillEvent, SimBroker
from livedesk.backend.sim.engine import SimOrder

VERSION = 1


def _plain(obj) -> dict:
    """Non-default fields of an ib_async dataclass as JSON-friendly values."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        if v == default:
            continue
        if isinstance(v, list):
            v = [_plain(x) if dataclasses.is_dataclass(x) else x for x in v]
        elif isinstance(v, dt.datetime):
            v = v.isoformat()
        elif dataclasses.is_dataclass(v):
            continue  # nested objects (soft-dollar tiers …) are not part of our state
        out[f.name] = v
    return out


def _contract(d: dict) -> Contract:
    d = dict(d)
    d["comboLegs"] = [ComboLeg(**x) for x in d.get("comboLegs", [])]
    return Contract(**d)


def _order(d: dict) -> Order:
    d = dict(d)
    d["orderComboLegs"] = [OrderComboLeg(**x) for x in d.get("orderComboLegs", [])]
    d["smartComboRoutingParams"] = [TagValue(**x) for x in d.get("smartComboRoutingParams", [])]
    return Order(**{k: v for k, v in d.items() if k in Order.__dataclass_fields__})


def save_state(path: Path, broker: SimBroker) -> None:
    """Write the broker's durable state atomically."""
    acct = broker.account
    data = {
        "version": VERSION,
        "account": {
            "account_id": acct.account_id,
            "cash": acct.cash,
            "session_start_nlv": acct.session_start_nlv,
            "commissions_today": acct.commissions_today,
            "holdings": [dataclasses.asdict(h) for h in acct.holdings.values()],
        },
        "session": str(broker.market.session),
        "next_perm_id": broker.next_perm_id,
        "next_exec_seq": broker.next_exec_seq,
        "used_ids": {str(k): v for k, v in broker.used_ids.items()},
        "orders": [_order_state(o) for o in broker.working()],
        "executions": [
            {
                "order": [fe.order.client_id, fe.order.order_id],
                "contract": _plain(fe.contract),
                "execution": _plain(fe.execution),
                "report": _plain(fe.report),
            }
            for fe in broker.executions
        ],
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _order_state(o: SimOrder) -> dict:
    return {
        "order_id": o.order_id,
        "client_id": o.client_id,
        "perm_id": o.perm_id,
        "contract": _plain(o.contract),
        "order": _plain(o.order),
        "submitted_at": o.submitted_at,
        "status": o.status,
        "filled": o.filled,
        "avg_fill_price": o.avg_fill_price,
        "last_fill_price": o.last_fill_price,
        "triggered": o.triggered,
        "commission": o.commission,
    }


def load_state(path: Path, broker: SimBroker) -> None:
    """Restore the broker from ``path``; today's executions only if the session is the same."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("version") != VERSION:
        raise ValueError(f"unsupported sim state version {data.get('version')!r} in {path}")
    a = data["account"]
    acct = broker.account
    acct.cash = a["cash"]
    acct.session_start_nlv = a["session_start_nlv"]
    acct.commissions_today = a.get("commissions_today", 0.0)
    acct.holdings = {h["con_id"]: Holding(**h) for h in a["holdings"]}
    broker.next_perm_id = data["next_perm_id"]
    broker.next_exec_seq = data["next_exec_seq"]
    broker.used_ids = {int(k): v for k, v in data["used_ids"].items()}
    for d in data["orders"]:
        so = SimOrder(
            d["order_id"],
            d["client_id"],
            d["perm_id"],
            _contract(d["contract"]),
            _order(d["order"]),
            d["submitted_at"],
            status=d["status"],
            filled=d["filled"],
            avg_fill_price=d["avg_fill_price"],
            last_fill_price=d["last_fill_price"],
            triggered=d["triggered"],
            commission=d["commission"],
        )
        broker.orders[(so.client_id, so.order_id)] = so
    if data.get("session") == str(broker.market.session):
        for d in data["executions"]:
            ex = d["execution"]
            if "time" in ex:
                ex = {**ex, "time": dt.datetime.fromisoformat(ex["time"])}
            owner = broker.orders.get(tuple(d["order"]))
            contract = _contract(d["contract"])
            if owner is None:
                owner = SimOrder(
                    d["order"][1],
                    d["order"][0],
                    ex.get("permId", 0),
                    contract,
                    Order(),
                    0.0,
                    status="Filled",
                )
            broker.executions.append(
                FillEvent(owner, contract, Execution(**ex), CommissionReport(**d["report"]))
            )
    else:
        for h in acct.holdings.values():
            h.realized = 0.0
        acct.session_start_nlv = None
