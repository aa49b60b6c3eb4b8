"""The combo builder's legs table: one line per leg with its live quote (Line-cheap render)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding

from livedesk.backend.combos.legs import Leg, Problem, days_to, fmt_strike, is_number
from livedesk.backend.combos.payoff import LegQuote
from livedesk.tui.widgets.styled import CachedStylesWidget

HEADER = f"{'#':>2} {'Side':<4} {'Qty':>3} {'C/P':<3} {'Strike':>7} {'Expiry':<8} {'DTE':>4} {'Bid':>7} {'Ask':>7} {'Mid':>7} {'IV':>6} {'Delta':>6}"


def _price(x: float) -> str:
    return f"{x:7.2f}" if is_number(x) else f"{'—':>7}"


def leg_line(i: int, leg: Leg, q: LegQuote | None, today: dt.date) -> str:
    """The text of one leg row (fixed columns)."""
    q = q or LegQuote()
    iv = f"{q.iv * 100:5.1f}%" if is_number(q.iv) else f"{'—':>6}"
    delta = f"{q.delta:+6.2f}" if is_number(q.delta) else f"{'—':>6}"
    return (
        f"{i + 1:>2} {leg.action:<4} {leg.ratio:>3} {leg.right:<3} {fmt_strike(leg.strike):>7} "
        f"{leg.expiry:<8} {days_to(leg.expiry, today):>4} {_price(q.bid)} {_price(q.ask)} "
        f"{_price(q.mid)} {iv} {delta}"
    )


def preview_line(leg: Leg, q: LegQuote | None) -> str:
    """A compact leg line for the preview: "BUY 1 SPY 20261218 560 P  3.10 / 3.20"."""
    q = q or LegQuote()
    return (
        f"{leg.action:<4} {leg.ratio} {leg.symbol} {leg.expiry} {fmt_strike(leg.strike):>6} "
        f"{leg.right}  {_price(q.bid).strip()} / {_price(q.ask).strip()}"
    )


class ComboLegsTable(CachedStylesWidget, can_focus=True):
    """Legs with side, ratio, right, strike, expiry, DTE, bid/ask/mid, IV and delta."""

    COMPONENT_CLASSES = {
        "combo-legs--header",
        "combo-legs--cursor",
        "combo-legs--buy",
        "combo-legs--sell",
        "combo-legs--error",
    }
    BINDINGS = [
        Binding("b", "screen.add_leg('BUY')", "buy leg", id="combo.buy"),
        Binding("s", "screen.add_leg('SELL')", "sell leg", id="combo.sell"),
        Binding("d", "screen.delete_leg", "delete", id="combo.delete"),
        Binding("space", "screen.flip", "flip", id="combo.flip"),
        Binding("plus", "screen.ratio(1)", "ratio+", id="combo.ratio_up"),
        Binding("minus", "screen.ratio(-1)", "ratio-", id="combo.ratio_down", show=False),
        Binding("k,up", "screen.strike(1)", "strike+", id="combo.strike_up"),
        Binding("j,down", "screen.strike(-1)", "strike-", id="combo.strike_down", show=False),
        Binding("h", "screen.right('C')", "call", id="combo.call", show=False),
        Binding("l", "screen.right('P')", "put", id="combo.put", show=False),
        Binding("left_curly_bracket", "screen.leg_expiry(-1)", "leg exp-", show=False),
        Binding("right_curly_bracket", "screen.leg_expiry(1)", "leg exp+", show=False),
        Binding("K", "screen.shift(1)", "all strikes+", id="combo.shift_up", show=False),
        Binding("J", "screen.shift(-1)", "all strikes-", id="combo.shift_down", show=False),
        Binding("w", "screen.width(1)", "wider", id="combo.wider"),
        Binding("W", "screen.width(-1)", "narrower", id="combo.narrower", show=False),
        Binding("n", "screen.next_leg(1)", "next leg", id="combo.next_leg"),
        Binding("N", "screen.next_leg(-1)", "previous leg", show=False),
        *(
            Binding(str(i), f"screen.select_leg({i - 1})", f"leg {i}", show=False)
            for i in range(1, 10)
        ),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: list[tuple[str, str, bool]] = []
        self._cursor = 0
        self._empty = "no legs: t then a template letter, or b / s to add a leg"

    def set_rows(
        self,
        legs: Sequence[Leg],
        quotes: Sequence[LegQuote | None],
        cursor: int,
        problems: Sequence[Problem],
        today: dt.date,
    ) -> None:
        """Show ``legs`` with their quotes; rows with a problem are marked."""
        bad = {p.leg for p in problems if p.leg is not None}
        lines = [
            (leg_line(i, leg, q, today), leg.action, i in bad)
            for i, (leg, q) in enumerate(zip(legs, quotes, strict=True))
        ]
        if lines != self._lines or cursor != self._cursor:
            relayout = len(lines) != len(self._lines)
            self._lines, self._cursor = lines, cursor
            self.refresh(layout=relayout)

    @property
    def lines(self) -> list[str]:
        """The plain text of the leg rows (tests and snapshots)."""
        return [line for line, _, _ in self._lines]

    def render(self) -> Text:
        style = self.component_style
        out = Text(no_wrap=True, overflow="crop")
        out.append("  " + HEADER, style("combo-legs--header"))
        if not self._lines:
            out.append("\n  " + self._empty)
        for i, (line, action, bad) in enumerate(self._lines):
            out.append("\n")
            marker = "!" if bad else ("▸" if i == self._cursor and self.has_focus else " ")
            row = Text(
                f"{marker} {line}",
                style("combo-legs--buy" if action == "BUY" else "combo-legs--sell"),
            )
            if bad:
                row.stylize(style("combo-legs--error"), 0, 1)
            if i == self._cursor:
                row.stylize(style("combo-legs--cursor"))
            out.append_text(row)
        return out

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
