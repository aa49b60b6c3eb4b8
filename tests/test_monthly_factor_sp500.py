"""monthly-factor on the real S&P 500 file: Pipeline picks == an independent pandas computation.

The independent computation below is written from the factor's definition (README /
``momentum.factor`` docstring) with plain pandas, without calling any LiveDesk code: read
the CSV, pivot, reindex each ticker to the XNYS sessions of its own span (forward-filled
close, zero volume), round closes to zipline's 3 decimals, then for the month-end M take
the last 253 closes through M and the last 30 sessions of close*volume.
"""

from __future__ import annotations

import math

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from tests.momentum_helpers import sp500_file

pytestmark = pytest.mark.slow
MONTH_ENDS = ["2014-06-30", "2015-03-31", "2015-12-31", "2016-08-31", "2017-11-30"]


@pytest.fixture(scope="session")
def sp500_frame() -> pd.DataFrame:
    return pd.read_csv(sp500_file(), parse_dates=["date"])


@pytest.fixture(scope="session")
def sp500_root(tmp_path_factory, sp500_frame) -> str:
    """The S&P file ingested once per test session into a temporary LiveDesk data dir."""
    from livedesk.backend.bundles.ingest import ingest_csv

    root = str(tmp_path_factory.mktemp("sp500-data"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVEDESK_DATA_DIR", root)
        ingest_csv(sp500_file(), "sp500")
    return root


@pytest.fixture
def engine(sp500_root, monkeypatch):
    from livedesk.backend.momentum.pipeline import FactorEngine

    monkeypatch.setenv("LIVEDESK_DATA_DIR", sp500_root)
    return FactorEngine("sp500")


def independent_picks(df: pd.DataFrame, month_end: str, k: int = 500, n: int = 10):
    """Top/bottom n by (12-1 return - 1-month return) / annualised daily vol, top-k by ADV30."""
    cal = xcals.get_calendar("XNYS")
    sessions = cal.sessions_in_range(df["date"].min(), df["date"].max())
    close = df.pivot(index="date", columns="Name", values="close").reindex(sessions)
    volume = df.pivot(index="date", columns="Name", values="volume").reindex(sessions)
    alive = close.notna().cummax() & close[::-1].notna().cummax()[::-1]  # first..last row
    close = close.ffill().where(alive)
    volume = volume.fillna(0.0).where(alive)
    close = (close * 1000).round() / 1000  # zipline stores prices to 3 decimals
    m = pd.Timestamp(month_end)
    upto = close.loc[:m]
    w = upto.iloc[-253:]
    r_12_1 = w.iloc[-22] / w.iloc[0] - 1
    r_1 = w.iloc[-1] / w.iloc[-22] - 1
    daily = w / w.shift(1) - 1
    sigma = daily.iloc[1:].std(ddof=1) * math.sqrt(252)
    score = ((r_12_1 - r_1) / sigma).where(w.notna().all())
    dv = (close * volume).loc[:m].iloc[-30:]
    adv = dv.fillna(0.0).sum() / 30
    listed = upto.notna().any()  # listed on or before M: alive on the run date after M
    adv = adv[listed & alive.loc[m]]
    universe = adv.sort_values(ascending=False).index[:k]
    s = score[universe].dropna()
    ordered = sorted(s.items(), key=lambda kv: (-kv[1], kv[0]))
    return [x for x, _ in ordered[:n]], [x for x, _ in ordered[::-1][:n]], s


def test_pipeline_top_and_bottom_10_match_an_independent_computation(engine, sp500_frame):
    from livedesk.backend.momentum.factor import run_date_after

    for month_end in MONTH_ENDS:
        longs, shorts, scores = independent_picks(sp500_frame, month_end)
        run = engine.run(run_date_after(pd.Timestamp(month_end)))
        assert list(run.picks.longs) == longs, month_end
        assert list(run.picks.shorts) == shorts, month_end
        for sym in longs + shorts:
            assert run.picks.scores[sym] == pytest.approx(scores[sym], rel=1e-9)
        assert run.picks.weights[longs[0]] == pytest.approx(0.05)
        assert run.picks.weights[shorts[0]] == pytest.approx(-0.05)
        assert run.picks.universe == min(500, len(run.frame))


def test_a_gap_in_a_ticker_is_filled_and_scored(engine, sp500_frame):
    """DHR has no rows for 2015-03-09..20: the bundle carries its close with zero volume."""
    from livedesk.backend.momentum.factor import run_date_after

    dhr = engine.data.asset_finder.lookup_symbol("DHR", as_of_date=None)
    start, end = pd.Timestamp("2015-03-06"), pd.Timestamp("2015-03-23")
    close, volume = engine.data.equity_daily_bar_reader.load_raw_arrays(
        ["close", "volume"], start, end, [dhr.sid]
    )
    raw = sp500_frame[(sp500_frame.Name == "DHR")].set_index("date")
    assert close[0, 0] == pytest.approx(raw.loc[start, "close"], abs=5e-4)
    assert np.all(close[1:-1, 0] == close[0, 0]) and len(close) == 12  # 10 filled sessions
    assert np.all(volume[1:-1, 0] == 0) and volume[0, 0] > 0 and volume[-1, 0] > 0
    run = engine.run(run_date_after(pd.Timestamp("2015-03-31")))
    _, _, scores = independent_picks(sp500_frame, "2015-03-31")
    assert run.frame.loc["DHR", "momentum"] == pytest.approx(scores["DHR"], rel=1e-9)


def test_a_ticker_leaving_the_index_leaves_the_book(tmp_path, monkeypatch, sp500_frame):
    """A pick whose rows stop mid-span drops out of the pipeline, the picks and the holdings."""
    from livedesk.backend.bundles.ingest import ingest_csv
    from livedesk.backend.momentum.backtest import run_backtest
    from livedesk.backend.momentum.factor import run_date_after
    from livedesk.backend.momentum.pipeline import FactorEngine

    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(tmp_path / "data"))
    names = sorted(sp500_frame["Name"].unique())[:60]
    small = sp500_frame[sp500_frame.Name.isin(names) & (sp500_frame.date <= "2015-09-30")]
    longs, _, _ = independent_picks(small, "2015-05-29", n=5)
    leaver = longs[0]
    cut = pd.Timestamp("2015-06-15")
    small = small[(small.Name != leaver) | (small.date <= cut)]
    path = tmp_path / "small.csv"
    small.assign(date=small.date.dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    summary, _ = ingest_csv(path, "small")
    assert summary.left_before_end == 1

    engine = FactorEngine("small")
    before = engine.run(run_date_after(pd.Timestamp("2015-05-29")), n=5)
    assert leaver in before.picks.longs
    after = engine.run(run_date_after(pd.Timestamp("2015-06-30")), n=5)
    assert leaver not in after.frame.index and leaver not in after.picks.weights

    result = run_backtest("small", pd.Timestamp("2015-05-01"), pd.Timestamp("2015-08-31"), n=5)
    assert len(result.rebalances) == 4
    assert leaver in result.held["2015-06-02"]  # bought on the June run date
    assert leaver not in result.held["2015-07-02"] and leaver not in result.held["2015-08-31"]
    assert all(len(h) <= 10 for h in result.held.values())
