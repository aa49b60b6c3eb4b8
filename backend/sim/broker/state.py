"""Persistence of the simulated gateway's state (``--state FILE``).

Positions, cash, working orders, today's executions and the order-id watermark live in a
SQLite database in WAL mode.  Each change of the broker is one transaction that writes only
what changed (the order that moved, the new executions, the holdings that changed, a few
scalars), appended to the write-ahead log before the gateway acknowledges the order — so a
round trip with ``--state`` costs one small append, not a rewrite of the whole file.

* **Kills.** A committed transaction is in the operating system's hands once ``save``
  returns: a kill at any point (mid-transaction, mid-checkpoint) leaves the last committed
  change on disk and nothing torn; SQLite rolls back an incomplete transaction when the file
  is next opened.
* **Power loss.** The log is fsynced by a background thread at most ``sync_interval``
  (0.25 s) after a change, when it checkpoints the log into the database (the periodic
  compaction; the log then restarts from its beginning, so it stays small).  A power cut
  can lose at most that last fraction of a second, never consistency.  ``close`` (a clean
  stop) checkpoints, fsyncs and truncates the log.

Tables: ``meta(key, value)`` (JSON values: format version, account scalars, session,
perm-id and execution sequences), ``used_ids(client_id, order_id)``,
``holdings(con_id, data)``, ``orders(client_id, order_id, data)`` (working orders only) and
``executions(seq, exec_id, data)``.  A version-1 JSON state file (the former format) is
read once, kept beside as ``FILE.v1.json`` and converted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import json
import logging
import os
import sqlite3
import threading
from pathlib import Path

from ib_async import ComboLeg, CommissionReport, Contract, Execution, Order, OrderComboLeg, TagValue

from livedesk.backend.sim.broker.account import Holding
from livedesk.backend.sim.broker.book import FillEvent, SimBroker
from livedesk.backend.sim.broker.matching import SimOrder

log = logging.getLogger("livedesk.sim.state")

VERSION = 2
JSON_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS used_ids (client_id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS holdings (con_id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_id INTEGER NOT NULL, order_id INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (client_id, order_id)
);
CREATE TABLE IF NOT EXISTS executions (
    seq INTEGER PRIMARY KEY, exec_id TEXT NOT NULL, data TEXT NOT NULL
);
"""


@functools.cache
def _defaults(cls: type) -> tuple[tuple[str, object], ...]:
    """(field name, default value) of a dataclass, computed once per class."""
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        out.append((f.name, default))
    return tuple(out)


def _plain(obj) -> dict:
    """Non-default fields of an ib_async dataclass as JSON-friendly values."""
    out = {}
    for name, default in _defaults(type(obj)):
        v = getattr(obj, name)
        if v == default:
            continue
        if isinstance(v, list):
            v = [_plain(x) if dataclasses.is_dataclass(x) else x for x in v]
        elif isinstance(v, dt.datetime):
            v = v.isoformat()
        elif dataclasses.is_dataclass(v):
            continue  # nested objects (soft-dollar tiers …) are not part of our state
        out[name] = v
    return out


def _contract(d: dict) -> Contract:
    d = dict(d)
    d["comboLegs"] = [ComboLeg(**x) for x in d.get("comboLegs", [])]
    return Contract(**d)


def _order(d: dict) -> Order:
    d = dict(d)
    d["orderComboLegs"] = [OrderComboLeg(**x) for x in d.get("orderComboLegs", [])]
    d["smartComboRoutingParams"] = [TagValue(**x) for x in d.get("smartComboRoutingParams", [])]
    return Order(**{k: v for k, v in d.items() if k in Order.__dataclass_fields__})


def _order_state(o: SimOrder) -> dict:
    return {
        "order_id": o.order_id,
        "client_id": o.client_id,
        "perm_id": o.perm_id,
        "contract": _plain(o.contract),
        "order": _plain(o.order),
        "submitted_at": o.submitted_at,
        "status": o.status,
        "filled": o.filled,
        "avg_fill_price": o.avg_fill_price,
        "last_fill_price": o.last_fill_price,
        "triggered": o.triggered,
        "commission": o.commission,
        "held": o.held,
    }


def _order_fingerprint(o: SimOrder) -> tuple:
    """What can change on a working order (cheap to compare on every change)."""
    od = o.order
    return (
        id(o), o.status, o.filled, o.avg_fill_price, o.last_fill_price, o.triggered,
        o.commission, o.submitted_at, od.totalQuantity, od.lmtPrice, od.auxPrice, od.tif,
        od.outsideRth, od.orderRef, o.held, od.trailStopPrice,
    )  # fmt: skip


def _execution_state(fe: FillEvent) -> dict:
    return {
        "order": [fe.order.client_id, fe.order.order_id],
        "contract": _plain(fe.contract),
        "execution": _plain(fe.execution),
        "report": _plain(fe.report),
    }


def _meta(broker: SimBroker, clock: float | None) -> dict:
    acct = broker.account
    extra = {} if clock is None else {"clock": clock}
    return {
        **extra,
        "version": VERSION,
        "account_id": acct.account_id,
        "cash": acct.cash,
        "session_start_nlv": acct.session_start_nlv,
        "commissions_today": acct.commissions_today,
        "session": str(broker.market.session),
        "next_perm_id": broker.next_perm_id,
        "next_exec_seq": broker.next_exec_seq,
    }


class StateStore:
    """The durable state of one :class:`SimBroker` in one SQLite file.

    :meth:`load` restores a broker, :meth:`save` writes what changed since the last save
    (the first save after opening writes everything), :meth:`close` compacts and closes.
    """

    def __init__(
        self, path: str | Path, sync_interval: float = 0.25, checkpoint_every: int = 200
    ) -> None:
        self.path = Path(path)
        self.sync_interval = sync_interval
        self.checkpoint_every = checkpoint_every
        self.commits = 0
        self.checkpoints = 0
        self._db: sqlite3.Connection | None = None
        self._synced_commits = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        self._forget()

    def _forget(self) -> None:
        """Assume nothing is written yet (the next save rewrites every row it compares)."""
        self._meta: dict | None = None
        self._used: dict[int, int] | None = None
        self._holdings: dict[int, tuple] | None = None
        self._orders: dict[tuple[int, int], tuple] | None = None
        self._orders_seen: tuple[dict | None, int] = (None, 0)
        self._exec_ids: list[str] | None = None

    # ---- file --------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            if not self.path.parent.is_dir():
                raise ValueError(
                    f"--state {self.path}: directory {self.path.parent} does not exist "
                    "(it is not created for you: check the path, or mkdir it)"
                )
            if not self.path.exists():  # user-only from the start (-wal/-shm inherit it)
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._convert_json()
            db = sqlite3.connect(self.path, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # the syncer thread fsyncs
                db.execute("PRAGMA wal_autocheckpoint=0")  # never inside a commit
                db.execute("PRAGMA journal_size_limit=4194304")
                db.executescript(_SCHEMA)
            except sqlite3.DatabaseError as exc:
                db.close()
                raise ValueError(f"{self.path} is not a sim gateway state file: {exc}") from exc
            self._db = db
            self._forget()
            self._stop.clear()
            self._syncer = threading.Thread(
                target=self._sync_loop, name="sim-state-sync", daemon=True
            )
            self._syncer.start()
        return self._db

    def _sync_loop(self) -> None:
        """Background: checkpoint (fsync the log, copy it into the database) after changes."""
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.is_set():
                self._wake.wait(self.sync_interval)
                self._wake.clear()
                commits = self.commits
                if commits != self._synced_commits:
                    try:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    except sqlite3.Error:
                        log.exception("checkpoint of %s failed", self.path)
                        continue
                    self._synced_commits = commits
                    self.checkpoints += 1
        finally:
            db.close()

    def _convert_json(self) -> None:
        """Read a version-1 JSON state file into a fresh database (the JSON is kept)."""
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(16)
        except FileNotFoundError:
            return
        if not head or head == SQLITE_MAGIC:
            return
        if not head.lstrip().startswith(b"{"):
            raise ValueError(f"{self.path} is not a sim gateway state file")
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if data.get("version") != JSON_VERSION:
            raise ValueError(
                f"unsupported sim state version {data.get('version')!r} in {self.path}"
            )
        legacy = self.path.with_name(self.path.name + ".v1.json")
        os.replace(self.path, legacy)
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            a = data["account"]
            meta = {
                "version": VERSION,
                "account_id": a.get("account_id", ""),
                "cash": a["cash"],
                "session_start_nlv": a["session_start_nlv"],
                "commissions_today": a.get("commissions_today", 0.0),
                "session": data.get("session"),
                "next_perm_id": data["next_perm_id"],
                "next_exec_seq": data["next_exec_seq"],
            }
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()]
            )
            db.executemany("INSERT INTO used_ids VALUES (?, ?)", data["used_ids"].items())
            db.executemany(
                "INSERT INTO holdings VALUES (?, ?)",
                [(h["con_id"], json.dumps(h)) for h in a["holdings"]],
            )
            db.executemany(
                "INSERT INTO orders VALUES (?, ?, ?)",
                [(d["client_id"], d["order_id"], json.dumps(d)) for d in data["orders"]],
            )
            db.executemany(
                "INSERT INTO executions (exec_id, data) VALUES (?, ?)",
                [(d["execution"]["execId"], json.dumps(d)) for d in data["executions"]],
            )
            db.execute("COMMIT")
        finally:
            db.close()

    def close(self) -> None:
        """Checkpoint the write-ahead log into the database, fsync, and close the file."""
        if self._syncer is not None:
            self._stop.set()
            self._wake.set()
            self._syncer.join()
            self._syncer = None
        if self._db is not None:
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
            self._db = None

    # ---- save --------------------------------------------------------------------------
    def save(self, broker: SimBroker, clock: float | None = None) -> None:
        """Write what changed since the last save as one transaction; ``clock`` is the
        simulated time (epoch seconds) a restart resumes from."""
        db = self._open()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._write_meta(db, broker, clock)
            self._write_used(db, broker)
            self._write_holdings(db, broker)
            self._write_orders(db, broker)
            self._write_executions(db, broker)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._forget()
            raise
        self.commits += 1
        if self.commits - self._synced_commits >= self.checkpoint_every:
            self._wake.set()  # a burst of changes: compact now, not at the next interval

    def _write_meta(self, db: sqlite3.Connection, broker: SimBroker, clock: float | None) -> None:
        meta = _meta(broker, clock)
        old = self._meta or {}
        rows = [(k, json.dumps(v)) for k, v in meta.items() if k not in old or old[k] != v]
        if rows:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)
        self._meta = meta

    def _write_used(self, db: sqlite3.Connection, broker: SimBroker) -> None:
        used = dict(broker.used_ids)
        old = self._used
        if old is None:
            db.execute("DELETE FROM used_ids")
            old = {}
        rows = [(k, v) for k, v in used.items() if old.get(k) != v]
        if rows:
            db.executemany("INSERT OR REPLACE INTO used_ids VALUES (?, ?)", rows)
        self._used = used

    def _write_holdings(self, db: sqlite3.Connection, broker: SimBroker) -> None:
        now = {
            cid: (h.qty, h.avg_cost, h.realized, h.multiplier)
            for cid, h in broker.account.holdings.items()
        }
        old = self._holdings
        if old is None:
            db.execute("DELETE FROM holdings")
            old = {}
        changed = [cid for cid, fp in now.items() if old.get(cid) != fp]
        if changed:
            db.executemany(
                "INSERT OR REPLACE INTO holdings VALUES (?, ?)",
                [
                    (cid, json.dumps(dataclasses.asdict(broker.account.holdings[cid])))
                    for cid in changed
                ],
            )
        gone = [(cid,) for cid in old if cid not in now]
        if gone:
            db.executemany("DELETE FROM holdings WHERE con_id = ?", gone)
        self._holdings = now

    def _write_orders(self, db: sqlite3.Connection, broker: SimBroker) -> None:
        orders = broker.orders
        old = self._orders
        if old is None:
            db.execute("DELETE FROM orders")
            old = {}
        if self._orders_seen[0] is orders and self._orders_seen[1] <= len(orders):
            # only orders that were working, or were added since (the dict keeps insertion
            # order), can be working now: no scan of the whole day's orders
            new = itertools.islice(orders.items(), self._orders_seen[1], None)
            candidates = [(k, orders[k]) for k in old if k in orders] + list(new)
        else:
            candidates = list(orders.items())
        self._orders_seen = (orders, len(orders))
        now: dict[tuple[int, int], tuple] = {}
        rows = []
        for key, so in candidates:
            if not so.is_working:
                continue
            fp = now[key] = _order_fingerprint(so)
            if old.get(key) != fp:
                rows.append((*key, json.dumps(_order_state(so))))
        if rows:
            db.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?, ?)", rows)
        gone = [key for key in old if key not in now]
        if gone:
            db.executemany("DELETE FROM orders WHERE client_id = ? AND order_id = ?", gone)
        self._orders = now

    def _write_executions(self, db: sqlite3.Connection, broker: SimBroker) -> None:
        execs = broker.executions
        written = self._exec_ids
        if (
            written is None
            or len(execs) < len(written)
            or (written and execs[len(written) - 1].execution.execId != written[-1])
        ):
            db.execute("DELETE FROM executions")
            written = []
        new = execs[len(written) :]
        if new:
            db.executemany(
                "INSERT INTO executions (exec_id, data) VALUES (?, ?)",
                [(fe.execution.execId, json.dumps(_execution_state(fe))) for fe in new],
            )
        self._exec_ids = written + [fe.execution.execId for fe in new]

    # ---- load --------------------------------------------------------------------------
    @staticmethod
    def saved_clock(path: str | Path) -> float | None:
        """The simulated time the state at ``path`` was last saved at (None: no such state)."""
        path = Path(path)
        if not path.is_file():
            return None
        with path.open("rb") as f:
            if f.read(16) != SQLITE_MAGIC:
                return None
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
        except sqlite3.DatabaseError:
            return None
        finally:
            db.close()
        value = json.loads(row[0]) if row else None
        return float(value) if isinstance(value, int | float) else None

    def load(self, broker: SimBroker) -> bool:
        """Restore ``broker`` from the file; False when there is nothing to restore.

        Today's executions come back only when the stored session is the market's session.
        """
        if not self.path.exists():
            return False
        db = self._open()
        meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
        if not meta:
            return False
        if meta.get("version") != VERSION:
            raise ValueError(
                f"unsupported sim state version {meta.get('version')!r} in {self.path}"
            )
        acct = broker.account
        acct.cash = meta["cash"]
        acct.session_start_nlv = meta["session_start_nlv"]
        acct.commissions_today = meta.get("commissions_today", 0.0)
        acct.holdings = {}
        for (data,) in db.execute("SELECT data FROM holdings ORDER BY con_id"):
            h = json.loads(data)
            acct.holdings[h["con_id"]] = Holding(**h)
        broker.next_perm_id = meta["next_perm_id"]
        broker.next_exec_seq = meta["next_exec_seq"]
        broker.used_ids = dict(db.execute("SELECT client_id, order_id FROM used_ids"))
        for (data,) in db.execute("SELECT data FROM orders ORDER BY client_id, order_id"):
            so = _sim_order(json.loads(data))
            broker.orders[(so.client_id, so.order_id)] = so
        if meta.get("session") == str(broker.market.session):
            for (data,) in db.execute("SELECT data FROM executions ORDER BY seq"):
                broker.executions.append(_fill_event(json.loads(data), broker))
        else:
            for h in acct.holdings.values():
                h.realized = 0.0
                h.day_traded = h.day_flow = 0.0
            acct.session_start_nlv = None
        self._forget()
        return True


def _sim_order(d: dict) -> SimOrder:
    return SimOrder(
        d["order_id"],
        d["client_id"],
        d["perm_id"],
        _contract(d["contract"]),
        _order(d["order"]),
        d["submitted_at"],
        status=d["status"],
        filled=d["filled"],
        avg_fill_price=d["avg_fill_price"],
        last_fill_price=d["last_fill_price"],
        triggered=d["triggered"],
        commission=d["commission"],
        held=d.get("held", ""),
    )


def _fill_event(d: dict, broker: SimBroker) -> FillEvent:
    ex = d["execution"]
    if "time" in ex:
        ex = {**ex, "time": dt.datetime.fromisoformat(ex["time"])}
    owner = broker.orders.get(tuple(d["order"]))
    contract = _contract(d["contract"])
    if owner is None:
        owner = SimOrder(
            d["order"][1], d["order"][0], ex.get("permId", 0), contract, Order(), 0.0,
            status="Filled",
        )  # fmt: skip
    return FillEvent(owner, contract, Execution(**ex), CommissionReport(**d["report"]))
