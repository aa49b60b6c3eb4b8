"""Min/max downsampling of long series for sparklines, keeping every extreme visible.

Each bucket keeps the minimum and the maximum of its samples, so the deepest drawdown (the
global minimum) and the highest peak of the whole history always survive, however many
samples are folded into a terminal-width line. :class:`MinMaxDownsampler` is maintained
incrementally (amortised O(1) per sample): when it holds ``width`` buckets it merges them
pairwise and doubles the bucket size. NaN samples are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def downsample_minmax(values: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-bucket (min, max) of ``values`` split into ``buckets`` near-equal runs.

    Returns two arrays of length ``min(buckets, len(values))``; NaN is ignored (``np.fmin``).
    """
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size <= buckets:
        return arr.copy(), arr.copy()
    edges = (np.arange(buckets, dtype=np.int64) * arr.size) // buckets
    return np.fmin.reduceat(arr, edges), np.fmax.reduceat(arr, edges)


class MinMaxDownsampler:
    """Incremental min/max buckets: at most ``width`` buckets, each one (min, max) pair.

    :meth:`buckets` gives the per-bucket lows and highs (one column each of a sparkline of
    ``width`` cells — use the lows for a drawdown line); :meth:`values` gives the extremes
    in time order, at most ``2 * width`` points, for a line plot.
    """

    def __init__(self, width: int) -> None:
        if width < 2:
            raise ValueError("width must be at least 2")
        self.width = width
        self.bucket_size = 1
        self._n = 0  # samples accepted (NaN excluded)
        # Completed buckets: low, index of the low, high, index of the high.
        self._lo: list[float] = []
        self._lo_i: list[int] = []
        self._hi: list[float] = []
        self._hi_i: list[int] = []
        self._part: list[float] | None = None  # [lo, lo_i, hi, hi_i, count] of the open bucket

    def __len__(self) -> int:
        return self._n

    def append(self, x: float) -> None:
        """Add one sample. Amortised O(1)."""
        x = float(x)
        if x != x:
            return
        i = self._n
        self._n = i + 1
        part = self._part
        if part is None:
            part = self._part = [x, i, x, i, 0]
        elif x < part[0]:
            part[0], part[1] = x, i
        elif x > part[2]:
            part[2], part[3] = x, i
        part[4] += 1
        if part[4] == self.bucket_size:
            self._close_part()

    def extend(self, values: Iterable[float]) -> None:
        """Add many samples; vectorised over whole buckets."""
        arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), float)
        arr = arr.ravel()
        arr = arr[~np.isnan(arr)]
        i = 0
        while i < arr.size and self._part is not None:
            self.append(arr[i])
            i += 1
        remaining = arr.size - i
        while remaining and len(self._lo) + remaining / self.bucket_size > self.width:
            self._merge_pairs()
            if self._part is not None:  # an odd bucket was reopened: top it up first
                while i < arr.size and self._part is not None:
                    self.append(arr[i])
                    i += 1
                remaining = arr.size - i
        size = self.bucket_size
        k = remaining // size
        if k:
            block = arr[i : i + k * size].reshape(k, size)
            base = self._n + np.arange(k) * size
            lo_at = block.argmin(axis=1)
            hi_at = block.argmax(axis=1)
            rows = np.arange(k)
            self._lo += block[rows, lo_at].tolist()
            self._lo_i += (base + lo_at).tolist()
            self._hi += block[rows, hi_at].tolist()
            self._hi_i += (base + hi_at).tolist()
            self._n += k * size
            i += k * size
            if len(self._lo) >= self.width:
                self._merge_pairs()
        for x in arr[i:].tolist():
            self.append(x)

    def _close_part(self) -> None:
        lo, lo_i, hi, hi_i, _ = self._part
        self._part = None
        self._lo.append(lo)
        self._lo_i.append(int(lo_i))
        self._hi.append(hi)
        self._hi_i.append(int(hi_i))
        if len(self._lo) >= self.width:
            self._merge_pairs()

    def _merge_pairs(self) -> None:
        """Fold adjacent completed buckets together and double the bucket size."""
        lo, lo_i, hi, hi_i = self._lo, self._lo_i, self._hi, self._hi_i
        m = len(lo)
        new_lo, new_lo_i, new_hi, new_hi_i = [], [], [], []
        for j in range(0, m - 1, 2):
            a = j if lo[j] <= lo[j + 1] else j + 1
            b = j if hi[j] >= hi[j + 1] else j + 1
            new_lo.append(lo[a])
            new_lo_i.append(lo_i[a])
            new_hi.append(hi[b])
            new_hi_i.append(hi_i[b])
        if m % 2:  # merges happen with no open bucket: the odd last one reopens, half full
            self._part = [lo[-1], lo_i[-1], hi[-1], hi_i[-1], self.bucket_size]
        self._lo, self._lo_i, self._hi, self._hi_i = new_lo, new_lo_i, new_hi, new_hi_i
        self.bucket_size *= 2

    def buckets(self) -> tuple[list[float], list[float]]:
        """Lows and highs per bucket, oldest first (at most ``width`` each)."""
        lows, highs = list(self._lo), list(self._hi)
        if self._part is not None:
            lows.append(self._part[0])
            highs.append(self._part[2])
        return lows, highs

    def values(self) -> list[float]:
        """Each bucket's low and high in the order they occurred (at most ``2 * width``)."""
        out: list[float] = []
        rows = list(zip(self._lo, self._lo_i, self._hi, self._hi_i, strict=True))
        if self._part is not None:
            rows.append(tuple(self._part[:4]))
        for lo, lo_i, hi, hi_i in rows:
            if lo_i == hi_i:
                out.append(lo)
            elif lo_i < hi_i:
                out += (lo, hi)
            else:
                out += (hi, lo)
        return out

    def minimum(self) -> float:
        """Lowest sample seen (NaN when empty)."""
        lows, _ = self.buckets()
        return min(lows) if lows else math.nan
