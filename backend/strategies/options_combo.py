"""``options-combo``: volatility forecast vs implied — long ATM straddles or short iron condors.

Each poll (an :class:`Event` schedule in regular hours):

1. With a combo held: mark it at the BAG's mid and close it (one BAG order, limit at the
   mid) on the profit target (50 % of max profit), the stop (condor: max loss x 1.0;
   straddle: 50 % of the premium) or ``exit_dte`` days before expiry.
2. With an entry order working: adopt the fill, or cancel it after ``entry_timeout``.
3. Flat: forecast the volatility over the expiry's horizon from ~1 y of daily returns —
   EWMA (λ = 0.94) and GARCH(1,1) (numpy + scipy, :mod:`.volatility`), combined as set by
   ``forecast`` — and compare with the at-the-money implied volatility of the expiry
   nearest 30 DTE within ``min_dte..max_dte`` (each leg's volatility implied by its mid,
   Black-Scholes at rate 0 on the underlying's last trade). Forecast above implied by ``threshold`` →
   buy the ATM straddle; implied above forecast by ``threshold`` → sell an iron condor with
   short strikes nearest ``short_delta`` (16; Black-Scholes deltas at each leg's own implied
   volatility) and wings one strike further out. Sized so
   the combo's max loss is ``risk_fraction`` (2 %) of NetLiquidation; one BAG order built
   with ``option`` / ``combo_leg`` / ``spread``, limit at the mid (credits negative).

The decision reads its data and trades only through an :class:`~.options_feed.OptionsFeed`
(:meth:`OptionsCombo.decide`): live the gateway now, in the backtest the gateway's history at
the same poll times — the same code on the same inputs. The pure parts (forecasts,
expiry/strike picks, implied vols, sizing, exits) are in :mod:`.volatility` and
:mod:`.options_math`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from livedesk.backend.strategies import options_math as om
from livedesk.backend.strategies import volatility as vol
from livedesk.backend.strategies.backtest_options import backtest_options
from livedesk.backend.strategies.base import Decision, Strategy, require
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.options_data import release_option_lines
from livedesk.backend.strategies.options_feed import (
    LegQuote,
    LiveOptionsFeed,
    OptionsFeed,
)
from livedesk.backend.strategies.registry import register
from livedesk.backend.strategies.schedules import NEW_YORK, Event, is_open
from livedesk.backend.trading.orders import is_usable_price

FORECASTS = ("garch", "ewma", "mean")


@dataclass(frozen=True)
class OptionsComboParams:
    """Parameters of ``options-combo`` (``[strategies.options-combo]``)."""

    underlying: str = "SPY"
    """The optionable underlying."""
    forecast: str = "mean"
    """Volatility forecast: `garch`, `ewma` or `mean` of both."""
    ewma_lambda: float = 0.94
    """Decay of the EWMA forecast."""
    threshold: float = 0.02
    """Volatility points between forecast and implied needed to trade."""
    min_dte: int = 20
    """Shortest days to expiry considered."""
    max_dte: int = 45
    """Longest days to expiry considered."""
    target_dte: int = 30
    """Preferred days to expiry (the expiry nearest it is used)."""
    short_delta: float = 0.16
    """Delta of an iron condor's short strikes."""
    risk_fraction: float = 0.02
    """Maximum loss per combo as a fraction of NetLiquidation."""
    max_contracts: int = 50
    """Most combos per entry."""
    profit_target: float = 0.5
    """Exit at this fraction of the maximum profit."""
    condor_stop: float = 1.0
    """Iron condor stop as a multiple of its maximum loss."""
    straddle_stop: float = 0.5
    """Straddle stop as a fraction of the premium paid."""
    exit_dte: int = 7
    """Exit this many days before expiry."""
    poll_interval: float = 300.0
    """Seconds between polls in regular hours."""
    history: str = "1 Y"
    """Daily history for the forecast: `6 M`, `1 Y` or `2 Y`."""
    entry_timeout: float = 1800.0
    """Seconds before an unfilled entry order is cancelled."""

    def __post_init__(self) -> None:
        require(bool(self.underlying.strip()), "underlying", "must not be empty")
        require(
            self.forecast in FORECASTS,
            "forecast",
            f"must be one of {FORECASTS}, got {self.forecast!r}",
        )
        require(
            0 < self.ewma_lambda < 1, "ewma_lambda", f"must be in (0, 1), got {self.ewma_lambda}"
        )
        require(self.threshold >= 0, "threshold", f"must be >= 0, got {self.threshold}")
        require(self.min_dte >= 1, "min_dte", f"must be >= 1, got {self.min_dte}")
        require(
            self.max_dte >= self.min_dte,
            "max_dte",
            f"must be >= min_dte ({self.min_dte}), got {self.max_dte}",
        )
        require(
            0 < self.short_delta < 0.5,
            "short_delta",
            f"must be in (0, 0.5), got {self.short_delta}",
        )
        require(
            0 < self.risk_fraction <= 0.2,
            "risk_fraction",
            f"must be in (0, 0.2], got {self.risk_fraction}",
        )
        require(self.max_contracts >= 1, "max_contracts", f"must be >= 1, got {self.max_contracts}")
        require(0 < self.profit_target <= 1, "profit_target", "must be in (0, 1]")
        require(self.condor_stop > 0, "condor_stop", "must be > 0")
        require(0 < self.straddle_stop <= 1, "straddle_stop", "must be in (0, 1]")
        require(0 <= self.exit_dte < self.min_dte, "exit_dte", "must be in 0..min_dte-1")
        require(self.poll_interval >= 1, "poll_interval", "must be >= 1 second")
        require(self.history in ("6 M", "1 Y", "2 Y"), "history", "must be 6 M, 1 Y or 2 Y")
        require(self.entry_timeout > 0, "entry_timeout", "must be > 0 s")


def years_to(expiry: str, now: dt.datetime) -> float:
    """Years from ``now`` to the 16:00 New York close of ``expiry`` (calendar / 365)."""
    day = dt.datetime.strptime(expiry[:8], "%Y%m%d").date()
    close = dt.datetime.combine(day, dt.time(16), NEW_YORK)
    return max((close - now).total_seconds(), 0.0) / (365 * 86400)


class NotEnoughHistory(LookupError):
    """Too few daily returns for a forecast: no decision this time (not an error)."""


@register
class OptionsCombo(Strategy):
    """Volatility forecast vs implied: long straddles or short iron condors on one underlying."""

    name: ClassVar[str] = "options-combo"
    Params: ClassVar[type] = OptionsComboParams
    description: ClassVar[str] = (
        "event-driven: EWMA/GARCH vol forecast vs ATM implied; ATM straddle or 16-delta iron condor"
    )
    backtest_days: ClassVar[int] = 250
    params: OptionsComboParams

    def make_schedule(self) -> Event:
        return Event(self.params.poll_interval, calendar="XNYS", market_hours=True)

    async def on_stop(self, ctx: StrategyContext) -> None:
        release_option_lines(ctx)

    # ---- data ------------------------------------------------------------------------
    def feed(self, ctx: StrategyContext) -> LiveOptionsFeed:
        """The live :class:`~.options_feed.OptionsFeed` of ``ctx``."""
        return LiveOptionsFeed(ctx, self.params.underlying, self.params.history)

    async def forecasts(self, feed: OptionsFeed, horizon: int) -> dict[str, float]:
        """EWMA and GARCH(1,1) forecasts from the daily closes (read and fitted once per
        gateway day, at the first decision that needs them)."""
        p = self.params
        key = ("daily", feed.today())
        cached = feed.cache.get(key)
        if cached is None:
            returns = vol.log_returns(await feed.daily_closes())
            if len(returns) < 60:
                raise NotEnoughHistory(
                    f"only {len(returns)} daily returns of {p.underlying}; 60 needed"
                )
            for k in [k for k in feed.cache if isinstance(k, tuple) and k[0] == "daily"]:
                del feed.cache[k]
            # The fit depends only on the day's returns: one GARCH fit per gateway day, not one
            # per poll (a fit is ~20 ms of BFGS; a session polls dozens of times).
            cached = feed.cache[key] = (returns, vol.fit_garch(returns))
        returns, fit = cached
        garch = fit.forecast_vol(max(horizon, 1))
        ewma = vol.ewma_vol(returns, p.ewma_lambda)
        return {
            "garch": garch,
            "ewma": ewma,
            "forecast": vol.combine_forecast(p.forecast, garch, ewma),
            "garch_alpha": fit.alpha,
            "garch_beta": fit.beta,
            "returns": float(len(returns)),
        }

    # ---- the iteration ---------------------------------------------------------------
    async def run_once(self, ctx: StrategyContext) -> Decision:
        return await self.decide(self.feed(ctx))

    async def decide(self, feed: OptionsFeed) -> Decision:
        """One decision on ``feed`` (live or replayed: the same code)."""
        now = await feed.now()
        if not is_open(now, self.schedule.calendar):
            return Decision(now, "market closed: no decision", skipped_reason="market closed")
        held = feed.load()
        if held and held.get("status") == "pending":
            return await self._pending(feed, now, held)
        if held and held.get("status") in ("open", "closing"):
            return await self._manage(feed, now, held)
        return await self._enter(feed, now)

    async def _pending(self, feed: OptionsFeed, now: dt.datetime, held: dict) -> Decision:
        order = feed.order(int(held["order_id"]))
        combo = om.OpenCombo.from_dict(held["combo"])
        if order is not None and order.status == "Filled":
            price = float(order.avg_price or combo.entry_price)
            if combo.kind == "condor" and price > 0 and combo.entry_price < 0:
                price = -price  # a credit reported as a positive average price
            filled = om.OpenCombo(
                combo.kind,
                combo.expiry,
                combo.legs,
                combo.quantity,
                price,
                combo.max_profit,
                combo.max_loss,
            )
            feed.save({"status": "open", "combo": filled.as_dict()})
            return Decision(
                now,
                f"{combo.kind} entry filled at {price:+.2f} x {combo.quantity}",
                {"entry_price": price, "quantity": float(combo.quantity)},
            )
        age = now.timestamp() - float(held["sent_at"])
        if order is None or order.done:
            feed.save(None)
            why = "entry order not found" if order is None else order.status
            return Decision(now, f"{combo.kind} entry not filled ({why}); flat", {})
        if age > self.params.entry_timeout:
            await feed.cancel()
            feed.save(None)
            return Decision(now, f"{combo.kind} entry unfilled after {age:.0f} s: cancelled", {})
        return Decision(now, f"{combo.kind} entry working ({age:.0f} s)", {"age": age})

    async def flatten(self, ctx: StrategyContext) -> list[dict[str, Any]]:
        """Close the combo held (one BAG order at the mid); an unfilled entry is cancelled."""
        before = len(ctx.orders)
        feed = self.feed(ctx)
        held = feed.load()
        if held and held.get("status") == "pending":
            await feed.cancel()
            feed.save(None)
        elif held and held.get("status") == "open":
            await self._manage(feed, await feed.now(), held, force="flatten requested")
        return ctx.orders[before:]

    async def _manage(
        self, feed: OptionsFeed, now: dt.datetime, held: dict, force: str | None = None
    ) -> Decision:
        p = self.params
        combo = om.OpenCombo.from_dict(held["combo"])
        if held.get("status") == "closing":
            order = feed.order(int(held["order_id"]))
            if order is not None and order.status == "Filled":
                feed.save(None)
                return Decision(now, f"{combo.kind} closed", {})
            if order is not None and not order.done:
                return Decision(now, f"{combo.kind} exit working", {})
            held = {"status": "open", "combo": combo.as_dict()}  # exit died: try again
        quotes = await feed.quotes(combo.expiry, [(k, r) for k, r, _ in combo.legs])
        mark = 0.0
        for k, r, action in combo.legs:
            mid = quotes[(k, r)].mid
            if not math.isfinite(mid):
                return Decision(
                    now, "no decision: no quote for a leg", skipped_reason=f"no quote for {k}{r}"
                )
            mark += mid if action == "BUY" else -mid
        days = om.dte(combo.expiry, now.date())
        values = {
            "mark": mark,
            "entry_price": combo.entry_price,
            "pnl_per_unit": combo.pnl_per_unit(mark),
            "dte": float(days),
            "quantity": float(combo.quantity),
        }
        why = force or om.exit_reason(
            combo, mark, days, p.profit_target, p.condor_stop, p.straddle_stop, p.exit_dte
        )
        if why is None:
            return Decision(
                now, f"hold {combo.kind}: P/L {values['pnl_per_unit']:+.2f}/unit", values
            )
        order_id = await feed.send(combo, "SELL", round(mark, 2))
        if order_id is not None:
            feed.save({"status": "closing", "combo": combo.as_dict(), "order_id": order_id})
        return Decision(now, f"close {combo.kind}: {why}", values, {combo.kind: 0.0})

    async def _enter(self, feed: OptionsFeed, now: dt.datetime) -> Decision:
        p = self.params
        spot = await feed.spot()
        if not is_usable_price(spot):
            reason = f"no price for {p.underlying}"
            return Decision(now, f"no decision: {reason}", skipped_reason=reason)
        chain = await feed.chain()
        expiry = om.choose_expiry(chain.expiries, now.date(), p.min_dte, p.max_dte, p.target_dte)
        if expiry is None:
            reason = f"no expiry within {p.min_dte}..{p.max_dte} days"
            return Decision(now, f"no decision: {reason}", skipped_reason=reason)
        t = years_to(expiry, now)
        days = om.dte(expiry, now.date())
        horizon = max(1, round(days * 252 / 365))
        try:
            f = await self.forecasts(feed, horizon)
        except NotEnoughHistory as exc:  # e.g. a history request cut by a drop: try again later
            reason = str(exc)
            return Decision(now, f"no decision: {reason}", skipped_reason=reason)
        atm = om.atm_strike(chain.strikes, spot)
        q = await feed.quotes(expiry, [(atm, "C"), (atm, "P")])
        ivs = [iv for iv in (leg_iv(x, spot, t) for x in q.values()) if math.isfinite(iv)]
        if not ivs:
            reason = f"no implied volatility for the {expiry} {atm:g} options"
            return Decision(now, f"no decision: {reason}", skipped_reason=reason)
        implied = sum(ivs) / len(ivs)
        values = f | {
            "implied": implied,
            "spot": spot,
            "atm_strike": atm,
            "dte": float(days),
            "edge": f["forecast"] - implied,
        }
        text = f"forecast {f['forecast']:.1%} vs implied {implied:.1%} ({expiry}, {days} DTE)"
        if f["forecast"] - implied >= p.threshold:
            return await self._straddle(feed, now, values, text, expiry, atm, q)
        if implied - f["forecast"] >= p.threshold:
            return await self._condor(feed, now, values, text, expiry, spot, t, implied, chain)
        return Decision(now, f"{text}: within {p.threshold:.1%}, no trade", values)

    async def _send_entry(
        self,
        feed: OptionsFeed,
        now: dt.datetime,
        combo: om.OpenCombo,
        values: dict[str, float],
        summary: str,
    ) -> Decision:
        p = self.params
        nlv = feed.nlv()
        qty = om.contracts_for_risk(combo.max_loss, nlv, p.risk_fraction, 100.0, p.max_contracts)
        values = values | {"max_loss": combo.max_loss, "nlv": nlv, "quantity": float(qty)}
        if qty < 1:
            reason = (
                f"max loss {combo.max_loss * 100:.0f} per combo exceeds "
                f"{p.risk_fraction:.0%} of NetLiquidation {nlv:,.0f}"
            )
            return Decision(now, f"no trade: {reason}", values, skipped_reason=reason)
        combo = om.OpenCombo(
            combo.kind,
            combo.expiry,
            combo.legs,
            qty,
            combo.entry_price,
            combo.max_profit,
            combo.max_loss,
        )
        order_id = await feed.send(combo, "BUY", round(combo.entry_price, 2))
        if order_id is not None:
            feed.save(
                {
                    "status": "pending",
                    "combo": combo.as_dict(),
                    "order_id": order_id,
                    "sent_at": now.timestamp(),
                }
            )
        return Decision(now, summary + f" x {qty}", values, {combo.kind: float(qty)})

    async def _straddle(self, feed, now, values, text, expiry, atm, q) -> Decision:
        mids = [q[(atm, "C")].mid, q[(atm, "P")].mid]
        if not all(is_usable_price(m) for m in mids):
            return Decision(now, "no decision: no ATM quotes", values, skipped_reason="no quotes")
        debit = sum(mids)
        combo = om.OpenCombo(
            "straddle", expiry, ((atm, "C", "BUY"), (atm, "P", "BUY")), 0, debit, None, debit
        )
        values = values | {"debit": debit}
        return await self._send_entry(
            feed, now, combo, values, f"{text}: buy {expiry} {atm:g} straddle at {debit:.2f}"
        )

    async def _condor(self, feed, now, values, text, expiry, spot, t, implied, chain) -> Decision:
        p = self.params
        puts, calls = om.condor_candidates(chain.strikes, spot, implied, t, p.short_delta)
        q = await feed.quotes(expiry, [(k, "P") for k in puts] + [(k, "C") for k in calls])
        try:
            c = om.pick_condor(
                chain.strikes,
                {k: leg_delta(q[(k, "P")], spot, t) for k in puts},
                {k: leg_delta(q[(k, "C")], spot, t) for k in calls},
                spot,
                p.short_delta,
            )
        except ValueError as exc:
            return Decision(now, f"no decision: {exc}", values, skipped_reason=str(exc))
        legs = (
            (c.long_put, "P", "BUY"),
            (c.short_put, "P", "SELL"),
            (c.short_call, "C", "SELL"),
            (c.long_call, "C", "BUY"),
        )
        wings = await feed.quotes(expiry, [(c.long_put, "P"), (c.long_call, "C")])
        q = q | wings
        mids = {(k, r): q[(k, r)].mid for k, r, _ in legs}
        if not all(math.isfinite(m) for m in mids.values()):
            return Decision(
                now, "no decision: no quote for a condor leg", values, skipped_reason="no quotes"
            )
        price = sum(mids[(k, r)] * (1 if a == "BUY" else -1) for k, r, a in legs)
        credit = -price
        if credit <= 0:
            return Decision(
                now, "no decision: condor has no credit", values, skipped_reason="no credit"
            )
        combo = om.OpenCombo("condor", expiry, legs, 0, price, credit, c.width - credit)
        values = values | {
            "credit": credit,
            "short_put": c.short_put,
            "short_call": c.short_call,
            "long_put": c.long_put,
            "long_call": c.long_call,
            "short_put_delta": leg_delta(q[(c.short_put, "P")], spot, t),
            "short_call_delta": leg_delta(q[(c.short_call, "C")], spot, t),
        }
        desc = f"{c.long_put:g}/{c.short_put:g}P {c.short_call:g}/{c.long_call:g}C"
        return await self._send_entry(
            feed, now, combo, values, f"{text}: sell {expiry} {desc} iron condor for {credit:.2f}"
        )

    async def backtest(self, ctx: StrategyContext, days: int, cost_bps: float, progress=None):
        """The live decisions replayed on the gateway's history (:mod:`.backtest_options`)."""
        return await backtest_options(self, ctx, days, cost_bps, progress)


def leg_iv(q: LegQuote, spot: float, t: float) -> float:
    """The leg's implied volatility: Black-Scholes (rate 0) at its mid, the underlying at
    ``spot``, ``t`` years left (NaN when the mid prices no volatility)."""
    mid = q.mid
    if not math.isfinite(mid):
        return math.nan
    return om.bs_implied_vol(q.right == "C", mid, spot, q.strike, t)


def leg_delta(q: LegQuote, spot: float, t: float) -> float:
    """The leg's Black-Scholes delta (rate 0) at its own implied volatility (NaN without)."""
    iv = leg_iv(q, spot, t)
    return om.bs_delta(q.right == "C", spot, q.strike, t, iv) if math.isfinite(iv) else math.nan
