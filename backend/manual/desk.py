"""The manual desk: a typed command or a ticket made ready to preview, then sent exactly.

Async glue over one :class:`~livedesk.backend.trading.app.TradingApp` (no Textual): it
resolves the contract, sizes the ticket like the primitives, lists every problem, asks the
guard for its verdict (a dry run: nothing reaches the gateway) and the gateway for the
what-if, and finally sends the previewed orders through :func:`.sender.send_preview`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ib_async import Contract

from livedesk.backend.combos.feed import WhatIf, what_if_of
from livedesk.backend.contracts import ContractError, combo_leg, multiplier_of, spread
from livedesk.backend.errors import AccountValueUnavailable, PriceUnavailable, SizingError
from livedesk.backend.manual.command_line import (
    CloseCommand,
    Command,
    OrderCommand,
    parse_command,
)
from livedesk.backend.manual.modify import (
    check_modification,
    modification_preview,
    modify_ticket,
    send_modification,
    ticket_of_order,
)
from livedesk.backend.manual.sender import send_preview
from livedesk.backend.manual.symbols import ParsedSymbol
from livedesk.backend.manual.ticket import OrderTicket, Preview, Problem
from livedesk.backend.trading.results import OrderRefused, OrderResult

if TYPE_CHECKING:
    import datetime as dt

    from ib_async import Trade

    from livedesk.backend.trading.app import TradingApp
    from livedesk.backend.trading.orders import Quote


@dataclass
class Prepared:
    """A ticket ready to preview: its contract, quantity, problems, verdict and what-if."""

    ticket: OrderTicket
    contract: Contract
    quantity: int
    mid: float | None
    problems: list[Problem] = field(default_factory=list)
    what_if: WhatIf | None = None
    preview: Preview | None = None
    modifies: Trade | None = None
    """The working order this ticket modifies (same orderId), or None for a new order."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def words(self) -> str:
        """The order in words: ``BUY 10 AAPL LMT 180.50 DAY`` (+ bracket exits)."""
        t = self.ticket
        parts = [t.action, f"{self.quantity:g}", t.label, t.order_type]
        if self.modifies is not None:
            parts.insert(0, f"MODIFY #{self.modifies.order.orderId} to")
        if t.order_type in ("STP", "STP LMT") and t.stop is not None:
            parts.append(f"stop {t.stop:g}")
        if t.order_type in ("LMT", "STP LMT", "LOC") and t.limit is not None:
            parts.append(f"limit {t.limit:g}")
        if t.order_type == "TRAIL":
            parts.append(
                f"trail {t.trail_percent:g}%" if t.trail_percent else f"trail {t.trail_amount:g}"
            )
        parts.append(t.tif)
        if t.outside_rth:
            parts.append("outside RTH")
        if t.bracket and self.preview is not None:
            for child in self.preview.orders[1:]:
                price = child.lmtPrice if child.orderType == "LMT" else child.auxPrice
                what = "take-profit" if child.orderType == "LMT" else "stop-loss"
                parts.append(f"· {what} {child.action} {price:g}")
        return " ".join(parts)


class ManualDesk:
    """Tickets for one app; ``now`` is the broker's clock (epoch seconds)."""

    def __init__(
        self, app: TradingApp, now: Callable[[], float], today: Callable[[], dt.date]
    ) -> None:
        self.app = app
        self.now = now
        self.today = today

    def parse(self, text: str) -> Command:
        """The command ``text`` says (CommandError with the column at fault)."""
        return parse_command(text, self.today())

    async def resolve(self, symbol: ParsedSymbol) -> Contract:
        try:
            return await self.app.resolve_contract(symbol.contract)
        except ContractError as exc:
            raise OrderRefused([f"{symbol.label}: {exc}"]) from exc

    async def ticket_for(
        self, command: OrderCommand | CloseCommand
    ) -> tuple[OrderTicket, Contract]:
        """The ticket a command fills in, with its qualified contract."""
        contract = await self.resolve(command.symbol)
        if isinstance(command, CloseCommand):
            return self._closing(contract, command.symbol.label), contract
        return OrderTicket.from_command(command), contract

    async def closing_ticket(self, con_id: int, label: str) -> tuple[OrderTicket, Contract]:
        """The opposite market order for the whole position held in ``con_id``."""
        contract = await self._resolve_id(con_id, label)
        return self._closing(contract, label), contract

    def _closing(self, contract: Contract, label: str) -> OrderTicket:
        held = self.app.positions.get(contract.conId)
        qty = float(held.position) if held is not None else 0.0
        if not qty:
            raise OrderRefused([f"no position in {label} to close"])
        return OrderTicket.closing(contract, label, qty)

    async def combo_closing_ticket(
        self, legs: list[tuple[int, float]], label: str
    ) -> tuple[OrderTicket, Contract]:
        """A combo held as ``legs`` (conId, signed quantity) closed as its BAG: one SELL of
        ``units`` combos whose legs are the positions' own sides and ratios."""
        legs = [(cid, q) for cid, q in legs if q]
        if not legs:
            raise OrderRefused([f"no position in {label} to close"])
        sizes = [abs(q) for _, q in legs]
        if any(s != int(s) for s in sizes):
            raise OrderRefused([f"{label}: fractional leg sizes cannot make a combo"])
        units = math.gcd(*(int(s) for s in sizes))
        spec = []
        for cid, q in legs:
            contract = await self._resolve_id(cid, label)
            spec.append(combo_leg(contract, int(abs(q)) // units, "BUY" if q > 0 else "SELL"))
        try:
            bag = await self.app.resolve_contract(spread(spec))
        except ContractError as exc:
            raise OrderRefused([f"{label}: {exc}"]) from exc
        return OrderTicket(bag, label, action="SELL", size=float(units)), bag

    async def resolve_ticket(self, ticket: OrderTicket) -> Contract:
        """The qualified contract of a ticket read from the form (OrderRefused: unknown)."""
        try:
            return await self.app.resolve_contract(ticket.contract)
        except ContractError as exc:
            raise OrderRefused([f"{ticket.label}: {exc}"]) from exc

    async def _resolve_id(self, con_id: int, label: str) -> Contract:
        try:
            return await self.app.resolve_contract(Contract(conId=con_id))
        except ContractError as exc:
            raise OrderRefused([f"{label}: {exc}"]) from exc

    async def price(self, contract: Contract) -> tuple[Quote | None, float]:
        """(quote, mid) for sizing and the collar; a BAG has a net mid and no quote."""
        if contract.secType == "BAG":
            return None, (await self.app.market_data.combo_quote(contract, pin=False))[0]
        quote = await self.app.quote(contract)
        return quote, quote.price

    async def prepare(self, ticket: OrderTicket, contract: Contract) -> Prepared:
        """Size, check and what-if ``ticket``; the preview is made when nothing is wrong."""
        problems: list[Problem] = []
        mid: float | None = None
        quote = None
        try:
            quote, mid = await self.price(contract)
        except PriceUnavailable as exc:
            if ticket.size_kind != "quantity" or ticket.order_type in ("MKT", "STP", "MOC"):
                problems.append(Problem("price", str(exc)))
        quantity = 0
        try:
            nlv = self.app.net_liquidation if ticket.size_kind == "percent" else None
            quantity = ticket.quantity(quote, multiplier_of(contract), nlv)
        except (PriceUnavailable, AccountValueUnavailable, SizingError) as exc:
            problems.append(Problem("size", str(exc)))
        prepared = Prepared(ticket, contract, quantity, mid)
        collar = self.app.guard.limits.limit_collar
        if contract.secType == "BAG":
            collar = None  # a combo's net price may be a credit: the guard judges it
        if contract.secType == "IND":
            problems.append(
                Problem(
                    "contract",
                    f"{ticket.label} is an index: indices cannot be traded "
                    "(trade its options or futures)",
                )
            )
        problems += ticket.problems(quantity, mid, collar=collar)
        if not problems:
            problems += await self._guard_verdict(ticket, contract, quantity, mid)
        prepared.problems = _unique(problems)
        if prepared.ok:
            prepared.preview = Preview.of(ticket, quantity, self.now(), mid)
            prepared.what_if = await self._what_if(contract, prepared.preview)
        return prepared

    async def prepare_modification(
        self, trade: Trade, label: str, quantity: float | None, price: float | None
    ) -> Prepared:
        """A working order's modification (same orderId) checked and previewed like a ticket."""
        reasons = check_modification(trade, quantity, price)
        if reasons:
            raise OrderRefused(reasons)
        contract = trade.contract
        ticket = ticket_of_order(trade.order, contract, label)
        modify_ticket(ticket, quantity, price)
        problems: list[Problem] = []
        mid = None
        try:
            mid = (await self.price(contract))[1]
        except PriceUnavailable as exc:
            if ticket.order_type in ("LMT", "STP LMT", "LOC"):
                problems.append(Problem("price", str(exc)))
        collar = None if contract.secType == "BAG" else self.app.guard.limits.limit_collar
        quantity = int(ticket.size)
        prepared = Prepared(ticket, contract, quantity, mid, modifies=trade)
        problems += ticket.problems(quantity, mid, collar=collar)
        preview = modification_preview(trade.order, ticket, self.now())
        if not problems:
            for order in preview.copies():
                try:
                    await self.app.send_order(contract, order, strategy="manual", dry_run=True)
                except OrderRefused as exc:
                    problems += [Problem("guard", reason) for reason in exc.reasons]
        prepared.problems = _unique(problems)
        if prepared.ok:
            prepared.preview = preview
            prepared.what_if = await self._what_if(contract, preview)
        return prepared

    async def _guard_verdict(
        self, ticket: OrderTicket, contract: Contract, quantity: int, mid: float | None
    ) -> list[Problem]:
        out = []
        for order in ticket.orders(quantity, mid):
            try:
                await self.app.send_order(contract, order, strategy="manual", dry_run=True)
            except OrderRefused as exc:
                out += [Problem("guard", reason) for reason in exc.reasons]
        return out

    async def _what_if(self, contract: Contract, preview: Preview) -> WhatIf | None:
        try:
            await self.app.pacing.acquire()
            state = await self.app.ib.whatIfOrderAsync(contract, preview.copies()[0])
        except Exception:  # the preview still shows; the what-if says it is unavailable
            return None
        return what_if_of(state) if state is not None else None

    async def send(self, prepared: Prepared) -> list[OrderResult]:
        """Send exactly the previewed orders (PreviewNotSendable / OrderRefused otherwise)."""
        if prepared.preview is None:
            raise OrderRefused([p.message for p in prepared.problems] or ["nothing previewed"])
        if prepared.modifies is not None:
            trade = await send_modification(
                self.app, prepared.contract, prepared.ticket, prepared.preview, self.now()
            )
            return [OrderResult(None, trade.order, trade, True, f"modified {prepared.words()}")]
        return await send_preview(
            self.app, prepared.contract, prepared.ticket, prepared.preview, self.now()
        )


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.field, p.message) not in seen:
            seen.add((p.field, p.message))
            out.append(p)
    return out
