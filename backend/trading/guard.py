"""The pre-trade guard every order passes, the trading state and the live-account guard.

Pure and synchronous: the caller (``TradingApp``) gathers prices, positions and account
values into an ``OrderIntent`` and sends nothing unless ``PreTradeGuard.check`` allows it.

Rules, in order of the reasons reported:
- account: read-only refuses everything; a non-paper account (id not starting "DU")
  refuses everything unless started live and confirmed by the typed account id;
- "position" below is the position *plus the working orders* of the same contract
  (``OrderIntent.position + OrderIntent.working``), so resting orders cannot be stacked
  past a limit;
- HALTED allows only cancels; REDUCING allows only orders that shrink ``abs(position)``
  without flipping its sign;
- a market or stop order needs a usable reference price (denied, not waved through); a
  limit or stop-limit order needs one too, to check its collar;
- order notional (``qty * multiplier * max(|limit|, |stop|, |reference|)``, or for a
  combo ``qty * unit_notional``, the sum of its legs' ``ratio * multiplier * |price|``)
  <= max_order_notional;
- post-trade position weight and gross leverage (against NetLiquidation; the gross
  exposure counts the account's working orders), for orders that add exposure (a
  reducing order is never blocked by them);
- limit-price collar: ``|limit - mid| <= limit_collar * |mid|``; for BAG combos, whose
  prices may be zero or negative, the allowed distance is at least ``min_combo_collar``;
- stop orders (STP, STP LMT): the stop must be on the far side of the mid (a BUY stop
  above it, a SELL stop below it; otherwise it triggers at once) and within
  ``stop_collar * |mid|`` of it; a stop-limit's limit must be within ``limit_collar`` of
  its stop price (the price at which it starts to work) and not on the wrong side of it
  by more than that;
- orders per minute over a sliding 60 s window (only allowed orders count).
Cancels skip the state and limits (the kill switch must always work).
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ib_async.util import UNSET_DOUBLE

RATE_WINDOW_SECONDS = 60.0


class TradingState(enum.StrEnum):
    """ACTIVE trades freely, REDUCING only shrinks positions, HALTED only cancels."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(frozen=True)
class GuardLimits:
    """Pre-trade limits (from settings; these defaults suit a small paper account)."""

    max_order_notional: float = 250_000.0
    """Largest order, in dollars: qty × multiplier × max(|limit|, |stop|, |mid|) (a combo: the
    sum of its legs' ratio × multiplier × |price|)."""
    max_position_weight: float = 0.25
    """Largest position after the order, working orders counted, as a fraction of
    NetLiquidation."""
    max_gross_leverage: float = 2.0
    """Largest gross exposure after the order, working orders counted, ÷ NetLiquidation."""
    max_orders_per_minute: int = 120
    """Orders per rolling minute (an integer)."""
    limit_collar: float = 0.05
    """A limit price may be at most this fraction of the mid away from the mid (a stop-limit's
    limit: from its stop)."""
    stop_collar: float = 0.25
    """A stop must be on the far side of the mid and within this fraction of it."""
    min_combo_collar: float = 0.10
    """A combo's collar in dollars per unit at least (its net mid can be near zero)."""
    nlv_max_age: float = 600.0
    """Seconds after which NetLiquidation is too old for percent orders (IB refreshes account
    values every 3 minutes)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"guard limit {f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"guard limit {f.name} must be finite and > 0, got {value!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> GuardLimits:
        """Limits from a settings table; unknown keys are an error, missing keys default."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown guard limit(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        if "max_orders_per_minute" in data:
            n = data["max_orders_per_minute"]
            if isinstance(n, float) and n.is_integer():
                data = {**data, "max_orders_per_minute": int(n)}
            elif not isinstance(n, int) or isinstance(n, bool):
                raise ValueError(f"guard limit max_orders_per_minute must be an integer, got {n!r}")
        return cls(**dict(data))


@dataclass(frozen=True)
class OrderIntent:
    """Everything the guard needs to judge one order (or cancel)."""

    action: str = ""
    quantity: float = 0.0
    order_type: str = "MKT"
    limit_price: float | None = None
    contract: str = ""
    sec_type: str = "STK"
    multiplier: float = 1.0
    reference_price: float | None = None
    position: float = 0.0
    nlv: float | None = None
    gross_exposure: float = 0.0
    is_cancel: bool = False
    working: float = 0.0
    """Signed unfilled quantity of the other working orders of the same contract."""
    stop_price: float | None = None
    """The trigger (``auxPrice``) of a STP or STP LMT order."""
    unit_notional: float | None = None
    """Dollar exposure of one unit (a combo: its legs' ``ratio * multiplier * |price|``)."""


@dataclass(frozen=True)
class GuardDecision:
    """The verdict; ``reasons`` explains every refusal (empty when allowed)."""

    allowed: bool
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


LIVE_PORTS = frozenset({7496, 4001})
"""TWS and IB Gateway's live-trading API ports."""


@dataclass(frozen=True)
class AccountGuard:
    """Paper accounts (id "DU…") trade; live ones need ``live=True`` and the typed id."""

    account: str
    live: bool = False
    confirmed_account: str | None = None
    readonly: bool = False
    port: int = 0
    """The API port; IB's live ports (TWS 7496, IB Gateway 4001) mean live whatever the id."""

    @property
    def is_paper(self) -> bool:
        return self.account.startswith("DU") and self.port not in LIVE_PORTS

    def check(self) -> list[str]:
        """Reasons to refuse any order on this session (empty when orders may be sent)."""
        if self.readonly:
            return ["session is read-only: no orders or cancels are sent"]
        if not self.account:
            return ["account id unknown: no managed account reported yet"]
        if self.is_paper:
            return []
        if not self.live:
            return [
                f"account {self.account} is a live account (paper ids start with DU; "
                f"ports {sorted(LIVE_PORTS)} are live): to trade it, start the console with "
                "`livedesk --live` and type the account id when asked (in Python: "
                "TradingApp.connect(..., live=True, confirm_account=ID)); `livedesk run` "
                "trades paper accounts only"
            ]
        if (self.confirmed_account or "").strip() != self.account:
            return [
                f"live account {self.account} not confirmed: type the account id exactly "
                f"(got {self.confirmed_account!r})"
            ]
        return []


StateListener = Callable[[TradingState, str], None]


def _usable(price: float | None, allow_non_positive: bool) -> bool:
    if price is None or isinstance(price, bool) or not isinstance(price, int | float):
        return False
    if not math.isfinite(price) or abs(price) >= UNSET_DOUBLE:
        return False
    return allow_non_positive or price > 0


class PreTradeGuard:
    """One place every order passes: trading state, limits and the account guard."""

    def __init__(
        self,
        limits: GuardLimits | None = None,
        account_guard: AccountGuard | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limits = limits or GuardLimits()
        self.account_guard = account_guard
        self._clock = clock
        self._state = TradingState.ACTIVE
        self._state_reason = ""
        self._sent: deque[float] = deque()
        self._listeners: list[StateListener] = []

    # ----------------------------------------------------------------- state

    @property
    def state(self) -> TradingState:
        return self._state

    @property
    def state_reason(self) -> str:
        return self._state_reason

    def add_listener(self, listener: StateListener) -> None:
        """Call ``listener(state, reason)`` on every state change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: StateListener) -> None:
        self._listeners.remove(listener)

    def set_state(self, state: TradingState, reason: str = "") -> None:
        """Change the trading state and tell the listeners (no call if unchanged)."""
        state = TradingState(state)
        if state == self._state and reason == self._state_reason:
            return
        self._state, self._state_reason = state, reason
        for listener in list(self._listeners):
            listener(state, reason)

    def halt(self, reason: str) -> None:
        """Kill-switch transition: HALTED, only cancels from now on."""
        self.set_state(TradingState.HALTED, reason)

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Measure the order rate on ``clock`` from now on (a fast-forwarded simulated
        gateway's: 120 orders a *simulated* minute); the orders counted so far are dropped."""
        self._clock = clock
        self._sent.clear()

    # ----------------------------------------------------------------- checks

    def orders_in_window(self) -> int:
        """Allowed orders in the last 60 s."""
        cutoff = self._clock() - RATE_WINDOW_SECONDS
        while self._sent and self._sent[0] <= cutoff:
            self._sent.popleft()
        return len(self._sent)

    def check(self, intent: OrderIntent, record: bool = True) -> GuardDecision:
        """Judge ``intent``; an allowed order counts toward the rate limit if ``record``."""
        reasons = list(self.account_guard.check()) if self.account_guard else []
        if intent.is_cancel:
            return GuardDecision(not reasons, tuple(reasons))
        reasons += self._order_reasons(intent)
        if reasons:
            return GuardDecision(False, tuple(reasons))
        if record:
            self._sent.append(self._clock())
        return GuardDecision(True, ())

    def check_batch(self, intents: list[OrderIntent]) -> list[GuardDecision]:
        """Judge orders to be sent together, each as if the earlier ones were sent.

        Nothing is recorded. The caller builds each intent with the exposure the earlier
        orders leave (their working quantity and gross exposure); the rate limit counts
        the earlier orders of the batch.
        """
        account = list(self.account_guard.check()) if self.account_guard else []
        out = []
        for queued, intent in enumerate(intents):
            reasons = account + self._order_reasons(intent, queued)
            out.append(GuardDecision(not reasons, tuple(reasons)))
        return out

    def _order_reasons(self, o: OrderIntent, queued: int = 0) -> list[str]:
        qty = f"{o.quantity:g}" if isinstance(o.quantity, int | float) else repr(o.quantity)
        label = f"{o.action} {qty} {o.contract}".strip()
        if o.action not in ("BUY", "SELL"):
            return [f"{label}: action must be BUY or SELL, got {o.action!r}"]
        if not _usable(o.quantity, False):
            return [f"{label}: quantity must be finite and > 0, got {o.quantity!r}"]
        reasons = self._state_reasons(o, label)
        reasons += self._price_reasons(o, label)
        if reasons:
            return reasons
        reasons += self._exposure_reasons(o, label)
        count = self.orders_in_window() + queued
        if count >= self.limits.max_orders_per_minute:
            reasons.append(
                f"{label}: order rate limit reached: {count} orders in the last 60 s "
                f"(max_orders_per_minute {self.limits.max_orders_per_minute})"
            )
        return reasons

    def _state_reasons(self, o: OrderIntent, label: str) -> list[str]:
        if self._state == TradingState.HALTED:
            why = f" ({self._state_reason})" if self._state_reason else ""
            return [f"{label}: trading is HALTED{why}: only cancels are allowed"]
        if self._state == TradingState.REDUCING and not _reduces(o):
            base = _base(o)
            after = base + _signed(o)
            working = f" (held {o.position:g}, working {o.working:+g})" if o.working else ""
            return [
                f"{label}: trading is REDUCING: position would go from {base:g}{working} to "
                f"{after:g}; only orders that shrink a position without flipping it are allowed"
            ]
        return []

    def _price_reasons(self, o: OrderIntent, label: str) -> list[str]:
        is_bag = o.sec_type == "BAG"
        has_ref = _usable(o.reference_price, allow_non_positive=is_bag)
        if o.order_type not in ("MKT", "LMT", "STP", "STP LMT"):
            return [f"{label}: order type {o.order_type!r} is not supported by the guard"]
        if o.order_type in ("MKT", "STP") and not has_ref:
            kind = "market" if o.order_type == "MKT" else "stop"
            return [
                f"{label}: {kind} order has no usable reference price "
                f"(got {o.reference_price!r}); denied rather than sent blind"
            ]
        if o.order_type in ("LMT", "STP LMT") and not _usable(o.limit_price, is_bag):
            return [f"{label}: limit price {o.limit_price!r} is not usable"]
        if o.order_type in ("STP", "STP LMT") and not _usable(o.stop_price, is_bag):
            return [f"{label}: stop price {o.stop_price!r} is not usable"]
        if not has_ref:
            return [
                f"{label}: no usable mid (got {o.reference_price!r}) to check the "
                f"{o.order_type} prices against the collar"
            ]
        mid = float(o.reference_price)
        if o.order_type == "MKT":
            return []
        if o.order_type in ("STP", "STP LMT"):
            return self._stop_reasons(o, label, mid, is_bag)
        return self._collar(
            label, "limit price", float(o.limit_price), ("the mid", mid), "limit_collar", is_bag
        )

    def _collar(
        self,
        label: str,
        what: str,
        price: float,
        anchor: tuple[str, float],
        setting: str,
        is_bag: bool,
    ) -> list[str]:
        """``price`` within ``setting`` (a fraction) of the anchor price, else a reason."""
        name, ref = anchor
        collar = getattr(self.limits, setting)
        allowed = collar * abs(ref)
        if is_bag:
            allowed = max(allowed, self.limits.min_combo_collar)
        if abs(price - ref) > allowed + 1e-12:
            return [
                f"{label}: {what} {price:g} is {abs(price - ref):g} from {name} {ref:g}, "
                f"outside the collar of {allowed:g} ({setting} {collar:g})"
            ]
        return []

    def _stop_reasons(self, o: OrderIntent, label: str, mid: float, is_bag: bool) -> list[str]:
        stop = float(o.stop_price)
        side = 1 if o.action == "BUY" else -1
        if side * (stop - mid) <= 0:
            where = "at or below" if side > 0 else "at or above"
            return [
                f"{label}: {o.action} stop {stop:g} is {where} the mid {mid:g}: it would "
                "trigger at once; send a market or limit order instead"
            ]
        reasons = self._collar(label, "stop price", stop, ("the mid", mid), "stop_collar", is_bag)
        if o.order_type == "STP LMT":
            lmt = float(o.limit_price)
            anchor = ("the stop price", stop)
            reasons += self._collar(label, "limit price", lmt, anchor, "limit_collar", is_bag)
        return reasons

    def _exposure_reasons(self, o: OrderIntent, label: str) -> list[str]:
        lim = self.limits
        price = abs(float(o.reference_price))
        if o.order_type in ("LMT", "STP LMT"):
            price = max(price, abs(float(o.limit_price)))
        if o.order_type in ("STP", "STP LMT"):
            price = max(price, abs(float(o.stop_price)))
        unit_value = price * o.multiplier
        if _usable(o.unit_notional, False):
            unit_value = float(o.unit_notional)
        reasons = []
        notional = o.quantity * unit_value
        if notional > lim.max_order_notional:
            reasons.append(
                f"{label}: order notional {notional:,.2f} exceeds max_order_notional "
                f"{lim.max_order_notional:,.2f}"
            )
        if _reduces(o):
            return reasons
        if not _usable(o.nlv, False):
            reasons.append(
                f"{label}: NetLiquidation is {o.nlv!r}; cannot check position weight or leverage"
            )
            return reasons
        base = _base(o)
        after = base + _signed(o)
        weight = abs(after) * unit_value / o.nlv
        if weight > lim.max_position_weight:
            reasons.append(
                f"{label}: position weight after the order {weight:.1%} exceeds "
                f"max_position_weight {lim.max_position_weight:.1%}"
            )
        gross_after = o.gross_exposure + (abs(after) - abs(base)) * unit_value
        leverage = gross_after / o.nlv
        if leverage > lim.max_gross_leverage:
            reasons.append(
                f"{label}: gross leverage after the order {leverage:.2f}x exceeds "
                f"max_gross_leverage {lim.max_gross_leverage:.2f}x"
            )
        return reasons


def _signed(o: OrderIntent) -> float:
    return o.quantity if o.action == "BUY" else -o.quantity


def _base(o: OrderIntent) -> float:
    """The position the order starts from: held plus the other working orders."""
    return o.position + o.working


def _reduces(o: OrderIntent) -> bool:
    """True if the order shrinks ``abs(position + working)`` without crossing zero."""
    base = _base(o)
    after = base + _signed(o)
    return base != 0 and abs(after) < abs(base) and after * base >= 0
