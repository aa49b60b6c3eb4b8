"""Parity: crack-spread live on the simulated gateway and its backtest over the same sessions
make the same decisions (same target at the same bar end); the fills differ from the mid only
by the gateway's modelled costs.

The live run is stepped by hand (speed 0): decisions every 5 minutes over two whole sessions
(the flatten before the close and the overnight roll included). The backtest replays the
gateway's own 1-minute history of the same minutes, read after the fact.
"""

from __future__ import annotations

import pytest

from livedesk.backend.sim.gateway import SimGateway
from tests.parity_harness import run_parity


async def test_crack_spread_live_and_backtest_decide_the_same_over_two_sessions(
    ib_log_guard,
) -> None:
    from livedesk.backend.sim.market.model import MarketModel
    from tests.conftest import TEST_SESSION

    market = MarketModel(seed=7, session=TEST_SESSION)  # its own: the run rolls it overnight
    gw = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=market.session_open() + 60,
        tick_interval=60.0,  # no free-running pulses: the test steps the clock
        account_interval=0.1,
    )
    await gw.start()
    try:
        run = await run_parity(gw, sessions=2)
    finally:
        await gw.stop()
    assert run.sessions == 2
    # 2 sessions × (78 five-minute decision times − the first, which lacks no bar) decided live
    assert len(run.live) >= 2 * 70, len(run.live)
    assert run.live.keys() == run.backtest.keys()
    diff = {t: (run.live[t], run.backtest[t]) for t in run.live if run.live[t] != run.backtest[t]}
    assert diff == {}, f"{len(diff)} of {len(run.live)} decisions differ: {list(diff.items())[:5]}"
    assert any(run.live.values()), "no position taken: the parity is trivial"
    # fills differ from the backtest's only by the modelled costs: each live fill is exactly
    # the gateway's cost model (touch + square-root impact, rounded against the trader)
    assert run.fills
    for _, price, expected in run.fills:
        assert price == pytest.approx(expected, abs=1e-9)
