"""IDEALPRO forex pairs, indices and continuous futures of the simulated market.

Instruments (IB's conIds)
-------------------------
=========  ========  =========  ========  ======  ==========================================
contract   secType   exchange   conId     tick    price model
=========  ========  =========  ========  ======  ==========================================
EUR.USD    CASH      IDEALPRO   12087792  5e-05   Student-t random walk, 0.45 %/day, ~1.08
GBP.USD    CASH      IDEALPRO   12087797  5e-05   0.50 %/day, ~1.27
AUD.USD    CASH      IDEALPRO   14433401  5e-05   0.60 %/day, ~0.66
NZD.USD    CASH      IDEALPRO   39453441  5e-05   0.65 %/day, ~0.60
SPX        IND       CBOE       416904    0.01    10 × SPY's path (SPY is the market factor)
NDX        IND       NASDAQ     416843    0.01    a technology-sector factor path, ~21,000
VIX        IND       CBOE       13455763  0.01    16 × the market's GARCH volatility
                                                  multiplier, with AR(1) noise (it rises when
                                                  the market is turbulent)
=========  ========  =========  ========  ======  ==========================================

Forex pairs are quoted in USD (the account's currency): a position of 100,000 EUR.USD is
100,000 euros, valued at the pair's price in dollars; margin 3 % of the dollar value;
commission 0.2 bps of it, at least $2 (IB's fixed rate).  Indices are not tradable (orders
get error 201); SPX, NDX and VIX list options (:mod:`.options`) and SPX and NDX underlie the
E-mini futures (:mod:`.futures`).  ``CONTFUT`` (ib_async's ``ContFuture``) resolves to the
front month of a futures product, with the front month's conId, as TWS does.

Everything trades during the XNYS session in the simulation, like the rest of the market.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from livedesk.backend.sim.market.instruments import Instrument, matches_fields
from livedesk.backend.sim.market.paths import (
    DailyPath,
    ar1,
    extend_draws,
    half_life_phi,
    minute_bars,
    seeded_rng,
    student_t,
)

if TYPE_CHECKING:
    from livedesk.backend.sim.market.model import MarketModel

_STREAM_MACRO = 50
FX_TICK = 0.00005
FX_VOLUME = 10**9
INDEX_VOLUME = 10**9


@dataclass(frozen=True)
class Pair:
    """One IDEALPRO currency pair quoted in USD."""

    base: str
    con_id: int
    level: float
    vol: float


PAIRS = {
    "EUR": Pair("EUR", 12087792, 1.08, 0.0045),
    "GBP": Pair("GBP", 12087797, 1.27, 0.0050),
    "AUD": Pair("AUD", 14433401, 0.66, 0.0060),
    "NZD": Pair("NZD", 39453441, 0.60, 0.0065),
}
SPX_CON_ID, NDX_CON_ID, VIX_CON_ID = 416904, 416843, 13455763
NDX_LEVEL, VIX_LEVEL, SPX_LEVEL = 21000.0, 16.0, 5400.0
SPX_PER_SPY = 10.0


def fx_instrument(p: Pair) -> Instrument:
    """The CASH contract of a pair (ib_async ``Forex("EURUSD")``)."""
    return Instrument(
        con_id=p.con_id,
        symbol=p.base,
        sec_type="CASH",
        exchange="IDEALPRO",
        primary_exchange="IDEALPRO",
        long_name=f"{p.base} / USD",
        industry="Currency",
        category="Currency",
        min_tick=FX_TICK,
        liquidity=1e6,
        local_symbol=f"{p.base}.USD",
        trading_class=f"{p.base}.USD",
    )


INDICES = {
    "SPX": Instrument(
        con_id=SPX_CON_ID, symbol="SPX", sec_type="IND", exchange="CBOE",
        primary_exchange="CBOE", long_name="S&P 500 Stock Index", industry="Indices",
        category="Broad Range Equity Index", liquidity=200.0, local_symbol="SPX",
        trading_class="SPX",
    ),
    "NDX": Instrument(
        con_id=NDX_CON_ID, symbol="NDX", sec_type="IND", exchange="NASDAQ",
        primary_exchange="NASDAQ", long_name="NASDAQ 100 Stock Index", industry="Indices",
        category="Broad Range Equity Index", liquidity=150.0, local_symbol="NDX",
        trading_class="NDX",
    ),
    "VIX": Instrument(
        con_id=VIX_CON_ID, symbol="VIX", sec_type="IND", exchange="CBOE",
        primary_exchange="CBOE", long_name="CBOE Volatility Index", industry="Indices",
        category="Volatility Index", liquidity=50.0, local_symbol="VIX", trading_class="VIX",
    ),
}  # fmt: skip


class ListSource:
    """A fixed list of instruments of one secType (an InstrumentRegistry derivative source)."""

    def __init__(self, instruments: list[Instrument]) -> None:
        self.by_con_id = {i.con_id: i for i in instruments}

    def resolve(self, con_id: int) -> Instrument | None:
        """The listed instrument with this conId."""
        return self.by_con_id.get(con_id)

    def find(self, symbol: str, sec_type: str, fields: dict[str, object]) -> list[Instrument]:
        """Instruments of ``symbol`` (a pair also by its local symbol, ``EUR.USD``)."""
        return [
            i
            for i in self.by_con_id.values()
            if symbol in (i.symbol, i.local_symbol) and matches_fields(i, fields)
        ]


class ContFutureSource:
    """``CONTFUT``: the front month of a futures product, under the front month's conId."""

    def __init__(self, market: MarketModel) -> None:
        self.market = market

    def resolve(self, con_id: int) -> Instrument | None:
        """None: a conId always names the month itself (the FUT contract)."""
        return None

    def find(self, symbol: str, sec_type: str, fields: dict[str, object]) -> list[Instrument]:
        """The front month of ``symbol`` as a CONTFUT."""
        registry = self.market.registry
        months = registry.find(symbol, "FUT")
        if not months:
            return []
        front = min(months, key=lambda i: i.last_trade_date)
        registry.by_con_id(front.con_id)  # the conId stays the FUT contract's
        cont = replace(front, sec_type="CONTFUT")
        wanted = {k: v for k, v in fields.items() if k not in ("last_trade_date", "local_symbol")}
        return [cont] if matches_fields(cont, wanted) else []


def bridge_path(
    rng_key: tuple[int, ...], market: MarketModel, log_close: np.ndarray, day_vol: np.ndarray,
    volume: float,
) -> DailyPath:  # fmt: skip
    """A daily path from log closes: opens near the previous close, highs and lows from the
    Brownian-bridge extreme law (as the equity model), a flat volume."""
    n = len(log_close)
    n0 = min(n, market.anchor + 2)
    rng = seeded_rng(market.seed, *rng_key, 1)
    first = np.vstack((1.0 - rng.random((2, n0)), rng.standard_normal((1, n0))))
    u_high, u_low, gap = extend_draws(
        first, market.seed, (*rng_key, 1), n,
        lambda g, k: np.vstack((1.0 - g.random((2, k)), g.standard_normal((1, k)))),
    )  # fmt: skip
    prev = np.concatenate(([log_close[0]], log_close[:-1]))
    log_open = prev + 0.15 * day_vol * gap
    iv = day_vol * math.sqrt(1 - 0.15**2)
    mid, half = (log_open + log_close) / 2, np.abs(log_close - log_open) / 2
    up = np.sqrt(half**2 - 0.5 * iv**2 * np.log(u_high))
    down = np.sqrt(half**2 - 0.5 * iv**2 * np.log(u_low))
    return DailyPath(
        np.exp(log_open), np.exp(mid + up), np.exp(mid - down), np.exp(log_close),
        np.full(n, int(volume), dtype=np.int64), iv,
    )  # fmt: skip


def scaled(path: DailyPath, factor: float) -> DailyPath:
    """``path`` with every price multiplied by ``factor``."""
    return DailyPath(
        path.open * factor, path.high * factor, path.low * factor, path.close * factor,
        path.volume, path.intraday_vol,
    )  # fmt: skip


class MacroModel:
    """Daily paths of the forex pairs and indices (a PathProvider for CASH and IND)."""

    def __init__(self, market: MarketModel) -> None:
        self.market = market
        self._paths: dict[int, DailyPath] = {}

    def reset(self) -> None:
        """Forget the paths (the market generated more sessions)."""
        self._paths.clear()

    def daily_path(self, inst: Instrument) -> DailyPath:
        """The full daily path of a pair or an index."""
        path = self._paths.get(inst.con_id)
        if path is None:
            path = self._paths[inst.con_id] = self._make(inst)
        return path

    def minute_bars(self, inst: Instrument, day: int, n: int) -> tuple[np.ndarray, ...]:
        """1-minute bars of session ``day``: SPX's are SPY's × 10 (so the two agree tick for
        tick), the others a bridge of their own daily path."""
        m = self.market
        spy = m.registry.find("SPY", "STK", currency="USD")
        if inst.symbol == "SPX" and spy:
            o, h, lo, c, v = m._session_minutes(spy[0].con_id, day)[1]
            return o * SPX_PER_SPY, h * SPX_PER_SPY, lo * SPX_PER_SPY, c * SPX_PER_SPY, v
        rng = seeded_rng(m.seed, m.stream_key, _STREAM_MACRO, inst.con_id, 2, day)
        return minute_bars(rng, self.daily_path(inst), day, n)

    def _make(self, inst: Instrument) -> DailyPath:
        m = self.market
        n = m.generated
        key = (m.stream_key, _STREAM_MACRO, inst.con_id)
        equity = m.provider("STK")
        spy = m.registry.find("SPY", "STK", currency="USD")
        if inst.symbol == "SPX" and spy:
            return scaled(equity.daily_path(spy[0]), SPX_PER_SPY)
        if inst.symbol in ("SPX", "NDX"):  # NDX: a technology-sector path (SPX without SPY)
            sector = 8 if inst.symbol == "NDX" else 0
            level = NDX_LEVEL if inst.symbol == "NDX" else SPX_LEVEL
            path = equity.daily_path(replace(inst, sec_type="STK", sector=sector))
            return scaled(path, level / float(path.close[m.anchor]))
        n0 = min(n, m.anchor + 2)
        rng = seeded_rng(m.seed, *key)
        shocks = extend_draws(
            student_t(rng, (1, n0)), m.seed, key, n, lambda g, k: student_t(g, (1, k))
        )[0]
        if inst.symbol == "VIX":
            phi = half_life_phi(10.0)
            noise = ar1(0.06 * math.sqrt(1 - phi**2) * shocks, phi, 0.0)
            log_close = np.log(VIX_LEVEL * np.asarray(equity.regime[:n])) + noise
            return bridge_path(key, m, log_close, np.full(n, 0.06), INDEX_VOLUME)
        pair = PAIRS[inst.symbol]
        log_close = np.cumsum(pair.vol * shocks)
        log_close += math.log(pair.level) - log_close[m.anchor]
        return bridge_path(key, m, log_close, np.full(n, pair.vol), FX_VOLUME)


def install(market: MarketModel) -> MacroModel:
    """List the pairs, the indices and CONTFUT on ``market`` and price them."""
    market.registry.add_source("CASH", ListSource([fx_instrument(p) for p in PAIRS.values()]))
    market.registry.add_source("IND", ListSource(list(INDICES.values())))
    market.registry.add_source("CONTFUT", ContFutureSource(market))
    model = MacroModel(market)
    market.register_provider("CASH", model)
    market.register_provider("IND", model)
    return model
