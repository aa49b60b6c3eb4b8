"""The combo builder's editing keys: legs (add, delete, flip, ratio, strike, right, expiry,
shift, width, select) and the combo and order fields (template, expiry, quantity, price mode,
order type, limit).

A mixin of :class:`~livedesk.tui.screens.combo_builder.ComboBuilderScreen`: every action
changes the form through the pure functions of :mod:`livedesk.backend.combos.legs` and then lets
the screen invalidate the preview, stream the new legs and repaint.
"""

from __future__ import annotations

from textual.widgets import Input

from livedesk.backend.combos import legs as cb
from livedesk.backend.combos.legs import ComboBuildError, is_number
from livedesk.tui.screens.combo_preview import ComboTemplatePicker


class ComboEditMixin:
    """The builder's edit actions (bound in the legs table, the order panel and the screen)."""

    # ---- actions: legs -----------------------------------------------------------------
    def _leg_ok(self) -> bool:
        if not self.form.legs:
            self.edit_error = "no legs: t then a template letter, or b / s to add one"
            self.repaint()
            return False
        return True

    def action_add_leg(self, action: str) -> None:
        c = self._need_chain()
        if c is None or self.expiry is None:
            return
        spot = self._spot()
        if not is_number(spot):
            self.edit_error = f"no price for {c.symbol} yet"
            self.repaint()
            return
        self._apply(
            lambda: cb.add_leg(self.form.legs, c, spot, self.expiry, action), template="custom"
        )
        self.form.cursor = len(self.form.legs) - 1
        self.repaint()

    def action_delete_leg(self) -> None:
        if self._leg_ok():
            self._apply(lambda: cb.delete_leg(self.form.legs, self.form.cursor), template="custom")

    def action_flip(self) -> None:
        if self._leg_ok():
            self._apply(lambda: cb.flip_side(self.form.legs, self.form.cursor))

    def action_ratio(self, n: int) -> None:
        if self._leg_ok():
            self._apply(lambda: cb.change_ratio(self.form.legs, self.form.cursor, n))

    def action_strike(self, n: int) -> None:
        self.form.last_step = 1
        self._polls = 0 if n > 0 else -1
        c = self._need_chain()
        if c is not None and self._leg_ok():
            self._apply(lambda: cb.step_strike(self.form.legs, self.form.cursor, c, n))

    def action_right(self, right: str) -> None:
        if self._leg_ok():
            self._apply(lambda: cb.toggle_right(self.form.legs, self.form.cursor, right))

    def action_leg_expiry(self, n: int) -> None:
        c = self._need_chain()
        if c is not None and self._leg_ok():
            self._apply(lambda: cb.step_leg_expiry(self.form.legs, self.form.cursor, c, n))

    def action_shift(self, n: int) -> None:
        c = self._need_chain()
        if c is not None and self._leg_ok():
            self._apply(lambda: cb.shift_strikes(self.form.legs, c, n))

    def action_width(self, n: int) -> None:
        c = self._need_chain()
        if c is not None and self._leg_ok():
            self._apply(lambda: cb.change_width(self.form.legs, c, n))

    def action_next_leg(self, n: int) -> None:
        if self.form.legs:
            self._select((self.form.cursor + n) % len(self.form.legs))

    def action_select_leg(self, i: int) -> None:
        if 0 <= i < len(self.form.legs):
            self._select(i)

    def _select(self, i: int) -> None:
        self.form.cursor = i
        self.run_worker(self._sync_quotes, group="combo-quotes", exclusive=True)
        self.repaint()

    # ---- actions: combo and order ------------------------------------------------------
    def action_template(self) -> None:
        if self._need_chain() is None:
            return
        self.app.push_screen(ComboTemplatePicker(), self._picked)

    def _picked(self, name: str | None) -> None:
        if name:
            self._set_template(name)

    def action_expiry(self, n: int) -> None:
        c = self._need_chain()
        if c is None or self.expiry is None:
            return
        try:
            new_expiry = cb.step_in(c.expiries, self.expiry, n, "expiry")
        except ComboBuildError as exc:
            self.edit_error = str(exc)
            self.repaint()
            return
        if self.form.legs:
            self._apply(lambda: cb.shift_expiries(self.form.legs, c, n))
            if self.edit_error:
                return
        self.expiry = new_expiry
        if not self.form.legs:
            self._edited()
        self.repaint()

    def action_quantity(self, n: int) -> None:
        self.form.quantity = max(self.form.quantity + n, 0)
        self._edited()

    def action_price_mode(self, n: int) -> None:
        self.form.cycle_price_mode(n, self.net)
        self._edited(counted=True)

    def action_order_type(self) -> None:
        self.form.order_type = "MKT" if self.form.order_type == "LMT" else "LMT"
        self._edited()

    def action_edit_limit(self) -> None:
        box = self.query_one("#combo-limit", Input)
        limit = self.current_limit()
        box.value = f"{limit:.2f}" if limit is not None and is_number(limit) else ""
        box.display = True
        box.focus()
