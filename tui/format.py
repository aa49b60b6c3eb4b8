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
    if x == 0:
        return "0"  # never "-0"
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
    if round(x, digits) == 0:
        return (f"{0:.{digits}f}", "dim")  # never "-0" (nor "+0")
    text = f"{x:+,.{digits}f}"
    return (text, "up" if x > 0 else "down")


def pct(x, digits: int = 1, sign: bool = False) -> str:
    """Fractions as percent: ``0.1234`` → ``12.3%``."""
    if not ok(x):
        return ""
    if round(x * 100, digits) == 0:
        return f"{0:.{digits}f}%"  # never "-0.0%"
    return f"{x * 100:+.{digits}f}%" if sign else f"{x * 100:.{digits}f}%"


def signed_pct(x, digits: int = 2) -> Cell:
    """Signed percent and its style."""
    if not ok(x):
        return ("", "")
    zero = round(x * 100, digits) == 0
    return (pct(x, digits, sign=True), "dim" if zero else ("up" if x > 0 else "down"))


def bps(x) -> str:
    """Basis points with one decimal."""
    if not ok(x):
        return ""
    return "0.0" if round(x, 1) == 0 else f"{x:+.1f}"


def money(x) -> str:
    """``$1,234,567``; ``—`` when unknown."""
    if not ok(x):
        return "—"
    return "$0" if round(x) == 0 else f"${x:,.0f}"


def cents(x) -> str:
    """``12,345.67``; ``n/a`` when unknown (what-if figures)."""
    return f"{x:,.2f}" if ok(x) else "n/a"


def plain(text: str) -> Cell:
    """An unstyled cell."""
    return (text, "")
