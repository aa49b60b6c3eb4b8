"""Live-vs-backtest parity harness for crack-spread on the simulated gateway.

Drives the live strategy through whole sessions on a gateway whose clock is stepped by hand
(speed 0) or runs by itself (``--speed``), deciding at each scheduled time, then replays the
gateway's own 1-minute history of the same minutes through the backtest's
:func:`~livedesk.backend.strategies.backtest_crack.decisions_over`. Used by
tests/test_parity.py and benchmarks/attribution.py.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import pandas as pd

from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.strategies import GatewayClock, StrategyController, create_strategy
from livedesk.backend.strategies.backtest_crack import decisions_over
from livedesk.backend.trading.app import TradingApp

PARAMS = {"threshold": 1.0, "window": 20, "interval": 300.0, "weight": 0.02, "history": "2 D"}


@dataclass
class ParityRun:
    """Live decisions (time → target sign) and the backtest's at the same bar ends."""

    live: dict[float, int] = field(default_factory=dict)
    live_z: dict[float, float] = field(default_factory=dict)
    live_held: dict[float, int] = field(default_factory=dict)
    backtest_z: dict[float, float] = field(default_factory=dict)
    backtest: dict[float, int] = field(default_factory=dict)
    fills: list[tuple[float, float, float]] = field(default_factory=list)
    """(time, price, the modelled price) of every live fill (stepped runs)."""
    sessions: int = 0


def modelled(gw: SimGateway, fe) -> float:
    """The price the gateway's cost model gives this market fill, by hand: the touch on its
    side moved by ``impact_bps · sqrt(qty / displayed size)``, rounded against the trader."""
    from livedesk.backend.sim.broker.matching import round_against

    side = 1 if fe.execution.side == "BOT" else -1
    at = fe.execution.time.timestamp()  # the gateway's clock, to the second
    touch = gw.broker.touch(gw.broker.instrument(fe.contract.conId), at)
    base, size = (touch.ask, touch.ask_size) if side > 0 else (touch.bid, touch.bid_size)
    impact = gw.broker.engine.impact_bps * 1e-4 * math.sqrt(fe.execution.shares / max(size, 1))
    return round_against(base * (1 + side * impact), touch.tick, side)


def sign_of(d) -> int:
    w = d.targets.get("PSX", 0.0)
    return (w > 0) - (w < 0)


async def decide(ctl: StrategyController, patience: float = 20.0):
    """``run_now``; a link the heartbeat marked down under load (the clock is stepped, so the
    decision is the same a moment later) is waited for, up to ``patience`` wall seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        try:
            return await ctl.run_now("crack-spread")
        except RuntimeError as exc:
            if "broker link" not in str(exc) or loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def settle(gw: SimGateway, app: TradingApp, stepped: bool) -> None:
    """Let every working order of the gateway fill (stepping a second at a time)."""
    for _ in range(120):
        if all(o.status in ("Filled", "Cancelled") for o in gw.broker.orders.values()):
            return
        if stepped:
            gw.advance(1)
        await asyncio.sleep(0.01)


async def jump(gw: SimGateway, to: float) -> None:
    """Move the stepped clock to ``to`` with a single pulse there."""
    gw.clock.advance(max(0.0, to - gw.now() - 1))
    gw.advance(1)
    await asyncio.sleep(0.02)


async def run_parity(gw: SimGateway, sessions: int, stepped: bool = True) -> ParityRun:
    """Run crack-spread live over ``sessions`` sessions from the gateway's current one."""
    app = await TradingApp.connect("127.0.0.1", gw.port, 21)
    journal = Journal(":memory:")
    ctl = StrategyController(
        app,
        bus=app.bus,
        journal=journal,
        strategies=[create_strategy("crack-spread", PARAMS)],
        clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )
    out = ParityRun()
    step = PARAMS["interval"]
    seen: set[str] = set()
    used: dict[float, tuple] = {}  # decision time -> the contracts live decided on (rolls!)
    try:
        for _ in range(sessions):
            m = gw.market
            opens, closes = m.session_open(), m.session_close()
            t = opens + step
            while t <= closes - step + 1e-6:
                if stepped:
                    await jump(gw, t - 7)  # the bar's last pulse before its end
                    await jump(gw, t + 5)  # 5 s into the next bar: decide
                else:
                    while gw.now() < t + 5:
                        await asyncio.sleep(0.005)
                d = await decide(ctl)
                feeds = ctl.context("crack-spread").state.get("feeds") or {}
                used[t] = tuple(sorted((k, f.contract.conId) for k, f in feeds.items()))
                if d.skipped_reason is None:
                    out.live[t] = sign_of(d)
                    out.live_z[t] = d.values.get("z", math.nan)
                    out.live_held[t] = int(d.values.get("position_sign", 0))
                await settle(gw, app, stepped)
                for fe in gw.broker.executions:  # the gateway's own record, its clock
                    if fe.execution.execId not in seen:
                        seen.add(fe.execution.execId)
                        at = fe.execution.time.timestamp()
                        out.fills.append((at, fe.execution.price, modelled(gw, fe)))
                t += step
            out.sessions += 1
            if out.sessions == sessions:
                break
            if stepped:
                await jump(gw, m.next_session_open() + 1)
            else:
                while gw.market.session_open() == opens:
                    await asyncio.sleep(0.01)
        end = gw.now()
        days = f"{sessions + 2} D"
        # the backtest decides each time on the contracts live decided on then: a futures roll
        # between two sessions moves live to the new front month, history included
        for contracts in sorted(set(used.values())):
            times = [t for t, c in used.items() if c == contracts]
            closes = pd.concat(
                {
                    k: pd.Series(
                        {b.start: b.close for b in gw.history.bars(c, end, days, "1 min", end)}
                    )
                    for k, c in contracts
                },
                axis=1,
                join="inner",
            ).sort_index()
            closes = closes[["psx", "cl", "ho", "rb"]]
            closes.index = pd.to_datetime(closes.index, unit="s", utc=True)
            pos, frame = decisions_over(
                closes,
                PARAMS["threshold"],
                PARAMS["window"],
                PARAMS["interval"],
                5.0,  # flatten_before_close_min (the default)
            )
            ends = closes.index.asi8 // 10**9 + 60
            by_end = dict(zip(ends.tolist(), pos.tolist(), strict=True))
            z_end = dict(zip(ends.tolist(), frame["z"].tolist(), strict=True))
            for t in times:
                if t in out.live and t in by_end:
                    out.backtest[t] = int(by_end[t])
                    out.backtest_z[t] = z_end[t]
    finally:
        await ctl.close()
        app.disconnect()
        journal.close()
    return out
