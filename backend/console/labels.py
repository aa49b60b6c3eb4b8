"""Contracts as a trader reads them.

* an option: ``SPY 31DEC26 528 C``; a future: ``CL F27`` (month code, two-digit year);
* a combo by its recognised strategy and strikes: ``SPY iron condor 31DEC26 513/518/538/543``,
  ``SPY straddle 31DEC26 528``, ``SPY call vertical 31DEC26 528/538``, ``SPY calendar 528 C
  31DEC26/29JAN27``; anything else ``SPY combo (3 legs)``.

A combo is recognised from its legs' contracts (rights, strikes, expiries, ratios and
signs), whichever way it was entered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

MONTH_CODES = "FGHJKMNQUVXZ"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def strike_text(strike: float) -> str:
    """``528``, ``527.5``."""
    return f"{strike:g}" if strike != int(strike) else str(int(strike))


def expiry_text(yyyymmdd: str) -> str:
    """``20261231`` → ``31DEC26``; a month ``202612`` → ``DEC26``."""
    try:
        if len(yyyymmdd) >= 8:
            d = dt.datetime.strptime(yyyymmdd[:8], "%Y%m%d").date()
            return f"{d.day:02d}{MONTHS[d.month - 1]}{d.year % 100:02d}"
        if len(yyyymmdd) == 6:
            return f"{MONTHS[int(yyyymmdd[4:6]) - 1]}{yyyymmdd[2:4]}"
    except (ValueError, IndexError):
        pass
    return yyyymmdd


def future_code(yyyymm: str) -> str:
    """``202701`` → ``F27``."""
    try:
        return f"{MONTH_CODES[int(yyyymm[4:6]) - 1]}{yyyymm[2:4]}"
    except (ValueError, IndexError):
        return yyyymm


def _right(c) -> str:
    r = (c.right or "").upper()
    return {"CALL": "C", "PUT": "P"}.get(r, r)


def contract_label(c) -> str:
    """The trader's name of one contract (stocks: the symbol)."""
    sec = c.secType
    if sec in ("OPT", "FOP"):
        expiry = expiry_text(c.lastTradeDateOrContractMonth)
        return f"{c.symbol} {expiry} {strike_text(c.strike)} {_right(c)}"
    if sec == "FUT":
        return f"{c.symbol} {future_code(c.lastTradeDateOrContractMonth)}"
    if sec == "CASH":
        return c.localSymbol or c.symbol
    return c.symbol or sec


Leg = tuple[object, float]
"""A leg: its contract and its signed ratio (+ bought, - sold, per combo unit)."""


def recognise(legs: Sequence[Leg]) -> tuple[str, str]:
    """``(strategy name, strikes/expiry text)`` of option legs; ``("combo", "")`` otherwise."""
    opts = [(c, q) for c, q in legs if c.secType in ("OPT", "FOP")]
    if len(opts) != len(legs) or not opts:
        if all(c.secType == "FUT" for c, _ in legs) and len(legs) == 2:
            months = "/".join(future_code(c.lastTradeDateOrContractMonth) for c, _ in legs)
            return "calendar spread", months
        return "combo", f"({len(legs)} legs)"
    expiries = sorted({c.lastTradeDateOrContractMonth for c, _ in opts})
    rights = sorted({_right(c) for c, _ in opts})
    strikes = sorted({c.strike for c, _ in opts})
    ks = "/".join(strike_text(k) for k in strikes)
    exp = expiry_text(expiries[0])
    n = len(opts)
    if len(expiries) == 2 and n == 2 and len(strikes) == 1 and len(rights) == 1:
        signs = sorted(q > 0 for _, q in opts)
        if signs == [False, True]:
            dates = "/".join(expiry_text(e) for e in expiries)
            return "calendar", f"{strike_text(strikes[0])} {rights[0]} {dates}"
    if len(expiries) != 1:
        return "combo", f"({n} legs)"
    same_sign = len({q > 0 for _, q in opts}) == 1
    if n == 2 and rights == ["C", "P"] and same_sign:
        return ("straddle" if len(strikes) == 1 else "strangle"), f"{exp} {ks}"
    if n == 2 and len(rights) == 1 and len(strikes) == 2 and not same_sign:
        kind = "call vertical" if rights == ["C"] else "put vertical"
        return kind, f"{exp} {ks}"
    if n == 4 and rights == ["C", "P"] and len(strikes) == 4:
        puts = sorted((c.strike, q) for c, q in opts if _right(c) == "P")
        calls = sorted((c.strike, q) for c, q in opts if _right(c) == "C")
        if len(puts) == 2 and len(calls) == 2 and puts[1][0] < calls[0][0]:
            wings = (puts[0][1], calls[1][1])
            body = (puts[1][1], calls[0][1])
            if all(w * b < 0 for w in wings for b in body):
                return "iron condor", f"{exp} {ks}"
    if n == 3 and len(rights) == 1 and len(strikes) == 3:
        by_k = sorted((c.strike, q) for c, q in opts)
        if by_k[0][1] == by_k[2][1] and by_k[1][1] == -2 * by_k[0][1]:
            return "butterfly", f"{exp} {ks}"
    return "combo", f"{exp} {ks}"


def combo_label(symbol: str, legs: Sequence[Leg]) -> str:
    """``SPY iron condor 31DEC26 513/518/538/543``."""
    name, detail = recognise(legs)
    return f"{symbol} {name} {detail}".strip()
