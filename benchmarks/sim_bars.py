"""Per-pulse cost of the simulated gateway's live bars (keepUpToDate ``current_bar``).

Late in the session (15:55 New York) each pulse asks for the bar in progress of every live
bar subscription.  Measured directly on ``HistoryBuilder.current_bar`` (no socket): a CL
future, an SPY option and SPY stock, at 1 min / 5 mins / 1 hour, pulses 0.1 s apart.
Prints mean / p95 / max per call in ms; then repeated ``reqHistoricalData``-sized
``bars()`` calls (the same request asked again, as a reconnecting client does).
Run: ``python benchmarks/sim_bars.py [--pulses N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from livedesk.backend.sim.market.history import HistoryBuilder
from livedesk.backend.sim.market.model import MarketModel


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def instruments(market: MarketModel) -> dict[str, int]:
    """conIds of the measured instruments: SPY stock, the CL front future, an SPY option."""
    reg = market.registry
    spy = reg.find("SPY")[0]
    cl = sorted(reg.find("CL", "FUT"), key=lambda i: i.contract_month)[0]
    chain = market.options.chain("SPY")
    und = market.prev_close(chain.underlying.con_id)
    k = min(chain.strikes, key=lambda s: abs(s - und))
    [opt] = reg.find("SPY", "OPT", last_trade_date=chain.expiry_texts[1], strike=k, right="C")
    return {"SPY STK": spy.con_id, "CL FUT": cl.con_id, "SPY OPT": opt.con_id}


def bench(pulses: int) -> None:
    market = MarketModel(seed=7)
    history = HistoryBuilder(market)
    late = market.session_close() - 300
    print(f"session {market.session}, pulses every 0.1 s from 5 min before the close")
    print(f"{'instrument':<10} {'bar':<8} {'mean ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, con_id in instruments(market).items():
        for size in ("1 min", "5 mins", "1 hour", "1 day"):
            history.current_bar(con_id, size, late - 1)  # first call: paths generated
            times = []
            for i in range(pulses):
                t0 = time.perf_counter()
                history.current_bar(con_id, size, late + 0.1 * i)
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"{name:<10} {size:<8} {statistics.fmean(times):8.3f} "
                f"{pct(times, 95):8.3f} {max(times):8.3f}"
            )
    bench_history(market, history, late)


def bench_history(market: MarketModel, history: HistoryBuilder, now: float, n: int = 20) -> None:
    """Repeated ``bars()`` (reqHistoricalData) for SPY stock and option, warm caches."""
    print(f"\nbars() repeated {n}x at the same moment (first call excluded)")
    print(f"{'instrument':<10} {'request':<16} {'mean ms':>8} {'p95 ms':>8} {'max ms':>8}")
    ids = instruments(market)
    for name in ("SPY STK", "SPY OPT"):
        for duration, size in (("1 D", "1 min"), ("5 D", "5 mins"), ("1 Y", "1 day")):
            history.bars(ids[name], now, duration, size, now)
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                history.bars(ids[name], now, duration, size, now)
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"{name:<10} {duration + ' ' + size:<16} {statistics.fmean(times):8.3f} "
                f"{pct(times, 95):8.3f} {max(times):8.3f}"
            )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pulses", type=int, default=300)
    bench(p.parse_args().pulses)
