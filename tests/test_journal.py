"""The SQLite journal: durability under kill -9, deduplication, round trips, restore."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from livedesk.backend.journal import MIGRATIONS, Journal, default_journal_path
from livedesk.backend.risk.metrics import StreamingRiskMetrics

WRITER = textwrap.dedent(
    """
    import os, sys
    from livedesk.backend.journal import Journal

    j = Journal(sys.argv[1], compact_every=37)
    ack = int(sys.argv[2])  # an unbuffered pipe: each line is written once it is durable
    i = 0
    while True:
        assert j.record_fill(f"e{i}", side="BOT", qty=1, price=100 + i, t=float(i),
                             strategy="s", order_id=i)
        os.write(ack, f"F {i}\\n".encode())
        j.record_sample(float(i), 10.0 * i, 1e6, i * 1e-6)
        os.write(ack, f"S {i}\\n".encode())
        if i % 5 == 4:
            assert not j.record_fill(f"e{i - 2}", side="BOT", qty=1, price=1, t=0.0)
        i += 1
    """
)

# Kill points: after this many acknowledged samples, plus a delay so SIGKILL lands at
# different places inside the next transaction (and across compactions every 37 rows).
KILL_POINTS = [(1, 0.0), (7, 0.0002), (36, 0.0), (37, 0.0001), (38, 0.0005), (74, 0.0)]
KILL_POINTS += [(90 + 13 * k, 0.0003 * (k % 4)) for k in range(8)]


def _read_acks(fd: int, buffer: bytearray, until_samples: int | None) -> None:
    """Read ack lines from ``fd`` into ``buffer`` until enough samples, or EOF."""
    while until_samples is None or buffer.count(b"S ") < until_samples:
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        buffer += chunk


def _acknowledged(buffer: bytes, kind: str) -> set[int]:
    """Ids acknowledged by complete lines (a line cut by the kill does not count)."""
    complete = buffer[: buffer.rfind(b"\n") + 1].decode().splitlines()
    return {int(line.split()[1]) for line in complete if line.startswith(kind + " ")}


@pytest.mark.parametrize(("kill_after", "delay"), KILL_POINTS)
def test_kill_9_mid_write_loses_nothing_acknowledged(tmp_path, kill_after, delay):
    path = tmp_path / "journal.sqlite3"
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(write_fd)], pass_fds=(write_fd,)
    )
    os.close(write_fd)
    acks = bytearray()
    try:
        _read_acks(read_fd, acks, kill_after)
        if delay:
            end = time.perf_counter() + delay
            while time.perf_counter() < end:
                pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        _read_acks(read_fd, acks, None)  # everything written before the kill, to EOF
    finally:
        os.close(read_fd)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    fills_ack, samples_ack = _acknowledged(acks, "F"), _acknowledged(acks, "S")
    assert len(samples_ack) >= kill_after
    assert fills_ack == set(range(len(fills_ack)))  # acknowledged in order, none skipped

    with Journal(path) as j:
        assert j.integrity_check() == "ok"
        exec_ids = [f["exec_id"] for f in j.fills()]
        assert len(exec_ids) == len(set(exec_ids)), "duplicate fills"
        got_fills = {int(e[1:]) for e in exec_ids}
        assert fills_ack <= got_fills, sorted(fills_ack - got_fills)
        assert len(got_fills - fills_ack) <= 1  # at most the one committed but not yet acked
        t = j.samples().t
        assert len(t) == len(set(t.tolist())), "duplicate samples"
        assert samples_ack <= set(t.astype(int).tolist())
        assert len(t) - len(samples_ack) <= 1
        np.testing.assert_array_equal(t, np.arange(len(t)))  # in order, without a gap
        # The reopened journal keeps working and keeps deduplicating.
        assert not j.record_fill("e0", side="BOT", qty=1, price=1.0, t=0.0)
        j.record_sample(float(len(t)), 0.0, 1e6, 0.0)
        assert len(j.samples().t) == len(t) + 1


def test_fill_dedup_and_late_commission(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as j:
        assert j.record_fill("0001.01", side="BOT", qty=10, price=50.0, t=1.0, strategy="mom")
        assert not j.record_fill("0001.01", side="BOT", qty=10, price=50.0, t=1.0)
        assert j.fills()[0]["commission"] is None
        assert j.record_commission("0001.01", 1.25, currency="USD", realized_pnl=0.0)
        assert not j.record_commission("missing", 1.0)
        (fill,) = j.fills(strategy="mom")
        assert fill["commission"] == 1.25 and fill["commission_currency"] == "USD"
        assert j.fills(strategy="other") == []
        assert j.fills(since=2.0) == []


def test_orders_keep_arrival_quote_and_status(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as j:
        j.record_order(
            7,
            action="BUY",
            qty=100,
            order_type="LMT",
            limit_price=10.05,
            bid=10.0,
            ask=10.1,
            strategy="mom",
            order_ref="mom:1",
            contract={"symbol": "AAPL", "secType": "STK"},
            t=5.0,
        )
        j.record_order(8, action="SELL", qty=5, order_type="MKT", bid=-1.0, ask=10.1, t=6.0)
        assert j.update_order_status(7, "Filled", filled=100, avg_fill_price=10.06, perm_id=99)
        assert not j.update_order_status(123, "Filled")
        first, second = j.orders()
        assert first["arrival_mid"] == pytest.approx(10.05)
        assert (first["status"], first["filled"], first["perm_id"]) == ("Filled", 100, 99)
        assert first["contract"] == {"secType": "STK", "symbol": "AAPL"}
        assert second["arrival_mid"] is None  # an unusable bid never makes a mid
        assert [o["order_id"] for o in j.orders(strategy="mom")] == [7]


def test_runs_decisions_alerts_and_backtest_reference(tmp_path):
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        run = j.start_run("mom", {"lookback": 12}, t=1.0)
        j.record_decision(run, "target", {"AAPL": 0.1}, t=2.0)
        j.end_run(run, "stopped", t=3.0)
        j.record_alert("warning", "connectivity lost", code=1100, source="broker", t=4.0)
        j.set_backtest_reference(
            "mom", [0.01, -0.02, np.nan], {"sharpe_ratio": 1.2}, ["a", "b", "c"]
        )
        with pytest.raises(ValueError):
            j.set_backtest_reference("x", [0.1], {}, dates=["a", "b"])
    with Journal(path) as j:
        (r,) = j.runs("mom")
        assert (r["status"], r["params"], r["ended_at"]) == ("stopped", {"lookback": 12}, 3.0)
        assert j.decisions(run)[0]["detail"] == {"AAPL": 0.1}
        assert j.alerts()[0]["code"] == 1100 and j.alerts(since=5.0) == []
        ref = j.backtest_reference("mom")
        np.testing.assert_array_equal(ref.returns, [0.01, -0.02, np.nan])
        assert ref.metrics == {"sharpe_ratio": 1.2} and ref.dates == ["a", "b", "c"]
        assert j.backtest_reference("none") is None


def test_schema_versioning(tmp_path):
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        assert j.schema_version == len(MIGRATIONS)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with raw:
        raw.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    raw.close()
    with pytest.raises(RuntimeError, match="newer"):
        Journal(path)


def test_samples_blocks_and_rows_read_back_in_order(tmp_path):
    with Journal(tmp_path / "j.sqlite3", compact_every=10) as j:
        for i in range(25):  # two compactions, five rows left
            j.record_sample(float(i), float(i), 1e6, i / 1e6)
        n = 70_000  # more than one bulk block
        t = np.arange(25, 25 + n, dtype=float)
        j.record_samples(t, t, np.full(n, 1e6), t / 1e6)
        j.record_sample(float(25 + n), 0.0, 1e6, 0.5, key="mom")
        j.record_sample(float(26 + n), 0.0, 1e6, 0.25)
        s = j.samples()
        np.testing.assert_array_equal(
            s.t, np.arange(27 + n, dtype=float)[np.arange(27 + n) != 25 + n]
        )
        np.testing.assert_array_equal(s.ret[:25], np.arange(25) / 1e6)
        assert list(j.samples(key="mom").ret) == [0.5]
        assert j.samples(since=float(n + 20)).t[0] == n + 20
        assert j.sample_keys() == ["account", "mom"]
        assert len(j.samples(key="unknown").t) == 0


def test_restart_restores_metrics(tmp_path):
    path = tmp_path / "j.sqlite3"
    rng = np.random.default_rng(4)
    r = rng.normal(0.0003, 0.01, 600)
    r[17] = np.nan
    live = StreamingRiskMetrics(252)
    with Journal(path, compact_every=128, synchronous="NORMAL") as j:
        for i, x in enumerate(r):
            j.record_sample(float(i), 0.0, 1e6, x)
            live.update(x)
    restored = StreamingRiskMetrics(252)
    with Journal(path) as j:
        restored.extend(j.samples().ret)
    before, after = live.snapshot(), restored.snapshot()
    for key, value in before.items():
        if math.isnan(value):
            assert math.isnan(after[key])
        else:
            assert after[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
    np.testing.assert_allclose(restored.equity(), live.equity(), rtol=1e-13)


def test_default_path_is_in_user_data_dir(monkeypatch):
    monkeypatch.delenv("LIVEDESK_DATA_DIR", raising=False)  # the platform's own default
    path = default_journal_path()
    assert path.name == "journal.sqlite3" and "livedesk" in str(path.parent).lower()


def test_rejects_bad_settings(tmp_path):
    with pytest.raises(ValueError):
        Journal(tmp_path / "a.sqlite3", synchronous="OFF")
    with pytest.raises(ValueError):
        Journal(tmp_path / "b.sqlite3", compact_every=0)


def test_relaxed_lowers_durability_only_inside_the_block(tmp_path) -> None:
    """PRAGMA synchronous: 2 = FULL, 1 = NORMAL (SQLite's documented values)."""
    j = Journal(tmp_path / "j.sqlite3")
    level = lambda: j._db.execute("PRAGMA synchronous").fetchone()[0]  # noqa: E731, SLF001
    assert level() == 2
    with j.relaxed():
        assert level() == 1
        j.save_state("k", {"v": 1})
    assert level() == 2
    j.close()
    with Journal(tmp_path / "j.sqlite3") as again:  # what was written inside is committed
        assert again.state("k") == {"v": 1}
