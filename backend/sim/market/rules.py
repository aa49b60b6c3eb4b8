"""Price-increment rules (``reqMarketRule``) and the rule id of each contract's exchanges.

A market rule is a ladder of (low edge, increment): from each low edge up, prices move by
that increment. Every instrument of the simulated market trades on one fixed tick
(``Instrument.min_tick``), so its rule is a one-row ladder; US stocks use IB's rule 26
(one cent from zero). Other ticks get an id of their own, stable for a tick value.
"""

from __future__ import annotations

from livedesk.backend.sim.market.instruments import Instrument

US_STOCK_RULE = 26
_FIXED: dict[int, tuple[tuple[float, float], ...]] = {US_STOCK_RULE: ((0.0, 0.01),)}
_FIRST_OWN_ID = 1000
_TICKS = (0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Ticks with an id of their own: rule 1000 + index (a tick not listed gets rule 26's)."""

ORDER_TYPES = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,COND,CONDORDER,DAY,DEACT,DEACTDIS,"
    "DEACTEOD,GAT,GTC,GTD,GTT,HID,IOC,LIT,LMT,LOC,MIT,MKT,MOC,MTL,NONALGO,OCA,OPG,OPGREROUT,"
    "PEGMID,POSTONLY,PREOPGRTH,REL,RELPCTOFS,RTH,SCALE,SCALERST,SNAPMID,SNAPMKT,SNAPREL,STP,"
    "STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,WHATIF"
)
"""The ``orderTypes`` of a US stock's contract details, as a TWS paper account lists them."""


def rule_id(inst: Instrument) -> int:
    """The market rule of an instrument's tick."""
    for i, tick in enumerate(_TICKS):
        if abs(inst.min_tick - tick) < 1e-12:
            return US_STOCK_RULE if tick == 0.01 and inst.sec_type == "STK" else _FIRST_OWN_ID + i
    return US_STOCK_RULE


def rule_ids(inst: Instrument, valid_exchanges: str) -> str:
    """``marketRuleIds``: one rule id per exchange of ``validExchanges``."""
    n = len([e for e in valid_exchanges.split(",") if e])
    return ",".join([str(rule_id(inst))] * max(n, 1))


def increments(rule: int) -> tuple[tuple[float, float], ...] | None:
    """The (low edge, increment) ladder of a rule id (None for an unknown id)."""
    if rule in _FIXED:
        return _FIXED[rule]
    i = rule - _FIRST_OWN_ID
    if 0 <= i < len(_TICKS):
        return ((0.0, _TICKS[i]),)
    return None
