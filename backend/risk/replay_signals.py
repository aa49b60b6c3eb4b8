"""The strategies' own signal code, wrapped for the attribution replay (inputs → conId targets).

A live strategy journals, with each decision, the inputs its pure signal function saw
(:func:`livedesk.backend.risk.attribution_source.replay_record`); the replay calls the very
same function object on them and sizes its answer exactly as live does
(``order_target_percent``: percent of NetLiquidation → whole shares at the decision's price).

* ``crack-spread`` — :func:`livedesk.backend.strategies.crack_signal.evaluate` on the bars
  (PSX, CL, HO, RB; the last ``2·window − 1`` aligned rows), the live position sign, the
  threshold and window; a new side is ``signal × weight`` of NLV in PSX, a hold keeps the
  quantity held (live does not re-size a held position), a flatten before the close is 0.

* ``monthly-factor`` — its Pipeline (zipline) is not re-run: the decision records the
  rebalance plan's targets (conId → quantity over the strategy's whole book), the plan's
  prices and the picks' scores and weights (:func:`rebalance_replay`), and the replay
  reaches those recorded targets.

Strategy modules are imported only when a replay needs them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from livedesk.backend.trading.orders import percent_to_value, value_to_quantity

CRACK_COLUMNS = ("psx", "cl", "ho", "rb")


def crack_spread_inputs(
    bars,
    position: int,
    threshold: float,
    window: int,
    weight: float,
    nlv: float,
    price: float,
    con_id: int,
    held: float = 0.0,
) -> dict[str, Any]:
    """What ``crack-spread`` records for its replay: the signal's window of bars and sizing."""
    rows = bars[list(CRACK_COLUMNS)].tail(2 * window - 1)
    data = np.ascontiguousarray(rows.to_numpy(dtype=np.float64), dtype="<f8")
    return {
        # float64 rows × (psx, cl, ho, rb), base64: exact, and ~100× faster to read back than
        # a JSON list of lists (the journal holds one of these per decision)
        "bars_f8": base64.b64encode(data.tobytes()).decode("ascii"),
        "rows": int(data.shape[0]),
        "last_bar": str(rows.index[-1]) if len(rows) else None,
        "position": int(position),
        "held": float(held),
        "threshold": float(threshold),
        "window": int(window),
        "weight": float(weight),
        "nlv": float(nlv),
        "price": float(price),
        "con_id": int(con_id),
    }


def crack_spread_flatten_inputs(con_id: int) -> dict[str, Any]:
    """The replay inputs of a flatten before the close (no signal: the target is 0)."""
    return {"flatten": True, "con_id": int(con_id)}


def crack_bars(inputs: Mapping[str, Any]) -> np.ndarray:
    """The recorded bars of a crack-spread decision as a (rows, 4) float64 array."""
    raw = base64.b64decode(inputs["bars_f8"])
    return np.frombuffer(raw, dtype="<f8").reshape(int(inputs["rows"]), len(CRACK_COLUMNS))


class _Column:
    """One recorded column, answering ``to_numpy`` like a pandas Series."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def to_numpy(self, dtype=float) -> np.ndarray:
        return self.values.astype(dtype, copy=False)


class WindowBars:
    """A recorded bar window offering what ``crack_signal.evaluate`` reads of a frame:
    ``bars[column].to_numpy(dtype=float)``, ``bars.columns`` and ``bars.index[-1]``."""

    def __init__(self, arr: np.ndarray, last_bar: str | None = None) -> None:
        self.arr = arr
        self.columns = CRACK_COLUMNS
        self.index = (*([None] * (len(arr) - 1)), last_bar) if len(arr) else ()

    def __len__(self) -> int:
        return len(self.arr)

    def __getitem__(self, column: str) -> _Column:
        return _Column(self.arr[:, CRACK_COLUMNS.index(column)])


BATCH_ROWS = 20_000
"""Rows of stitched bars per vectorised pass of :func:`batch_z` (bounds its memory)."""


def batch_z(records: Sequence[Mapping[str, Any]]) -> list[float | None]:
    """The z-score ``evaluate`` computes on each record's window, in vectorised passes.

    The recorded windows are stitched into one series (a window whose first rows are the
    previous window's last rows, bit for bit, adds only its last bar; any other window is
    appended whole), and crack_signal's own :func:`signal_z` (the z of :func:`signal_arrays`,
    at the windows' last rows only) runs over it once per chunk.
    A row's rank uses its last ``window`` rows and its z the last ``window`` differences, so
    the value at a window's last row depends on that window's ``2·window − 1`` rows only: it
    is the number ``evaluate`` computes, by the same code. None where a record cannot be
    batched (a flatten, another shape, or prices that could trip the units check or are not
    finite): the caller evaluates those one by one.
    """
    from livedesk.backend.strategies import crack_signal as cs

    out: list[float | None] = [None] * len(records)
    parts: list[np.ndarray] = []
    ends: list[tuple[int, int]] = []  # (record index, row of its window's last bar)
    state = {"rows": 0, "window": None, "prev": None}

    def flush() -> None:
        if parts:
            bars = np.concatenate(parts)
            ok = np.isfinite(bars).all()
            for (_, lo, hi), col in zip(cs.UNIT_RANGES, bars[:, 1:].T, strict=True):
                ok = ok and lo <= float(col.min()) and float(col.max()) <= hi
            if ok:  # no window's median can leave the units range: no window would raise
                rows = np.array([row for _, row in ends])
                z = cs.signal_z(*bars.T, rows=rows, window=state["window"])
                for (k, _), value in zip(ends, z.tolist(), strict=True):
                    out[k] = value
        parts.clear()
        ends.clear()
        state.update(rows=0, prev=None)

    for k, inputs in enumerate(records):
        if inputs.get("flatten") or "bars_f8" not in inputs:
            continue
        window = int(inputs["window"])
        arr = crack_bars(inputs)
        if len(arr) != cs.min_bars(window) or arr.shape[1] != len(cs.COLUMNS):
            continue
        if window != state["window"] or state["rows"] >= BATCH_ROWS:
            flush()
            state["window"] = window
        prev = state["prev"]
        if prev is not None and arr[:-1].tobytes() == prev[1:].tobytes():
            parts.append(arr[-1:])  # the next one-minute bar of a contiguous run
        else:
            parts.append(arr)
        state["rows"] += len(parts[-1])
        state["prev"] = arr
        ends.append((k, state["rows"] - 1))
    flush()
    return out


class CrackSpreadReplay:
    """Recorded crack-spread inputs → PSX target quantity, through the strategy's ``evaluate``."""

    def __init__(self, evaluate: Callable | None = None) -> None:
        if evaluate is None:
            from livedesk.backend.strategies.crack_signal import evaluate
        self.evaluate = evaluate
        self._z: dict[int, tuple[Mapping[str, Any], float]] = {}

    def prepare(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Compute the z-scores of ``records`` (decision inputs, in time order) in vectorised
        passes (:func:`batch_z`), for the calls that follow; ``prepare(())`` forgets them.

        Only when the replay wraps crack_signal's own ``evaluate``: the batch runs the very
        functions it is built from (``signal_arrays``, ``next_position``), so the targets are
        those of one ``evaluate`` per decision, exactly. Another ``evaluate`` is always called.
        """
        from livedesk.backend.strategies import crack_signal

        self._z = {}
        if self.evaluate is not crack_signal.evaluate or not records:
            return
        for inputs, z in zip(records, batch_z(records), strict=True):
            if z is not None:
                self._z[id(inputs)] = (inputs, z)  # holding the inputs keeps the id unique

    def target_sign(self, inputs: Mapping[str, Any]) -> int:
        """The position sign crack-spread's signal calls for on a decision's recorded inputs."""
        import pandas as pd

        from livedesk.backend.strategies.crack_signal import next_position

        hit = self._z.get(id(inputs))
        if hit is not None and hit[0] is inputs:
            return next_position(hit[1], int(inputs["position"]), float(inputs["threshold"]))
        arr = crack_bars(inputs)
        args = (inputs["position"], inputs["threshold"], inputs["window"])
        try:  # the columns ``evaluate`` reads, without building a DataFrame (~3× faster)
            return self.evaluate(WindowBars(arr, inputs.get("last_bar")), *args).target
        except (AttributeError, TypeError, KeyError):  # it wants more of a DataFrame
            return self.evaluate(pd.DataFrame(arr, columns=list(CRACK_COLUMNS)), *args).target

    def __call__(self, inputs: Mapping[str, Any]) -> dict[int, float]:
        con_id = int(inputs["con_id"])
        if inputs.get("flatten"):
            return {con_id: 0.0}
        target = self.target_sign(inputs)
        if target == inputs["position"] and inputs.get("held") is not None:
            return {con_id: float(inputs["held"])}  # a hold: live keeps what it holds
        value = percent_to_value(target * inputs["weight"], inputs["nlv"])
        return {con_id: float(value_to_quantity(value, inputs["price"]))}


def rebalance_replay(plan, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The replay record of a rebalance: every leg's target quantity and planned price."""
    from livedesk.backend.risk.attribution_source import replay_record

    legs = [*plan.orders, *plan.unchanged]
    targets, mids, mults = {}, {}, {}
    for leg in legs:
        p = leg.plan
        target = p.target if p.target is not None else (p.current or 0.0) + p.delta
        targets[int(leg.key)] = float(target)
        mids[int(leg.key)] = float(p.price)
        mults[int(leg.key)] = float(p.multiplier)
    return replay_record(dict(inputs) | {"nlv": float(plan.nlv)}, targets, mids, mults)


def strategy_signals() -> dict[str, Callable]:
    """Replay signals of the strategies whose code is installed, by strategy name."""
    out: dict[str, Callable] = {}
    try:
        out["crack-spread"] = CrackSpreadReplay()
    except ImportError:  # the strategy runtime is not installed
        pass
    return out
