"""Streaming risk metrics versus recomputing empyrical, journal restore and downsampling.

Run: ``python benchmarks/risk_metrics.py``. Prints, at 1e3 … 1e6 samples, the median cost
of one ``update`` + ``snapshot``, empyrical's recompute of the same figures over the whole
series (measured in the same run, on a numpy array — faster than a pandas Series, so the
ratio is conservative), their ratio, the largest deviation from empyrical and the memory
per sample; then the time to restore 1e6 samples from the journal into the metrics and to
downsample 1e6 points to 200 buckets. Targets (issue): ≤ 100 µs and ≥ 1,000× at 1e6,
restore ≤ 1 s, downsampling ≤ 5 ms.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

from livedesk.backend.journal import Journal
from livedesk.backend.risk.downsample import MinMaxDownsampler, downsample_minmax
from livedesk.backend.risk.metrics import StreamingRiskMetrics

ANNUALIZATION = 252 * 4680  # 5-second samples over 6.5-hour sessions


def empyrical_snapshot(r: np.ndarray) -> dict[str, float]:
    """The naive approach: every figure recomputed by empyrical over the whole series."""
    import empyrical as ep

    a = ANNUALIZATION
    return {
        "cum_returns": ep.cum_returns_final(r),
        "annual_return": ep.annual_return(r, annualization=a),
        "max_drawdown": ep.max_drawdown(r),
        "current_drawdown": ep.stats.drawdown_series(r)[-1],
        "annual_volatility": ep.annual_volatility(r, annualization=a),
        "sharpe_ratio": ep.sharpe_ratio(r, annualization=a),
        "sortino_ratio": ep.sortino_ratio(r, annualization=a),
        "omega_ratio": ep.omega_ratio(r, annualization=a),
        "calmar_ratio": ep.calmar_ratio(r, annualization=a),
        "value_at_risk": ep.value_at_risk(r, 0.05),
        "cvar": ep.conditional_value_at_risk(r, 0.05),
    }


def max_relative_error(got: dict, want: dict) -> float:
    errs = [
        abs(got[k] - v) / max(abs(v), 1e-3)
        for k, v in want.items()
        if not (math.isnan(v) and math.isnan(got[k]))
    ]
    return max(errs, default=0.0)


def update_snapshot_cost(metrics: StreamingRiskMetrics, samples: list[float]) -> float:
    """Median seconds of one update + snapshot."""
    costs = []
    clock = time.perf_counter
    for x in samples:
        start = clock()
        metrics.update(x)
        metrics.snapshot()
        costs.append(clock() - start)
    return statistics.median(costs)


def memory_per_sample(r: np.ndarray) -> float:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    metrics = StreamingRiskMetrics(ANNUALIZATION)
    metrics.extend(r)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del metrics
    return used / r.size


def scaling_table(rng: np.random.Generator) -> None:
    print(
        f"{'samples':>9} {'update+snapshot':>16} {'empyrical':>11} {'ratio':>9}"
        f" {'max rel err':>12} {'bytes/sample':>13}"
    )
    for n in (10**3, 10**4, 10**5, 10**6):
        r = rng.normal(0.0, 2e-4, n)
        extra = rng.normal(0.0, 2e-4, 2000).tolist()
        metrics = StreamingRiskMetrics(ANNUALIZATION)
        metrics.extend(r)
        ours = update_snapshot_cost(metrics, extra)
        full = np.concatenate([r, extra])
        repeats = 3 if n >= 10**6 else 7
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = []
            for _ in range(repeats):
                start = time.perf_counter()
                want = empyrical_snapshot(full)
                theirs.append(time.perf_counter() - start)
        err = max_relative_error(metrics.snapshot(), want)
        bytes_per = memory_per_sample(r)
        print(
            f"{n:>9,} {ours * 1e6:>13.1f} µs {statistics.median(theirs) * 1e3:>8.2f} ms"
            f" {statistics.median(theirs) / ours:>8,.0f}× {err:>12.1e} {bytes_per:>13.1f}"
        )


def restore_benchmark(rng: np.random.Generator) -> None:
    n = 10**6
    r = rng.normal(0.0, 2e-4, n)
    t = 1.7e9 + 5.0 * np.arange(n)
    pnl = np.cumsum(r) * 1e6
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "journal.sqlite3"
        with Journal(path) as journal:
            journal.record_samples(t[:-3000], pnl[:-3000], np.full(n - 3000, 1e6), r[:-3000])
            for i in range(n - 3000, n):  # the recent tail as row-per-sample writes
                journal.record_sample(t[i], pnl[i], 1e6, r[i])
        start = time.perf_counter()
        with Journal(path) as journal:
            samples = journal.samples()
        read = time.perf_counter() - start
        metrics = StreamingRiskMetrics(ANNUALIZATION)
        metrics.extend(samples.ret)
        metrics.snapshot()
        total = time.perf_counter() - start
        assert samples.ret.size == n and np.array_equal(samples.ret, r)
    print(
        f"restore 1e6 samples from the journal: {total * 1e3:.0f} ms "
        f"(read {read * 1e3:.0f} ms + extend/snapshot {(total - read) * 1e3:.0f} ms)"
    )


def downsample_benchmark(rng: np.random.Generator) -> None:
    equity = np.cumprod(1.0 + rng.normal(0.0, 2e-4, 10**6))
    runs = []
    for _ in range(20):
        start = time.perf_counter()
        lows, _ = downsample_minmax(equity, 200)
        runs.append(time.perf_counter() - start)
    assert lows.min() == equity.min()
    start = time.perf_counter()
    incremental = MinMaxDownsampler(200)
    incremental.extend(equity)
    bulk = time.perf_counter() - start
    appends = []
    for x in equity[:20000].tolist():
        start = time.perf_counter()
        incremental.append(x)
        appends.append(time.perf_counter() - start)
    print(
        f"downsample 1e6 points to 200 buckets: {statistics.median(runs) * 1e3:.2f} ms "
        f"(incremental: bulk load {bulk * 1e3:.1f} ms, "
        f"append {statistics.median(appends) * 1e6:.2f} µs)"
    )


def main() -> None:
    rng = np.random.default_rng(2024)
    scaling_table(rng)
    restore_benchmark(rng)
    downsample_benchmark(rng)


if __name__ == "__main__":
    main()
