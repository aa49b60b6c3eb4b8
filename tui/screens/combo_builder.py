"""The **Combo builder** screen: build, preview and send a multi-leg option order by keys.

Interface (the console pushes it with ``c``)::

    ComboBuilderScreen(trading: TradingApp, *, underlying: str = "SPY",
                       clock: Callable[[], float] | None = None, tag: str = "manual")

A Textual ``Screen``. It talks to the gateway only through ``TradingApp`` (async methods, its
pacing scheduler and ``ib`` for option chains, leg quotes and what-if; ``send_order`` for the
order, so the guard, pacing, journal and ``OrderSent`` event apply as for any order) and does
its maths with :mod:`livedesk.backend.combos.legs` / :mod:`livedesk.backend.combos.payoff`.
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

from ib_async import Trade
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Input, Label

from livedesk.backend.combos import legs as cb
from livedesk.backend.combos.feed import ComboFeed
from livedesk.backend.combos.form import ComboForm
from livedesk.backend.combos.legs import ComboBuildError, ComboOrder, Leg, Problem, is_number
from livedesk.backend.combos.payoff import (
    NetPrice,
    PayoffSummary,
    horizon,
    net_prices,
    payoff_summary,
    position_greeks,
)
from livedesk.backend.contracts import ContractError
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.guard import TradingState
from livedesk.tui.screens.combo_edit import ComboEditMixin
from livedesk.tui.screens.combo_preview import ComboPreviewScreen, ComboTemplatePicker
from livedesk.tui.screens.combo_send import ComboSendMixin, Preview
from livedesk.tui.widgets.combo_legs import ComboLegsTable
from livedesk.tui.widgets.combo_line import ComboLine
from livedesk.tui.widgets.combo_order import ComboOrderPanel, OrderView, order_problems
from livedesk.tui.widgets.combo_payoff import ComboPayoffChart, Curve, make_curve

_last_underlying: weakref.WeakKeyDictionary[TradingApp, str] = weakref.WeakKeyDictionary()
NAN = math.nan


class ComboBuilderScreen(ComboEditMixin, ComboSendMixin, Screen):
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
        Binding("question_mark,f1", "help", "help", id="combo.help"),
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
        self.form = ComboForm(tag=self.tag)
        self._initial_template = template
        self.preview: Preview | None = None
        self.preview_screen: ComboPreviewScreen | None = None
        self.trade: Trade | None = None
        self.message = ""
        self.edit_error = ""
        self.underlying_error = ""
        self.problems: list[Problem] = []
        self.net = NetPrice(NAN, NAN, NAN)
        self.summary: PayoffSummary | None = None
        self._quote_sig: tuple = ()
        self._polls = 0
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
        yield ComboLine(id="combo-status")  # under the legs, where the eye is while editing
        with Horizontal(id="combo-bottom"):
            with Vertical(id="combo-left"):
                yield ComboOrderPanel(id="combo-order")
                yield Input(  # opens over the Limit row, beside its label (see the .tcss)
                    id="combo-limit",
                    placeholder="-3.15 = credit",
                    compact=True,
                    restrict=r"[-+0-9.]*",
                )
            yield ComboPayoffChart(id="combo-chart")
        yield Footer()

    def _symbols(self) -> list[str]:
        held = sorted({p.contract.symbol for p in self.trading.positions.values()})
        return list(dict.fromkeys([*cb.DEFAULT_UNDERLYINGS, *held, self.symbol]))

    def on_mount(self) -> None:
        self.query_one("#combo-limit", Input).display = False
        # focus starts where the builder's keys work (t, b, s, …); the underlying field takes
        # letters only after u
        self.query_one(ComboLegsTable).focus()
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
        template = self._initial_template or (
            self.form.template if changed and self.form.legs else None
        )
        self._initial_template = None
        if template and template != "custom":
            self._set_template(template)
        elif changed:
            self._edited()
        if then_focus_legs:
            self.query_one(ComboLegsTable).focus()
        self.run_worker(self._sync_quotes, group="combo-quotes", exclusive=True)

    def _wanted(self) -> set[tuple]:
        keys = {leg.key for leg in self.form.legs}
        c = self.chain
        if c is None:
            return keys
        selected = self.form.legs[self.form.cursor : self.form.cursor + 1]
        for leg in selected:  # its neighbouring strikes: a step then shows its quote at once
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
        exp = horizon(self.form.legs) if self.form.legs else self.expiry
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
        waiting = any(not self._quoted(leg.key) for leg in self.form.legs)
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

    def _quoted(self, key: tuple) -> bool:
        q = self.feed.quote(key)
        return q is not None and is_number(q.mid)

    def _quote_tuple(self, key: tuple) -> tuple:
        q = self.feed.quote(key)
        return () if q is None else (q.bid, q.ask, q.iv, q.delta)

    # ---- state ------------------------------------------------------------------------
    def set_legs(self, legs: tuple[Leg, ...] | list[Leg], template: str = "custom") -> None:
        """Replace the legs (programmatic entry: the console, tests)."""
        self.form.legs, self.form.template = tuple(legs), template
        self.form.cursor = min(self.form.cursor, max(len(self.form.legs) - 1, 0))
        self._edited()

    def _edited(self, counted: bool = False) -> None:
        """After an edit: invalidate the preview, stream the new legs, repaint."""
        if not counted:
            self.form.edited()
        if self.preview is not None:
            self.preview = None
            self.message = "edit: the preview is no longer valid"
        self.run_worker(self._sync_quotes, group="combo-quotes", exclusive=True)
        self.repaint()

    def _apply(self, fn: Callable[[], tuple[Leg, ...]], template: str | None = None) -> None:
        self.edit_error = self.form.apply(fn, template)
        if self.edit_error:
            self.repaint()
        else:
            self._edited(counted=True)

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
        self.form.cursor = 0
        self._apply(lambda: cb.make_template(name, c, spot, self.expiry), template=name)

    def current_limit(self) -> float | None:
        """The signed limit the price mode gives now (None for a market order)."""
        return self.form.limit(self.net)

    def current_order(self) -> ComboOrder:
        """The order the builder would preview now."""
        return self.form.order(self.net)

    def _state_refusals(self) -> list[str]:
        out = list(self.trading.account_guard.check())
        if self.trading.trading_state is TradingState.HALTED:
            why = self.trading.guard.state_reason
            out.append(f"trading is HALTED{f' ({why})' if why else ''}: nothing can be sent")
        return out

    def _compute_problems(self) -> list[Problem]:
        lim = self.trading.guard.limits
        return self.form.problems(
            self.net,
            self.feed.chains,
            self.trading.today(),
            lim.limit_collar,
            lim.min_combo_collar,
            self._state_refusals(),
        )

    # ---- painting ------------------------------------------------------------------------
    def repaint(self) -> None:
        """Recompute prices, problems, greeks and payoff and update every part of the form."""
        if not self.is_mounted:
            return
        today = self.trading.today()
        quotes = [self.feed.quote(leg.key) for leg in self.form.legs]
        self.net = net_prices(self.form.legs, quotes) if self.form.legs else NetPrice(NAN, NAN, NAN)
        self.problems = self._compute_problems()
        mult = self.chain.multiplier if self.chain else 100.0
        greeks = (
            position_greeks(self.form.legs, quotes, self.form.quantity, mult)
            if self.form.legs
            else None
        )
        limit = self.current_limit()
        price = limit if is_number(limit) else self.net.mid
        curve, self.summary = None, None
        if self.form.legs and is_number(price) and self.form.quantity >= 1:
            curve = self._curve(quotes, price, today, mult)
        self.query_one(ComboLegsTable).set_rows(
            self.form.legs, quotes, self.form.cursor, self.problems, today
        )
        self.query_one(ComboOrderPanel).set_view(
            OrderView(
                self.form.quantity,
                self.form.order_type,
                self.form.price_mode,
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
        if (
            self.chain
            and self.feed.spot_is_mid(self.chain.symbol)
            and self.form.legs
            and all(q is not None and is_number(q.mid) for q in quotes)
        ):
            self.ready.set()

    def _curve(self, quotes, price: float, today, mult: float) -> Curve | None:
        spot = self._spot()
        atm = None
        if self.chain and is_number(spot):
            atm = self.feed.quote(
                (
                    self.chain.symbol,
                    horizon(self.form.legs),
                    self.chain.strikes[self.chain.atm_index(spot)],
                    "C",
                )
            )
        atm_iv = atm.iv if atm is not None else NAN
        self.summary = payoff_summary(
            self.form.legs, quotes, price, today, self.form.quantity, mult, spot, atm_iv
        )
        return self._curve_for(self.form.legs, quotes, price, today, mult)

    def _curve_for(self, legs, quotes, price: float, today, mult: float) -> Curve | None:
        """The chart data of ``legs`` bought at ``price`` (also for a step not taken yet)."""
        live = self.chain is not None and self.feed.spot_is_mid(self.chain.symbol)
        return make_curve(
            legs,
            quotes,
            price,
            today,
            self.form.quantity,
            mult,
            self._spot(),
            "mid" if live else "last",
        )

    def _speculative_curves(self, today, mult: float) -> list[Curve]:
        """Charts of the next strike step up and down of the cursor leg (built ahead)."""
        c = self.chain
        if (
            c is None
            or not self.form.legs
            or self.form.order_type != "LMT"
            or self.form.price_mode == "custom"
        ):
            return []
        out = []
        for n in (self.form.last_step, -self.form.last_step):
            try:
                legs = cb.step_strike(self.form.legs, self.form.cursor, c, n)
            except ComboBuildError:
                continue
            quotes = [self.feed.quote(leg.key) for leg in legs]
            net = net_prices(legs, quotes)
            value = net.mid if self.form.price_mode == "mid" else net.natural
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
        self._label("#combo-template", f"template: {self.form.template}  (t)")
        legs_msgs = [p for p in self.problems if p.field in ("legs", "expiry")]
        text = "  ".join(f"! {p.message}" for p in legs_msgs[:3])
        if self.edit_error:
            text = f"! {self.edit_error}" + (f"  {text}" if text else "")
        self._label("#combo-legs-msg", text)
        self._label("#combo-status", self.message)

    def action_focus_underlying(self) -> None:
        self.query_one("#combo-underlying", Input).focus()

    def action_close(self) -> None:
        """Escape: out of a field (the limit editor closes, the underlying field gives the
        focus back to the legs), else close the builder."""
        box = self.query_one("#combo-limit", Input)
        if box.display and box.has_focus:
            box.display = False
            self.query_one(ComboOrderPanel).focus()
            return
        if self.query_one("#combo-underlying", Input).has_focus:
            self.query_one(ComboLegsTable).focus()
            return
        self.app.pop_screen()

    def action_help(self) -> None:
        """The builder's own keys (``?``, ``f1``)."""
        from livedesk.tui.screens.combo_help import ComboHelpScreen

        self.app.push_screen(
            ComboHelpScreen(
                [
                    ("Anywhere", self.BINDINGS),
                    ("Legs table", ComboLegsTable.BINDINGS),
                    ("Order panel", ComboOrderPanel.BINDINGS),
                    ("Template (t, then)", ComboTemplatePicker.BINDINGS),
                    ("Preview", ComboPreviewScreen.BINDINGS),
                ]
            )
        )

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
        if self.form.accept_limit_text(text):  # else the field stays open, the error beside it
            self.query_one("#combo-limit", Input).display = False
            self.query_one(ComboOrderPanel).focus()
        self._edited(counted=True)
