"""The batched crack-spread replay gives exactly the targets of one ``evaluate`` per decision."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from livedesk.backend.risk.attribution import DecisionRecord, replay
from livedesk.backend.risk.replay_signals import (
    CrackSpreadReplay,
    WindowBars,
    batch_z,
    crack_bars,
    crack_spread_flatten_inputs,
    crack_spread_inputs,
)

sig = pytest.importorskip("livedesk.backend.strategies.crack_signal")

WINDOW = 30
PSX = 4242
NLV = 250_000.0


def minute_bars(seed: int, n: int) -> pd.DataFrame:
    """One-minute closes of PSX ($), CL ($/bbl), HO and RB ($/gal), a correlated random walk."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.002, (n, 1))
    walk = np.exp(np.cumsum(common + rng.normal(0, 0.002, (n, 4)), axis=0))
    base = np.array([120.0, 70.0, 2.4, 2.2])
    index = pd.date_range("2026-11-20 14:30", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame(walk * base, columns=["psx", "cl", "ho", "rb"], index=index)


def recorded_sequence() -> list[dict]:
    """What crack-spread records, minute by minute, over ~600 bars: contiguous runs, a gap
    of 12 bars without decisions, a futures roll (CL/HO/RB history re-based to the next
    contract, so the windows after it share no rows with those before), a flatten before a
    close, live position and held quantity carried as live does."""
    raw = minute_bars(7, 640)
    rolled = raw.copy()
    rolled[["cl", "ho", "rb"]] *= np.array([1.013, 0.991, 1.022])  # the next contract's level
    need = sig.min_bars(WINDOW)
    records, position, held = [], 0, 0.0
    for t in range(need, len(raw)):
        if 300 <= t < 312:  # a gap: no decision for 12 minutes
            continue
        frame = (rolled if t >= 450 else raw).iloc[: t + 1]
        if t == 520:  # a flatten before the close
            records.append(crack_spread_flatten_inputs(PSX))
            position, held = 0, 0.0
            continue
        price = float(frame["psx"].iloc[-1])
        inputs = crack_spread_inputs(frame, position, 0.8, WINDOW, 0.1, NLV, price, PSX, held)
        records.append(inputs)
        live = sig.evaluate(frame, position, 0.8, WINDOW)  # what the live strategy did
        if live.target != position:
            position, held = live.target, float(round(live.target * 0.1 * NLV / price))
    return records


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return recorded_sequence()


def test_batched_z_is_evaluate_z_bit_for_bit(records) -> None:
    zs = batch_z(records)
    flat = [k for k, r in enumerate(records) if r.get("flatten")]
    assert flat and all(zs[k] is None for k in flat)
    assert sum(z is not None for z in zs) == len(records) - len(flat) > 400
    for inputs, z in zip(records, zs, strict=True):
        if z is None:
            continue
        one = sig.evaluate(WindowBars(crack_bars(inputs)), 0, 0.8, WINDOW).z
        assert z == one or (math.isnan(z) and math.isnan(one))


def test_batched_replay_targets_equal_per_decision_evaluate(records) -> None:
    per_decision = CrackSpreadReplay()
    expected = [per_decision(r) for r in records]  # no prepare: one evaluate per decision
    batched = CrackSpreadReplay()
    batched.prepare(records)
    calls = []
    batched.evaluate = lambda *a: calls.append(a) or sig.evaluate(*a)  # count fallbacks
    got = [batched(r) for r in records]
    assert got == expected
    assert not calls  # every signal decision came from the vectorised pass
    nonzero = {q for t in expected for q in t.values()}
    assert len(nonzero) >= 3  # long, short or flat: the sequence really trades
    # through the attribution's replay too: the same ideal trades
    decisions = [
        DecisionRecord(float(k), r, {PSX: 0.0}, {PSX: 100.0}, {PSX: 1.0})
        for k, r in enumerate(records)
    ]
    assert replay(per_decision, decisions) == replay(batched, decisions)


def test_prepare_only_batches_the_strategy_own_evaluate(records) -> None:
    seen = []

    def spy(bars, position, threshold, window):
        seen.append(window)
        return sig.evaluate(bars, position, threshold, window)

    other = CrackSpreadReplay(spy)
    other.prepare(records)
    [other(r) for r in records[:50]]
    assert len(seen) == sum(not r.get("flatten") for r in records[:50])


def test_units_mix_up_is_not_batched(records) -> None:
    bad = dict(records[5])
    arr = crack_bars(bad).copy()
    arr[:, 2] *= 42  # HO in $/bbl: evaluate refuses it
    bad["bars_f8"] = __import__("base64").b64encode(arr.tobytes()).decode("ascii")
    assert batch_z([bad]) == [None]
    replay_signal = CrackSpreadReplay()
    replay_signal.prepare([bad])
    with pytest.raises(sig.UnitsError):
        replay_signal(bad)
