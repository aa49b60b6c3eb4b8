"""``--state``: the SQLite journal of the sim gateway — round trip, compaction, conversion, kills."""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ib_async import LimitOrder, MarketOrder

from livedesk.backend.sim.broker.account import SimAccount
from livedesk.backend.sim.broker.book import SimBroker, contract_of
from livedesk.backend.sim.broker.state import StateStore, _order_state
from tests import sim_state_crash

ROOT = Path(__file__).resolve().parents[1]


def stock(market, symbol: str):
    return market.registry.find(symbol, "STK", currency="USD")[0]


def snapshot(broker: SimBroker) -> dict:
    """A plain picture of everything the state file must carry."""
    acct = broker.account
    return {
        "cash": acct.cash,
        "nlv0": acct.session_start_nlv,
        "fees": acct.commissions_today,
        "holdings": {c: (h.qty, h.avg_cost, h.realized) for c, h in acct.holdings.items()},
        "orders": {k: _order_state(o) for k, o in broker.orders.items() if o.is_working},
        "execs": [
            (fe.execution.execId, fe.execution.shares, fe.execution.price, fe.report.commission)
            for fe in broker.executions
        ],
        "used": broker.used_ids,
        "seq": (broker.next_perm_id, broker.next_exec_seq),
    }


def trading_broker(market, store: StateStore) -> SimBroker:
    broker = SimBroker(market, SimAccount("DU0000001"))
    store.load(broker)
    broker.on_change = lambda: store.save(broker)
    return broker


def test_round_trip_restores_everything(market, tmp_path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(path)
    broker = trading_broker(market, store)
    now = market.session_open() + 900
    aapl, msft = stock(market, "AAPL"), stock(market, "MSFT")
    broker.place(1, 1, contract_of(aapl), MarketOrder("BUY", 30), now)
    broker.place(1, 2, contract_of(msft), MarketOrder("SELL", 4), now)
    bid = market.quote(aapl.con_id, now).bid
    broker.place(1, 3, contract_of(aapl), LimitOrder("BUY", 5, round(bid * 0.9, 2), tif="GTC"), now)
    broker.place(2, 7, contract_of(msft), LimitOrder("BUY", 2, 1.0), now)
    broker.cancel(2, 7)
    broker.place(1, 3, contract_of(aapl), LimitOrder("BUY", 6, round(bid * 0.8, 2), tif="GTC"), now)
    expected = snapshot(broker)
    assert len(expected["orders"]) == 1 and len(expected["execs"]) >= 2  # a real state
    store.close()
    again = SimBroker(market, SimAccount("DU0000001"))
    assert StateStore(path).load(again)
    assert snapshot(again) == expected
    assert again.orders[(1, 3)].order.totalQuantity == 6  # the modification was journalled


def test_each_change_writes_only_what_changed_and_the_log_is_compacted(market, tmp_path) -> None:
    path = tmp_path / "state.db"
    wal = Path(f"{path}-wal")
    store = StateStore(path, sync_interval=1000, checkpoint_every=50)  # bursts only
    broker = trading_broker(market, store)
    aapl = stock(market, "AAPL")
    now = market.session_open() + 900
    sizes = []
    for i in range(1, 301):
        now += 1
        before = wal.stat().st_size if wal.exists() else 0
        broker.place(1, i, contract_of(aapl), MarketOrder("BUY" if i % 2 else "SELL", 1), now)
        sizes.append(wal.stat().st_size - before)
        if i % 50 == 0:  # the syncer compacts a burst of 50 changes; wait for it
            deadline = time.monotonic() + 5
            while store.checkpoints < i // 50 and time.monotonic() < deadline:
                time.sleep(0.005)
    assert store.commits >= 300 and store.checkpoints >= 6
    # one change appends only the few pages it touched (< 8 of 4 KiB), never the whole state
    assert statistics.median(sizes) <= 8 * 4096
    # after each checkpoint the log restarts from its beginning: it stops growing once it
    # holds one burst of 50 changes, instead of piling up all 300
    assert wal.stat().st_size <= max(sum(sizes[:60]), 60 * 8 * 4096)
    assert sum(sizes[100:]) < sum(sizes[:60]) / 2
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM executions").fetchone()[0] == len(broker.executions)
    assert db.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0  # no working order
    db.close()
    store.close()
    assert not wal.exists() or wal.stat().st_size == 0


def test_version_1_json_state_is_converted(market, tmp_path) -> None:
    aapl = stock(market, "AAPL")
    path = tmp_path / "sim-state.json"
    legacy = {
        "version": 1,
        "account": {
            "account_id": "DU0000001",
            "cash": 990_000.0,
            "session_start_nlv": 1_000_000.0,
            "commissions_today": 1.0,
            "holdings": [
                {"con_id": aapl.con_id, "qty": 40.0, "avg_cost": 250.0, "realized": 0.0,
                 "multiplier": 1.0}
            ],
        },
        "session": str(market.session),
        "next_perm_id": 1_000_005,
        "next_exec_seq": 1,
        "used_ids": {"1": 12},
        "orders": [],
        "executions": [],
    }  # fmt: skip
    path.write_text(json.dumps(legacy))
    broker = SimBroker(market, SimAccount("DU0000001"))
    assert StateStore(path).load(broker)
    assert broker.account.cash == 990_000.0 and broker.used_ids == {1: 12}
    assert broker.account.holdings[aapl.con_id].qty == 40.0
    assert json.loads((tmp_path / "sim-state.json.v1.json").read_text()) == legacy
    assert path.read_bytes().startswith(b"SQLite format 3")


def test_not_a_state_file_is_refused_clearly(market, tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a sim gateway state file"):
        StateStore(path).load(SimBroker(market, SimAccount()))
    assert path.read_text() == "hello"


def test_executions_of_another_session_are_not_restored(market, tmp_path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(path)
    broker = trading_broker(market, store)
    aapl = stock(market, "AAPL")
    broker.place(1, 1, contract_of(aapl), MarketOrder("BUY", 3), market.session_open() + 60)
    store.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'session'", (json.dumps("2026-11-19"),))
    db.commit()
    db.close()
    again = SimBroker(market, SimAccount())
    StateStore(path).load(again)
    assert again.executions == [] and again.account.holdings[aapl.con_id].qty == 3
    assert again.account.session_start_nlv is None


def test_checker_sees_a_torn_state(market, tmp_path) -> None:
    """The crash test's consistency check is not blind: a cash row out of step is caught."""
    path = tmp_path / "state.db"
    store = StateStore(path)
    broker = trading_broker(market, store)
    broker.place(
        1, 1, contract_of(stock(market, "AAPL")), MarketOrder("BUY", 3), market.session_open() + 60
    )
    store.close()
    assert sim_state_crash.violations(market, str(path)) == (1, [])
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '1000000.0' WHERE key = 'cash'")
    db.commit()
    db.close()
    assert any("cash" in v for v in sim_state_crash.violations(market, str(path))[1])


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL")
def test_kill_at_any_point_restores_a_consistent_state(tmp_path) -> None:
    path = tmp_path / "state.db"
    run = subprocess.run(
        [sys.executable, "-m", "tests.sim_state_crash", str(path), "24", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["violations"] == []
    counts = result["executions"]
    assert counts == sorted(counts)  # nothing committed is ever lost across restarts
    assert counts[-1] > 0
