"""``livedesk demo --fast-forward N``: the strategies on the demo account over N sessions.

One fast-forward (2 sessions, crack-spread alone: no bundle needed) on a fresh data dir is
shared by the tests. Expectations come from the exchange calendar (``exchange_calendars``
directly) and the strategy's documented schedule, not from the fast-forward's own code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os

import exchange_calendars as xcals
import pandas as pd
import pytest

from livedesk.backend.config import load_settings
from livedesk.backend.demo.account import demo_journal_path, demo_state_path
from livedesk.backend.demo.lock import demo_lock
from livedesk.backend.journal import Journal
from livedesk.tui.cli import main

pytestmark = pytest.mark.slow
SESSIONS = 2
KEYS = ("LIVEDESK_CONFIG_DIR", "LIVEDESK_DATA_DIR", "LIVEDESK_STATE_DIR")


@contextlib.contextmanager
def data_dir(root):
    """Point the user dirs at ``root`` for the block."""
    with pytest.MonkeyPatch.context() as mp:
        for key in KEYS:
            mp.setenv(key, str(root / key.lower()))
        yield


def expected_sessions(n: int) -> tuple[list[pd.Timestamp], pd.Timestamp]:
    """The n sessions before the latest XNYS session on or before today (UTC date), and
    that latest session, straight from the calendar."""
    cal = xcals.get_calendar("XNYS")
    today = pd.Timestamp(dt.datetime.now(dt.UTC).date())
    latest = cal.date_to_session(today, direction="previous")
    first = cal.session_offset(latest, -n)
    return list(cal.sessions_in_range(first, cal.previous_session(latest))), latest


@pytest.fixture(scope="module")
def ff(tmp_path_factory):
    """One fast-forward on a fresh demo account: (root, exit code, stderr)."""
    root = tmp_path_factory.mktemp("ff")
    err = io.StringIO()
    with data_dir(root), contextlib.redirect_stderr(err):
        code = main(["demo", "--fast-forward", str(SESSIONS), "--strategies", "crack-spread"])
    return root, code, err.getvalue()


def test_exits_0_with_plain_progress_lines(ff) -> None:
    _, code, err = ff
    assert code == 0, err
    assert "1/2 session" in err and "2/2 " in err  # not a tty: one line per step
    assert "\r" not in err and "\033[" not in err


def test_decisions_follow_the_schedule_over_the_sessions(ff) -> None:
    root, _, _ = ff
    days, _ = expected_sessions(SESSIONS)
    cal = xcals.get_calendar("XNYS")
    expected = 0
    for d in days:  # every minute after the open until 5 min before the close, then flatten
        minutes = (cal.session_close(d) - cal.session_open(d)).total_seconds() / 60
        expected += int(minutes - 5 - 1) + 1
    with data_dir(root):
        path = demo_journal_path(load_settings(None))
    with Journal(path) as j:
        rows = [r for run in j.runs() for r in j.decisions(run["id"])]
        fills = j.fills("crack-spread")
    assert len(rows) == expected
    with Journal(path) as j:  # the fast-forward is one journal run, not one per decision
        assert [r["strategy"] for r in j.runs()] == ["crack-spread"]
    assert [dt.datetime.fromtimestamp(r["t"], dt.UTC).date() for r in rows[:1]] == [days[0].date()]
    # crack-spread is flat before every close: its fills net to zero per contract
    assert fills, "crack-spread traded"
    net: dict[int, float] = {}
    for f in fills:
        net[f["con_id"]] = net.get(f["con_id"], 0.0) + (
            f["qty"] if f["side"] == "BOT" else -f["qty"]
        )
    assert all(abs(q) < 1e-9 for q in net.values()), net


def test_state_is_saved_at_the_next_open_and_references_cover_the_sessions(ff) -> None:
    from livedesk.backend.sim.broker.state import StateStore

    root, _, _ = ff
    days, latest = expected_sessions(SESSIONS)
    cal = xcals.get_calendar("XNYS")
    with data_dir(root):
        settings = load_settings(None)
        state, journal = demo_state_path(settings), demo_journal_path(settings)
    assert StateStore.saved_clock(state) == pytest.approx(
        cal.session_open(latest).timestamp(), abs=2
    )
    with Journal(journal) as j:
        ref = j.backtest_reference("crack-spread")
        record = j.state("backtest:crack-spread")
        daily = j.samples("daily:account")
        fills = j.fills()
    assert ref is not None
    assert record["days"] == SESSIONS  # the same sessions as the live record
    assert list(ref.dates) == [d.date().isoformat() for d in days]
    # one close-to-close return per session after the first, stamped 00:00 UTC of its date
    stamps = [dt.datetime.fromtimestamp(t, dt.UTC).date() for t in daily.t]
    assert stamps == [d.date() for d in days[1:]]
    # crack-spread is flat at every close: the closing NLV is the $1,000,000 start plus the
    # cash its fills made, net of commissions, by hand from the journal's fills
    nlv, closes = 1_000_000.0, {}
    for d in days:
        end = cal.session_close(d).timestamp()
        for f in fills:
            if cal.session_open(d).timestamp() <= f["t"] <= end:
                sign = 1.0 if f["side"] == "BOT" else -1.0
                nlv -= sign * f["qty"] * f["price"] + (f["commission"] or 0.0)
        closes[d] = nlv
    assert daily.nlv[-1] == pytest.approx(closes[days[-1]], abs=0.01)
    assert daily.ret[-1] == pytest.approx(
        closes[days[-1]] / closes[days[-2]] - 1, abs=2e-8
    )  # NLV to the cent


def test_report_reads_the_demo_journal_without_journal_flag(ff) -> None:
    root, _, _ = ff
    out = io.StringIO()
    with data_dir(root), contextlib.redirect_stdout(out):
        code = main(["report"])
        path = demo_journal_path(load_settings(None))
    assert code == 0
    text = out.getvalue()
    assert f"journal: {path}" in text
    assert "crack-spread" in text
    out = io.StringIO()
    with data_dir(root), contextlib.redirect_stdout(out):
        assert main(["report", "--attribution"]) == 0
    assert "spread" in out.getvalue() and "crack-spread" in out.getvalue()


def test_refused_while_the_demo_account_is_held(tmp_path) -> None:
    err = io.StringIO()
    with data_dir(tmp_path):
        settings = load_settings(None)
        with demo_lock(settings), contextlib.redirect_stderr(err):
            code = main(["demo", "--fast-forward", "1", "--strategies", "crack-spread"])
        assert not demo_state_path(settings).exists()
        assert not demo_journal_path(settings).exists()
    assert code == 2
    assert "in use by another process" in err.getvalue()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--fast-forward", "0"], "at least 1 session"),
        (["--fast-forward", "3", "--strategies", "nope"], "unknown nope"),
        ([], "--fast-forward N, --scenario NAME, or livedesk demo reset"),
        (["--fast-forward", "3", "--scenario", "slippage"], "one at a time"),
    ],
)
def test_bad_requests_exit_2_and_write_nothing(tmp_path, argv, says) -> None:
    err = io.StringIO()
    with data_dir(tmp_path), contextlib.redirect_stderr(err):
        code = main(["demo", *argv])
        settings = load_settings(None)
        assert not demo_state_path(settings).parent.exists()
        assert not demo_journal_path(settings).exists()
    assert code == 2
    assert says in err.getvalue()
    assert not any(os.scandir(tmp_path)) or not (tmp_path / "livedesk_data_dir").exists()
