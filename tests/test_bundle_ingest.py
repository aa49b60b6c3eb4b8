"""Bundle ingest: bad rows reported with file:line and repaired or refused, gaps, layouts, CLI."""

from __future__ import annotations

import os

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from livedesk.backend.bundles.csvsource import read_source
from livedesk.backend.bundles.paths import BundleError
from tests.momentum_helpers import write_csv

HEADER = "date,open,high,low,close,volume,Name"
CAL = xcals.get_calendar("XNYS")


def sessions(start: str, count: int) -> list[str]:
    s = CAL.sessions_in_range(
        pd.Timestamp(start), pd.Timestamp(start) + pd.Timedelta(days=3 * count)
    )
    return [f"{d:%Y-%m-%d}" for d in s[:count]]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LIVEDESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LIVEDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("ZIPLINE_ROOT", raising=False)
    return tmp_path / "data"


def test_every_bad_row_is_reported_with_its_line_and_handled_by_the_rule(tmp_path) -> None:
    d = sessions("2024-03-04", 12)  # 2024-03-04 .. 2024-03-19
    rows = [
        f"{d[0]},10,11,9,10.5,1000,AAA",  # line 2: good
        f"{d[1]},10,11,9,,1000,AAA",  # 3: missing close -> refused (gap)
        f"{d[2]},10,9,11,10,1000,AAA",  # 4: high < low -> repaired
        f"{d[3]},-10,11,9,10,1000,AAA",  # 5: negative open -> refused
        f"{d[4]},10,11,9,10,abc,AAA",  # 6: volume not a number -> refused
        f"{d[0]},99,99,99,99,5,AAA",  # 7: duplicate of line 2 -> refused
        f"{d[5]},,11,9,10.25,1000,AAA",  # 8: missing open -> repaired open = close
        "2024-03-09,10,11,9,10,1000,AAA",  # 9: a Saturday -> refused
        "03/32/2024,10,11,9,10,1000,AAA",  # 10: unparseable date -> refused
        f"{d[6]},10,11,9,10,,AAA",  # 11: missing volume -> repaired 0
        f"{d[7]},10,10.5,9.5,11,1000,AAA",  # 12: close above high -> repaired
        f"{d[8]},10,11,9,x1,1000,AAA",  # 13: close not a number -> refused
        f"{d[9]},10,11,9,10,1000,",  # 14: missing symbol -> refused
        f"{d[11]},20,21,19,20,2000,AAA",  # 15: good; d[9], d[10] missing -> gaps
    ]
    data = read_source(write_csv(tmp_path / "bad.csv", HEADER, rows))
    by_line = {i.line: i for i in data.issues}
    refused = {2 + k for k in (1, 3, 4, 5, 7, 8, 11, 12)}
    repaired = {4, 8, 11, 12}
    assert {ln for ln, i in by_line.items() if i.refused} == refused
    assert {ln for ln, i in by_line.items() if not i.refused} == repaired
    assert all(i.file == "bad.csv" for i in data.issues)
    assert "missing close" in by_line[3].problem
    assert "not positive" in by_line[5].problem and "-10" in by_line[5].problem
    assert "volume is not a number: abc" in by_line[6].problem
    assert by_line[7].problem == "duplicate date (first row at line 2)"
    assert "not an XNYS session" in by_line[9].problem
    assert "unparseable date" in by_line[10].problem
    assert "close is not a number" in by_line[13].problem
    assert by_line[14].problem == "missing symbol"
    assert str(by_line[4]).startswith("bad.csv:4: AAA high < low")
    assert data.rows_read == 14 and data.rows_refused == 8 and data.rows_repaired == 4

    f = data.frames["AAA"]
    day = pd.Timestamp
    assert list(f.index) == [day(x) for x in d]  # every session from first to last row
    assert f.loc[day(d[0]), "close"] == 10.5  # the first of the duplicates is kept
    assert (f.loc[day(d[2]), ["high", "low"]] == [11.0, 9.0]).all()  # max/min of O,H,L,C
    assert f.loc[day(d[5]), "open"] == 10.25
    assert f.loc[day(d[6]), "volume"] == 0
    assert f.loc[day(d[7]), "high"] == 11.0 and f.loc[day(d[7]), "low"] == 9.5
    # refused rows (d1, d3, d4, d8) and absent sessions (d9, d10) are gaps: previous close, 0 volume
    for k, prev in ((1, 10.5), (3, 10.0), (4, 10.0), (8, 11.0), (9, 11.0), (10, 11.0)):
        row = f.loc[day(d[k])]
        assert (row[["open", "high", "low", "close"]] == prev).all(), k
        assert row["volume"] == 0
    assert data.gaps == {"AAA": 6}
    # every row is accounted for: kept rows + refused rows = rows read
    assert len(f) - data.gaps["AAA"] + data.rows_refused == data.rows_read


def test_directory_layout_like_csvdir_with_splits_and_dividends(tmp_path) -> None:
    d = sessions("2023-06-01", 5)
    folder = tmp_path / "prices" / "daily"
    folder.mkdir(parents=True)
    hdr = "date,open,high,low,close,volume,dividend,split"
    write_csv(
        folder / "aaa.csv",
        hdr,
        [
            f"{x},10,11,9,10,100,{0.5 if i == 2 else 0},{2 if i == 3 else 1}"
            for i, x in enumerate(d)
        ],
    )
    write_csv(folder / "BBB.csv", hdr, [f"{x},5,6,4,5,100,0,1" for x in d[1:]])
    data = read_source(tmp_path / "prices")
    assert sorted(data.frames) == ["AAA", "BBB"]  # the file name is the symbol
    assert data.frames["BBB"].index[0] == pd.Timestamp(d[1])
    assert data.splits.to_dict("records") == [
        {"symbol": "AAA", "date": pd.Timestamp(d[3]), "ratio": 0.5}
    ]
    assert data.dividends.to_dict("records") == [
        {"symbol": "AAA", "date": pd.Timestamp(d[2]), "amount": 0.5}
    ]


def test_unreadable_inputs_give_a_clear_error(tmp_path) -> None:
    with pytest.raises(BundleError, match="missing column"):
        read_source(write_csv(tmp_path / "x.csv", "date,open,close", ["2024-03-04,1,2"]))
    with pytest.raises(BundleError, match="no such file"):
        read_source(tmp_path / "nope.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no .csv"):
        read_source(tmp_path / "empty")


def _good_rows(symbols: dict[str, float], days: list[str]) -> list[str]:
    rng = np.random.default_rng(3)
    rows = []
    for sym, level in symbols.items():
        price = level
        for x in days:
            price *= float(np.exp(rng.normal(0, 0.01)))
            rows.append(
                f"{x},{price:.2f},{price * 1.01:.2f},{price * 0.99:.2f},{price:.2f},1000,{sym}"
            )
    return rows


def test_cli_ingest_list_clean_under_the_livedesk_data_dir(tmp_path, data_dir, capsys) -> None:
    from livedesk.backend.bundles.store import load_bundle
    from livedesk.tui.cli import main

    days = sessions("2024-01-02", 30)
    rows = _good_rows({"AAA": 50.0, "BBB": 20.0}, days)
    rows.append(f"{days[10]},1,0.5,1,1,10,AAA")  # line 62: a second row for days[10] (line 12)
    path = write_csv(tmp_path / "mine.csv", HEADER, rows)
    assert main(["bundle", "ingest", "--csv", str(path), "--name", "mine", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "mine.csv:62: AAA duplicate date (first row at line 12) -> refused" in out
    assert "assets: 2" in out and "sessions: 30" in out and "refused: 1" in out
    assert os.environ.get("ZIPLINE_ROOT") is None  # restored after the zipline calls
    assert (data_dir / "zipline" / "data" / "mine").is_dir()

    bundle = load_bundle("mine")
    aaa = bundle.asset_finder.lookup_symbol("AAA", as_of_date=None)
    closes = bundle.equity_daily_bar_reader.load_raw_arrays(
        ["close"], pd.Timestamp(days[0]), pd.Timestamp(days[-1]), [aaa.sid]
    )[0][:, 0]
    expected = [float(r.split(",")[4]) for r in rows[:30]]  # AAA's rows, not the duplicate
    assert np.allclose(closes, expected)
    assert aaa.end_date > pd.Timestamp(days[-1])  # live: ends in the future

    assert main(["bundle", "ingest", "--csv", str(path), "--name", "mine", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["bundle", "list"]) == 0
    listing = capsys.readouterr().out
    assert "mine" in listing and "csv" in listing and "2024-01-02..2024-02-13" in listing
    assert listing.split("\n")[2].split()[-2] == "2"  # two ingestions kept
    assert main(["bundle", "clean", "mine"]) == 0
    assert "removed 1 old ingestion" in capsys.readouterr().out
    assert len(list((data_dir / "zipline" / "data" / "mine").iterdir())) == 1
    assert main(["bundle", "clean", "mine", "--all"]) == 0
    assert not (data_dir / "zipline" / "data" / "mine").exists()
    assert main(["bundle", "clean", "mine"]) == 2
    assert "no bundle named 'mine'" in capsys.readouterr().err


def test_strict_refuses_the_whole_ingest_and_bad_names_are_refused(tmp_path, data_dir, capsys):
    from livedesk.tui.cli import main

    days = sessions("2024-01-02", 5)
    rows = _good_rows({"AAA": 50.0}, days) + [f"{days[2]},1,2,3,,10,AAA"]
    path = write_csv(tmp_path / "s.csv", HEADER, rows)
    assert main(["bundle", "ingest", "--csv", str(path), "--strict", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--strict; nothing written" in err and "s.csv:7: AAA missing close -> refused" in err
    assert not (data_dir / "zipline" / "data").exists()
    assert main(["bundle", "ingest", "--csv", str(path), "--name", "../x", "--quiet"]) == 2
    assert "invalid bundle name" in capsys.readouterr().err
