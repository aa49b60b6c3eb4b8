"""Min/max downsampling keeps the extremes (the drawdown trough) of long series."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livedesk.backend.risk.downsample import MinMaxDownsampler, downsample_minmax


def expected_buckets(x: np.ndarray, size: int) -> tuple[list[float], list[float]]:
    """Independent reference: consecutive runs of ``size`` samples, the last one partial."""
    runs = [x[i : i + size] for i in range(0, x.size, size)]
    return [float(r.min()) for r in runs], [float(r.max()) for r in runs]


def time_ordered(x: np.ndarray, size: int) -> list[float]:
    out = []
    for i in range(0, x.size, size):
        run = x[i : i + size]
        lo, hi = int(run.argmin()), int(run.argmax())
        out += [run[lo]] if lo == hi else [run[min(lo, hi)], run[max(lo, hi)]]
    return [float(v) for v in out]


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 3000),
    width=st.integers(2, 64),
    chunks=st.lists(st.integers(1, 900), max_size=8),
    seed=st.integers(0, 2**16),
)
def test_incremental_buckets_equal_reference(n, width, chunks, seed):
    x = np.cumsum(np.random.default_rng(seed).normal(size=n))
    d = MinMaxDownsampler(width)
    done = 0
    for c in chunks:  # a mix of bulk extends and single appends
        d.extend(x[done : done + c])
        done = min(n, done + c)
        if done < n:
            d.append(x[done])
            done += 1
    d.extend(x[done:])
    assert len(d) == n
    lows, highs = d.buckets()
    assert len(lows) <= width and len(d.values()) <= 2 * width
    want_lo, want_hi = expected_buckets(x, d.bucket_size)
    assert (lows, highs) == (want_lo, want_hi)
    assert d.values() == time_ordered(x, d.bucket_size)


def test_million_points_keep_the_trough():
    rng = np.random.default_rng(0)
    equity = np.cumprod(1 + rng.normal(0, 0.001, 1_000_000))
    equity[777_777] *= 0.5  # a one-sample crash must stay visible
    lo, hi = downsample_minmax(equity, 200)
    assert lo.size == hi.size == 200
    assert lo.min() == equity.min() and hi.max() == equity.max()
    d = MinMaxDownsampler(200)
    d.extend(equity[:500_000])
    for v in equity[500_000:600_000]:
        d.append(v)
    d.extend(equity[600_000:])
    assert d.minimum() == equity.min() and min(d.values()) == equity.min()


def test_vectorised_buckets_match_reference_and_ignore_nan():
    x = np.arange(10, dtype=float)
    x[3] = np.nan
    lo, hi = downsample_minmax(x, 3)  # runs [0:3], [3:6], [6:10]
    np.testing.assert_array_equal(lo, [0, 4, 6])
    np.testing.assert_array_equal(hi, [2, 5, 9])
    short_lo, short_hi = downsample_minmax([1.0, 2.0], 5)
    assert list(short_lo) == list(short_hi) == [1.0, 2.0]
    with pytest.raises(ValueError):
        downsample_minmax(x, 0)


def test_nan_ignored_and_empty():
    d = MinMaxDownsampler(4)
    assert d.buckets() == ([], []) and d.values() == [] and np.isnan(d.minimum())
    d.extend([1.0, np.nan, 3.0])
    assert len(d) == 2 and d.values() == [1.0, 3.0]
    with pytest.raises(ValueError):
        MinMaxDownsampler(1)
