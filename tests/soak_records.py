"""The soak's own records of what the gateway did, kept in an SQLite file beside the journal.

The checks need every order and execution of the whole run (lost fills, duplicate keys and
intents). Kept in dicts they grew the soak process by ~1 KB per order — about half a MiB per
simulated day, charged to the memory figure the soak reports for LiveDesk. On disk they cost
the process a bounded page cache; only the current session's ids are held in memory (to
skip what was already recorded: the gateway's lists restart each session).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (order_id INTEGER PRIMARY KEY, t REAL, con_id INTEGER);
CREATE TABLE IF NOT EXISTS gw_order (
    client_id INTEGER, order_id INTEGER, perm_id INTEGER, key TEXT, strategy TEXT,
    con_id INTEGER, submitted_at REAL, PRIMARY KEY (client_id, order_id, perm_id));
CREATE TABLE IF NOT EXISTS gw_exec (exec_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS intent (strategy TEXT, con_id INTEGER, t REAL);
"""


class SoakRecords:
    """Orders sent, gateway orders and executions, and traders' intents of one soak run."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        self.db.execute("PRAGMA cache_size=-1024")  # 1 MiB of pages at most
        self._day_orders: set[tuple[int, int, int]] = set()
        self._day_execs: set[str] = set()

    def close(self) -> None:
        self.db.close()

    def new_session(self) -> None:
        """The gateway's lists restart: forget which of them were recorded."""
        self._day_orders.clear()
        self._day_execs.clear()

    # ---- recording ---------------------------------------------------------------------
    def sent(self, order_id: int, t: float, con_id: int) -> None:
        """The app sent ``order_id`` (the latest send of an id wins: ids are reused after a
        drop the gateway never saw)."""
        self.db.execute("INSERT OR REPLACE INTO sent VALUES (?, ?, ?)", (order_id, t, con_id))

    def intent(self, strategy: str, con_id: int, t: float) -> None:
        """A trader decided on ``con_id`` at gateway time ``t``."""
        self.db.execute("INSERT INTO intent VALUES (?, ?, ?)", (strategy, con_id, t))

    def gateway_order(
        self, ids: tuple[int, int, int], key: str, strategy: str, con_id: int, at: float
    ) -> None:
        """An order the gateway holds, by (clientId, orderId, permId)."""
        if ids in self._day_orders:
            return
        self._day_orders.add(ids)
        self.db.execute(
            "INSERT OR IGNORE INTO gw_order VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*ids, key, strategy, con_id, at),
        )

    def gateway_exec(self, exec_id: str) -> None:
        if exec_id in self._day_execs:
            return
        self._day_execs.add(exec_id)
        self.db.execute("INSERT OR IGNORE INTO gw_exec VALUES (?)", (exec_id,))

    # ---- reading (the final checks) ----------------------------------------------------
    def exec_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT exec_id FROM gw_exec")}

    def key_counts(self) -> Counter:
        """How many gateway orders carry each idempotency key ("" for none)."""
        return Counter(dict(self.db.execute("SELECT key, COUNT(*) FROM gw_order GROUP BY key")))

    def order_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM gw_order").fetchone()[0]

    def orders(self) -> Iterator[tuple[int, int, str, int, float]]:
        """(clientId, orderId, strategy, conId, submitted at) of every gateway order."""
        yield from self.db.execute(
            "SELECT client_id, order_id, strategy, con_id, submitted_at FROM gw_order"
        )

    def intents(self) -> dict[tuple[str, int], list[float]]:
        """(strategy, conId) → the times of its decisions."""
        out: dict[tuple[str, int], list[float]] = {}
        for strategy, con_id, t in self.db.execute("SELECT strategy, con_id, t FROM intent"):
            out.setdefault((strategy, con_id), []).append(t)
        return out

    def sends(self) -> dict[int, tuple[float, int]]:
        """Order id → (gateway time of its latest send, conId)."""
        return {oid: (t, c) for oid, t, c in self.db.execute("SELECT * FROM sent")}
