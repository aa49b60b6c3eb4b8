"""The replay calls the strategies' own signal code: crack-spread's ``evaluate``, same object."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from livedesk.backend.risk.attribution import DecisionRecord, replay
from livedesk.backend.risk.replay_signals import (
    CrackSpreadReplay,
    crack_bars,
    crack_spread_inputs,
)
from livedesk.backend.trading.orders import percent_to_value, value_to_quantity

sig = pytest.importorskip("livedesk.backend.strategies.crack_signal")
crack_spread = pytest.importorskip("livedesk.backend.strategies.crack_spread")

WINDOW = 20
PSX = 4242


def bars(seed: int, n: int = 3 * WINDOW) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    walk = np.exp(np.cumsum(rng.normal(0, 0.004, (n, 4)), axis=0))
    base = np.array([120.0, 70.0, 2.4, 2.2])  # PSX $, CL $/bbl, HO and RB $/gal
    index = pd.date_range("2026-11-20 14:30", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame(walk * base, columns=["psx", "cl", "ho", "rb"], index=index)


def test_crack_replay_is_the_strategy_own_evaluate_and_sizes_like_live() -> None:
    replay_signal = CrackSpreadReplay()
    assert replay_signal.evaluate is sig.evaluate is crack_spread.sig.evaluate
    decisions = []
    live_targets = []
    position, held = 0, 0.0
    for k in range(8):
        frame = bars(k)
        live = sig.evaluate(frame, position, 0.5, WINDOW)  # what the strategy computes live
        price, nlv = float(frame["psx"].iloc[-1]), 1_000_000.0
        if live.target == position:
            qty = held  # a hold: live does not re-size
        else:
            qty = float(value_to_quantity(percent_to_value(live.target * 0.1, nlv), price))
        live_targets.append({PSX: qty})
        inputs = crack_spread_inputs(frame, position, 0.5, WINDOW, 0.1, nlv, price, PSX, held)
        decisions.append(DecisionRecord(float(k), inputs, {PSX: qty}, {PSX: price}))
        # the recorded window is the signal's exactly (float64, the last 2·window − 1 rows)
        np.testing.assert_array_equal(crack_bars(inputs), frame.tail(2 * WINDOW - 1).to_numpy())
        position, held = live.target, qty
    assert len({q[PSX] for q in live_targets}) > 1  # the case trades
    assert [replay_signal(d.inputs) for d in decisions] == live_targets
    # Through the replay: the ideal path ends at the last live target.
    trades = replay(replay_signal, decisions)
    assert sum(t.qty for t in trades) == pytest.approx(live_targets[-1][PSX])
    assert all(t.price == decisions[int(t.t)].mids[PSX] for t in trades)
    flat = {"flatten": True, "con_id": PSX}
    assert replay_signal(flat) == {PSX: 0.0}
