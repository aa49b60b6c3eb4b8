"""Throughput of the pure sizing helpers and the pre-trade guard.

Run: ``python benchmarks/sizing.py``. Prints calls per second for each helper.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from livedesk.backend.trading.guard import GuardLimits, OrderIntent, PreTradeGuard
from livedesk.backend.trading.orders import (
    Quote,
    plan_order_target_percent,
    plan_rebalance,
    round_order_quantity,
    usable_price,
    value_to_quantity,
)


def rate(fn: Callable[[], object], min_seconds: float = 0.3) -> tuple[float, int]:
    """Calls per second of ``fn`` over at least ``min_seconds``."""
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds:
        for _ in range(100):
            fn()
        calls += 100
    return calls / elapsed, calls


def main() -> None:
    rng = random.Random(7)
    amounts = [rng.uniform(-1e5, 1e5) for _ in range(1000)]
    n_names = 500
    names = [f"S{i:03d}" for i in range(n_names)]
    targets = {k: rng.uniform(-0.004, 0.004) for k in names}
    holdings = {k: rng.randint(-200, 200) for k in names}
    quotes = {k: Quote(rng.uniform(5, 500), "mid") for k in names}
    guard = PreTradeGuard(GuardLimits(max_orders_per_minute=10**9))
    intent = OrderIntent("BUY", 10, "MKT", None, "AAPL STK", "STK", 1.0, 100.0, 0.0, 1e6, 0.0)
    it = iter(range(10**12))

    cases: list[tuple[str, Callable[[], object]]] = [
        ("round_order_quantity", lambda: round_order_quantity(amounts[next(it) % 1000])),
        ("value_to_quantity", lambda: value_to_quantity(amounts[next(it) % 1000], 123.45, 1.0)),
        ("usable_price (mid)", lambda: usable_price(99.5, 100.5, 100.0, 99.0)),
        ("usable_price (close)", lambda: usable_price(-1.0, -1.0, float("nan"), 99.0)),
        (
            "plan_order_target_percent",
            lambda: plan_order_target_percent(0.05, 1e6, Quote(123.45, "mid"), 1.0, 10, 0),
        ),
        ("PreTradeGuard.check", lambda: guard.check(intent)),
    ]
    print(f"{'helper':<34}{'calls/s':>14}{'us/call':>10}")
    for name, fn in cases:
        per_second, _ = rate(fn)
        print(f"{name:<34}{per_second:>14,.0f}{1e6 / per_second:>10.2f}")

    per_second, _ = rate(lambda: plan_rebalance(targets, holdings, quotes, 1e7), min_seconds=1.0)
    print(
        f"{f'plan_rebalance ({n_names} names)':<34}{per_second:>14,.1f}"
        f"{1e6 / per_second:>10.0f}  ({per_second * n_names:,.0f} legs/s)"
    )


if __name__ == "__main__":
    main()
