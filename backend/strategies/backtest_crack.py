"""Bar-by-bar replay of ``crack-spread`` over the gateway's 1-minute history.

The same code as live: :func:`.crack_signal.signal_frame` (a fixed-size rolling window, so
row i equals the live evaluation of the last ``2*window-1`` bars ending at i) and
:func:`.crack_signal.next_position`, applied at the live schedule's decision times (every
``interval`` from the open, on completed bars) with the flatten rule (flat from
``flatten_before_close_min`` before the close; never overnight). Fills at the next bar's
open plus ``cost_bps`` (:func:`.replay.replay_positions`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from livedesk.backend.contracts import future, stock
from livedesk.backend.strategies import crack_signal as sig
from livedesk.backend.strategies.backtest import BacktestResult, Progress
from livedesk.backend.strategies.bars import fetch_history
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.replay import replay_positions, summary_metrics
from livedesk.backend.strategies.schedules import NEW_YORK, sessions


def decisions_over(
    bars: pd.DataFrame,
    threshold: float,
    window: int,
    interval: float,
    flatten_before_close_min: float,
    calendar: str = "XNYS",
) -> tuple[np.ndarray, pd.DataFrame]:
    """The position sign decided at the end of each bar, and the signal frame."""
    frame = sig.signal_frame(bars, window)
    z = frame["z"].to_numpy(dtype=float)
    cal = sessions(calendar)
    starts = bars.index.asi8 // 10**9 if len(bars) else np.array([], dtype=np.int64)
    ends = starts + 60
    idx = np.searchsorted(cal.closes, starts, side="right")
    opens = cal.opens[np.minimum(idx, len(cal.opens) - 1)]
    closes = cal.closes[np.minimum(idx, len(cal.closes) - 1)]
    flat_at = closes - flatten_before_close_min * 60
    out = np.zeros(len(bars), dtype=np.int64)
    pos = 0
    session = -1
    for i in range(len(bars)):
        if idx[i] != session:
            session, pos = idx[i], 0  # every session starts flat
        if ends[i] >= flat_at[i]:
            pos = 0
        elif (ends[i] - opens[i]) % interval < 1e-9:
            pos = sig.next_position(z[i], pos, threshold)
        out[i] = pos
    return out, frame


async def backtest_crack(
    strategy, ctx: StrategyContext, days: int, cost_bps: float, progress: Progress | None = None
) -> BacktestResult:
    """Download ``days`` sessions of 1-minute bars (PSX, CL, HO, RB) and replay them."""
    p = strategy.params
    contracts = {"psx": await ctx.resolve(stock(p.symbol), "psx")}
    for sym in ("CL", "HO", "RB"):
        contracts[sym.lower()] = await ctx.resolve(future(sym), sym.lower())
    frames = {}
    for i, (key, c) in enumerate(contracts.items()):
        frames[key] = await fetch_history(ctx, c, days)
        if progress is not None:
            progress(
                i + 1, len(contracts) + 1, f"downloaded {key.upper()} ({len(frames[key])} bars)"
            )
    closes = pd.concat({k: f["close"] for k, f in frames.items()}, axis=1, join="inner").dropna()
    opens = frames["psx"]["open"].reindex(closes.index)
    now = (await ctx.now()).timestamp()
    complete = closes.index.asi8 // 10**9 + 60 <= now
    closes, opens = closes[complete], opens[complete]
    if len(closes) < sig.min_bars(p.window) + 1:
        raise LookupError(
            f"only {len(closes)} aligned minute bars; need {sig.min_bars(p.window) + 1}"
        )
    decided, _ = decisions_over(
        closes, p.threshold, p.window, p.interval, p.flatten_before_close_min
    )
    r = replay_positions(opens, closes["psx"], closes.index, decided, p.weight, cost_bps)
    if progress is not None:
        progress(len(contracts) + 1, len(contracts) + 1, "replayed")
    return BacktestResult(
        strategy=strategy.name,
        dates=r.dates,
        daily_returns=r.daily,
        metrics=summary_metrics(r.daily),
        params=strategy.param_values(),
        span_start=closes.index[0].to_pydatetime().astimezone(NEW_YORK),
        span_end=(closes.index[-1] + pd.Timedelta(seconds=60)).to_pydatetime().astimezone(NEW_YORK),
        cost_bps=cost_bps,
        bars=len(closes),
        trades=r.trades,
        notes={
            "contracts": {
                k: f"{c.localSymbol or c.symbol} ({c.conId})" for k, c in contracts.items()
            },
            "fills": "next bar's open",
            "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        },
    )
