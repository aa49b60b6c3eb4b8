"""The Attribution view (Risk pane, key ``a``): why live differs from the backtest.

Per strategy (``[``/``]`` or ←/→ cycle through them, the total last): the components in $,
bps of NLV and bps a year, the waterfall backtest → ideal → each cost → live, and the trades
that contributed most to each component. A strategy that cannot be attributed (a missing mark,
a record without a time) shows why on its own page; the other pages are unaffected. The
attribution is computed from the journal in a worker thread (it reads SQLite), so opening the
view never blocks the console. A ``progressive`` source (one taking a ``partial`` callback, as
:func:`~livedesk.backend.risk.attribution_source.attribute_pages` does) shows each strategy's
page as soon as it is computed, and says which pages are still being computed.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from livedesk.backend.risk.attribution import Attribution
from livedesk.backend.risk.attribution_source import AttributionPages
from livedesk.backend.risk.attribution_view import (
    component_table,
    top_trades_text,
    waterfall_text,
)

Source = Callable[..., AttributionPages]
"""``source()`` → the pages; a progressive one is called ``source(partial=callback)``."""
TOTAL = "total"


class AttributionScreen(ModalScreen[None]):
    """Waterfall and top trades of one strategy's attribution at a time."""

    CSS_PATH = "attribution.tcss"
    BINDINGS = [
        Binding("escape,q", "close", "Close", id="attribution.close"),
        Binding("right,bracketright", "cycle(1)", "Next", id="attribution.next"),
        Binding("left,bracketleft", "cycle(-1)", "Previous", id="attribution.previous"),
    ]

    def __init__(
        self, source: Source, strategy: str | None = None, *, progressive: bool = False
    ) -> None:
        super().__init__()
        self.source = source
        self.progressive = progressive
        self.pending: tuple[str, ...] = ()
        self._moved = False  # the user cycled: arriving pages no longer move the view
        self.wanted = strategy
        self.parts: dict[str, Attribution] = {}
        self.errors: dict[str, str] = {}
        self.order: list[str] = []
        self.index = 0
        self.error = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="attribution"):
            yield Static("Attribution — computing…", id="attribution-title")
            yield Static("", id="attribution-summary")
            yield Static("Components", classes="attribution-section")
            yield Static("", id="attribution-components")
            yield Static("Waterfall (bps of NLV)", classes="attribution-section")
            yield Static("", id="attribution-waterfall")
            yield Static("Top trades per component (USD)", classes="attribution-section")
            yield Static("", id="attribution-top")
            yield Static("←/→ strategy · Esc closes", id="attribution-help")

    def on_mount(self) -> None:
        self.run_worker(self._load, thread=True, exclusive=True, group="attribution")

    def _load(self) -> None:
        def partial(pages: AttributionPages) -> None:
            self.app.call_from_thread(self._loaded, pages)

        try:
            pages = self.source(partial=partial) if self.progressive else self.source()
        except ValueError as exc:
            self.app.call_from_thread(self._show_error, str(exc))
            return
        self.app.call_from_thread(self._loaded, pages)

    def _show_error(self, text: str) -> None:
        self.error = text
        self.query_one("#attribution-title", Static).update(f"Attribution — {text}")

    def _loaded(self, pages: AttributionPages) -> None:
        shown = self.current
        self.pending = tuple(pages.pending)
        self.parts = dict(pages.per)
        self.errors = dict(pages.errors)
        if pages.total is not None and len(pages.per) > 1:
            self.parts[TOTAL] = pages.total
        self.order = [*pages.names, *([TOTAL] if TOTAL in self.parts else [])]
        if self.wanted in self.order and not self._moved:
            self.index = self.order.index(self.wanted)
        elif shown in self.order:  # a page arriving does not move the one being read
            self.index = self.order.index(shown)
        help_text = "←/→ strategy · Esc closes"
        if self.pending:
            help_text = f"still computing: {', '.join(self.pending)} · {help_text}"
        self.query_one("#attribution-help", Static).update(help_text)
        self._render_current()

    @property
    def current(self) -> str | None:
        """The strategy shown (``total`` for all of them), or None before loading."""
        return self.order[self.index] if self.order else None

    def _render_current(self) -> None:
        title = self.query_one("#attribution-title", Static)
        if not self.order:
            title.update(
                f"Attribution — computing {self.pending[0]}…"
                if self.pending
                else "Attribution — no strategy orders or decisions recorded yet"
            )
            return
        name = self.order[self.index]
        more = f" + {len(self.pending)} computing" if self.pending else ""
        title.update(f"Attribution — {name}  ({self.index + 1}/{len(self.order)}{more})")
        if name in self.errors:
            self.query_one("#attribution-summary", Static).update(
                Text(f"cannot attribute {name}: {self.errors[name]}")
            )
            for wid in ("components", "waterfall", "top"):
                self.query_one(f"#attribution-{wid}", Static).update("")
            return
        a = self.parts[name]
        bt = "n/a (no reference over the window)"
        if a.backtest_pnl is not None:
            bt = f"{a.backtest_pnl:,.2f}"
        self.query_one("#attribution-summary", Static).update(
            f"{a.window_days:.2f} days · NLV {a.nlv:,.0f} · {a.trades} orders filled · "
            f"PnL backtest {bt} · ideal {a.ideal_pnl:,.2f} · live {a.live_pnl:,.2f}"
        )
        self.query_one("#attribution-components", Static).update(Text(component_table(a)))
        width = max(60, min(self.size.width - 8, 140))
        self.query_one("#attribution-waterfall", Static).update(Text(waterfall_text(a, width)))
        self.query_one("#attribution-top", Static).update(Text(top_trades_text(a)))

    def action_cycle(self, step: int) -> None:
        if self.order:
            self._moved = True
            self.index = (self.index + step) % len(self.order)
            self._render_current()

    def action_close(self) -> None:
        self.dismiss(None)
