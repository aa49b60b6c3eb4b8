"""The order ticket: what the trader has entered, the quantity it means, the orders it would
send, every reason it cannot be sent, and the preview rule (valid 30 s, exactly this order).

Pure (no gateway, no Textual). Sizes in $ or % of NLV go through the order primitives' own
sizing (:mod:`livedesk.backend.trading.orders`), so the ticket shows the quantity they would
trade. A bracket is a parent and its take-profit and stop-loss children: the sender gives the
parent its id, the children its ``parentId``, and transmits the last child only (IB's rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ib_async import Contract, Order

from livedesk.backend.manual.command_line import OrderCommand, Price
from livedesk.backend.trading import orders as sizing

ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT", "TRAIL", "MOC", "LOC")
TIFS = ("DAY", "GTC", "IOC")
SIZE_KINDS = ("quantity", "value", "percent")
PREVIEW_SECONDS = 30.0
"""A preview may be sent for this long, and only while the ticket is unedited."""


@dataclass(frozen=True)
class Problem:
    """Why the ticket cannot be sent, beside the field it concerns."""

    field: str
    message: str


@dataclass
class OrderTicket:
    """One order being entered (a bracket when ``take_profit`` or ``stop_loss`` is set)."""

    contract: Contract
    label: str
    action: str = "BUY"
    size_kind: str = "quantity"
    size: float = 0.0
    order_type: str = "MKT"
    limit: float | None = None
    stop: float | None = None
    trail_amount: float | None = None
    trail_percent: float | None = None
    tif: str = "DAY"
    outside_rth: bool = False
    take_profit: Price | None = None
    stop_loss: Price | None = None
    version: int = 0
    """Bumped by every edit: a preview of another version cannot be sent."""

    @classmethod
    def from_command(cls, command: OrderCommand) -> OrderTicket:
        """The ticket a command line order fills in."""
        return cls(
            contract=command.symbol.contract,
            label=command.symbol.label,
            action=command.action,
            size_kind=command.size_kind,
            size=command.size,
            order_type=command.order_type,
            limit=command.limit,
            stop=command.stop,
            trail_amount=command.trail_amount,
            trail_percent=command.trail_percent,
            tif=command.tif,
            outside_rth=command.outside_rth,
            take_profit=command.take_profit,
            stop_loss=command.stop_loss,
        )

    @classmethod
    def closing(cls, contract: Contract, label: str, position: float) -> OrderTicket:
        """The opposite market order for the whole ``position``."""
        return cls(
            contract=contract,
            label=label,
            action="SELL" if position > 0 else "BUY",
            size=abs(position),
        )

    def edit(self, **changes) -> None:
        """Change fields; the version moves on (an open preview goes stale)."""
        for key, value in changes.items():
            if not hasattr(self, key) or key == "version":
                raise AttributeError(f"an order ticket has no field {key!r}")
            setattr(self, key, value)
        self.version += 1

    @property
    def bracket(self) -> bool:
        return self.take_profit is not None or self.stop_loss is not None

    # ---- size ---------------------------------------------------------------------
    def quantity(
        self, quote: sizing.Quote | float | None, multiplier: float, nlv: float | None
    ) -> int:
        """Contracts to trade (≥ 0): the quantity, or $ / % of NLV sized like the primitives.

        Raises the primitives' own errors (PriceUnavailable, AccountValueUnavailable) when a
        $ or % size has no price or no NLV to be sized with.
        """
        if self.size_kind == "quantity":
            return int(round(self.size))
        if quote is None:
            quote = float("nan")
        if self.size_kind == "value":
            plan = sizing.plan_order_value(self.size, quote, multiplier)
        else:
            plan = sizing.plan_order_percent(self.size, nlv, quote, multiplier)
        return abs(int(plan.quantity))

    # ---- orders -------------------------------------------------------------------
    def reference_price(self, mid: float | None) -> float | None:
        """What bracket offsets are taken from: the limit, else the stop, else the mid."""
        for price in (self.limit, self.stop, mid):
            if price is not None and math.isfinite(price):
                return price
        return None

    def _exit_price(self, price: Price, reference: float | None) -> float | None:
        if not price.offset:
            return price.value
        return None if reference is None else round(reference + price.value, 6)

    def orders(self, quantity: int, mid: float | None = None) -> list[Order]:
        """The parent order, then the take-profit and stop-loss children of a bracket."""
        parent = Order(
            action=self.action,
            totalQuantity=float(quantity),
            orderType=self.order_type,
            tif=self.tif,
            outsideRth=self.outside_rth,
        )
        if self.order_type in ("LMT", "STP LMT", "LOC"):
            parent.lmtPrice = float(self.limit)
        if self.order_type in ("STP", "STP LMT"):
            parent.auxPrice = float(self.stop)
        if self.order_type == "TRAIL":
            if self.trail_percent is not None:
                parent.trailingPercent = float(self.trail_percent)
            else:
                parent.auxPrice = float(self.trail_amount)
        if not self.bracket:
            return [parent]
        reference = self.reference_price(mid)
        exit_action = "SELL" if self.action == "BUY" else "BUY"
        children = []
        for price, order_type, field in (
            (self.take_profit, "LMT", "lmtPrice"),  # take-profit: a limit on the exit side
            (self.stop_loss, "STP", "auxPrice"),  # stop-loss: a stop on the exit side
        ):
            if price is None:
                continue
            child = Order(
                action=exit_action,
                totalQuantity=float(quantity),
                orderType=order_type,
                tif="GTC",
                outsideRth=self.outside_rth,
            )
            setattr(child, field, float(self._exit_price(price, reference)))
            children.append(child)
        parent.transmit = False
        for child in children[:-1]:
            child.transmit = False
        children[-1].transmit = True
        return [parent, *children]

    # ---- validation ---------------------------------------------------------------
    def problems(
        self,
        quantity: int | None,
        mid: float | None,
        collar: float | None = None,
        refusals: tuple[str, ...] = (),
    ) -> list[Problem]:
        """Every reason this ticket cannot be sent now (empty: it can be previewed).

        ``collar`` is the guard's price collar (fraction of the mid) for limit prices;
        ``refusals`` the trading state's reasons (read-only, halted, LIVE not confirmed).
        """
        out = []
        if self.action not in ("BUY", "SELL"):
            out.append(Problem("action", f"action must be BUY or SELL, got {self.action!r}"))
        if self.order_type not in ORDER_TYPES:
            out.append(Problem("type", f"order type must be one of {', '.join(ORDER_TYPES)}"))
        if self.tif not in TIFS:
            out.append(Problem("tif", f"time in force must be one of {', '.join(TIFS)}"))
        if self.order_type in ("MOC", "LOC") and self.tif != "DAY":
            out.append(Problem("tif", f"{self.order_type} is a DAY order"))
        if quantity is None or quantity < 1:
            out.append(Problem("size", f"quantity must be 1 or more, got {quantity or 0}"))
        needs_limit = self.order_type in ("LMT", "STP LMT", "LOC")
        if needs_limit and not _positive(self.limit):
            out.append(Problem("limit", "a limit price (> 0) is needed"))
        if self.order_type in ("STP", "STP LMT") and not _positive(self.stop):
            out.append(Problem("stop", "a stop price (> 0) is needed"))
        if self.order_type == "TRAIL" and not (
            _positive(self.trail_amount) or _positive(self.trail_percent)
        ):
            out.append(Problem("trail", "a trailing amount or percent is needed"))
        if needs_limit and _positive(self.limit) and collar is not None and _positive(mid):
            distance = abs(self.limit - mid) / mid
            if distance > collar:
                out.append(
                    Problem(
                        "limit",
                        f"limit {self.limit:g} is {abs(self.limit - mid):.2f} from the mid "
                        f"{mid:g}; the guard allows {collar * mid:.2f} ({collar:.0%} of the mid)",
                    )
                )
        out += self._bracket_problems(mid)
        out += [Problem("state", reason) for reason in refusals]
        return out

    def _bracket_problems(self, mid: float | None) -> list[Problem]:
        if not self.bracket:
            return []
        out = []
        if self.order_type in ("MOC", "LOC", "TRAIL"):
            out.append(
                Problem(
                    "bracket", f"a bracket needs a MKT, LMT or STP parent, not {self.order_type}"
                )
            )
            return out
        reference = self.reference_price(mid)
        buy = self.action == "BUY"
        for name, price, wrong in (
            ("take-profit", self.take_profit, "below" if buy else "above"),
            ("stop-loss", self.stop_loss, "above" if buy else "below"),
        ):
            if price is None:
                continue
            value = self._exit_price(price, reference)
            if value is None:
                out.append(Problem("bracket", f"{name} offset needs a price to start from"))
                continue
            if not value > 0:
                out.append(Problem("bracket", f"{name} {value:g} is not a positive price"))
                continue
            if reference is None:
                continue
            too_far = value <= reference if (name == "take-profit") == buy else value >= reference
            if too_far:
                out.append(
                    Problem(
                        "bracket",
                        f"{name} {value:g} is {wrong} the entry {reference:g}: it would fill at once",
                    )
                )
        return out


def _positive(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


@dataclass(frozen=True)
class Preview:
    """A previewed order: what was shown is exactly what ``shift+b`` may send, for 30 s."""

    version: int
    made_at: float
    """The broker's clock (epoch seconds) when the preview was made."""
    quantity: int
    orders: tuple[Order, ...]

    @classmethod
    def of(cls, ticket: OrderTicket, quantity: int, now: float, mid: float | None) -> Preview:
        return cls(ticket.version, now, quantity, tuple(ticket.orders(quantity, mid)))

    def seconds_left(self, now: float) -> float:
        return max(0.0, self.made_at + PREVIEW_SECONDS - now)

    def why_not_sendable(self, ticket: OrderTicket, now: float) -> str | None:
        """None when the preview may be sent now; else why (edited, or expired)."""
        if ticket.version != self.version:
            return "the ticket changed since the preview: preview again"
        if self.seconds_left(now) <= 0:
            return f"the preview is older than {PREVIEW_SECONDS:g} s: preview again"
        return None

    def copies(self) -> list[Order]:
        """Fresh copies of the previewed orders to send (the preview itself never changes)."""
        return [replace_order(o) for o in self.orders]


def replace_order(order: Order) -> Order:
    """A copy of ``order`` (ib_async orders are mutable dataclasses)."""
    return replace(order)
