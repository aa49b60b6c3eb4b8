"""The soak's checks can fail: a duplicate intent, a reused key and a lost fill planted in its
on-disk records are counted (the records moved out of the process's memory must still be
read whole by the final checks)."""

from __future__ import annotations

from tests.soak_harness import Soak, SoakConfig
from tests.soak_records import SoakRecords


def test_planted_duplicates_and_fills_are_counted(tmp_path) -> None:
    soak = Soak(SoakConfig(), tmp_path / "journal.sqlite3")
    rec = soak.records
    try:
        rec.intent("load-crack-spread", 11, 100.0)  # one decision on conId 11 ...
        rec.sent(5, 101.0, 11)
        rec.sent(6, 102.0, 11)
        rec.gateway_order((1, 5, 900), "k5", "load-crack-spread", 11, 101.5)
        rec.gateway_order((1, 6, 901), "k6", "load-crack-spread", 11, 102.5)  # ... two orders
        rec.intent("load-crack-spread", 12, 100.0)
        rec.sent(7, 101.0, 12)
        rec.gateway_order((1, 7, 902), "k7", "load-crack-spread", 12, 101.5)  # one: fine
        rec.new_session()  # the gateway's lists restart: the same order seen again is one
        rec.gateway_order((1, 7, 902), "k7", "load-crack-spread", 12, 101.5)
        rec.gateway_order((2, 3, 903), "k7", "monthly-factor", 13, 103.0)  # key k7 reused
        for exec_id in ("e1", "e2", "e2"):
            rec.gateway_exec(exec_id)
        assert soak.duplicate_intents() == 1
        assert rec.order_count() == 4
        assert {k: n for k, n in rec.key_counts().items() if n > 1} == {"k7": 2}
        assert rec.exec_ids() - {"e1"} == {"e2"}  # a fill the journal lacks would be lost
        assert rec.sends()[6] == (102.0, 11)
    finally:
        rec.close()


def test_the_latest_send_of_a_reused_order_id_wins(tmp_path) -> None:
    rec = SoakRecords(tmp_path / "r.sqlite3")
    try:
        rec.sent(9, 10.0, 1)
        rec.sent(9, 20.0, 2)  # an id handed out again after a drop the gateway never saw
        assert rec.sends() == {9: (20.0, 2)}
    finally:
        rec.close()
