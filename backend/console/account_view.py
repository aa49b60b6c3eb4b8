"""The account figures the Equity pane shows above its charts: cash, buying power, excess
liquidity, initial and maintenance margin (IB's account values) and the day's realised and
unrealised PnL (IB's ``reqPnL``), each with its currency.

Pure: ib_async's ``AccountValue`` and ``PnL`` objects in, :class:`AccountFigure` rows out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

ACCOUNT_TAGS = (
    ("TotalCashValue", "Cash"),
    ("BuyingPower", "Buying power"),
    ("ExcessLiquidity", "Excess liquidity"),
    ("InitMarginReq", "Init. margin"),
    ("MaintMarginReq", "Maint. margin"),
)
"""IB account-value tags shown, with their labels, in display order."""
PNL_FIELDS = (("realizedPnL", "Day realised"), ("unrealizedPnL", "Day unrealised"))
UNSET = 1.7976931348623157e308


@dataclass(frozen=True)
class AccountFigure:
    """One figure: its label, value (NaN when unknown) and currency."""

    label: str
    value: float
    currency: str
    signed: bool = False
    """A PnL (shown with its sign and coloured)."""


def _value(text: object) -> float:
    try:
        v = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) and abs(v) < UNSET else math.nan


def base_currency(values: Iterable, account: str = "") -> str:
    """The account's currency: that of its ``NetLiquidation`` (else ``BASE`` rows' absent: "")."""
    for v in values:
        if v.tag == "NetLiquidation" and v.currency and v.currency != "BASE":
            if not account or v.account == account:
                return v.currency
    return ""


def account_figures(values: Iterable, pnl: Iterable, account: str = "") -> list[AccountFigure]:
    """The figures of ``account`` (all accounts' values when it is empty).

    A tag reported in several currencies shows its base-currency value (IB's ``BASE``
    summary row, else the one in the NetLiquidation currency); PnL is in that currency.
    """
    values = [v for v in values if not account or v.account == account]
    base = base_currency(values)
    out = []
    for tag, label in ACCOUNT_TAGS:
        rows = [v for v in values if v.tag == tag and not v.modelCode]
        pick = (
            next((v for v in rows if v.currency == "BASE"), None)
            or next((v for v in rows if v.currency == base), None)
            or (rows[0] if rows else None)
        )
        if pick is None:
            out.append(AccountFigure(label, math.nan, base))
            continue
        currency = base if pick.currency == "BASE" else pick.currency
        out.append(AccountFigure(label, _value(pick.value), currency))
    mine = [p for p in pnl if (not account or p.account == account) and not p.modelCode]
    for name, label in PNL_FIELDS:
        value = _value(getattr(mine[0], name)) if mine else math.nan
        out.append(AccountFigure(label, value, base, signed=True))
    return out
