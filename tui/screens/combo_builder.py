"""The **Combo builder** screen: build, preview and send a multi-leg option order by keys.

Interface (the console pushes it with ``c``)::

    ComboBuilderScreen(trading: TradingApp, *, underlying: str = "SPY",
                       clock: Callable[[], float] | None = None, tag: str = "manual")

A Textual ``Screen``. It talks to the gateway only through ``TradingApp`` (async methods, its
pacing scheduler and ``ib`` for option chains, leg quotes and what-if; ``send_order`` for the
order, so the guard, pacing, journal and ``OrderSent`` event apply as for any order) and does
its maths with :mod:`livedesk.backend.combos` / :mod:`livedesk.backend.combo_payoff`.
``clock`` (default ``time.monotonic``) times the 30 s preview validity; ``tag`` is the
``orderRef``. Optional ``template`` fills the legs once the chain is loaded.

Keys: see ``/work/notes/issue-14-readme.md`` (and the footer). The BAG is always sent as a
BUY of the legs as listed, at a signed limit (negative = credit); the screen shows the
signed limit and the words DEBIT / CREDIT.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np  # noqa: E402  (after the livedesk imports: numpy is already loaded by them)
from ib_async import Contract, Trade
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Input, Label

from livedesk.backend import combos as cb
from livedesk.backend.combo_feed import ComboFeed, WhatIf, make_order
from livedesk.backend.combo_payoff import (
    NetPrice,
    PayoffSummary,
    chart_range,
    horizon,
    net_prices,
    payoff_summary,
    pnl_at_expiry,
    pnl_today,
    position_greeks,
    preview_warnings,
)
from livedesk.backend.combos import ComboBuildError, ComboOrder, Leg, Problem, is_number
from livedesk.backend.contracts import ContractError
from livedesk.backend.errors import PriceUnavailable
from livedesk.backend.guard import TradingState
from livedesk.backend.trading import OrderRefused, TradingApp
from livedesk.tui.screens.combo_preview import ComboPreviewScreen, ComboTemplatePicker
from livedesk.tui.widgets.combo_legs import ComboLegsTable, preview_line
from livedesk.tui.widgets.combo_line import ComboLine
from livedesk.tui.widgets.combo_order import PRICE_MODES, ComboOrderPanel, OrderView, order_problems
from livedesk.tui.widgets.combo_payoff import ComboPayoffChart, Curve

_last_underlying: weakref.WeakKeyDictionary[TradingApp, str] = weakref.WeakKeyDictionary()
NAN = math.nan


@dataclass
class Preview:
    """A preview: the exact order, when it was made, the edit version it belongs to."""

    order: ComboOrder
    created: float
    version: int
    bag: Contract | None = None
    what_if: WhatIf | None = None
    error: str = ""


class ComboBuilderScreen(Screen):
    """Combo builder: legs, live quotes, net price, greeks, payoff, preview and send."""

    CSS_PATH = "combo_builder.tcss"
    BINDINGS = [
        Binding("t", "template", "template", id="combo.template"),
        Binding("left_square_bracket", "expiry(-1)", "expiry-", id="combo.expiry_prev"),
        Binding("right_square_bracket", "expiry(1)", "expiry+", id="combo.expiry_next"),
        Binding("enter", "preview", "preview", id="combo.preview"),
        Binding("B,shift+b", "send", "send", id="combo.send"),
        Binding("o", "order_type", "LMT/MKT", id="combo.order_type"),
        Binding("e", "edit_limit", "limit", id="combo.edit_limit"),
        Binding("u", "focus_underlying", "underlying", id="combo.underlying", show=False),
        Binding("escape", "close", "close", id="combo.close"),
    ]

    def __init__(
        self,
        trading: TradingApp,
        *,
        underlying: str = "SPY",
        clock: Callable[[], float] | None = None,
        tag: str = "manual",
        template: str | None = None,
        bp_warn: float = 0.05,
        spread_warn: float = 0.05,
    ) -> None:
        super().__init__()
        self.title = "Combo builder"
        self.trading = trading
        self.feed = ComboFeed(trading)
        self.clock = clock or time.monotonic
        self.tag = tag or "manual"
        self.bp_warn, self.spread_warn = bp_warn, spread_warn
        self.symbol = _last_underlying.get(trading, underlying.strip().upper() or "SPY")
        self.chain: cb.Chain | None = None
        self.expiry: str | None = None
        self.legs: tuple[Leg, ...] = ()
        self.cursor = 0
        self.template = "custom"
        self._initial_template = template
        self.quantity = 1
        self.order_type = "LMT"
        self.price_mode = "mid"
        self.custom_limit: float | None = None
        self.version = 0
        self.preview: Preview | None = None
        self.preview_screen: ComboPreviewScreen | None = None
        self.trade: Trade | None = None
        self.message = ""
        self.edit_error = ""
        self.underlying_error = ""
        self.limit_error = ""
        self.problems: list[Problem] = []
        self.net = NetPrice(NAN, NAN, NAN)
        self.summary: PayoffSummary | None = None
        self._quote_sig: tuple = ()
        self._labels: dict[str, str] = {}
        self._last_step = 1
        self._polls = 0
        self._loading: asyncio.Task | None = None
        self.ready = asyncio.Event()
        """Set once the chain is loaded and every leg has a quote (tests, benchmarks)."""

    # ---- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="combo-top"):
            yield Label("Combo builder", id="combo-title")
            yield Input(
                value=self.symbol,
                id="combo-underlying",
                compact=True,
                suggester=SuggestFromList(self._symbols(), case_sensitive=False),
                restrict=r"[A-Za-z0-9.]*",
                max_length=12,
            )
            yield ComboLine(id="combo-spot")
            yield ComboLine(id="combo-underlying-msg")
        with Horizontal(id="combo-second"):
            yield ComboLine(id="combo-expiry")
            yield ComboLine(id="combo-template")
        yield ComboLegsTable(id="combo-legs")
        yield ComboLine(id="combo-legs-msg")
        with Horizontal(id="combo-bottom"):
            with Vertical(id="combo-left"):
                yield ComboOrderPanel(id="combo-order")
                yield Input(
                    id="combo-limit",
                    placeholder="signed limit, -3.15 = credit",
                    compact=True,
                    restrict=r"[-+0-9.]*",
                )
            yield ComboPayoffChart(id="combo-chart")
        yield ComboLine(id="combo-status")
        yield Footer()

    def _symbols(self) -> list[str]:
        held = sorted({p.contract.symbol for p in self.trading.positions.values()})
        return list(dict.fromkeys([*cb.DEFAULT_UNDERLYINGS, *held, self.symbol]))

    def on_mount(self) -> None:
        self.query_one("#combo-limit", Input).display = False
        self.query_one("#combo-underlying", Input).focus()
        self.set_interval(0.05, self._poll)
        self._load(self.symbol)
        self.repaint()

    def on_unmount(self) -> None:
        self.feed.close()

    # ---- loading ------------------------------------------------------------------------
    def _load(self, symbol: str, then_focus_legs: bool = False) -> None:
        self.run_worker(
            self._load_chain(symbol, then_focus_legs), group="combo-load", exclusive=True
        )

    async def _load_chain(self, symbol: str, then_focus_legs: bool) -> None:
        symbol = symbol.strip().upper()
        if not symbol:
            self.underlying_error = "type an underlying symbol"
            self.repaint()
            return
        self.underlying_error = f"loading {symbol}…"
        self.repaint()
        try:
            chain = await self.feed.load_chain(symbol)
        except (ContractError, ComboBuildError, ConnectionError) as exc:
            self.underlying_error = str(exc)
            self.repaint()
            return
        self.underlying_error = ""
        changed = chain.symbol != (self.chain.symbol if self.chain else None)
        self.chain, self.symbol = chain, chain.symbol
        _last_underlying[self.trading] = chain.symbol
        if changed or self.expiry not in chain.expiries:
            self.expiry = cb.default_expiry(chain.expiries, self.trading.today())
        for _ in range(200):  # the spot arrives with the first tick (templates are built on it)
            if is_number(self.feed.spot(symbol)):
                break
            await asyncio.sleep(0.01)
        template = self._initial_template or (self.template if changed and self.legs else None)
        self._initial_template = None
        if template and template != "custom":
            self._set_template(template)
        elif changed:
            self._edited()
        if then_focus_legs:
            self.query_one(ComboLegsTable).focus()
        self.run_worker(self._sync_quotes, group="combo-quotes", exclusive=True)

    def _wanted(self) -> set[tuple]:
        keys = {leg.key for leg in self.legs}
        c = self.chain
        if c is None:
            return keys
        for leg in self.legs[self.cursor : self.cursor + 1]:  # its neighbours: a step is instant
            if leg.symbol != c.symbol:
                continue
            try:
                i = c.strike_index(leg.strike)
            except ComboBuildError:
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(c.strikes):
                    keys.add((leg.symbol, leg.expiry, c.strikes[j], leg.right))
        spot = self.feed.spot(c.symbol)
        exp = horizon(self.legs) if self.legs else self.expiry
        if is_number(spot) and exp in c.expiries:
            keys.add((c.symbol, exp, c.strikes[c.atm_index(spot)], "C"))
        return keys

    async def _sync_quotes(self) -> None:
        try:
            await self.feed.want(self._wanted())
        except (ConnectionError, ContractError) as exc:
            self.message = f"quotes unavailable: {exc}"
        self.repaint()

    def _poll(self) -> None:
        """20 Hz while a leg waits for its first quote, else 4 Hz: repaint when a quote
        changed; follow the sent order."""
        self._polls += 1
        waiting = any(
            self.feed.quote(leg.key) is None
            or self.feed.quote(leg.key).mid != self.feed.quote(leg.key).mid
            for leg in self.legs
        )
        if not waiting and self._polls % 5:
            return
        sig = tuple(self._quote_tuple(k) for k in sorted(self._wanted())) + (
            self.feed.spot(self.symbol),
            self.trading.trading_state,
        )
        if sig != self._quote_sig:
            self._quote_sig = sig
            self.repaint()
        if self.trade is not None:
            self._follow_trade()

    def _quote_tuple(self, key: tuple) -> tuple:
        q = self.feed.quote(key)
        return () if q is None else (q.bid, q.ask, q.iv, q.delta)

    # ---- state ------------------------------------------------------------------------
    def set_legs(self, legs: tuple[Leg, ...] | list[Leg], template: str = "custom") -> None:
        """Replace the legs (programmatic entry: the console, tests)."""
        self.legs, self.template = tuple(legs), template
        self.cursor = min(self.cursor, max(len(self.legs) - 1, 0))
        self._edited()

    def _edited(self) -> None:
        self.version += 1
        if self.preview is not None:
            self.preview = None
            self.message = "edit: the preview is no longer valid"
        self.run_worker(self._sync_quotes, group="combo-quotes", exclusive=True)
        self.repaint()

    def _apply(self, fn: Callable[[], tuple[Leg, ...]], template: str | None = None) -> None:
        try:
            new = fn()
        except ComboBuildError as exc:
            self.edit_error = str(exc)
            self.repaint()
            return
        self.edit_error = ""
        self.legs = new
        if template is not None:
            self.template = template
        self.cursor = min(self.cursor, max(len(self.legs) - 1, 0))
        self._edited()

    def _need_chain(self) -> cb.Chain | None:
        if self.chain is None:
            self.edit_error = "no option chain loaded: type an underlying and press enter"
            self.repaint()
        return self.chain

    def _spot(self) -> float:
        return self.feed.spot(self.chain.symbol) if self.chain else NAN

    def _set_template(self, name: str) -> None:
        c = self._need_chain()
        if c is None or self.expiry is None:
            return
        spot = self._spot()
        if not is_number(spot):
            self.edit_error = (
                f"no price for {c.symbol} yet: cannot place a template around the money"
            )
            self.repaint()
            return
        self.cursor = 0
        self._apply(lambda: cb.make_template(name, c, spot, self.expiry), template=name)

    def current_limit(self, net: NetPrice | None = None) -> float | None:
        """The signed limit the price mode gives now (None for a market order)."""
        net = net or self.net
        if self.order_type == "MKT":
            return None
        if self.price_mode == "custom":
            return self.custom_limit
        value = net.mid if self.price_mode == "mid" else net.natural
        return cb.round_tick(value) if is_number(value) else None

    def current_order(self) -> ComboOrder:
        """The order the builder would preview now."""
        return ComboOrder(
            self.legs,
            self.quantity,
            self.order_type,
            self.current_limit(),
            self.template,
            self.tag,
            self.net.mid if is_number(self.net.mid) else None,
        )

    def _compute_problems(self) -> list[Problem]:
        out = cb.validate_legs(self.legs, self.feed.chains, self.trading.today(), self.template)
        if self.quantity < 1:
            out.append(Problem("quantity", f"quantity must be 1 or more, got {self.quantity}"))
        if self.legs and not is_number(self.net.mid):
            extra = ": market order refused" if self.order_type == "MKT" else ""
            out.append(Problem("quotes", f"no two-sided quote on every leg, so no mid{extra}"))
        if self.order_type == "LMT":
            limit = self.current_limit()
            if self.limit_error:
                out.append(Problem("price", self.limit_error))
            elif limit is None or not is_number(limit):
                out.append(Problem("price", "no limit price (no mid / natural yet, or none typed)"))
            elif is_number(self.net.mid):
                lim = self.trading.guard.limits
                why = cb.collar_problem(limit, self.net.mid, lim.limit_collar, lim.min_combo_collar)
                if why:
                    out.append(Problem("price", why))
        for reason in self.trading.account_guard.check():
            out.append(Problem("state", reason))
        if self.trading.trading_state is TradingState.HALTED:
            why = self.trading.guard.state_reason
            out.append(
                Problem(
                    "state", f"trading is HALTED{f' ({why})' if why else ''}: nothing can be sent"
                )
            )
        return out

    # ---- painting ------------------------------------------------------------------------
    def repaint(self) -> None:
        """Recompute prices, problems, greeks and payoff and update every part of the form."""
        if not self.is_mounted:
            return
        today = self.trading.today()
        quotes = [self.feed.quote(leg.key) for leg in self.legs]
        self.net = net_prices(self.legs, quotes) if self.legs else NetPrice(NAN, NAN, NAN)
        self.problems = self._compute_problems()
        mult = self.chain.multiplier if self.chain else 100.0
        greeks = position_greeks(self.legs, quotes, self.quantity, mult) if self.legs else None
        limit = self.current_limit()
        price = limit if is_number(limit) else self.net.mid
        curve, self.summary = None, None
        if self.legs and is_number(price) and self.quantity >= 1:
            curve = self._curve(quotes, price, today, mult)
        self.query_one(ComboLegsTable).set_rows(
            self.legs, quotes, self.cursor, self.problems, today
        )
        self.query_one(ComboOrderPanel).set_view(
            OrderView(
                self.quantity,
                self.order_type,
                self.price_mode,
                limit,
                self.net,
                greeks,
                self.summary,
                order_problems(self.problems),
            )
        )
        chart = self.query_one(ComboPayoffChart)
        chart.set_curve(curve)
        if curve is not None:  # after this frame: the next steps' charts, built ahead
            self.call_after_refresh(lambda: chart.prebuild(self._speculative_curves(today, mult)))
        self._paint_labels(today)
        if self.chain and self.legs and all(q is not None and is_number(q.mid) for q in quotes):
            self.ready.set()

    def _curve(self, quotes, price: float, today, mult: float) -> Curve | None:
        spot = self._spot()
        atm = None
        if self.chain and is_number(spot):
            atm = self.feed.quote(
                (
                    self.chain.symbol,
                    horizon(self.legs),
                    self.chain.strikes[self.chain.atm_index(spot)],
                    "C",
                )
            )
        atm_iv = atm.iv if atm is not None else NAN
        self.summary = payoff_summary(
            self.legs, quotes, price, today, self.quantity, mult, spot, atm_iv
        )
        return self._curve_for(self.legs, quotes, price, today, mult)

    def _curve_for(self, legs, quotes, price: float, today, mult: float) -> Curve | None:
        """The chart data of ``legs`` bought at ``price`` (also for a step not taken yet)."""
        spot = self._spot()
        lo, hi = chart_range(legs, spot)
        xs = np.linspace(lo, hi, 121)
        y_exp = pnl_at_expiry(legs, quotes, price, xs, today, self.quantity, mult)
        y_now = pnl_today(legs, quotes, price, xs, today, self.quantity, mult)
        if not np.any(np.isfinite(y_exp)):
            return None
        y_exp = np.where(np.isfinite(y_exp), y_exp, 0.0)
        bucket = max(abs(spot) * 5e-4, 0.01) if is_number(spot) else 1.0
        key = (  # at the chart's resolution: a tick that moves nothing draws nothing
            legs,
            round(price, 2),
            self.quantity,
            tuple(round(q.iv, 3) if q and is_number(q.iv) else None for q in quotes),
            round(spot / bucket) if is_number(spot) else None,
        )
        calendar = len({leg.expiry for leg in legs}) > 1
        title = "P/L at expiry and today" + (" (at the earliest expiry)" if calendar else "")
        return Curve(xs, y_exp, y_now, spot, (), title, key)

    def _speculative_curves(self, today, mult: float) -> list[Curve]:
        """Charts of the next strike step up and down of the cursor leg (built ahead)."""
        c = self.chain
        if c is None or not self.legs or self.order_type != "LMT" or self.price_mode == "custom":
            return []
        out = []
        for n in (self._last_step, -self._last_step):
            try:
                legs = cb.step_strike(self.legs, self.cursor, c, n)
            except ComboBuildError:
                continue
            quotes = [self.feed.quote(leg.key) for leg in legs]
            net = net_prices(legs, quotes)
            value = net.mid if self.price_mode == "mid" else net.natural
            if is_number(value):
                curve = self._curve_for(legs, quotes, cb.round_tick(value), today, mult)
                if curve is not None:
                    out.append(curve)
        return out

    def _label(self, selector: str, text: str) -> None:
        """Set one of the builder's text lines (a repaint only when it changed)."""
        self.query_one(selector, ComboLine).set(text)

    def _paint_labels(self, today) -> None:
        spot = self._spot()
        self._label("#combo-spot", f"{spot:.2f}" if is_number(spot) else "—")
        self._label(
            "#combo-underlying-msg", f"! {self.underlying_error}" if self.underlying_error else ""
        )
        exp = "expiry —"
        if self.expiry:
            exp = f"expiry {self.expiry} ({cb.days_to(self.expiry, today)} DTE)  [ ]"
        self._label("#combo-expiry", exp)
        self._label("#combo-template", f"template: {self.template}  (t)")
        legs_msgs = [p for p in self.problems if p.field in ("legs", "expiry")]
        text = "  ".join(f"! {p.message}" for p in legs_msgs[:3])
        if self.edit_error:
            text = f"! {self.edit_error}" + (f"  {text}" if text else "")
        self._label("#combo-legs-msg", text)
        self._label("#combo-status", self.message)

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

    # ---- actions: legs -----------------------------------------------------------------
    def _leg_ok(self) -> bool:
        if not self.legs:
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
        self._apply(lambda: cb.add_leg(self.legs, c, spot, self.expiry, action), template="custom")
        self.cursor = len(self.legs) - 1
        self.repaint()

    def action_delete_leg(self) -> None:
        if self._leg_ok():
            self._apply(lambda: cb.delete_leg(self.legs, self.cursor), template="custom")

    def action_flip(self) -> None:
        if self._leg_ok():
            self._apply(lambda: cb.flip_side(self.legs, self.cursor))

    def action_ratio(self, n: int) -> None:
        if self._leg_ok():
            self._apply(lambda: cb.change_ratio(self.legs, self.cursor, n))

    def action_strike(self, n: int) -> None:
        self._last_step = 1
        self._polls = 0 if n > 0 else -1
        c = self._need_chain()
        if c is not None and self._leg_ok():
            self._apply(lambda: cb.step_strike(self.legs, self.cursor, c, n))

    def action_right(self, right: str) -> None:
        if self._leg_ok():
            self._apply(lambda: cb.toggle_right(self.legs, self.cursor, right))

    def action_leg_expiry(self, n: int) -> None:
        c = self._need_chain()
        if c is not None and self._leg_ok():
            self._apply(lambda: cb.step_leg_expiry(self.legs, self.cursor, c, n))

    def action_shift(self, n: int) -> None:
        c = self._need_chain()
        if c is not None and self._leg_ok():
            self._apply(lambda: cb.shift_strikes(self.legs, c, n))

    def action_width(self, n: int) -> None:
        c = self._need_chain()
        if c is not None and self._leg_ok():
            self._apply(lambda: cb.change_width(self.legs, c, n))

    def action_next_leg(self, n: int) -> None:
        if self.legs:
            self._select((self.cursor + n) % len(self.legs))

    def action_select_leg(self, i: int) -> None:
        if 0 <= i < len(self.legs):
            self._select(i)

    def _select(self, i: int) -> None:
        self.cursor = i
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
        if self.legs:
            self._apply(lambda: cb.shift_expiries(self.legs, c, n))
            if self.edit_error:
                return
        self.expiry = new_expiry
        if not self.legs:
            self._edited()
        self.repaint()

    def action_quantity(self, n: int) -> None:
        self.quantity = max(self.quantity + n, 0)
        self._edited()

    def action_price_mode(self, n: int) -> None:
        i = PRICE_MODES.index(self.price_mode)
        self.price_mode = PRICE_MODES[(i + n) % len(PRICE_MODES)]
        if self.price_mode == "custom" and self.custom_limit is None:
            self.custom_limit = self.current_limit_for("mid")
        self.limit_error = ""
        self._edited()

    def current_limit_for(self, mode: str) -> float | None:
        value = self.net.mid if mode == "mid" else self.net.natural
        return cb.round_tick(value) if is_number(value) else None

    def action_order_type(self) -> None:
        self.order_type = "MKT" if self.order_type == "LMT" else "LMT"
        self._edited()

    def action_edit_limit(self) -> None:
        box = self.query_one("#combo-limit", Input)
        limit = self.current_limit()
        box.value = f"{limit:.2f}" if limit is not None and is_number(limit) else ""
        box.display = True
        box.focus()

    def action_focus_underlying(self) -> None:
        self.query_one("#combo-underlying", Input).focus()

    def action_close(self) -> None:
        box = self.query_one("#combo-limit", Input)
        if box.display and box.has_focus:
            box.display = False
            self.query_one(ComboOrderPanel).focus()
            return
        self.app.pop_screen()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "combo-underlying":
            symbol = event.value.strip().upper()
            if self.chain is not None and symbol == self.chain.symbol and not self.underlying_error:
                self.query_one(ComboLegsTable).focus()
            else:
                self._load(symbol, then_focus_legs=True)
        elif event.input.id == "combo-limit":
            self._accept_limit(event.value)

    def _accept_limit(self, text: str) -> None:
        try:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            self.limit_error = f"limit {text!r} is not a number (signed: -3.15 is a 3.15 credit)"
            self.price_mode = "custom"
            self.custom_limit = None
            self._edited()
            return
        self.limit_error = ""
        self.custom_limit, self.price_mode, self.order_type = cb.round_tick(value), "custom", "LMT"
        box = self.query_one("#combo-limit", Input)
        box.display = False
        self.query_one(ComboOrderPanel).focus()
        self._edited()

    # ---- preview and send --------------------------------------------------------------
    def action_preview(self) -> None:
        self.repaint()
        if self.problems:
            self.message = f"cannot preview: {self.problems[0].message} (nothing sent)"
            self.repaint()
            return
        order = self.current_order()
        preview = Preview(order, self.clock(), self.version)
        self.preview = preview
        quotes = [self.feed.quote(leg.key) for leg in self.legs]
        legs = [preview_line(leg, q) for leg, q in zip(self.legs, quotes, strict=True)]
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
            p.created if p else None, p.version if p else None, self.version, self.clock()
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
