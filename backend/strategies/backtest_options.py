"""Backtest of ``options-combo``: the live decisions replayed, then a daily proxy before them.

The most recent sessions (up to :data:`~.backtest_options_intraday.MAX_SESSIONS`, within
``min_dte`` days of today so that every expiry they may choose is still listed) are replayed
at the live decision times by the strategy's own decision code on the gateway's history
(:mod:`.backtest_options_intraday`). The gateway serves no history of options that are no
longer listed, so the sessions before them fall back on a simplified daily replay
(documented approximations):

What is the same as live: the forecasts (:mod:`.volatility` — EWMA every day, GARCH(1,1)
refitted every ``refit`` sessions on the trailing year and filtered daily), the decision
rule (:func:`.volatility.combine_forecast`, ``threshold``), the condor strike pick
(:func:`.options_math.pick_condor` at ``short_delta``), the sizing
(:func:`.options_math.contracts_for_risk`) and the exits (:func:`.options_math.exit_reason`).

What is simplified:

* **Implied volatility history.** The historical ATM implied vol is a proxy:
  ``iv[t] = k * realised60[t]``, with ``k`` the ratio of today's live ATM implied vol (from
  the chain) to today's 60-session realised vol. It is recorded in the reference's notes.
* **Prices.** Black-Scholes at that implied vol, flat across strikes (no skew), rate 0,
  on the underlying's daily bars: decisions at the close, fills at the next day's open
  (plus ``cost_bps`` of the premium traded), marks at each close.
* **Expiries.** Every entry uses an expiry ``target_dte`` calendar days after the fill;
  the strike grid is today's chain spacing. A combo still held when the intraday replay
  begins is left at its last mark (the intraday replay starts flat).

Only completed sessions are replayed: a backtest run during a session leaves the session in
progress out (its bar's close is not final).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from livedesk.backend.contracts import stock
from livedesk.backend.strategies import backtest_options_intraday as intraday
from livedesk.backend.strategies import options_math as om
from livedesk.backend.strategies import volatility as vol
from livedesk.backend.strategies.backtest import BacktestResult, Progress
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.options_data import option_chain, snapshot_options
from livedesk.backend.strategies.replay import summary_metrics
from livedesk.backend.strategies.schedules import NEW_YORK, is_open

WARMUP = 252
"""Sessions of returns before the first decision (GARCH needs about a year)."""


def realised(returns: np.ndarray, window: int = 60) -> np.ndarray:
    """Annualised trailing ``window``-return realised vol at each index (NaN before)."""
    out = np.full(len(returns), np.nan)
    for i in range(window - 1, len(returns)):
        out[i] = float(np.std(returns[i - window + 1 : i + 1], ddof=1)) * math.sqrt(252)
    return out


def grid(spot: float, step: float, lo: float = 0.6, hi: float = 1.4) -> list[float]:
    """A strike grid of spacing ``step`` around ``spot``."""
    first = math.floor(spot * lo / step) * step
    n = int((spot * hi - first) / step) + 1
    return [round(first + i * step, 6) for i in range(n)]


def combo_value(legs, s: float, t: float, iv: float) -> float:
    """Black-Scholes value per unit of a combo bought (legs: strike, right, action)."""
    v = 0.0
    for k, right, action in legs:
        price = om.bs_price(right == "C", s, k, t, iv)
        v += price if action == "BUY" else -price
    return v


def simulate(
    params,
    dates: list[dt.date],
    opens: np.ndarray,
    closes: np.ndarray,
    iv: np.ndarray,
    forecast: np.ndarray,
    step: float,
    cost_bps: float,
    start: int,
    equity0: float = 1_000_000.0,
) -> tuple[list[dt.date], np.ndarray, int, list[dict]]:
    """Day-by-day replay from ``start``; daily returns on equity, trades and a trade log."""
    p = params
    equity = equity0
    held: dict | None = None  # {combo, expiry: date, value}
    pending: tuple[str, object] | None = None  # ("open", combo) or ("close", reason)
    out_days, out, log = [], [], []
    trades = 0
    for i in range(start, len(dates)):
        day = dates[i]
        pnl = 0.0
        if pending is not None:  # fill at today's open
            action, payload = pending
            pending = None
            if action == "open":
                combo, expiry = payload
                t = max((expiry - day).days, 0) / 365
                price = combo_value(combo.legs, opens[i], t, iv[i - 1])
                cost = abs(price) * combo.quantity * 100 * cost_bps / 1e4
                entry = om.OpenCombo(
                    combo.kind,
                    expiry.strftime("%Y%m%d"),
                    combo.legs,
                    combo.quantity,
                    price,
                    combo.max_profit,
                    combo.max_loss,
                )
                held = {"combo": entry, "expiry": expiry, "value": price}
                pnl -= cost
                trades += 1
                log.append({"day": day.isoformat(), "open": combo.kind, "price": price})
            elif held is not None:
                combo = held["combo"]
                t = max((held["expiry"] - day).days, 0) / 365
                price = combo_value(combo.legs, opens[i], t, iv[i - 1])
                pnl += (price - held["value"]) * combo.quantity * 100
                pnl -= abs(price) * combo.quantity * 100 * cost_bps / 1e4
                log.append({"day": day.isoformat(), "close": combo.kind, "why": payload})
                held = None
                trades += 1
        if held is not None:  # mark at the close
            combo = held["combo"]
            t = max((held["expiry"] - day).days, 0) / 365
            mark = combo_value(combo.legs, closes[i], t, iv[i])
            pnl += (mark - held["value"]) * combo.quantity * 100
            held["value"] = mark
            days_left = (held["expiry"] - day).days
            why = om.exit_reason(
                combo, mark, days_left, p.profit_target, p.condor_stop, p.straddle_stop, p.exit_dte
            )
            if days_left <= 0:
                held = None  # settled at intrinsic (the mark at t = 0)
            elif why is not None and i + 1 < len(dates):
                pending = ("close", why)
        elif i + 1 < len(dates) and math.isfinite(forecast[i]) and math.isfinite(iv[i]):
            pending = _entry(p, closes[i], iv[i], forecast[i], step, equity, dates[i])
        out_days.append(day)
        out.append(pnl / equity)
        equity += pnl
    return out_days, np.asarray(out), trades, log


def _entry(p, spot: float, iv: float, forecast: float, step: float, equity: float, day):
    expiry = day + dt.timedelta(days=1 + p.target_dte)
    t = p.target_dte / 365
    strikes = grid(spot, step)
    atm = om.atm_strike(strikes, spot)
    if forecast - iv >= p.threshold:
        debit = om.straddle_value(spot, atm, t, iv)
        legs = ((atm, "C", "BUY"), (atm, "P", "BUY"))
        qty = om.contracts_for_risk(debit, equity, p.risk_fraction, 100, p.max_contracts)
        combo = om.OpenCombo("straddle", "", legs, qty, debit, None, debit)
    elif iv - forecast >= p.threshold:
        puts = {k: om.bs_delta(False, spot, k, t, iv) for k in strikes if k < spot}
        calls = {k: om.bs_delta(True, spot, k, t, iv) for k in strikes if k > spot}
        try:
            c = om.pick_condor(strikes, puts, calls, spot, p.short_delta)
        except ValueError:
            return None
        legs = (
            (c.long_put, "P", "BUY"),
            (c.short_put, "P", "SELL"),
            (c.short_call, "C", "SELL"),
            (c.long_call, "C", "BUY"),
        )
        price = combo_value(legs, spot, t, iv)
        credit = -price
        if credit <= 0:
            return None
        qty = om.contracts_for_risk(c.width - credit, equity, p.risk_fraction, 100, p.max_contracts)
        combo = om.OpenCombo("condor", "", legs, qty, price, credit, c.width - credit)
    else:
        return None
    return ("open", (combo, expiry)) if combo.quantity >= 1 else None


def forecasts_over(params, returns: np.ndarray, horizon: int, refit: int = 21) -> np.ndarray:
    """The live forecast (``params.forecast``) after each return, from index WARMUP on."""
    out = np.full(len(returns) + 1, np.nan)
    fit = None
    for i in range(WARMUP, len(returns) + 1):
        window = returns[i - WARMUP : i]
        if fit is None or (i - WARMUP) % refit == 0:
            fit = vol.fit_garch(window)
        eps = window - fit.mean
        s2 = vol.garch_variances(eps, fit.omega, fit.alpha, fit.beta, float(eps.var()))[-1]
        day_fit = vol.GarchFit(fit.omega, fit.alpha, fit.beta, float(s2), fit.loglik, fit.mean)
        garch = day_fit.forecast_vol(horizon)
        ewma = vol.ewma_vol(window, params.ewma_lambda)
        out[i] = vol.combine_forecast(params.forecast, garch, ewma)
    return out


def _in_progress(day, now: dt.datetime) -> bool:
    """Whether the daily bar of ``day`` is the session under way at ``now`` (its close is
    not final: the gateway serves the session in progress as a bar)."""
    day = day if not isinstance(day, dt.datetime) else day.date()
    return day == now.astimezone(NEW_YORK).date() and is_open(now, "XNYS")


async def backtest_options(
    strategy, ctx: StrategyContext, days: int, cost_bps: float, progress: Progress | None = None
) -> BacktestResult:
    """The last ``days`` completed sessions: the most recent (up to
    :data:`~.backtest_options_intraday.MAX_SESSIONS`, within ``min_dte`` days) replayed at
    the live decision times (:mod:`.backtest_options_intraday`), the earlier ones by the
    daily proxy replay (module doc), after a one-year warm-up."""
    p = strategy.params
    und = await ctx.resolve(stock(p.underlying), "underlying")
    years = max(2, math.ceil((days + WARMUP + 5) / 252))
    bars = await ctx.bars(und, f"{years} Y", "1 day")
    if len(bars) < WARMUP + 10:
        raise LookupError(f"only {len(bars)} daily bars of {p.underlying}")
    if progress is not None:
        progress(1, 4, f"downloaded {len(bars)} daily bars of {p.underlying}")
    now = await ctx.now()
    if _in_progress(bars[-1].date, now):  # live has no close for it yet: not a replay day
        bars = bars[:-1]
    dates = [b.date if isinstance(b.date, dt.date) else b.date.date() for b in bars]
    planned = await intraday.plan(
        strategy, ctx, intraday.replay_sessions(now.timestamp(), days, p.min_dte), und
    )
    spans = planned.spans
    first_intraday = dt.datetime.fromtimestamp(spans[0][0], NEW_YORK).date() if spans else dates[-1]
    notes: dict = {}
    out_days: list[dt.date] = []
    daily = np.zeros(0)
    trades = 0
    proxy_days = days - len(spans)
    if proxy_days > 0:
        keep = [i for i, d in enumerate(dates) if d < first_intraday or not spans]
        proxy = await _proxy(strategy, ctx, und, [bars[i] for i in keep], proxy_days, cost_bps)
        out_days, daily, trades, notes = proxy
    if progress is not None:
        progress(2, 4, f"replaying {len(spans)} sessions at the live decision times")
    run = await intraday.replay(
        strategy,
        ctx,
        planned,
        cost_bps,
        und,
        [(d, float(b.close)) for d, b in zip(dates, bars, strict=True)],
    )
    out_days = [*out_days, *run.dates]
    daily = np.concatenate((daily, np.asarray(run.returns, dtype=float)))
    trades += sum(1 for o in run.orders if o["status"] == "Filled")
    if progress is not None:
        progress(4, 4, "replayed")
    if not out_days:
        raise LookupError("no completed session to replay")
    to_dt = lambda d: dt.datetime.combine(d, dt.time(16), NEW_YORK)  # noqa: E731
    notes = notes | {
        "intraday": {
            "sessions": len(run.dates),
            "first": run.dates[0].isoformat() if run.dates else None,
            "polls": run.polls,
            "requests": run.feed.requests if run.feed is not None else 0,
            "replay": "the live decisions at the schedule's times on the gateway's history; "
            "BAG limits at the mid fill when the combo's last trade goes through them",
            "decisions": run.decisions[-100:],
            "orders": run.orders[-100:],
        }
    }
    return BacktestResult(
        strategy=strategy.name,
        dates=out_days,
        daily_returns=daily,
        metrics=summary_metrics(daily),
        params=strategy.param_values(),
        span_start=to_dt(out_days[0]),
        span_end=to_dt(out_days[-1]),
        cost_bps=cost_bps,
        bars=len(out_days),
        trades=trades,
        notes=notes,
    )


async def _proxy(strategy, ctx: StrategyContext, und, bars, days: int, cost_bps: float):
    """The daily proxy replay (module doc) over the last ``days`` of ``bars``: its dates,
    daily returns, trades and notes."""
    p = strategy.params
    if len(bars) < WARMUP + 10:
        raise LookupError(f"only {len(bars)} daily bars of {p.underlying} before the replay")
    now = await ctx.now()
    dates = [b.date if isinstance(b.date, dt.date) else b.date.date() for b in bars]
    opens = np.array([b.open for b in bars], dtype=float)
    closes = np.array([b.close for b in bars], dtype=float)
    returns = np.diff(np.log(closes))
    rv = np.concatenate(([np.nan], realised(returns)))  # aligned with closes
    # calibrate the implied-vol proxy on today's live ATM implied vol
    spot = (await ctx.quote(und)).price
    chain = await option_chain(ctx, und)
    expiry = om.choose_expiry(chain.expiries, now.date(), p.min_dte, p.max_dte, p.target_dte)
    if expiry is None:
        raise LookupError(f"no {p.underlying} expiry within {p.min_dte}..{p.max_dte} days")
    atm = om.atm_strike(chain.strikes, spot)
    q = await snapshot_options(ctx, p.underlying, expiry, [(atm, "C"), (atm, "P")], keep=False)
    ivs = [x.iv for x in q.values() if math.isfinite(x.iv)]
    if not ivs or not math.isfinite(rv[-1]):
        raise LookupError("no live implied volatility to calibrate the replay")
    ratio = (sum(ivs) / len(ivs)) / rv[-1]
    iv = ratio * rv
    horizon = round(p.target_dte * 252 / 365)
    forecast = forecasts_over(p, returns, horizon)  # index i = after return i-1 = close i
    start = max(WARMUP, len(dates) - days)
    out_days, daily, trades, log = simulate(
        p, dates, opens, closes, iv, forecast, om.strike_step(chain.strikes), cost_bps, start
    )
    notes = {
        "iv_proxy_ratio": ratio,
        "replay": "daily, Black-Scholes at the implied-vol proxy, fills at the next open "
        f"(the {len(out_days)} sessions before the intraday replay)",
        "trades": log[-50:],
    }
    return out_days, daily, trades, notes
