"""The combo builder's order panel: quantity, order type, price mode, net prices, greeks, P/L."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding

from livedesk.backend.combos.form import PRICE_MODES
from livedesk.backend.combos.legs import Problem, fmt_strike, is_number, price_words
from livedesk.backend.combos.payoff import NetPrice, PayoffSummary, PositionGreeks
from livedesk.tui.widgets.styled import CachedStylesWidget


def signed(x: float) -> str:
    """A signed BAG price with both the number and the words: "-3.15 (3.15 CREDIT)"."""
    return f"{x:+.2f} ({price_words(x)})" if is_number(x) else "n/a"


def money(x: float) -> str:
    """Whole money, "unlimited" for infinity."""
    if not is_number(x):
        return "unlimited" if isinstance(x, float) and math.isinf(x) else "n/a"
    return f"{x:,.0f}"


@dataclass(frozen=True)
class OrderView:
    """Everything the order panel shows."""

    quantity: int
    order_type: str
    price_mode: str
    limit: float | None
    net: NetPrice
    greeks: PositionGreeks | None
    summary: PayoffSummary | None
    problems: tuple[Problem, ...] = ()


class ComboOrderPanel(CachedStylesWidget, can_focus=True):
    """Quantity (↑/↓), order type (o), price mode (←/→), limit (e) and the combo's figures."""

    COMPONENT_CLASSES = {
        "combo-order--label",
        "combo-order--credit",
        "combo-order--debit",
        "combo-order--error",
        "combo-order--focus",
    }
    BINDINGS = [
        Binding("up", "screen.quantity(1)", "qty+", id="combo.qty_up"),
        Binding("down", "screen.quantity(-1)", "qty-", id="combo.qty_down"),
        Binding("left", "screen.price_mode(-1)", "price mode", id="combo.mode_left"),
        Binding("right", "screen.price_mode(1)", "price mode", id="combo.mode_right", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._view: OrderView | None = None

    def set_view(self, view: OrderView) -> None:
        """Show ``view`` (repaints only when it changed)."""
        if view != self._view:
            self._view = view
            self.refresh()

    def _price_style(self, x: float | None) -> str:
        return "combo-order--credit" if is_number(x) and x < 0 else "combo-order--debit"

    def render(self) -> Text:
        v = self._view
        style = self.component_style
        t = Text(no_wrap=True, overflow="ellipsis")
        if v is None:
            return t
        lab = style("combo-order--label")
        t.append("Qty ", lab)
        t.append(f"{v.quantity}", style("combo-order--focus") if self.has_focus else "")
        t.append("  ")
        t.append("net LMT" if v.order_type == "LMT" else "MKT")
        t.append("  ")
        for m in PRICE_MODES:
            t.append(f" {m} ", style("combo-order--focus") if m == v.price_mode else lab)
        t.append("\nLimit   ", lab)
        if v.order_type == "MKT":
            t.append("market (no limit)")
        else:
            t.append(
                signed(v.limit) if v.limit is not None else "n/a", style(self._price_style(v.limit))
            )
        t.append("\nNatural ", lab)
        t.append(signed(v.net.natural), style(self._price_style(v.net.natural)))
        t.append("\nMid     ", lab)
        t.append(signed(v.net.mid), style(self._price_style(v.net.mid)))
        g = v.greeks
        t.append("\nΔ ", lab)
        if g is not None and is_number(g.delta):
            t.append(f"{g.delta:+.1f}")
            t.append("  Γ ", lab)
            t.append(f"{g.gamma:+.2f}")
            t.append("  Vega ", lab)
            t.append(f"{g.vega:+.0f}")
            t.append("  Θ ", lab)
            t.append(f"{g.theta:+.0f}/d")
        else:
            t.append("n/a (waiting for greeks)")
        s = v.summary
        if s is not None:
            t.append("\nMax profit ", lab)
            t.append(money(s.max_profit))
            t.append("  Max loss ", lab)
            t.append(money(s.max_loss))
            t.append("\nBreakeven ", lab)
            t.append(" / ".join(fmt_strike(round(b, 2)) for b in s.breakevens) or "none")
            t.append("  PoP ", lab)
            t.append(f"{s.pop:.0%}" if is_number(s.pop) else "n/a")
            if s.calendar:
                t.append("\nP/L shown as of the earliest expiry", lab)
        for p in v.problems:
            t.append("\n! " + p.message, style("combo-order--error"))
        return t

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


def order_problems(problems: Sequence[Problem]) -> tuple[Problem, ...]:
    """The problems the order panel shows beside its fields."""
    return tuple(p for p in problems if p.field in ("quantity", "price", "quotes", "state"))
