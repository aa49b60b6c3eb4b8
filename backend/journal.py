"""Durable SQLite journal: PnL/NLV samples, orders, fills, strategy runs, alerts, references.

Durability: the database runs in WAL mode and every public ``record_*`` call is one
transaction committed before the call returns, with ``synchronous=FULL`` by default (the WAL
is fsynced at each commit). A value is *acknowledged* when its call has returned: a crash or
``kill -9`` after that loses nothing, and a crash before it leaves no partial row, since
SQLite rolls an uncommitted transaction back on the next open. (``synchronous="NORMAL"`` is
also safe against a process crash in WAL mode and only risks the last commits on power loss.)

Samples are stored compactly so that restoring a year of 5-second samples is fast: new
samples go to the ``samples`` table one row each; every ``compact_every`` rows of a series
are moved, in one transaction, into a ``sample_blocks`` row holding a float64 blob. Reading
a series concatenates the blocks and the remaining rows (1e6 samples in a few tens of ms).

:meth:`Journal.append_samples` writes samples of several series together with named JSON
states (e.g. the risk engine's return-sampler baselines) in one transaction, so a restart
resumes from a state that always matches the samples on disk.

Fills are unique by IB ``execId``: a re-delivered execution is ignored and
:meth:`Journal.record_fill` returns False. The commission (IB sends it later, in a separate
report) updates the fill's row.

Schema changes are appended to :data:`MIGRATIONS`; the ``schema_version`` table records how
many have been applied. Opening a journal written by a newer version raises ``RuntimeError``.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from livedesk.backend.errors import JournalUnreadable
from livedesk.backend.files import private_file

MIGRATIONS: list[str] = [
    """
    CREATE TABLE samples (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        t REAL NOT NULL,
        total_pnl REAL,
        nlv REAL,
        ret REAL
    );
    CREATE INDEX samples_key ON samples(key, id);
    CREATE TABLE sample_blocks (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        t_first REAL NOT NULL,
        t_last REAL NOT NULL,
        n INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX sample_blocks_key ON sample_blocks(key, id);
    CREATE TABLE orders (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL,
        order_id INTEGER NOT NULL,
        perm_id INTEGER,
        order_ref TEXT,
        strategy TEXT,
        symbol TEXT,
        con_id INTEGER,
        contract TEXT,
        action TEXT NOT NULL,
        qty REAL NOT NULL,
        order_type TEXT NOT NULL,
        limit_price REAL,
        arrival_bid REAL,
        arrival_ask REAL,
        arrival_mid REAL,
        status TEXT NOT NULL,
        filled REAL NOT NULL DEFAULT 0,
        avg_fill_price REAL,
        submitted_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX orders_ids ON orders(client_id, order_id);
    CREATE INDEX orders_strategy ON orders(strategy);
    CREATE TABLE fills (
        id INTEGER PRIMARY KEY,
        exec_id TEXT NOT NULL UNIQUE,
        order_id INTEGER,
        perm_id INTEGER,
        strategy TEXT,
        symbol TEXT,
        con_id INTEGER,
        side TEXT NOT NULL,
        qty REAL NOT NULL,
        price REAL NOT NULL,
        t REAL NOT NULL,
        commission REAL,
        commission_currency TEXT,
        realized_pnl REAL
    );
    CREATE INDEX fills_strategy ON fills(strategy, t);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        strategy TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        status TEXT NOT NULL,
        params TEXT
    );
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        t REAL NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT
    );
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        t REAL NOT NULL,
        level TEXT NOT NULL,
        code INTEGER,
        source TEXT,
        message TEXT NOT NULL
    );
    CREATE TABLE backtest_refs (
        strategy TEXT PRIMARY KEY,
        returns BLOB NOT NULL,
        dates TEXT,
        metrics TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    """
    ALTER TABLE fills ADD COLUMN arrival_mid REAL;
    ALTER TABLE fills ADD COLUMN multiplier REAL;
    CREATE TABLE states (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    """
    ALTER TABLE fills ADD COLUMN fill_mid REAL;
    """,
]

INDEXES = (
    "CREATE INDEX IF NOT EXISTS decisions_run ON decisions(run_id, id)",
    "CREATE INDEX IF NOT EXISTS runs_strategy ON runs(strategy, id)",
)
"""Indexes created on every open when missing. They change no schema (an older LiveDesk
opens the journal as before), so they are not migrations. Without them reading the decisions
of a strategy with thousands of runs (a fast-forward records one per decision) scanned the
whole table once per run: minutes on a 22-session demo record."""

_SAMPLE_COLUMNS = 4  # t, total_pnl, nlv, ret
_BULK_BLOCK = 65536


log = logging.getLogger("livedesk.journal")

SQLITE_MAGIC = b"SQLite format 3\x00"


def unreadable_message(path: Path, why: str) -> str:
    """What a user reads when ``path`` cannot be opened as a journal."""
    return (
        f"journal {path} cannot be read ({why}); it was not modified. Move it aside "
        f"(mv {path} {path}.bad) to start a new journal, or restore it from a backup, "
        "or pass another file with --journal"
    )


def check_journal_file(path: Path) -> None:
    """Refuse an existing file that is not an SQLite database, without writing to it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise JournalUnreadable(unreadable_message(path, exc.strerror or str(exc))) from exc
    if head and head != SQLITE_MAGIC:
        raise JournalUnreadable(unreadable_message(path, "not an SQLite database"))


def _loads(text: str | None, what: str) -> Any:
    """A JSON column; a bad value is skipped with a warning (None), never a crash."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        log.warning("journal: %s has an unreadable value, skipped: %s", what, exc)
        return None


def default_journal_path() -> Path:
    """``journal.sqlite3`` in the user data dir (``LIVEDESK_DATA_DIR`` overrides it): the
    journal of a broker whose account is not known before connecting; an existing data dir
    open to other users is tightened to 0700."""
    from livedesk.backend.config import data_dir

    directory = data_dir()
    if directory.is_dir() and directory.stat().st_mode & 0o077:  # LiveDesk's own: tighten
        log.warning("%s was readable by other users: permissions set to 0700", directory)
        directory.chmod(0o700)
    return directory / "journal.sqlite3"


DEMO_ACCOUNT = "DU0000001"
"""The embedded demo gateway's paper account."""


def account_journal_path(account: str | None = None) -> Path:
    """One journal per account: ``journal-ACCOUNT.sqlite3`` in the user data dir — the demo
    account's when ``account`` is empty (no broker configured)."""
    from livedesk.backend.config import data_dir

    name = (account or "").strip() or DEMO_ACCOUNT
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"account id {name!r} must be letters, digits, '-' or '_'")
    return data_dir() / f"journal-{name}.sqlite3"


class Samples(NamedTuple):
    """One sample series as parallel float64 arrays in recording order."""

    t: np.ndarray
    total_pnl: np.ndarray
    nlv: np.ndarray
    ret: np.ndarray


@dataclass(frozen=True)
class BacktestReference:
    """A strategy's registered backtest: daily returns, their dates and summary metrics."""

    strategy: str
    returns: np.ndarray
    dates: list[str] | None
    metrics: dict[str, float]


def _mid(bid: float | None, ask: float | None) -> float | None:
    """Arrival mid, or None unless both sides are usable prices."""
    if bid is None or ask is None:
        return None
    if not (math.isfinite(bid) and math.isfinite(ask)) or bid <= 0 or ask <= 0 or ask < bid:
        return None
    return (bid + ask) / 2.0


def _pack(block: np.ndarray) -> bytes:
    return np.ascontiguousarray(block, dtype="<f8").tobytes()


class Journal:
    """The SQLite journal. One connection, guarded by a lock; safe to call from any thread."""

    def __init__(
        self, path: str | Path, *, synchronous: str = "FULL", compact_every: int = 4096
    ) -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("synchronous must be FULL, EXTRA or NORMAL")
        if compact_every < 1:
            raise ValueError("compact_every must be at least 1")
        self.path = Path(path)
        if str(path) != ":memory:":
            if self.path.is_dir():
                raise JournalUnreadable(f"journal {self.path} is a directory, not a file")
            if self.path.exists():
                check_journal_file(self.path)  # before anything touches it
            private_file(self.path)
        self.compact_every = compact_every
        self.synchronous = synchronous.upper()
        """The durability level the journal was opened with."""
        self.clock: Callable[[], float] = time.time
        """Stamps rows written without a time: the broker clock once a session attaches."""
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalUnreadable(unreadable_message(self.path, str(exc))) from exc
        self._hot = dict(self._db.execute("SELECT key, count(*) FROM samples GROUP BY key"))

    # ----------------------------------------------------------- infrastructure
    @contextmanager
    def relaxed(self) -> Iterator[None]:
        """``synchronous=NORMAL`` inside the block, then the journal's own level again: for a
        simulated record written thousands of rows a minute (a fast-forward). In WAL mode a
        committed row still survives a crash of the process; only an OS crash or power loss
        may take the last transactions."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            with self._lock:
                self._db.execute(f"PRAGMA synchronous={self.synchronous}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"{self.path} has schema version {current}, newer than this LiveDesk "
                    f"({len(MIGRATIONS)}); upgrade LiveDesk to open it"
                )
            for script in MIGRATIONS[current:]:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
            else:
                db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))
            for statement in INDEXES:
                db.execute(statement)

    @property
    def schema_version(self) -> int:
        """Number of migrations applied to this database."""
        with self._lock:
            return self._db.execute("SELECT version FROM schema_version").fetchone()[0]

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result (``"ok"`` when sound)."""
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        """Checkpoint and close the connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ samples
    def record_sample(
        self, t: float, total_pnl: float, nlv: float, ret: float, key: str = "account"
    ) -> None:
        """Append one PnL/NLV sample with its return to series ``key``."""
        with self._lock:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO samples (key, t, total_pnl, nlv, ret) VALUES (?, ?, ?, ?, ?)",
                    (key, t, total_pnl, nlv, ret),
                )
            self._hot[key] = self._hot.get(key, 0) + 1
            if self._hot[key] >= self.compact_every:
                self.compact(key)

    def record_samples(
        self,
        t: Sequence[float] | np.ndarray,
        total_pnl: Sequence[float] | np.ndarray,
        nlv: Sequence[float] | np.ndarray,
        ret: Sequence[float] | np.ndarray,
        key: str = "account",
    ) -> None:
        """Append many samples in one transaction (bulk import), stored directly as blocks."""
        block = np.column_stack([np.asarray(c, dtype=np.float64) for c in (t, total_pnl, nlv, ret)])
        with self._tx() as db:
            self._compact_in(db, key)
            for start in range(0, len(block), _BULK_BLOCK):
                self._insert_block(db, key, block[start : start + _BULK_BLOCK])
            self._hot[key] = 0

    def append_samples(
        self,
        rows: Sequence[tuple[str, float, float, float, float]],
        states: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Append ``(key, t, total_pnl, nlv, ret)`` rows and save named states, atomically.

        Everything is one transaction, so a consumer's state (e.g. a return sampler's
        baseline) never disagrees with the samples it produced, whatever the crash point.
        """
        now = self.clock()
        with self._lock:
            with self._tx() as db:
                db.executemany(
                    "INSERT INTO samples (key, t, total_pnl, nlv, ret) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                db.executemany(
                    "INSERT OR REPLACE INTO states (name, value, updated_at) VALUES (?, ?, ?)",
                    [
                        (name, json.dumps(dict(v), sort_keys=True), now)
                        for name, v in (states or {}).items()
                    ],
                )
            for key, *_ in rows:
                self._hot[key] = self._hot.get(key, 0) + 1
            for key in {r[0] for r in rows}:
                if self._hot[key] >= self.compact_every:
                    self.compact(key)

    def compact(self, key: str = "account") -> None:
        """Move the row-per-sample tail of series ``key`` into one block (atomic)."""
        with self._tx() as db:
            self._compact_in(db, key)
            self._hot[key] = 0

    def _compact_in(self, db: sqlite3.Connection, key: str) -> None:
        rows = db.execute(
            "SELECT id, t, total_pnl, nlv, ret FROM samples WHERE key = ? ORDER BY id", (key,)
        ).fetchall()
        if not rows:
            return
        data = np.array([r[1:] for r in rows], dtype=np.float64)
        self._insert_block(db, key, data)
        db.execute("DELETE FROM samples WHERE key = ? AND id <= ?", (key, rows[-1][0]))

    @staticmethod
    def _insert_block(db: sqlite3.Connection, key: str, block: np.ndarray) -> None:
        db.execute(
            "INSERT INTO sample_blocks (key, t_first, t_last, n, data) VALUES (?, ?, ?, ?, ?)",
            (key, float(block[0, 0]), float(block[-1, 0]), len(block), _pack(block)),
        )

    def samples(self, key: str = "account", since: float | None = None) -> Samples:
        """Series ``key`` in recording order (only ``t >= since`` when given), as arrays."""
        lo = -math.inf if since is None else since
        with self._lock:
            blobs = self._db.execute(
                "SELECT data FROM sample_blocks WHERE key = ? AND t_last >= ? ORDER BY id",
                (key, lo),
            ).fetchall()
            rows = self._db.execute(
                "SELECT t, total_pnl, nlv, ret FROM samples WHERE key = ? ORDER BY id", (key,)
            ).fetchall()
        parts = [np.frombuffer(b[0], dtype="<f8").reshape(-1, _SAMPLE_COLUMNS) for b in blobs]
        if rows:
            parts.append(np.array(rows, dtype=np.float64))
        data = np.concatenate(parts) if parts else np.empty((0, _SAMPLE_COLUMNS))
        if since is not None:
            data = data[data[:, 0] >= since]
        cols = np.ascontiguousarray(data.T)
        return Samples(cols[0], cols[1], cols[2], cols[3])

    def sample_keys(self) -> list[str]:
        """Names of the recorded sample series."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key FROM sample_blocks UNION SELECT key FROM samples ORDER BY key"
            ).fetchall()
        return [r[0] for r in rows]

    def state(self, name: str) -> dict[str, Any] | None:
        """The state saved under ``name`` by :meth:`append_samples`, or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM states WHERE name = ?", (name,)).fetchone()
        return None if row is None else _loads(row[0], f"state {name!r}")

    def states(self, prefix: str) -> list[dict[str, Any]]:
        """Every state whose name starts with ``prefix``, in name order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT value FROM states WHERE substr(name, 1, ?) = ? ORDER BY name",
                (len(prefix), prefix),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # ------------------------------------------------------------------- orders
    def record_order(
        self,
        order_id: int,
        *,
        action: str,
        qty: float,
        order_type: str,
        client_id: int = 0,
        perm_id: int | None = None,
        order_ref: str | None = None,
        strategy: str | None = None,
        symbol: str | None = None,
        con_id: int | None = None,
        contract: Mapping[str, Any] | None = None,
        limit_price: float | None = None,
        bid: float | None = None,
        ask: float | None = None,
        status: str = "PendingSubmit",
        t: float | None = None,
        arrival_mid: float | None = None,
    ) -> int:
        """Journal an order at submission with the arrival bid/ask/mid; returns its row id.

        ``arrival_mid`` overrides the mid of ``bid``/``ask`` (a combo's net mid may be zero
        or negative: a credit).
        """
        now = self.clock() if t is None else t
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO orders (client_id, order_id, perm_id, order_ref, strategy, symbol,"
                " con_id, contract, action, qty, order_type, limit_price, arrival_bid,"
                " arrival_ask, arrival_mid, status, submitted_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    client_id,
                    order_id,
                    perm_id,
                    order_ref,
                    strategy,
                    symbol,
                    con_id,
                    None if contract is None else json.dumps(dict(contract), sort_keys=True),
                    action,
                    qty,
                    order_type,
                    limit_price,
                    bid,
                    ask,
                    _mid(bid, ask) if arrival_mid is None else arrival_mid,
                    status,
                    now,
                    now,
                ),
            )
            return int(cur.lastrowid)

    def update_order_status(
        self,
        order_id: int,
        status: str,
        *,
        client_id: int = 0,
        filled: float | None = None,
        avg_fill_price: float | None = None,
        perm_id: int | None = None,
        t: float | None = None,
    ) -> bool:
        """Update the latest order with these ids; False when no such order was journalled."""
        now = self.clock() if t is None else t
        with self._tx() as db:
            cur = db.execute(
                "UPDATE orders SET status = ?, filled = coalesce(?, filled),"
                " avg_fill_price = coalesce(?, avg_fill_price), perm_id = coalesce(?, perm_id),"
                " updated_at = ? WHERE id = (SELECT max(id) FROM orders"
                " WHERE client_id = ? AND order_id = ?)",
                (status, filled, avg_fill_price, perm_id, now, client_id, order_id),
            )
            return cur.rowcount > 0

    def orders(self, strategy: str | None = None) -> list[dict[str, Any]]:
        """Journalled orders (of one strategy when given), oldest first."""
        rows = self._select("orders", strategy, order="id")
        for row in rows:
            if row["contract"] is not None:
                row["contract"] = _loads(row["contract"], f"order row {row.get('id')}")
        return rows

    # -------------------------------------------------------------------- fills
    def record_fill(
        self,
        exec_id: str,
        *,
        side: str,
        qty: float,
        price: float,
        t: float,
        order_id: int | None = None,
        perm_id: int | None = None,
        strategy: str | None = None,
        symbol: str | None = None,
        con_id: int | None = None,
        commission: float | None = None,
        arrival_mid: float | None = None,
        multiplier: float | None = None,
        fill_mid: float | None = None,
    ) -> bool:
        """Journal an execution; False (and nothing written) when ``exec_id`` is known.

        ``arrival_mid`` and ``multiplier``, when given, let execution quality be rebuilt
        from the fill alone (otherwise the arrival mid comes from the matching order);
        ``fill_mid`` is the mid when the fill arrived (it splits delay from spread and impact).
        """
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO fills (exec_id, order_id, perm_id, strategy, symbol,"
                " con_id, side, qty, price, t, commission, arrival_mid, multiplier, fill_mid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    exec_id,
                    order_id,
                    perm_id,
                    strategy,
                    symbol,
                    con_id,
                    side,
                    qty,
                    price,
                    t,
                    commission,
                    arrival_mid,
                    multiplier,
                    fill_mid,
                ),
            )
            return cur.rowcount > 0

    def record_commission(
        self,
        exec_id: str,
        commission: float,
        *,
        currency: str | None = None,
        realized_pnl: float | None = None,
    ) -> bool:
        """Attach IB's commission report to its fill; False when the fill is unknown."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE fills SET commission = ?, commission_currency = ?, realized_pnl = ?"
                " WHERE exec_id = ?",
                (commission, currency, realized_pnl, exec_id),
            )
            return cur.rowcount > 0

    def fills(self, strategy: str | None = None, since: float | None = None) -> list[dict]:
        """Journalled fills (of one strategy, from ``since``, when given), in time order."""
        rows = self._select("fills", strategy, order="t, id")
        return rows if since is None else [r for r in rows if r["t"] >= since]

    def has_fill(self, exec_id: str) -> bool:
        """Whether the execution ``exec_id`` is journalled."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM fills WHERE exec_id = ?", (exec_id,)).fetchone()
        return row is not None

    def net_fills(self) -> dict[int, float]:
        """Net signed quantity of every journalled fill, by conId."""
        with self._lock:
            rows = self._db.execute(
                "SELECT con_id, sum(CASE WHEN upper(substr(side, 1, 1)) = 'B' THEN qty"
                " ELSE -qty END) FROM fills WHERE con_id IS NOT NULL GROUP BY con_id"
            ).fetchall()
        return {int(c): float(q) for c, q in rows}

    def save_state(self, name: str, value: Mapping[str, Any]) -> None:
        """Save one named JSON state (replacing it)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO states (name, value, updated_at) VALUES (?, ?, ?)",
                (name, json.dumps(dict(value), sort_keys=True), self.clock()),
            )

    def open_orders(self) -> list[dict[str, Any]]:
        """Journalled orders not known to be finished (in flight at a crash or a drop)."""
        done = ("Filled", "Cancelled", "ApiCancelled", "Inactive", "NotReceived")
        return [r for r in self.orders() if r["status"] not in done]

    # ----------------------------------------------------- runs and decisions
    def start_run(
        self, strategy: str, params: Mapping[str, Any] | None = None, t: float | None = None
    ) -> int:
        """Open a strategy run; returns its id."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (strategy, started_at, status, params) VALUES (?, ?, ?, ?)",
                (
                    strategy,
                    self.clock() if t is None else t,
                    "running",
                    None if params is None else json.dumps(dict(params), sort_keys=True),
                ),
            )
            return int(cur.lastrowid)

    def end_run(self, run_id: int, status: str = "stopped", t: float | None = None) -> None:
        """Close a strategy run with a final status."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET ended_at = ?, status = ? WHERE id = ?",
                (self.clock() if t is None else t, status, run_id),
            )

    def record_decision(
        self,
        run_id: int,
        kind: str,
        detail: Mapping[str, Any] | None = None,
        t: float | None = None,
    ) -> int:
        """Journal one decision of a run (signal, target, skip reason, ...)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO decisions (run_id, t, kind, detail) VALUES (?, ?, ?, ?)",
                (
                    run_id,
                    self.clock() if t is None else t,
                    kind,
                    None if detail is None else json.dumps(dict(detail), sort_keys=True),
                ),
            )
            return int(cur.lastrowid)

    def runs(self, strategy: str | None = None) -> list[dict[str, Any]]:
        """Strategy runs, oldest first."""
        rows = self._select("runs", strategy, order="id")
        for row in rows:
            row["params"] = _loads(row["params"], f"run row {row.get('id')}")
        return rows

    def decisions(self, run_id: int) -> list[dict[str, Any]]:
        """Decisions of one run, in order."""
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM decisions WHERE run_id = ? ORDER BY id", (run_id,)
            )
            rows = self._dicts(cur)
        for row in rows:
            row["detail"] = _loads(row["detail"], f"decision row {row.get('id')}")
        return rows

    def strategy_decisions(self, strategy: str) -> list[dict[str, Any]]:
        """Decisions of every run of ``strategy``, in journal order; each row also carries
        its run's ``strategy``.

        One query that SQLite aggregates into one JSON row: fetching row by row releases the
        interpreter lock at every row, and with another thread computing (the demo's
        preparation) each row then waited for it (seconds for a few thousand rows). Times
        pass as ``quote()`` text, which round-trips a float exactly. A detail that is not
        valid JSON makes SQLite refuse the aggregate: the rows are then read one by one
        and that detail is None (with a warning), as :meth:`decisions` does."""
        join = "FROM decisions d JOIN runs r ON r.id = d.run_id WHERE r.strategy = ? ORDER BY d.id"
        with self._lock:
            try:
                (text,) = self._db.execute(
                    "SELECT json_group_array(json_array(id, run_id, quote(t), kind, "
                    f"json(detail))) FROM (SELECT d.id, d.run_id, d.t, d.kind, d.detail {join})",
                    (strategy,),
                ).fetchone()
            except sqlite3.OperationalError:  # a malformed detail
                text = None
                rows = self._dicts(self._db.execute(f"SELECT d.* {join}", (strategy,)))
        if text is None:
            for row in rows:
                row["detail"] = _loads(row["detail"], f"decision row {row.get('id')}")
                row["strategy"] = strategy
            return rows
        keys = ("id", "run_id", "t", "kind", "detail")
        rows = [dict(zip(keys, row, strict=True), strategy=strategy) for row in json.loads(text)]
        for row in rows:
            row["t"] = float(row["t"])
        rows.sort(key=lambda r: r["id"])
        return rows

    # ------------------------------------------------------------------- alerts
    def record_alert(
        self,
        level: str,
        message: str,
        *,
        code: int | None = None,
        source: str | None = None,
        t: float | None = None,
    ) -> int:
        """Journal an alert; returns its id."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO alerts (t, level, code, source, message) VALUES (?, ?, ?, ?, ?)",
                (self.clock() if t is None else t, level, code, source, message),
            )
            return int(cur.lastrowid)

    def alerts(self, since: float | None = None) -> list[dict[str, Any]]:
        """Alerts in time order (from ``since`` when given)."""
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM alerts WHERE t >= ? ORDER BY t, id",
                (-math.inf if since is None else since,),
            )
            return self._dicts(cur)

    # ------------------------------------------------------ backtest references
    def set_backtest_reference(
        self,
        strategy: str,
        daily_returns: Sequence[float] | np.ndarray,
        metrics: Mapping[str, float],
        dates: Sequence[str] | None = None,
    ) -> None:
        """Register (or replace) a strategy's backtest daily returns and summary metrics."""
        arr = np.asarray(daily_returns, dtype=np.float64)
        if dates is not None and len(dates) != arr.size:
            raise ValueError("dates and daily_returns differ in length")
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO backtest_refs (strategy, returns, dates, metrics,"
                " updated_at) VALUES (?, ?, ?, ?, ?)",
                (
                    strategy,
                    _pack(arr),
                    None if dates is None else json.dumps([str(d) for d in dates]),
                    json.dumps({k: float(v) for k, v in metrics.items()}),
                    self.clock(),
                ),
            )

    def backtest_reference(self, strategy: str) -> BacktestReference | None:
        """The registered backtest of ``strategy``, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT returns, dates, metrics FROM backtest_refs WHERE strategy = ?",
                (strategy,),
            ).fetchone()
        if row is None:
            return None
        return BacktestReference(
            strategy=strategy,
            returns=np.frombuffer(row[0], dtype="<f8").copy(),
            dates=None if row[1] is None else json.loads(row[1]),
            metrics=json.loads(row[2]),
        )

    def import_references(self, other: Journal) -> list[str]:
        """Copy every backtest reference (and its ``backtest:`` record) of ``other`` into this
        journal; returns the strategies copied."""
        names = other.backtest_strategies()
        for name in names:
            ref = other.backtest_reference(name)
            if ref is None:
                continue
            self.set_backtest_reference(name, ref.returns, ref.metrics, ref.dates)
            record = other.state(f"backtest:{name}")
            if record is not None:
                self.save_state(f"backtest:{name}", record)
        return names

    def backtest_strategies(self) -> list[str]:
        """Names of the strategies with a registered backtest, sorted."""
        with self._lock:
            rows = self._db.execute("SELECT strategy FROM backtest_refs ORDER BY strategy")
            return [r[0] for r in rows.fetchall()]

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def _select(self, table: str, strategy: str | None, order: str) -> list[dict[str, Any]]:
        where, args = ("WHERE strategy = ?", (strategy,)) if strategy is not None else ("", ())
        with self._lock:
            return self._dicts(
                self._db.execute(f"SELECT * FROM {table} {where} ORDER BY {order}", args)
            )
