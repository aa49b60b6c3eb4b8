"""Cell formatting: numbers as text plus a style name the tables map to theme colours.

PnL is always signed (``+1,234`` / ``-56``) so it reads without colour; the colours
themselves come from the ``$pnl-up`` / ``$pnl-down`` theme variables.
"""

from __future__ import annotations

Cell = tuple[str, str]


_NUMBERS = (float, int)


def ok(x) -> bool:
    """A finite number (``x - x`` is 0 only for finite values; NaN and inf give NaN)."""
    return x.__class__ in _NUMBERS and x - x == 0


def num(x, digits: int = 2) -> str:
    """``1,234.56``; blank for NaN/None."""
    return f"{x:,.{digits}f}" if ok(x) else ""


def qty(x) -> str:
    """Quantities: integers without decimals."""
    if not ok(x):
        return ""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.4g}"


def price(x) -> str:
    """Prices: two decimals, four below $1."""
    if not ok(x):
        return ""
    return f"{x:,.4f}" if abs(x) < 1 else f"{x:,.2f}"


def signed(x, digits: int = 0) -> Cell:
    """Signed PnL and its style (``up`` / ``down`` / ``dim`` for zero)."""
    if not ok(x):
        return ("", "")
    text = f"{x:+,.{digits}f}"
    if round(x, digits) == 0:
        return (text, "dim")
    return (text, "up" if x > 0 else "down")


def pct(x, digits: int = 1, sign: bool = False) -> str:
    """Fractions as percent: ``0.1234`` → ``12.3%``."""
    if not ok(x):
        return ""
    return f"{x * 100:+.{digits}f}%" if sign else f"{x * 100:.{digits}f}%"


def signed_pct(x, digits: int = 2) -> Cell:
    """Signed percent and its style."""
    if not ok(x):
        return ("", "")
    return (pct(x, digits, sign=True), "dim" if x == 0 else ("up" if x > 0 else "down"))


def bps(x) -> str:
    """Basis points with one decimal."""
    return f"{x:+.1f}" if ok(x) else ""


def money(x) -> str:
    """``$1,234,567``; ``—`` when unknown."""
    return f"${x:,.0f}" if ok(x) else "—"


def plain(text: str) -> Cell:
    """An unstyled cell."""
    return (text, "")
