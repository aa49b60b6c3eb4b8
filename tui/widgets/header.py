"""The two-line header: account, badge, NLV, day PnL, exposure, connection, exchange clock."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from livedesk.tui import format as fmt


def format_age(seconds: float) -> str:
    """``12s``, ``3m05s``, ``1h02m``."""
    if not fmt.ok(seconds):
        return "?"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class HeaderBar(Widget):
    """Renders a :class:`~livedesk.backend.console.session.HeaderView`."""

    COMPONENT_CLASSES = {
        "header--badge-sim",
        "header--badge-paper",
        "header--badge-live",
        "header--up",
        "header--down",
        "header--ok",
        "header--warn",
        "header--bad",
        "header--dim",
        "header--label",
    }
    DEFAULT_CSS = """
    HeaderBar { height: 2; dock: top; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = None
        self.frozen = False
        self.status_text = "connecting…"
        self._text: Text | None = None

    def show(self, view, frozen: bool = False, status: str = "") -> None:
        """Draw ``view`` (None while connecting)."""
        self.view, self.frozen, self.status_text = view, frozen, status
        text = self._build() if self.is_mounted else None
        if text is None or text != self._text:
            self._text = text
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._text = None  # rebuilt with the new theme's styles on the next render

    def _s(self, name: str):
        return self.get_component_rich_style(f"header--{name}", partial=True)

    def _build(self) -> Text:
        v = self.view
        t = Text(no_wrap=True, overflow="ellipsis")
        label = self._s("label")
        if v is None or not v.account:
            t.append(" LiveDesk ", label)
            t.append(f" {self.status_text}", self._s("warn"))
            if v is not None:
                t.append(f"\n {v.market.label()}", self._s("dim"))
            return t
        if v.badge:
            speed = f" {v.speed}" if getattr(v, "speed", "") else ""
            t.append(f" {v.badge}{speed} ", self._s(f"badge-{v.badge.lower()}"))
        if v.readonly:
            t.append(" READ-ONLY ", self._s("warn"))
        if v.badge == "LIVE" and not v.live_confirmed:
            t.append(" ORDERS LOCKED ", self._s("bad"))
        t.append(f" {v.account} ", label)
        t.append(" NLV ", self._s("dim"))
        t.append(fmt.money(v.nlv), self._s("dim") if v.stale else None)
        if v.stale:
            t.append(f" (stale {format_age(v.stale_age)})", self._s("warn"))
        t.append("  Day ", self._s("dim"))
        text, style = fmt.signed(v.day_pnl)
        t.append(text or "—", self._s(style) if style in ("up", "down") else None)
        pct_text, pct_style = fmt.signed_pct(v.day_pnl_pct)
        if pct_text:
            t.append(f" ({pct_text})", self._s(pct_style) if pct_style in ("up", "down") else None)
        t.append("  Gross ", self._s("dim"))
        t.append(fmt.money(v.gross))
        if fmt.ok(v.gross_pct):
            t.append(f" ({fmt.pct(v.gross_pct, 0)})")
        if v.trading_state and v.trading_state != "ACTIVE":
            reason = f": {v.trading_reason}" if v.trading_reason else ""
            t.append(f"  {v.trading_state}{reason} ", self._s("bad"))
        if self.frozen:
            t.append("  FROZEN ", self._s("warn"))
        t.append("\n ")
        state_style = "ok" if v.connection == "CONNECTED" else "bad"
        t.append(v.connection, self._s(state_style))
        if v.stale and v.reconnect_in is not None:
            t.append(f" reconnecting in {v.reconnect_in:.0f} s", self._s("bad"))
        elif v.stale:
            t.append(" reconnecting…", self._s("bad"))
        if v.last_code:
            t.append(f" (IB {v.last_code})", self._s("dim"))
        t.append(f"  {v.farms}", self._s("bad" if "broken" in v.farms else "dim"))
        t.append(f"  {v.market.label()}", self._s("dim"))
        if self.status_text:
            t.append(f"  {self.status_text}", self._s("dim"))
        return t

    def render(self) -> Text:
        if self._text is None:
            self._text = self._build()
        return self._text
