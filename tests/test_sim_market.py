"""Tests of the simulated market model and instrument registry (backend.sim)."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from livedesk.backend.sim.market.instruments import (
    SECTORS,
    SPY_CON_ID,
    Instrument,
    InstrumentRegistry,
    default_registry,
)
from livedesk.backend.sim.market.model import DailyPath, MarketModel

SESSION = date(2026, 11, 20)  # a Friday; 2026-11-27 (day after Thanksgiving) closes early
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def model() -> MarketModel:
    return MarketModel(seed=7, session=SESSION)


def con_id(model: MarketModel, symbol: str) -> int:
    return model.registry.find(symbol, currency="USD")[0].con_id


def closes(model: MarketModel) -> tuple[np.ndarray, np.ndarray]:
    """Log closes (stocks x sessions) and sectors of every stock with a sector."""
    stocks = [inst for inst in model.registry if inst.sector > 0]
    log_close = np.log([model.daily_bars(inst.con_id)["close"] for inst in stocks])
    return log_close, np.array([inst.sector for inst in stocks])


# --- registry ---------------------------------------------------------------------------


def test_universe_has_500_stocks_in_11_sectors_with_spy_and_psx() -> None:
    registry = default_registry()
    stocks = [inst for inst in registry if inst.sec_type == "STK"]
    assert len(stocks) >= 500
    assert {inst.sector for inst in stocks if inst.sector} == set(SECTORS)
    assert len({inst.con_id for inst in registry}) == len(registry)
    (spy,) = registry.find("SPY")
    assert (spy.con_id, spy.primary_exchange, spy.sector) == (SPY_CON_ID, "ARCA", 0)
    for symbol in ("PSX", "AAPL", "MSFT", "AMZN", "GOOGL", "JPM", "XOM", "BRK B"):
        assert len(registry.find(symbol)) == 1, symbol
    assert registry.by_con_id(registry.find("PSX")[0].con_id).symbol == "PSX"
    assert registry.by_con_id(1) is None


def test_con_ids_are_stable_across_builds() -> None:
    first = [(inst.con_id, inst.symbol, inst.currency) for inst in default_registry()]
    assert first == [(inst.con_id, inst.symbol, inst.currency) for inst in default_registry()]
    assert min(inst.con_id for inst in default_registry() if inst.symbol != "SPY") == 1001


def test_shop_is_deliberately_ambiguous() -> None:
    registry = default_registry()
    both = registry.find("SHOP")
    assert len(both) == 2
    assert {(i.currency, i.primary_exchange) for i in both} == {("USD", "NYSE"), ("CAD", "TSE")}
    assert [i.currency for i in registry.find("SHOP", currency="CAD")] == ["CAD"]
    assert [i.currency for i in registry.find("shop", exchange="TSE")] == ["CAD"]
    assert len(registry.find("SHOP", exchange="SMART")) == 2
    assert registry.find("SHOP", sec_type="FUT") == []
    assert registry.find("NOSUCH") == []


def test_registry_field_filters_and_duplicate_ids() -> None:
    registry = InstrumentRegistry(
        [
            Instrument(1, "CL", sec_type="FUT", exchange="NYMEX", last_trade_date="20261218"),
            Instrument(2, "CL", sec_type="FUT", exchange="NYMEX", last_trade_date="20270120"),
        ]
    )
    assert [i.con_id for i in registry.find("CL", "FUT", last_trade_date="202612")] == [1]
    assert len(registry.find("CL", "FUT", last_trade_date="", strike=0.0)) == 2
    with pytest.raises(TypeError):
        registry.find("CL", "FUT", colour="red")
    with pytest.raises(ValueError):
        registry.add(Instrument(1, "XX"))


# --- sessions and clock anchors ---------------------------------------------------------


def test_sessions_cover_two_years_ending_at_current_session(model: MarketModel) -> None:
    sessions = model.sessions
    assert sessions.tz is None
    assert sessions[-1].date() == SESSION == model.session
    assert len(sessions) == 521 and sessions.is_monotonic_increasing
    assert (sessions[-1] - sessions[0]).days > 2 * 365
    opening = datetime(2026, 11, 20, 9, 30, tzinfo=NEW_YORK).timestamp()
    assert model.session_open() == opening
    assert model.session_close() == opening + 390 * 60


def test_weekend_date_rolls_back_to_previous_session() -> None:
    assert MarketModel(session=date(2026, 11, 22), history_sessions=5).session == SESSION


def test_early_close_session_has_fewer_minutes() -> None:
    friday = date(2026, 11, 27)
    model = MarketModel(session=friday, history_sessions=5)
    assert model.session_close() - model.session_open() == 210 * 60
    bars = model.minute_bars(con_id(model, "PSX"), friday)
    assert len(bars) == 210
    assert bars["time"][-1] + 60 == model.session_close()


# --- determinism ------------------------------------------------------------------------


def test_same_seed_same_market_different_seed_different(model: MarketModel) -> None:
    psx = con_id(model, "PSX")
    again, other = MarketModel(seed=7, session=SESSION), MarketModel(seed=8, session=SESSION)
    t = model.session_open() + 1234.5
    np.testing.assert_array_equal(model.daily_bars(psx), again.daily_bars(psx))
    np.testing.assert_array_equal(model.minute_bars(psx, SESSION), again.minute_bars(psx, SESSION))
    assert model.quote(psx, t) == again.quote(psx, t)
    assert not np.array_equal(model.daily_bars(psx)["close"], other.daily_bars(psx)["close"])
    assert not np.array_equal(
        model.minute_bars(psx, SESSION)["close"], other.minute_bars(psx, SESSION)["close"]
    )


def test_results_do_not_depend_on_call_order_or_universe() -> None:
    forward, backward = MarketModel(seed=3, session=SESSION), MarketModel(seed=3, session=SESSION)
    ids = [inst.con_id for inst in forward.registry][:40]
    day = forward.sessions[300].date()
    t = forward.session_open() + 5000.25
    first = {
        c: (forward.daily_bars(c), forward.minute_bars(c, day), forward.quote(c, t)) for c in ids
    }
    for c in reversed(ids):
        backward.quote(c, t + 10)  # touch the intraday caches first, in another order
    for c in reversed(ids):
        np.testing.assert_array_equal(backward.daily_bars(c), first[c][0])
        np.testing.assert_array_equal(backward.minute_bars(c, day), first[c][1])
        assert backward.quote(c, t) == first[c][2]
    # A registry holding only PSX gives PSX the same path as the full universe.
    psx = forward.registry.find("PSX")[0]
    alone = MarketModel(InstrumentRegistry([psx]), seed=3, session=SESSION)
    np.testing.assert_array_equal(alone.daily_bars(psx.con_id), forward.daily_bars(psx.con_id))


# --- daily history ----------------------------------------------------------------------


def test_daily_bars_are_consistent_for_every_instrument(model: MarketModel) -> None:
    dates = model.sessions[:-1].values.astype("M8[D]")
    for inst in model.registry:
        bars = model.daily_bars(inst.con_id)
        np.testing.assert_array_equal(bars["date"], dates)
        assert (bars["high"] >= np.maximum(bars["open"], bars["close"])).all()
        assert (bars["low"] <= np.minimum(bars["open"], bars["close"])).all()
        assert (bars["low"] > 0).all() and (bars["volume"] > 0).all()
        for field in ("open", "high", "low", "close"):
            cents = bars[field] / inst.min_tick
            np.testing.assert_allclose(cents, np.round(cents), atol=1e-6)
        assert model.prev_close(inst.con_id) == bars["close"][-1]
        assert 5.0 <= bars["close"][-1] <= 1000.0, inst.symbol
    with pytest.raises(ValueError):
        model.daily_bars(con_id(model, "PSX"))[0]["close"] = 1.0  # read-only


def test_spy_level_volatility_and_fat_tails(model: MarketModel) -> None:
    assert 400 <= model.prev_close(SPY_CON_ID) <= 600
    log_close, _ = closes(model)
    returns = np.diff(log_close, axis=1)
    annual_vol = np.median(returns.std(axis=1)) * math.sqrt(252)
    assert 0.15 < annual_vol < 0.45
    z = (returns - returns.mean(axis=1, keepdims=True)) / returns.std(axis=1, keepdims=True)
    excess_kurtosis = (z**4).mean() - 3.0
    assert excess_kurtosis > 1.0  # a normal distribution has 0


def test_volume_grows_with_liquidity(model: MarketModel) -> None:
    stocks = sorted((i for i in model.registry if i.sector), key=lambda i: i.liquidity)

    def dollar_volume(inst: Instrument) -> float:
        bars = model.daily_bars(inst.con_id)
        return float(np.median(bars["volume"] * bars["close"]))

    thin = np.median([dollar_volume(i) for i in stocks[:30]])
    thick = np.median([dollar_volume(i) for i in stocks[-30:]])
    assert thick > 10 * thin


def test_sector_correlation_exceeds_cross_sector_correlation(model: MarketModel) -> None:
    log_close, sectors = closes(model)
    corr = np.corrcoef(np.diff(log_close, axis=1))
    same = sectors[:, None] == sectors[None, :]
    off_diagonal = ~np.eye(len(sectors), dtype=bool)
    within, across = corr[same & off_diagonal].mean(), corr[~same].mean()
    assert across > 0.05  # a common market factor
    assert within > across + 0.05


def decile_spreads(log_close: np.ndarray) -> np.ndarray:
    """Monthly forward return of the top minus the bottom decile of 12-1 month momentum."""
    spreads = []
    for t in range(252, log_close.shape[1] - 21, 21):
        momentum = log_close[:, t - 21] - log_close[:, t - 252]
        forward = np.exp(log_close[:, t + 21] - log_close[:, t]) - 1.0
        order = np.argsort(momentum)
        tenth = len(order) // 10
        spreads.append(forward[order[-tenth:]].mean() - forward[order[:tenth]].mean())
    return np.array(spreads)


def test_momentum_predicts_next_month_returns() -> None:
    pooled = []
    for seed in (7, 11, 13):
        spreads = decile_spreads(closes(MarketModel(seed=seed, session=SESSION))[0])
        assert spreads.mean() > 0.0, seed
        pooled.append(spreads)
    pooled = np.concatenate(pooled)
    t_stat = pooled.mean() / pooled.std(ddof=1) * math.sqrt(len(pooled))
    assert t_stat > 2.0


def test_short_term_returns_reverse(model: MarketModel) -> None:
    log_close, _ = closes(model)
    for horizon in (5, 21):
        correlations = [
            np.corrcoef(
                log_close[:, t] - log_close[:, t - horizon],
                log_close[:, t + horizon] - log_close[:, t],
            )[0, 1]
            for t in range(horizon, log_close.shape[1] - horizon, horizon)
        ]
        assert np.mean(correlations) < 0.0, horizon


# --- minute bars ------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["PSX", "SPY", "AES", "AAPL"])
def test_minute_bars_aggregate_to_the_daily_bar(model: MarketModel, symbol: str) -> None:
    c = con_id(model, symbol)
    daily = model.daily_bars(c)
    early_close = date(2025, 11, 28)
    for session in (model.sessions[0].date(), model.sessions[333].date(), early_close):
        day = model.sessions.get_loc(pd.Timestamp(session))
        bars = model.minute_bars(c, session)
        opening = datetime.combine(session, datetime.min.time().replace(hour=9, minute=30))
        start = opening.replace(tzinfo=NEW_YORK).timestamp()
        np.testing.assert_array_equal(bars["time"], start + 60 * np.arange(len(bars)))
        assert len(bars) == (210 if session == early_close else 390)
        assert bars["open"][0] == daily["open"][day] and bars["close"][-1] == daily["close"][day]
        assert bars["high"].max() == daily["high"][day]
        assert bars["low"].min() == daily["low"][day]
        assert bars["volume"].sum() == daily["volume"][day] and (bars["volume"] >= 0).all()
        np.testing.assert_array_equal(bars["open"][1:], bars["close"][:-1])
        assert (bars["high"] >= np.maximum(bars["open"], bars["close"])).all()
        assert (bars["low"] <= np.minimum(bars["open"], bars["close"])).all()


def test_intraday_volume_is_u_shaped(model: MarketModel) -> None:
    ids = [inst.con_id for inst in model.registry][:60]
    volume = np.sum([model.minute_bars(c, model.sessions[200].date())["volume"] for c in ids], 0)
    middle = volume[150:240].mean()
    assert volume[:15].mean() > 1.5 * middle and volume[-15:].mean() > 1.5 * middle


def test_unknown_session_or_con_id_is_rejected(model: MarketModel) -> None:
    with pytest.raises(ValueError):
        model.minute_bars(con_id(model, "PSX"), date(2026, 11, 21))
    with pytest.raises(KeyError):
        model.quote(999_999_999, model.session_open())


# --- ticks and quotes -------------------------------------------------------------------


def test_trade_price_follows_the_current_session_bars(model: MarketModel) -> None:
    c = con_id(model, "AAPL")
    bars = model.minute_bars(c, SESSION)
    opening, closing = model.session_open(), model.session_close()
    assert model.last_price(c, opening - 3600) == model.prev_close(c)
    assert model.last_price(c, closing + 3600) == bars["close"][-1]
    for k in (0, 1, 77, 389):
        assert model.last_price(c, opening + 60 * k) == bars["open"][k]
    rng = np.random.default_rng(0)
    for t in opening + rng.uniform(0, closing - opening, 500):
        k = int((t - opening) // 60)
        assert bars["low"][k] <= model.last_price(c, t) <= bars["high"][k]
    volumes = [model.quote(c, t).volume for t in np.linspace(opening - 60, closing + 60, 400)]
    assert volumes[0] == 0 and volumes[-1] == bars["volume"].sum()
    assert all(a <= b for a, b in zip(volumes, volumes[1:], strict=False))


def test_quote_invariants(model: MarketModel) -> None:
    rng = np.random.default_rng(1)
    instruments = list(model.registry)[::7]
    span = (model.session_open() - 900, model.session_close() + 900)
    for inst in instruments:
        for t in rng.uniform(*span, 40):
            q = model.quote(inst.con_id, t)
            assert q.bid < q.ask and q.bid <= q.last <= q.ask
            for price in (q.bid, q.ask, q.last):
                assert abs(price / inst.min_tick - round(price / inst.min_tick)) < 1e-6
            assert q.last == model.last_price(inst.con_id, t)
            for size in (q.bid_size, q.ask_size, q.last_size):
                assert size > 0 and size % 100 == 0


def median_spread_bps(model: MarketModel, inst: Instrument) -> float:
    start = model.session_open() + 3600
    quotes = [model.quote(inst.con_id, start + 13 * i) for i in range(200)]
    return float(np.median([(q.ask - q.bid) / q.last * 1e4 for q in quotes]))


def test_spread_is_wider_for_illiquid_and_low_priced_names(model: MarketModel) -> None:
    stocks = sorted((i for i in model.registry if i.sector), key=lambda i: i.liquidity)
    thin = np.median([median_spread_bps(model, i) for i in stocks[:15]])
    thick = np.median([median_spread_bps(model, i) for i in stocks[-15:]])
    assert thin > 1.5 * thick
    typical = sorted(
        (i for i in stocks if 0.5 <= i.liquidity <= 2.0), key=lambda i: model.prev_close(i.con_id)
    )
    cheap = np.median([median_spread_bps(model, i) for i in typical[:15]])
    dear = np.median([median_spread_bps(model, i) for i in typical[-15:]])
    assert cheap > 1.2 * dear  # the one-tick floor binds for low prices


def test_displayed_size_grows_with_liquidity(model: MarketModel) -> None:
    stocks = sorted((i for i in model.registry if i.sector), key=lambda i: i.liquidity)
    t0 = model.session_open() + 7200

    def median_size(inst: Instrument) -> float:
        return float(np.median([model.quote(inst.con_id, t0 + s).bid_size for s in range(60)]))

    assert np.median([median_size(i) for i in stocks[-20:]]) > 2 * np.median(
        [median_size(i) for i in stocks[:20]]
    )
    sizes = {model.quote(stocks[-1].con_id, t0 + s).bid_size for s in range(60)}
    assert len(sizes) > 3  # sizes vary over time


# --- extensibility ----------------------------------------------------------------------


class FlatProvider:
    """A provider for a new asset class: every session trades at 80 with volume 1000."""

    def __init__(self, n_days: int) -> None:
        self.n_days = n_days

    def daily_path(self, inst: Instrument) -> DailyPath:
        flat = np.full(self.n_days, 80.0)
        return DailyPath(
            flat,
            flat + 1.0,
            flat - 1.0,
            flat,
            np.full(self.n_days, 1000),
            np.full(self.n_days, 0.01),
        )


def test_other_asset_classes_plug_in_a_path_provider() -> None:
    future = Instrument(5001, "CL", sec_type="FUT", exchange="NYMEX", min_tick=0.01)
    model = MarketModel(InstrumentRegistry([future]), session=SESSION, history_sessions=30)
    with pytest.raises(KeyError):
        model.daily_bars(5001)
    model.register_provider("FUT", FlatProvider(len(model.sessions)))
    bars = model.daily_bars(5001)
    assert len(bars) == 30 and (bars["close"] == 80.0).all()
    minutes = model.minute_bars(5001, SESSION)
    assert minutes["open"][0] == 80.0 and minutes["close"][-1] == 80.0
    assert minutes["high"].max() == 81.0 and minutes["low"].min() == 79.0
    q = model.quote(5001, model.session_open() + 100)
    assert q.bid < q.ask and 79.0 <= q.last <= 81.0
