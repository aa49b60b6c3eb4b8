"""A strategy's decisions in one read (:meth:`Journal.strategy_decisions`) and the indexes
that keep reading them by run fast on a long record."""

from __future__ import annotations

import sqlite3

from livedesk.backend.journal import Journal


def _record(j: Journal) -> dict[str, list[tuple[float, str, dict | None]]]:
    """Two strategies with interleaved runs; what each decision was recorded with."""
    made: dict[str, list[tuple[float, str, dict | None]]] = {"a": [], "b": []}
    t = 1_790_000_000.123456789
    for k in range(6):
        name = "ab"[k % 2]
        run = j.start_run(name, {"k": k}, t=t)
        for m in range(3):
            t += 0.1 + 1e-7 * k  # times that 15 significant digits would not keep
            detail = None if m == 2 else {"z": k / 3, "m": [m, 1e-300, "é"], "nested": {"x": t}}
            j.record_decision(run, "decision" if m else "skip", detail, t=t)
            made[name].append((t, "decision" if m else "skip", detail))
    return made


def test_every_decision_of_a_strategy_in_order_with_exact_times(tmp_path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        made = _record(j)
        for name in ("a", "b"):
            rows = j.strategy_decisions(name)
            assert [(r["t"], r["kind"], r["detail"]) for r in rows] == made[name]
            assert all(r["strategy"] == name for r in rows)
            ids = [r["id"] for r in rows]
            assert ids == sorted(ids)
            # the same rows as reading run by run
            by_run = [r for run in j.runs(name) for r in j.decisions(run["id"])]
            assert [{k: v for k, v in r.items() if k != "strategy"} for r in rows] == by_run
        assert j.strategy_decisions("nobody") == []


def test_a_malformed_detail_is_none_and_the_others_are_read(tmp_path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        made = _record(j)
    db = sqlite3.connect(path)
    bad = db.execute("SELECT min(d.id) FROM decisions d JOIN runs r ON r.id = d.run_id "
                     "WHERE r.strategy = 'a'").fetchone()[0]  # fmt: skip
    db.execute("UPDATE decisions SET detail = '{not json' WHERE id = ?", (bad,))
    db.commit()
    db.close()
    with Journal(path) as j:
        rows = j.strategy_decisions("a")
    assert rows[0]["id"] == bad and rows[0]["detail"] is None
    assert [(r["t"], r["kind"], r["detail"]) for r in rows[1:]] == made["a"][1:]


def test_decisions_and_runs_are_indexed_also_on_an_older_journal(tmp_path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        version = j.schema_version
    db = sqlite3.connect(path)  # a journal written before the indexes existed
    db.execute("DROP INDEX decisions_run")
    db.execute("DROP INDEX runs_strategy")
    db.commit()
    db.close()
    with Journal(path) as j:
        assert j.schema_version == version  # an index is no schema change
    db = sqlite3.connect(path)
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    plan = " ".join(
        str(r[-1]) for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM decisions WHERE run_id = 1 ORDER BY id"
        )
    )  # fmt: skip
    db.close()
    assert {"decisions_run", "runs_strategy"} <= names
    assert "decisions_run" in plan  # not a scan of the whole table per run
