"""The combo builder's preview and send: what-if, 30 s validity, exactly-the-previewed order.

A mixin of :class:`~livedesk.tui.screens.combo_builder.ComboBuilderScreen` (which owns the
form, the feed, the TradingApp and the clock); kept apart so the order flow reads on its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ib_async import Contract

from livedesk.backend.combos import legs as cb
from livedesk.backend.combos.feed import WhatIf, make_order
from livedesk.backend.combos.legs import ComboBuildError, ComboOrder, is_number
from livedesk.backend.combos.payoff import preview_warnings
from livedesk.backend.contracts import ContractError
from livedesk.backend.errors import PriceUnavailable
from livedesk.backend.trading.app import OrderRefused
from livedesk.tui.screens.combo_preview import ComboPreviewScreen
from livedesk.tui.widgets.combo_legs import preview_line


@dataclass
class Preview:
    """A preview: the exact order, when it was made, the edit version it belongs to."""

    order: ComboOrder
    created: float
    version: int
    bag: Contract | None = None
    what_if: WhatIf | None = None
    error: str = ""


class ComboSendMixin:
    """Preview (``enter``), send (``shift+b`` / *Send*) and the sent order's status."""

    # ---- trade following ---------------------------------------------------------------
    def _follow_trade(self) -> None:
        t = self.trade
        errors = [e for e in t.log if e.errorCode]
        status = t.orderStatus.status
        if errors and status in ("Cancelled", "Inactive", "ApiCancelled"):
            e = errors[-1]
            self.message = f"order #{t.order.orderId} rejected: IB {e.errorCode} {e.message}"
            self.trade = None
        elif status == "Filled":
            self.message = (
                f"order #{t.order.orderId} Filled {t.orderStatus.filled:g} @ "
                f"{t.orderStatus.avgFillPrice:+.2f}"
            )
            self.trade = None
        else:
            self.message = f"order #{t.order.orderId} {status}"
        self._label("#combo-status", self.message)

    # ---- preview and send --------------------------------------------------------------
    def action_preview(self) -> None:
        self.repaint()
        if self.problems:
            self.message = f"cannot preview: {self.problems[0].message} (nothing sent)"
            self.repaint()
            return
        order = self.current_order()
        preview = Preview(order, self.clock(), self.form.version)
        self.preview = preview
        quotes = [self.feed.quote(leg.key) for leg in self.form.legs]
        legs = [preview_line(leg, q) for leg, q in zip(self.form.legs, quotes, strict=True)]
        s = self.summary
        summary = []
        if s is not None:
            from livedesk.tui.widgets.combo_order import money

            be = " / ".join(f"{b:.2f}" for b in s.breakevens) or "none"
            summary.append(
                f"max profit {money(s.max_profit)} · max loss {money(s.max_loss)} · breakevens {be}"
                + (f" · PoP {s.pop:.0%}" if is_number(s.pop) else "")
            )
            if s.calendar:
                summary.append("P/L as of the earliest expiry (later legs at their IV)")
        summary.append(
            f"natural {self.net.natural:+.2f} ({cb.price_words(self.net.natural)}) · "
            f"mid {self.net.mid:+.2f} ({cb.price_words(self.net.mid)})"
        )
        screen = ComboPreviewScreen(order, legs, summary, preview.created, self.clock)
        self.preview_screen = screen
        self.app.push_screen(screen, self._preview_closed)
        self.run_worker(self._fill_preview(preview, screen), group="combo-preview", exclusive=True)

    async def _fill_preview(self, preview: Preview, screen: ComboPreviewScreen) -> None:
        try:
            preview.bag = await self.feed.bag(preview.order.legs)
            preview.what_if = await self.feed.what_if(preview.bag, preview.order)
        except (TimeoutError, ContractError, ComboBuildError, ConnectionError) as exc:
            preview.error = str(exc)
        for _ in range(200):  # the answer can come back before the dialog has mounted
            if screen.is_mounted or self.preview_screen is not screen:
                break
            await asyncio.sleep(0.01)
        if not screen.is_mounted or self.preview_screen is not screen:
            return
        if preview.error or preview.what_if is None:
            screen.set_error(preview.error or "no answer")
            return
        bp = self.feed.buying_power()
        warnings = preview_warnings(
            preview.what_if.init_margin_change, bp, self.net, self.bp_warn, self.spread_warn
        )
        screen.set_what_if(preview.what_if, bp, warnings)

    def _preview_closed(self, result: str | None) -> None:
        self.preview_screen = None
        if result == "send":
            self.action_send()

    def action_send(self) -> None:
        p = self.preview
        why = cb.preview_problem(
            p.created if p else None, p.version if p else None, self.form.version, self.clock()
        )
        if why is None and p is not None and p.bag is None:
            why = p.error or "the preview is still waiting for the gateway"
        if why is None:
            state = [x for x in self._compute_problems() if x.field == "state"]
            if state:
                why = state[0].message
        if why is not None:
            if p is not None and "old" in why:
                self.preview = None
            self.message = f"not sent: {why}"
            self.repaint()
            return
        self.preview = None
        self.run_worker(self._send(p), group="combo-send", exclusive=False)

    async def _send(self, p: Preview) -> None:
        order = make_order(p.order)
        try:
            result = await self.trading.send_order(p.bag, order, strategy=p.order.tag)
        except OrderRefused as exc:
            self.message = "refused by the guard: " + "; ".join(exc.reasons)
        except (PriceUnavailable, ContractError, ConnectionError) as exc:
            self.message = f"not sent: {exc}"
        else:
            self.trade = result.trade
            self.message = f"sent #{order.orderId}: {p.order.words()}"
        self.repaint()
