"""``BarData`` for a live algorithm: ``current``, ``history``, ``can_trade``, ``is_stale``.

Bars come from the broker (``reqHistoricalData`` through the context's pacing): daily bars
are fetched once per decision (the last one is the session in progress, or complete after
the close — what zipline's daily ``handle_data`` sees); minute bars come from one
``keepUpToDate`` feed per asset, read from memory on every bar (no request), the minute in
progress left out. Calls come from the algorithm's worker thread and are bridged to the
event loop (``feed`` is an :class:`~livedesk.backend.algo.adapter.LiveAlgorithm`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

FIELDS = ("open", "high", "low", "close", "volume")
DAILY, MINUTE = "1d", "1m"


def _many(x: Any) -> bool:
    return isinstance(x, Iterable) and not isinstance(x, str) and not hasattr(x, "sid")


def _epoch(d) -> float:
    import datetime as dt

    if isinstance(d, dt.datetime):
        return (d if d.tzinfo else d.replace(tzinfo=dt.UTC)).timestamp()
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()


def bar_frame(bars, drop_after: float | None = None) -> pd.DataFrame:
    """OHLCV frame of ib_async bars, UTC index; bars starting after ``drop_after`` left out."""
    n = len(bars)
    times = np.fromiter((_epoch(b.date) for b in bars), dtype=float, count=n)
    arr = np.array(
        [(b.open, b.high, b.low, b.close, float(b.volume)) for b in bars], dtype=float
    ).reshape(-1, 5)
    if drop_after is not None:
        keep = times <= drop_after
        times, arr = times[keep], arr[keep]
    nanos = np.round(times * 1e9).astype("int64").view("M8[ns]")
    index = pd.DatetimeIndex(nanos).tz_localize("UTC")
    return pd.DataFrame(arr, index=index, columns=list(FIELDS))


def values_of(frame: pd.DataFrame, field: str) -> np.ndarray:
    """One field of a bar frame as an array (``price``: the close, forward-filled)."""
    name = "close" if field == "price" else field
    if name not in FIELDS:
        raise ValueError(f"unknown field {field!r}")
    col = frame.to_numpy()[:, FIELDS.index(name)]
    if field == "price":
        ok = ~np.isnan(col)
        if not ok.all():
            last = np.maximum.accumulate(np.where(ok, np.arange(len(col)), 0))
            col = np.where(ok[last], col[last], np.nan)
    return col


class LiveBarData:
    """The ``data`` argument of ``handle_data`` and scheduled functions."""

    def __init__(self, feed, frequency: str) -> None:
        self._feed = feed
        self._freq = DAILY if frequency == "daily" else MINUTE

    # ---- zipline's API ------------------------------------------------------------
    def current(self, assets, fields):
        """Latest value(s): ``price`` (close, forward-filled), ``open/high/low/close/volume``,
        ``last_traded`` — scalar, Series or DataFrame as zipline returns them."""
        many_a, many_f = _many(assets), _many(fields)
        alist = list(assets) if many_a else [assets]
        flist = list(fields) if many_f else [fields]
        table = {a: self._latest(a) for a in alist}
        values = {f: [self._field(table[a], f) for a in alist] for f in flist}
        if not many_a and not many_f:
            return values[flist[0]][0]
        if many_a and not many_f:
            return pd.Series(values[flist[0]], index=alist, name=flist[0])
        if not many_a:
            return pd.Series({f: values[f][0] for f in flist}, name=alist[0])
        return pd.DataFrame(values, index=alist)

    def history(self, assets, fields, bar_count: int, frequency: str):
        """The last ``bar_count`` bars (``"1d"`` or ``"1m"``), zipline's shapes."""
        if frequency not in (DAILY, MINUTE):
            raise ValueError(f"history frequency must be '1d' or '1m', got {frequency!r}")
        if bar_count < 1:
            raise ValueError("bar_count must be >= 1")
        many_a, many_f = _many(assets), _many(fields)
        alist = list(assets) if many_a else [assets]
        flist = list(fields) if many_f else [fields]
        frames = {a: self._feed.history_frame(a, frequency, bar_count) for a in alist}

        def column(frame: pd.DataFrame, f: str) -> pd.Series:
            if f == "price":
                return frame["close"].ffill()
            if f not in FIELDS:
                raise ValueError(f"unknown field {f!r}")
            return frame[f]

        if not many_a and not many_f:
            return column(frames[alist[0]], flist[0]).rename(alist[0])
        if many_a and not many_f:
            first = frames[alist[0]].index
            if all(frames[a].index.equals(first) for a in alist):  # the hot path: numpy only
                values = np.column_stack([values_of(frames[a], flist[0]) for a in alist])
                return pd.DataFrame(values, index=first, columns=alist)
            cols = [column(frames[a], flist[0]) for a in alist]
            return pd.DataFrame(dict(zip(alist, cols, strict=True)))
        if not many_a:
            return pd.DataFrame({f: column(frames[alist[0]], f) for f in flist})
        parts = {a: pd.DataFrame({f: column(frames[a], f) for f in flist}) for a in alist}
        return pd.concat(parts, names=["asset", "date"]).swaplevel().sort_index()

    def can_trade(self, assets):
        """Alive in the bundle on this session, a contract at the broker and a price."""
        if _many(assets):
            return pd.Series({a: self._can_trade(a) for a in assets})
        return self._can_trade(assets)

    def is_stale(self, assets):
        """Alive but no trade in the latest bar (volume 0, or no bar for over one period)."""
        if _many(assets):
            return pd.Series({a: self._is_stale(a) for a in assets})
        return self._is_stale(assets)

    # ---- helpers --------------------------------------------------------------------
    def _latest(self, asset) -> tuple[pd.Timestamp | None, dict[str, float]]:
        frame = self._feed.history_frame(asset, self._freq, 1)
        if frame.empty:
            return None, {}
        row = frame.to_numpy()[-1]
        return frame.index[-1], dict(zip(FIELDS, row.tolist(), strict=True))

    @staticmethod
    def _field(latest: tuple[pd.Timestamp | None, dict[str, float]], f: str):
        when, row = latest
        if f == "last_traded":
            return when if when is not None else pd.NaT
        if f == "price":
            return row.get("close", math.nan)
        if f not in FIELDS:
            raise ValueError(f"unknown field {f!r}")
        return row.get(f, math.nan)

    def _can_trade(self, asset) -> bool:
        if not self._feed.alive(asset):
            return False
        when, row = self._latest(asset)
        return when is not None and math.isfinite(row.get("close", math.nan))

    def _is_stale(self, asset) -> bool:
        if not self._feed.alive(asset):
            return False
        when, row = self._latest(asset)
        if when is None:
            return True
        return row.get("volume", 0.0) <= 0 or self._feed.bar_age(when, self._freq) > 1
