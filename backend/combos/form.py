"""The combo builder's form: what the trader has entered, and what it would send.

Pure (no gateway, no Textual): the legs and the order fields, an edit counter that tells a
preview it is stale, the signed limit a price mode gives, the order, and every reason it
cannot be sent (shown beside the field it concerns).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from livedesk.backend.combos import legs as cb
from livedesk.backend.combos.legs import Chain, ComboBuildError, ComboOrder, Leg, Problem, is_number
from livedesk.backend.combos.payoff import NetPrice

PRICE_MODES = ("mid", "natural", "custom")


@dataclass
class ComboForm:
    """Legs, cursor, template, quantity, order type, price mode and the custom limit."""

    legs: tuple[Leg, ...] = ()
    cursor: int = 0
    template: str = "custom"
    quantity: int = 1
    order_type: str = "LMT"
    price_mode: str = "mid"
    custom_limit: float | None = None
    limit_error: str = ""
    version: int = 0
    """Bumped by every edit: a preview of another version is stale."""
    last_step: int = 1
    tag: str = "manual"

    def edited(self) -> None:
        """Count an edit."""
        self.version += 1

    def apply(self, fn: Callable[[], tuple[Leg, ...]], template: str | None = None) -> str:
        """Replace the legs by ``fn()``; the error text when it refuses ("" when done)."""
        try:
            new = fn()
        except ComboBuildError as exc:
            return str(exc)
        self.legs = tuple(new)
        if template is not None:
            self.template = template
        self.cursor = min(self.cursor, max(len(self.legs) - 1, 0))
        self.edited()
        return ""

    def limit(self, net: NetPrice) -> float | None:
        """The signed limit the price mode gives (None for a market order or no price)."""
        if self.order_type == "MKT":
            return None
        if self.price_mode == "custom":
            return self.custom_limit
        value = net.mid if self.price_mode == "mid" else net.natural
        return cb.round_tick(value) if is_number(value) else None

    def order(self, net: NetPrice) -> ComboOrder:
        """The order a preview would show now."""
        return ComboOrder(
            self.legs,
            self.quantity,
            self.order_type,
            self.limit(net),
            self.template,
            self.tag,
            net.mid if is_number(net.mid) else None,
        )

    def cycle_price_mode(self, n: int, net: NetPrice) -> None:
        """mid → natural → custom (a new custom limit starts at the mid)."""
        i = PRICE_MODES.index(self.price_mode)
        self.price_mode = PRICE_MODES[(i + n) % len(PRICE_MODES)]
        if self.price_mode == "custom" and self.custom_limit is None:
            self.custom_limit = cb.round_tick(net.mid) if is_number(net.mid) else None
        self.limit_error = ""
        self.edited()

    def accept_limit_text(self, text: str) -> bool:
        """A typed signed limit (custom mode, net limit order); False when not a number."""
        self.price_mode = "custom"
        self.edited()
        try:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            self.limit_error = f"limit {text!r} is not a number (signed: -3.15 is a 3.15 credit)"
            self.custom_limit = None
            return False
        self.limit_error = ""
        self.custom_limit, self.order_type = cb.round_tick(value), "LMT"
        return True

    def problems(
        self,
        net: NetPrice,
        chains: Mapping[str, Chain],
        today: dt.date,
        collar: float,
        min_combo_collar: float,
        refusals: Sequence[str] = (),
    ) -> list[Problem]:
        """Every reason the order cannot be sent: legs, quantity, quotes, price, state."""
        out = cb.validate_legs(self.legs, chains, today, self.template)
        if self.quantity < 1:
            out.append(Problem("quantity", f"quantity must be 1 or more, got {self.quantity}"))
        if self.legs and not is_number(net.mid):
            extra = ": market order refused" if self.order_type == "MKT" else ""
            out.append(Problem("quotes", f"no two-sided quote on every leg, so no mid{extra}"))
        if self.order_type == "LMT":
            limit = self.limit(net)
            if self.limit_error:
                out.append(Problem("price", self.limit_error))
            elif limit is None or not is_number(limit):
                out.append(Problem("price", "no limit price (no mid / natural yet, or none typed)"))
            elif is_number(net.mid):
                why = cb.collar_problem(limit, net.mid, collar, min_combo_collar)
                if why:
                    out.append(Problem("price", why))
        out += [Problem("state", reason) for reason in refusals]
        return out
