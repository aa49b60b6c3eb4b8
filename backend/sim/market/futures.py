"""Futures of the simulated market: NYMEX CL, HO and RB, tied to PSX by the crack spread,
and CME's equity-index E-minis ES, NQ and MES.

Contracts
---------
===== ======================== ============ ========= ==========================================
sym   name                     multiplier   tick      last trading day
===== ======================== ============ ========= ==========================================
CL    Light Sweet Crude Oil    1,000 bbl    $0.01     3 business days before the 25th of the
                                                      month before the contract month (before
                                                      the business day preceding the 25th
                                                      when the 25th is not one)
HO    NY Harbor ULSD           42,000 gal   $0.0001   last business day of the month before
RB    RBOB Gasoline            42,000 gal   $0.0001   last business day of the month before
ES    E-mini S&P 500 (CME)     $50 × SPX    0.25      third Friday of the contract month
NQ    E-mini Nasdaq-100 (CME)  $20 × NDX    0.25      (the business day before when it is
MES   Micro E-mini S&P 500     $5 × SPX     0.25      a holiday)
===== ======================== ============ ========= ==========================================

The E-minis list four quarterly months (March, June, September, December); their front
quarter trades at its index (:mod:`.macro`: SPX is 10 × SPY) and each later one carries the
same 0.3 % a month as the energy products; they live on exchange ``CME`` (``GLOBEX`` is
accepted as its old name).

Six consecutive contract months are listed per product, the first being the nearest one whose
last trading day is on or after the model's session (so the front month can expire *today*).
At each new session the listing rolls: an expired front month leaves it (it stays resolvable
by conId for positions and executions), the next month becomes the front and a new sixth
month is listed.
conIds are ``900_000_000 + 100_000 * product + 100 * (year % 100) + month``; local symbols use
IB's style (``CLF7``).  Trading hours in contract details are NYMEX's (18:00-17:00 ET); the
simulation itself trades them during the XNYS session like everything else.

Price model
-----------
Crude (``CL``) is a random walk of its own: Student-t daily log returns of 2.1 %, anchored at
$75 on the last history close.  Define the 3-2-1 crack spread in $/bbl as
``C = (2*RB*42 + HO*42 - 3*CL) / 3``.  It is cointegrated with the refiner PSX::

    C = kappa * PSX + u,    u = mu + x

``kappa`` puts the crack near $25/bbl at the last close; ``x`` is an AR(1) with a 6-session
half-life and a $1.20 standard deviation (daily), ``mu`` a regime level that jumps by a
normal $3 on about two sessions a year (regime breaks).  Within a session ``u`` is a
minute-level Ornstein-Uhlenbeck bridge (20-minute half-life, $0.40 deviation) between its
open and close values, and PSX enters through its own 1-minute path, so a refiner-vs-crack
signal ``C - kappa * PSX`` exists intraday and mean-reverts.  The distillate/gasoline split
``d`` (AR(1), mean $5, $2 deviation) gives ``HO*42 = CL + C + d`` and
``RB*42 = CL + C - d/2``, which satisfies the crack identity exactly.  Daily OHLC of HO and RB
are aggregated from their minute paths, so minute bars and daily bars agree.  Later contract
months carry a contango of 0.3 % a month over the front; the product path is the front
month's, so when the front rolls the new front continues the product path and each deferred
month re-prices by one month of contango (history before the first session uses the first
session's listing; a session's prices never change once quoted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from livedesk.backend.sim.market.instruments import Instrument, matches_fields
from livedesk.backend.sim.market.paths import (
    LOT,
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

FUT_CON_ID_BASE = 900_000_000
MONTH_CODES = "FGHJKMNQUVXZ"
LISTED_MONTHS = 6
CONTANGO = 0.003
_STREAM_FUTURES = 40


@dataclass(frozen=True)
class Product:
    """One futures product."""

    index: int
    symbol: str
    long_name: str
    multiplier: float
    tick: float
    liquidity: float
    daily_volume: float
    exchange: str = "NYMEX"
    underlying: str = ""
    """The index an equity-index future tracks ("" for the energy products)."""

    @property
    def quarterly(self) -> bool:
        """Listed on the March quarterly cycle (H, M, U, Z) rather than every month."""
        return bool(self.underlying)


PRODUCTS = {
    "CL": Product(0, "CL", "Light Sweet Crude Oil", 1000.0, 0.01, 40.0, 300_000),
    "HO": Product(1, "HO", "NY Harbor ULSD", 42000.0, 0.0001, 12.0, 60_000),
    "RB": Product(2, "RB", "RBOB Gasoline", 42000.0, 0.0001, 12.0, 70_000),
    "ES": Product(3, "ES", "E-mini S&P 500", 50.0, 0.25, 60.0, 1_500_000, "CME", "SPX"),
    "NQ": Product(4, "NQ", "E-mini Nasdaq-100", 20.0, 0.25, 40.0, 500_000, "CME", "NDX"),
    "MES": Product(5, "MES", "Micro E-mini S&P 500", 5.0, 0.25, 30.0, 1_000_000, "CME", "SPX"),
}
LISTED_QUARTERS = 4
QUARTER_MONTHS = (3, 6, 9, 12)
CL_LEVEL = 75.0
CL_VOL = 0.021
CRACK_LEVEL = 25.0
CRACK_SD, CRACK_HALF_LIFE = 1.2, 6.0
BREAK_RATE, BREAK_SD = 2.0 / 252, 3.0
SPLIT_MEAN, SPLIT_SD, SPLIT_HALF_LIFE = 5.0, 2.0, 20.0
MINUTE_SD, MINUTE_HALF_LIFE = 0.4, 20.0
GALLONS = 42.0


def crack_spread(cl: float | np.ndarray, ho: float | np.ndarray, rb: float | np.ndarray):
    """The 3-2-1 crack spread in $/bbl from CL ($/bbl) and HO, RB ($/gal)."""
    return (2 * rb * GALLONS + ho * GALLONS - 3 * cl) / 3


def business_holidays(calendar) -> np.ndarray:
    """Exchange holidays (regular and ad hoc) of ``calendar`` as ``datetime64[D]``."""
    hol = calendar.regular_holidays.holidays(pd.Timestamp("2000-01-01"), pd.Timestamp("2040-12-31"))
    extra = pd.DatetimeIndex(list(calendar.adhoc_holidays))
    return np.array(sorted(set(hol) | set(extra)), dtype="M8[D]")


def last_trade_date(symbol: str, year: int, month: int, holidays: np.ndarray) -> date:
    """The last trading day of a contract month under NYMEX's rules (see module doc)."""
    prev_y, prev_m = (year, month - 1) if month > 1 else (year - 1, 12)
    product = PRODUCTS.get(symbol)
    if product is not None and product.quarterly:  # CME equity index: the third Friday
        first = date(year, month, 1)
        third = np.datetime64(first) + np.timedelta64((4 - first.weekday()) % 7 + 14, "D")
        last = np.busday_offset(third, 0, roll="backward", holidays=holidays)
    elif symbol == "CL":
        day25 = np.datetime64(f"{prev_y:04d}-{prev_m:02d}-25")
        # 3 business days before the 25th, or before the last business day preceding it
        start = np.busday_offset(day25, 0, roll="backward", holidays=holidays)
        last = np.busday_offset(start, -3, roll="backward", holidays=holidays)
    else:
        first = np.datetime64(f"{year:04d}-{month:02d}-01")
        last = np.busday_offset(first, -1, roll="backward", holidays=holidays)
    return pd.Timestamp(last).date()


def listed_futures(session: date, holidays: np.ndarray) -> list[Instrument]:
    """The listed contracts of every product on ``session``, front month first."""
    out = []
    for p in PRODUCTS.values():
        year, month = session.year, session.month
        months = []
        while len(months) < (LISTED_QUARTERS if p.quarterly else LISTED_MONTHS):
            if not p.quarterly or month in QUARTER_MONTHS:
                ltd = last_trade_date(p.symbol, year, month, holidays)
                if ltd >= session:
                    months.append((year, month, ltd))
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        sector = "Indices" if p.quarterly else "Energy"
        for y, mo, ltd in months:
            out.append(
                Instrument(
                    con_id=FUT_CON_ID_BASE + 100_000 * p.index + 100 * (y % 100) + mo,
                    symbol=p.symbol,
                    sec_type="FUT",
                    exchange=p.exchange,
                    primary_exchange=p.exchange,
                    long_name=p.long_name,
                    industry=sector,
                    category=sector,
                    min_tick=p.tick,
                    multiplier=p.multiplier,
                    liquidity=p.liquidity,
                    local_symbol=f"{p.symbol}{MONTH_CODES[mo - 1]}{y % 10}",
                    trading_class=p.symbol,
                    last_trade_date=ltd.strftime("%Y%m%d"),
                    contract_month=f"{y:04d}{mo:02d}",
                )
            )
    return out


class FuturesSource:
    """Lists the futures contracts of one session (an InstrumentRegistry derivative source)."""

    def __init__(self, contracts: list[Instrument]) -> None:
        self.retired: dict[int, Instrument] = {}
        self.relist(contracts)

    def relist(self, contracts: list[Instrument]) -> None:
        """List ``contracts`` (a new session's); contracts no longer listed are retired."""
        old = getattr(self, "contracts", {})
        self.contracts = {c.con_id: c for c in contracts}
        self.retired.update({k: c for k, c in old.items() if k not in self.contracts})

    def resolve(self, con_id: int) -> Instrument | None:
        """The listed (or retired) contract with this conId."""
        return self.contracts.get(con_id) or self.retired.get(con_id)

    def find(self, symbol: str, sec_type: str, fields: dict[str, object]) -> list[Instrument]:
        """Listed contracts of ``symbol`` matching ``fields``."""
        return [
            c for c in self.contracts.values() if c.symbol == symbol and matches_fields(c, fields)
        ]


def _ou_bridge(rng: np.random.Generator, start: float, end: float, n: int) -> np.ndarray:
    """n values of a minute-level OU path from ``start`` pinned to ``end`` at the last one."""
    phi = half_life_phi(MINUTE_HALF_LIFE)
    walk = ar1(MINUTE_SD * math.sqrt(1 - phi**2) * rng.standard_normal(n), phi, 0.0)
    w = np.arange(1, n + 1) / n
    return start + (end - start) * w + walk - w * walk[-1]


class FuturesModel:
    """Daily and 1-minute paths of the listed futures (a PathProvider for ``FUT``)."""

    def __init__(
        self,
        market: MarketModel,
        source: FuturesSource,
        psx_con_id: int,
        holidays: np.ndarray | None = None,
    ) -> None:
        self.market, self.source, self.psx = market, source, psx_con_id
        self.holidays = business_holidays(market.calendar) if holidays is None else holidays
        self.first_session = np.datetime64(market.session)  # the listing history is priced on
        self._carries: dict[int, np.ndarray] = {}
        self._drivers: dict[str, np.ndarray] | None = None
        self._base: dict[str, DailyPath] = {}
        self._ohlc: dict[str, list[tuple[float, float, float, float]]] = {"HO": [], "RB": []}
        self._minutes: dict[int, dict[str, tuple[np.ndarray, ...]]] = {}

    def reset(self) -> None:
        """Forget the daily paths (the market generated more sessions; the daily OHLC of HO
        and RB already aggregated stay, since a session's minutes never change)."""
        self._drivers = None
        self._base.clear()
        self._carries.clear()

    # ---- PathProvider -----------------------------------------------------------------
    def daily_path(self, inst: Instrument) -> DailyPath:
        """The contract's daily path: its product's path with the contract's contango."""
        base = self._product_path(inst.symbol)
        f = self._carry(inst)[: len(base.open)]
        return DailyPath(
            base.open * f, base.high * f, base.low * f, base.close * f, base.volume,
            base.intraday_vol,
        )  # fmt: skip

    def minute_bars(self, inst: Instrument, day: int, n: int) -> tuple[np.ndarray, ...]:
        """The contract's 1-minute bars of session ``day``."""
        o, h, lo, c, v = self._product_minutes(inst.symbol, day, n)
        f = self._carry(inst)[day]
        return o * f, h * f, lo * f, c * f, v

    # ---- model ------------------------------------------------------------------------
    def kappa(self) -> float:
        """PSX loading of the crack spread ($/bbl per $ of PSX)."""
        return self._driver_arrays()["kappa"][0]

    def _carry(self, inst: Instrument) -> np.ndarray:
        """Contango factor of a contract on each generated session: 0.3 % for each month it
        lies after that session's front month (the first session's listing for the history
        before it), so a session's prices never change once it has been quoted."""
        f = self._carries.get(inst.con_id)
        if f is None:
            days = np.maximum(self.market.window.all.values.astype("M8[D]"), self.first_session)
            year, month = int(inst.contract_month[:4]), int(inst.contract_month[4:6])
            ahead = year * 12 + month - 1 - self._front_months(inst.symbol, days)
            f = self._carries[inst.con_id] = np.exp(CONTANGO * np.maximum(ahead, 0))
        return f

    def _front_months(self, symbol: str, days: np.ndarray) -> np.ndarray:
        """The front month (``year * 12 + month - 1``) of ``symbol`` on each of ``days``."""
        first = pd.Timestamp(days.min())
        months = range(first.year * 12 + first.month - 1, int(str(days.max())[:4]) * 12 + 14)
        if PRODUCTS[symbol].quarterly:
            months = [k for k in months if k % 12 + 1 in QUARTER_MONTHS]
        ltds = [last_trade_date(symbol, k // 12, k % 12 + 1, self.holidays) for k in months]
        pos = np.searchsorted(np.array(ltds, dtype="M8[D]"), days, side="left")
        return np.asarray(months)[pos]

    def _driver_arrays(self) -> dict[str, np.ndarray]:
        if self._drivers is not None:
            return self._drivers
        m = self.market
        n, anchor = m.generated, m.anchor
        n0 = min(n, anchor + 2)  # sessions drawn from the first stream
        rng = seeded_rng(m.seed, m.stream_key, _STREAM_FUTURES)
        first = np.vstack(
            (student_t(rng, (1, n0)), rng.standard_normal((5, n0)), rng.random((1, n0)))
        )
        draws = extend_draws(
            first,
            m.seed,
            (m.stream_key, _STREAM_FUTURES),
            n,
            lambda g, k: np.vstack(
                (student_t(g, (1, k)), g.standard_normal((5, k)), g.random((1, k)))
            ),
        )
        r = CL_VOL * draws[0]
        gap_noise, u_noise, d_noise, breaks, sizes, break_draws = draws[1:]
        log_close = np.cumsum(r)
        log_close += math.log(CL_LEVEL) - log_close[anchor]
        log_open = log_close - r + 0.2 * r + 0.2 * CL_VOL * gap_noise
        phi_u = half_life_phi(CRACK_HALF_LIFE)
        x = ar1(CRACK_SD * math.sqrt(1 - phi_u**2) * u_noise, phi_u, 0.0)
        mu = np.cumsum(np.where(break_draws < BREAK_RATE, BREAK_SD * sizes, 0.0))
        u = mu - mu[anchor] + x
        phi_d = half_life_phi(SPLIT_HALF_LIFE)
        d = SPLIT_MEAN + ar1(SPLIT_SD * math.sqrt(1 - phi_d**2) * d_noise, phi_d, 0.0)
        psx = m.daily_path(self.psx)
        kappa = CRACK_LEVEL / float(psx.close[anchor])
        u_open = np.concatenate(([u[0]], u[:-1])) * 0.7 + 0.3 * u
        d_open = np.concatenate(([d[0]], d[:-1])) * 0.7 + 0.3 * d
        self._drivers = {
            "cl_open": np.exp(log_open), "cl_close": np.exp(log_close), "r": r,
            "u": u, "u_open": u_open, "d": d, "d_open": d_open, "kappa": np.array([kappa]),
        }  # fmt: skip
        return self._drivers

    def _cl_path(self) -> DailyPath:
        dr = self._driver_arrays()
        n = len(dr["r"])
        m = self.market
        n0 = min(n, m.anchor + 2)
        rng = seeded_rng(m.seed, m.stream_key, _STREAM_FUTURES, 1)
        first = np.vstack((1.0 - rng.random((2, n0)), rng.standard_normal((1, n0))))
        u_high, u_low, volume_noise = extend_draws(
            first,
            m.seed,
            (m.stream_key, _STREAM_FUTURES, 1),
            n,
            lambda g, k: np.vstack((1.0 - g.random((2, k)), g.standard_normal((1, k)))),
        )
        lo_, lc = np.log(dr["cl_open"]), np.log(dr["cl_close"])
        iv = np.full(n, CL_VOL * math.sqrt(1 - 0.04))
        mid, half = (lo_ + lc) / 2, np.abs(lc - lo_) / 2
        up = np.sqrt(half**2 - 0.5 * iv**2 * np.log(u_high))
        down = np.sqrt(half**2 - 0.5 * iv**2 * np.log(u_low))
        vol = PRODUCTS["CL"].daily_volume * np.exp(0.3 * volume_noise)
        return DailyPath(
            dr["cl_open"], np.exp(mid + up), np.exp(mid - down), dr["cl_close"],
            np.maximum(np.rint(vol), LOT).astype(np.int64), iv,
        )  # fmt: skip

    def _index(self, symbol: str) -> Instrument | None:
        """The index an equity-index product tracks (None for the energy products)."""
        und = PRODUCTS[symbol].underlying
        return self.market.registry.find(und, "IND")[0] if und else None

    def _product_path(self, symbol: str) -> DailyPath:
        path = self._base.get(symbol)
        if path is not None:
            return path
        index = self._index(symbol)
        if index is not None:  # the front quarter trades at the index
            self._base[symbol] = self.market.macro.daily_path(index)
            return self._base[symbol]
        if symbol == "CL":
            self._base["CL"] = self._cl_path()
            return self._base["CL"]
        m = self.market
        n = m.generated
        for day in range(len(self._ohlc["HO"]), n):  # one day at a time: memory stays O(n)
            minutes = self._session_minutes(day, m.session_span(day)[1])
            for sym, ohlc in self._ohlc.items():
                o, h, lo, c, _ = minutes[sym]
                ohlc.append((float(o[0]), float(h.max()), float(lo.min()), float(c[-1])))
        n0 = min(n, m.anchor + 2)
        rng = seeded_rng(m.seed, m.stream_key, _STREAM_FUTURES, 2)
        first = np.vstack((rng.standard_normal(n0), rng.standard_normal(n0)))
        noise = extend_draws(
            first,
            m.seed,
            (m.stream_key, _STREAM_FUTURES, 2),
            n,
            lambda g, k: g.standard_normal((2, k)),
        )
        for sym, volume_noise in zip(("HO", "RB"), noise, strict=True):
            ohlc = np.array(self._ohlc[sym][:n]).T
            vol = PRODUCTS[sym].daily_volume * np.exp(0.3 * volume_noise)
            self._base[sym] = DailyPath(
                *ohlc, np.maximum(np.rint(vol), LOT).astype(np.int64), np.full(n, CL_VOL)
            )
        return self._base[symbol]

    def _product_minutes(self, symbol: str, day: int, n: int) -> tuple[np.ndarray, ...]:
        index = self._index(symbol)
        if index is not None:  # the index's minutes, with the product's own volume
            o, h, lo, c, v = self.market._session_minutes(index.con_id, day)[1]
            share = v / max(float(v.sum()), 1.0)
            volume = np.rint(share * PRODUCTS[symbol].daily_volume).astype(np.int64)
            return o, h, lo, c, volume
        return self._session_minutes(day, n)[symbol]

    def _session_minutes(self, day: int, n: int) -> dict[str, tuple[np.ndarray, ...]]:
        """Minute bars of CL, HO and RB on session ``day`` (cached for the current session)."""
        hit = self._minutes.get(day)
        if hit is not None:
            return hit
        m = self.market
        seed, skey = m.seed, m.stream_key
        cl = minute_bars(
            seeded_rng(seed, skey, _STREAM_FUTURES, 10, day), self._product_path("CL"), day, n
        )
        out = {"CL": cl}
        dr = self._driver_arrays()
        rng = seeded_rng(seed, skey, _STREAM_FUTURES, 11, day)
        u = _ou_bridge(rng, dr["u_open"][day], dr["u"][day], n)
        d = np.linspace(dr["d_open"][day], dr["d"][day], n + 1)
        _, psx = m._session_minutes(self.psx, day)
        u_prev = np.concatenate(([dr["u_open"][day]], u[:-1]))
        kappa = dr["kappa"][0]
        crack_close = np.maximum(kappa * psx[3] + u, 1.0)
        crack_open = np.maximum(kappa * psx[0] + u_prev, 1.0)
        share_v = cl[4] / max(cl[4].sum(), 1)
        for symbol, share in (("HO", 1.0), ("RB", -0.5)):
            closes = (cl[3] + crack_close + share * d[1:]) / GALLONS
            opens = (cl[0] + crack_open + share * d[:-1]) / GALLONS
            span = np.abs(closes - opens) + 1e-4 * closes
            wicks = np.abs(rng.standard_normal((2, n))) * 0.5 * span
            highs = np.maximum(opens, closes) + wicks[0]
            lows = np.minimum(opens, closes) - wicks[1]
            volumes = np.rint(share_v * PRODUCTS[symbol].daily_volume).astype(np.int64)
            out[symbol] = (opens, highs, lows, closes, volumes)
        if day == len(m.sessions) - 1:
            self._minutes = {day: out}  # the current session only: older ones are dropped
        return out


def install(market: MarketModel, holidays: np.ndarray) -> FuturesModel | None:
    """List the futures in ``market``'s registry and price them (needs PSX in the universe)."""
    psx = market.registry.find("PSX", "STK", currency="USD")
    if not psx:
        return None
    contracts = listed_futures(market.session, holidays)
    source = FuturesSource(contracts)
    market.registry.add_source("FUT", source)
    model = FuturesModel(market, source, psx[0].con_id, holidays)
    market.register_provider("FUT", model)
    market.roll_hooks.append(lambda: source.relist(listed_futures(market.session, holidays)))
    return model
