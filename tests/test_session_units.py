"""Pure pieces of the broker session: orderRef keys, data quality, the order tracker."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from livedesk.backend.broker.dataquality import DataQuality, usable
from livedesk.backend.broker.orderref import key_of, make_ref, new_key, strategy_of
from livedesk.backend.broker.tracking import NOT_RECEIVED, UNKNOWN, OrderTracker, TrackedOrder


def test_order_ref_keeps_the_strategy_recoverable() -> None:
    key = new_key()
    ref = make_ref("crack-spread", key)
    assert ref == f"crack-spread#{key}" and len(key) == 12
    assert strategy_of(ref) == "crack-spread" and key_of(ref) == key
    assert strategy_of("monthly-factor") == "monthly-factor" and key_of("monthly-factor") == ""
    assert strategy_of(None) == "" and key_of("") == ""
    assert strategy_of("#abc") == "" and key_of("#abc") == "abc"
    assert len({new_key() for _ in range(1000)}) == 1000
    with pytest.raises(ValueError, match="may not contain"):
        make_ref("a#b", key)


def test_data_quality_farms_delayed_and_first_tick() -> None:
    dq = DataQuality()
    assert dq.ok and dq.reason == ""
    assert dq.on_code(2103, "Market data farm connection is broken:usfarm")
    assert not dq.ok and "2103" in dq.reason
    assert not dq.on_code(2103, "Market data farm connection is broken:usfarm")  # no change
    assert dq.on_code(2105, "HMDS data farm connection is broken:ushmds")
    assert dq.on_code(2104, "ok") and not dq.ok  # HMDS still broken
    assert dq.on_code(2106, "ok") and dq.ok
    dq.on_code(2110, "TWS-server broken")
    dq.link_restored()
    assert dq.ok
    dq.expect_tick(7, "AAPL")
    assert "stale until the first tick: AAPL" in dq.reason
    contract = SimpleNamespace(conId=7, symbol="AAPL")
    dq.on_ticker(
        SimpleNamespace(
            contract=contract, bid=math.nan, ask=-1.0, last=1.7976931348623157e308, marketDataType=1
        )
    )
    assert not dq.ok  # NaN, -1 and unset are not ticks
    dq.on_ticker(
        SimpleNamespace(contract=contract, bid=10.0, ask=10.1, last=math.nan, marketDataType=1)
    )
    assert dq.ok
    dq.on_ticker(
        SimpleNamespace(contract=contract, bid=10.0, ask=10.1, last=10.0, marketDataType=3)
    )
    assert dq.is_delayed(7) and "delayed" in dq.reason
    dq.forget(7)
    assert dq.ok
    assert not usable(True) and not usable(0.0) and usable(0.01)


def _trade(ref: str, perm: int, status: str, filled: float = 0.0):
    order = SimpleNamespace(orderRef=ref, permId=perm, orderId=perm)
    return SimpleNamespace(
        order=order, orderStatus=SimpleNamespace(status=status, filled=filled), log=[]
    )


def test_tracker_unknown_then_settled_by_key_perm_or_fills() -> None:
    tr = OrderTracker()
    for k in ("a", "b", "c", "d"):
        tr.add(TrackedOrder(k, f"s#{k}", 1, "BUY", 10, order_id=1, perm_id=0))
    tr.orders["d"].perm_id = 99
    tr.orders["d"].status = "Filled"
    assert [t.key for t in tr.mark_unknown()] == ["a", "b", "c"]  # a finished one stays
    assert [t.key for t in tr.unknown()] == ["a", "b", "c"]
    fill = SimpleNamespace(execution=SimpleNamespace(orderRef="s#b", shares=10.0))
    ib = SimpleNamespace(trades=lambda: [_trade("s#a", 5, "Submitted")], fills=lambda: [fill])
    settled = tr.settle(ib)
    assert [t.key for t in settled] == ["a", "b", "c"]
    assert tr.orders["a"].status == "Submitted" and tr.orders["a"].perm_id == 5
    assert tr.orders["b"].status == "Filled" and tr.orders["b"].filled == 10
    assert tr.orders["c"].status == NOT_RECEIVED and "not at the gateway" in tr.orders["c"].reason
    assert UNKNOWN not in {t.status for t in tr.orders.values()}
    with pytest.raises(ValueError, match="already used"):
        tr.add(TrackedOrder("a", "s#a", 1, "BUY", 1))


def test_tracker_keeps_unfinished_orders_and_prunes_old_finished_ones() -> None:
    tr = OrderTracker(keep_finished=3)
    for i in range(10):
        t = tr.add(TrackedOrder(f"k{i}", f"s#k{i}", 1, "BUY", 1))
        t.status = "Filled" if i % 2 else "Submitted"
    tr.add(TrackedOrder("last", "s#last", 1, "BUY", 1))
    finished = [k for k, t in tr.orders.items() if t.status == "Filled"]
    assert finished == ["k5", "k7", "k9"]
    assert [k for k, t in tr.orders.items() if t.status == "Submitted"] == [
        "k0",
        "k2",
        "k4",
        "k6",
        "k8",
    ]


def test_tracker_drops_every_link_to_a_dead_connections_trades() -> None:
    """After a drop no tracked order keeps an old Trade alive (finished ones included), and a
    day's forgotten trades are released."""
    tr = OrderTracker()
    old = {
        k: _trade(f"s#{k}", i, s) for i, (k, s) in enumerate((("a", "Filled"), ("b", "Submitted")))
    }
    for k, trade in old.items():
        tr.add(
            TrackedOrder(k, f"s#{k}", 1, "BUY", 10, status=trade.orderStatus.status)
        ).trade = trade
    tr.mark_unknown()
    assert [(t.status, t.trade) for t in tr.orders.values()] == [("Filled", None), (UNKNOWN, None)]
    fresh = _trade("s#a", 7, "Filled")
    tr.orders["a"].trade = fresh
    tr.release([_trade("s#a", 7, "Filled")])  # another object: the link stays
    assert tr.orders["a"].trade is fresh
    tr.release([fresh])
    assert tr.orders["a"].trade is None
