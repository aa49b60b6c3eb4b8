"""The demo bundle: the simulated market's daily history, exactly the gateway's daily bars.

The simulated market is deterministic for ``(seed, session)``: ingest with the gateway's
seed on the gateway's session and the bundle holds, for every US stock the gateway lists
(conId as sid, the gateway's symbol), the daily bars ``reqHistoricalData`` serves — every
completed session before the current one, prices on the tick grid. The current session is
the one the demo trades: it is added only on request (``include_current``, once the
gateway's clock is past its close — the scheduled month-end run).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from livedesk.backend.bundles.writer import AssetSpec


def demo_universe(market) -> list:
    """The instruments of the demo bundle: the market's US stocks (no ETFs, no CAD listing)."""
    return [
        inst
        for inst in market.registry
        if inst.sec_type == "STK" and inst.currency == "USD" and inst.sector != 0
    ]


def demo_market(seed: int, session: dt.date | None = None):
    """The simulated market the gateway builds for ``seed`` (today's session by default)."""
    from livedesk.backend.sim.market.model import MarketModel

    return MarketModel(seed=seed, session=session, install_derivatives=False)


def demo_frames(
    market, include_current: bool = False
) -> tuple[dict[str, pd.DataFrame], dict[str, AssetSpec]]:
    """Per-symbol OHLCV frames of the market's history and their asset specs (sid = conId).

    ``include_current`` adds the current session's full bar — what the gateway serves for
    it once its clock is past the close (the day's open, high, low and close on the tick
    grid and its whole volume).
    """
    from livedesk.backend.sim.market.model import round_to_tick

    frames: dict[str, pd.DataFrame] = {}
    specs: dict[str, AssetSpec] = {}
    today = pd.Timestamp(market.session)
    for inst in demo_universe(market):
        bars = market.daily_bars(inst.con_id)
        index = pd.DatetimeIndex(np.asarray(bars["date"]).astype("datetime64[ns]"))
        frame = pd.DataFrame(
            {
                k: np.asarray(bars[k], dtype=float)
                for k in ("open", "high", "low", "close", "volume")
            },
            index=index,
        )
        if include_current:
            path = market.daily_path(inst.con_id)
            row = {
                k: float(round_to_tick(getattr(path, k)[-1], inst.min_tick))
                for k in ("open", "high", "low", "close")
            }
            row["volume"] = float(path.volume[-1])
            frame.loc[today] = row
        frames[inst.symbol] = frame
        specs[inst.symbol] = AssetSpec(
            inst.con_id, inst.symbol, inst.primary_exchange, inst.long_name or inst.symbol
        )
    return frames, specs
