"""Streaming risk metrics versus two recompute baselines, journal restore and downsampling.

Run: ``python benchmarks/risk_metrics.py``. Prints, at 1e3 … 1e6 samples, the cost of one
``update`` + ``snapshot`` of :class:`StreamingRiskMetrics` (median, mean, p95 and max over
2,000 updates — buffer growth shows in the max), against two baselines that recompute the
same eleven figures over the whole series after each update:

* **empyrical** — the user's baseline: what a strategy author would write (measured on a
  numpy array, faster than a pandas Series, so its ratio is conservative);
* **numpy one-pass** — the honest "fast batch" reference: one vectorised pass per figure
  (cumprod, running max, nanmean/nanstd, percentile, partition), no pandas, no
  re-validation.

Each table row gives both ratios, the largest relative deviation of the streaming figures
and of the numpy recompute from empyrical, and the memory per sample. Then the time to
restore 1e6 samples from the journal (``Journal.samples`` + ``extend``, and
``RiskEngine.restore`` as the console does at start-up) and to downsample 1e6 points to 200
buckets. Targets (issue): ≤ 100 µs and ≥ 1,000× empyrical at 1e6, restore ≤ 1 s,
downsampling ≤ 5 ms.
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


def numpy_snapshot(r: np.ndarray, cutoff: float = 0.05) -> dict[str, float]:
    """The fast-batch baseline: the same figures, one vectorised numpy pass each."""
    a = ANNUALIZATION
    n = r.size
    clean = r[~np.isnan(r)]
    equity = np.cumprod(1.0 + np.nan_to_num(r))
    peak = np.maximum.accumulate(equity)
    drawdown = equity / peak - 1.0
    cum = equity[-1] - 1.0
    annual = (1.0 + cum) ** (a / n) - 1.0
    mdd = float(drawdown.min())
    mean, std = clean.mean(), clean.std(ddof=1)
    downside = np.sqrt(np.mean(np.minimum(clean, 0.0) ** 2)) * np.sqrt(a)
    gains, losses = clean[clean > 0].sum(), -clean[clean < 0].sum()
    k = int((n - 1) * cutoff)
    return {
        "cum_returns": cum,
        "annual_return": annual,
        "max_drawdown": mdd,
        "current_drawdown": float(drawdown[-1]),
        "annual_volatility": std * np.sqrt(a),
        "sharpe_ratio": mean / std * np.sqrt(a),
        "sortino_ratio": mean * a / downside,
        "omega_ratio": gains / losses if losses > 0 else math.nan,
        "calmar_ratio": annual / abs(mdd) if mdd < 0 else math.nan,
        "value_at_risk": float(np.percentile(r, 100 * cutoff)),
        "cvar": float(np.mean(np.partition(r, k)[: k + 1])),
    }


def max_relative_error(got: dict, want: dict) -> float:
    errs = [
        abs(got[k] - v) / max(abs(v), 1e-3)
        for k, v in want.items()
        if not (math.isnan(v) and math.isnan(got[k]))
    ]
    return max(errs, default=0.0)


def update_snapshot_cost(metrics: StreamingRiskMetrics, samples: list[float]) -> list[float]:
    """Seconds of each update + snapshot."""
    costs = []
    clock = time.perf_counter
    for x in samples:
        start = clock()
        metrics.update(x)
        metrics.snapshot()
        costs.append(clock() - start)
    return costs


def recompute_cost(fn, r: np.ndarray, repeats: int) -> tuple[float, dict[str, float]]:
    """Median seconds of one whole-series recompute by ``fn``, and its last answer."""
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            start = time.perf_counter()
            got = fn(r)
            times.append(time.perf_counter() - start)
    return statistics.median(times), got


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
    print("one update + snapshot, 2,000 updates after n samples (µs); recompute per update (ms)")
    print(
        f"{'samples':>9} {'median':>8} {'mean':>8} {'p95':>8} {'max':>9}"
        f" {'empyrical':>10} {'ratio':>8} {'numpy':>8} {'ratio':>7}"
        f" {'err ours':>9} {'err numpy':>9} {'B/sample':>8} {'>100µs':>6}"
    )
    for n in (10**3, 10**4, 10**5, 10**6):
        r = rng.normal(0.0, 2e-4, n)
        extra = rng.normal(0.0, 2e-4, 2000).tolist()
        metrics = StreamingRiskMetrics(ANNUALIZATION)
        metrics.extend(r)
        costs = np.array(update_snapshot_cost(metrics, extra))
        full = np.concatenate([r, extra])
        repeats = 3 if n >= 10**6 else 7
        emp, want = recompute_cost(empyrical_snapshot, full, repeats)
        fast, numpy_got = recompute_cost(numpy_snapshot, full, repeats)
        err = max_relative_error(metrics.snapshot(), want)
        numpy_err = max_relative_error(numpy_got, want)
        med, mean = float(np.median(costs)), float(costs.mean())
        p95, worst = float(np.percentile(costs, 95)), float(costs.max())
        print(
            f"{n:>9,} {med * 1e6:>8.1f} {mean * 1e6:>8.1f} {p95 * 1e6:>8.1f} {worst * 1e6:>9.1f}"
            f" {emp * 1e3:>10.2f} {emp / mean:>7,.0f}× {fast * 1e3:>8.2f} {fast / mean:>6,.0f}×"
            f" {err:>9.1e} {numpy_err:>9.1e} {memory_per_sample(r):>8.1f}"
            f" {int((costs > 1e-4).sum()):>6}"
        )
    print(
        "(ratios: recompute time / mean streaming update; err: max relative error vs "
        "empyrical; >100µs: updates of the 2,000 over the target)"
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
        with Journal(path) as journal:
            from livedesk.backend.risk.engine import RiskEngine

            engine = RiskEngine(journal)
            start = time.perf_counter()
            engine.restore()
            engine.snapshot()
            restored = time.perf_counter() - start
            assert engine.snapshot()["intraday"]["n"] == n
    print(
        f"restore 1e6 samples from the journal: {total * 1e3:.0f} ms "
        f"(read {read * 1e3:.0f} ms + extend/snapshot {(total - read) * 1e3:.0f} ms); "
        f"RiskEngine.restore(): {restored * 1e3:.0f} ms (target <= 1 s)"
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
