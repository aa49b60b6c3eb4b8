"""Wires forex, indices, futures and option chains into a :class:`~livedesk.backend.sim.market.model.MarketModel`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from livedesk.backend.sim.market import futures, macro, options

if TYPE_CHECKING:
    from livedesk.backend.sim.market.model import MarketModel


def install(market: MarketModel) -> None:
    """List forex pairs, indices, futures (when PSX is in the universe) and option chains
    on ``market``."""
    holidays = futures.business_holidays(market.calendar)
    market.macro = macro.install(market)
    market.futures = futures.install(market, holidays)
    market.options = options.install(market, {pd.Timestamp(d).date() for d in holidays})
