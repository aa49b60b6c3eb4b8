"""Pure signal code of ``crack-spread`` (DataFrame in, numbers out), shared by live and backtest.

Units. NYMEX quotes CL (crude) in $/bbl but HO (ULSD) and RB (RBOB gasoline) in $/gal, and
one barrel is 42 gallons. The 3-2-1 crack (3 bbl crude → 2 bbl gasoline + 1 bbl distillate)
per barrel of crude is therefore::

    crack = (2 * RB * 42 + HO * 42 - 3 * CL) / 3      # $/bbl

The seed's ``HO + 2 * RB - 3 * CL`` adds $/gal to $/bbl: it is dominated by ``-3 * CL`` and
tracks crude, not the refining margin. :func:`crack_321` checks the units (a gallon price is
a few dollars, a barrel price tens) and refuses a mix-up.

Signal (window ``w`` = 60 bars by default): rolling percentile ranks of the crack and of PSX
over the last ``w`` bars (average rank of ties, divided by w — pandas'
``rolling(w).rank(pct=True)``, computed with numpy sliding windows); their
difference ``d = rank(PSX) - rank(crack)``; its z-score over the last ``w`` values of ``d``
(sample standard deviation). A low z means PSX is cheap against the crack.

Position rule: a position is entered **only from flat** — long PSX when z <= -threshold, short
when z >= +threshold; a long exits when z rises to 0 or above, a short when z falls to 0 or
below; otherwise the position is held. A short is never flipped to a long in one step (nor a
long to a short): z = -2.5 while short exits to flat, and a new long needs a later z <= -threshold
while flat. E.g. z = 0, 2.5, 1, -2.5, -1 with threshold 2 gives 0, -1, -1, 0, 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

GALLONS_PER_BARREL = 42.0
COLUMNS = ("psx", "cl", "ho", "rb")


UNIT_RANGES = (("CL ($/bbl)", 5.0, 500.0), ("HO ($/gal)", 0.1, 15.0), ("RB ($/gal)", 0.1, 15.0))
"""The range the median of CL, HO and RB must lie in (:func:`crack_321`'s units check)."""


class UnitsError(ValueError):
    """Prices in the wrong units (a $/gal series where $/bbl is expected, or the reverse)."""


def crack_321(cl, ho, rb):
    """The 3-2-1 crack in $/bbl from CL ($/bbl), HO and RB ($/gal); arrays or scalars."""
    cl_a, ho_a, rb_a = (np.asarray(x, dtype=float) for x in (cl, ho, rb))
    for (label, lo, hi), arr in zip(UNIT_RANGES, (cl_a, ho_a, rb_a), strict=True):
        finite = arr[np.isfinite(arr)]
        if finite.size and not lo <= float(np.median(finite)) <= hi:
            raise UnitsError(
                f"{label} median {float(np.median(finite)):.4g} is outside {lo:g}..{hi:g}: "
                "HO and RB must be in $/gal and CL in $/bbl"
            )
    out = (2 * rb_a * GALLONS_PER_BARREL + ho_a * GALLONS_PER_BARREL - 3 * cl_a) / 3
    if isinstance(cl, pd.Series):
        return pd.Series(out, index=cl.index, name="crack")
    return out if out.ndim else float(out)


def _windows(x: np.ndarray, window: int, rows: np.ndarray | None) -> np.ndarray:
    """The ``window``-value windows ending at ``rows`` (indices of ``x``, each at least
    ``window - 1``), or at every row from ``window - 1`` on when ``rows`` is None."""
    win = np.lib.stride_tricks.sliding_window_view(x, window)
    return win if rows is None else win[rows - (window - 1)]


def rolling_pct_rank(x: np.ndarray, window: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Rank of each value among the last ``window`` values, divided by ``window``.

    Ties get their average rank (pandas' ``rolling(window).rank(pct=True)``); NaN for the
    first ``window - 1`` rows and for windows holding a NaN. ``rows`` (indices, each at
    least ``window - 1``): rank only those rows, NaN elsewhere; each is the same number.
    """
    x = np.asarray(x, dtype=float)
    out = np.full(len(x), np.nan)
    if len(x) < window:
        return out
    win = _windows(x, window, rows)
    last = win[:, -1:]
    less = (win < last).sum(axis=1)
    equal = (win == last).sum(axis=1)  # includes the value itself
    ranks = (less + (equal + 1) / 2) / window
    ranks[np.isnan(win).any(axis=1)] = np.nan
    out[slice(window - 1, None) if rows is None else rows] = ranks
    return out


def rolling_z(x: np.ndarray, window: int, rows: np.ndarray | None = None) -> np.ndarray:
    """``(x - mean) / std`` over the last ``window`` values (sample std; NaN when std is 0).
    ``rows`` as in :func:`rolling_pct_rank`."""
    x = np.asarray(x, dtype=float)
    out = np.full(len(x), np.nan)
    if len(x) < window:
        return out
    win = _windows(x, window, rows)
    mean = win.mean(axis=1)
    std = win.std(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(std > 1e-12, (win[:, -1] - mean) / std, np.nan)
    out[slice(window - 1, None) if rows is None else rows] = z
    return out


def signal_arrays(psx, cl, ho, rb, window: int = 60) -> dict[str, np.ndarray]:
    """Crack, ranks, difference and z-score for every row (numpy arrays in, arrays out)."""
    crack = np.asarray(crack_321(cl, ho, rb), dtype=float)
    rank_crack = rolling_pct_rank(crack, window)
    rank_psx = rolling_pct_rank(np.asarray(psx, dtype=float), window)
    diff = rank_psx - rank_crack
    return {
        "crack": crack,
        "rank_crack": rank_crack,
        "rank_psx": rank_psx,
        "diff": diff,
        "z": rolling_z(diff, window),
    }


def signal_z(psx, cl, ho, rb, rows: np.ndarray, window: int = 60) -> np.ndarray:
    """:func:`signal_arrays`' z-score at ``rows`` only (indices, each at least
    ``2 * window - 2``): the ranks of the ``window`` rows each needs, then its z — the
    same functions on the same windows, so the same numbers, without the rows between."""
    rows = np.asarray(rows, dtype=np.intp)
    mask = np.zeros(len(psx), dtype=bool)
    mask[rows[:, None] - np.arange(window)[None, :]] = True
    need = None if mask[window - 1 :].all() else np.flatnonzero(mask)  # None: every row
    crack = np.asarray(crack_321(cl, ho, rb), dtype=float)
    diff = rolling_pct_rank(np.asarray(psx, dtype=float), window, need) - rolling_pct_rank(
        crack, window, need
    )
    return rolling_z(diff, window, rows)[rows]


def signal_frame(bars: pd.DataFrame, window: int = 60) -> pd.DataFrame:
    """:func:`signal_arrays` of a ``psx, cl, ho, rb`` close frame, as a frame on its index."""
    cols = [bars[c].to_numpy(dtype=float) for c in COLUMNS]
    return pd.DataFrame(signal_arrays(*cols, window=window), index=bars.index)


def min_bars(window: int) -> int:
    """Rows needed for one z-score: ``window`` ranks, then ``window`` of their differences."""
    return 2 * window - 1


def next_position(z: float, position: int, threshold: float) -> int:
    """The position sign (-1, 0, +1) after seeing ``z`` while holding ``position`` (the
    module's rule: enter only from flat, exit when z crosses zero, never flip)."""
    if not math.isfinite(z):
        return position
    if position > 0:
        return 0 if z >= 0 else position
    if position < 0:
        return 0 if z <= 0 else position
    if z <= -threshold:
        return 1
    if z >= threshold:
        return -1
    return 0


@dataclass(frozen=True)
class CrackSignal:
    """The last row's signal values and the position they call for."""

    crack: float
    rank_crack: float
    rank_psx: float
    diff: float
    z: float
    target: int
    bar_time: pd.Timestamp

    def values(self) -> dict[str, float]:
        """The numbers for the decision record."""
        return {
            "crack": self.crack,
            "rank_crack": self.rank_crack,
            "rank_psx": self.rank_psx,
            "diff": self.diff,
            "z": self.z,
            "target_sign": float(self.target),
        }


def check_window(bars: pd.DataFrame, window: int) -> str | None:
    """Why the last ``min_bars(window)`` rows cannot be used (None when they can)."""
    need = min_bars(window)
    missing = [c for c in COLUMNS if c not in bars.columns]
    if missing:
        return f"no bars for {', '.join(missing)}"
    if len(bars) < need:
        return f"only {len(bars)} aligned bars, {need} needed"
    tail = {c: bars[c].to_numpy(dtype=float)[-need:] for c in COLUMNS}
    bad = [c for c, v in tail.items() if not np.isfinite(v).all()]
    if bad:
        return f"NaN or missing prices in the window for {', '.join(bad)}"
    nonpos = [c for c, v in tail.items() if (v <= 0).any()]
    if nonpos:
        return f"non-positive prices in the window for {', '.join(nonpos)}"
    return None


def evaluate(bars: pd.DataFrame, position: int, threshold: float, window: int = 60) -> CrackSignal:
    """The signal on the last row of ``bars`` (call :func:`check_window` first)."""
    need = min_bars(window)
    cols = [bars[c].to_numpy(dtype=float)[-need:] for c in COLUMNS]
    sig = {k: float(v[-1]) for k, v in signal_arrays(*cols, window=window).items()}
    return CrackSignal(
        sig["crack"],
        sig["rank_crack"],
        sig["rank_psx"],
        sig["diff"],
        sig["z"],
        next_position(sig["z"], position, threshold),
        bars.index[-1],
    )


def positions_over(signals: pd.Series, threshold: float, start: int = 0) -> np.ndarray:
    """The position sign after each z of ``signals`` (bar-by-bar replay of :func:`next_position`)."""
    out = np.zeros(len(signals), dtype=np.int64)
    pos = start
    for i, z in enumerate(signals.to_numpy(dtype=float)):
        pos = next_position(z, pos, threshold)
        out[i] = pos
    return out
