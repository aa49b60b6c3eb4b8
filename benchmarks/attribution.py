"""Attribution time from a journal: a month of a crack-spread strategy, a year of the monthly factor.

Synthetic journal records of realistic size, written through the Journal's public API:

* **crack-spread, one month** — 21 sessions; 41 orders (the seed's figure) of 1–3 fills
  each, with arrival and fill mids and commissions. Three cases: decisions every 5 minutes
  (1,638) with 240-float inputs through a crack-shaped numpy signal; and decisions every
  minute, the strategy's default (8,190), with the inputs crack-spread really records (the
  last 119 rows of PSX, CL, HO, RB and its sizing), replayed through the recorded targets
  and through crack-spread's own ``evaluate`` (``CrackSpreadReplay``, whose vectorised
  pass stitches contiguous windows): once with independent random windows (the worst case:
  nothing to stitch) and once with windows sliding a bar a minute, as live records them.
* **monthly factor, one year** — 12 monthly rebalances over 500 names (targets and mids of
  500 contracts each, the scores of 500 names as inputs), one order per name per rebalance
  (4,964 orders where a target changed) of 1–3 fills each (8,589 fills). Replayed through the recorded targets.

Each run times ``load`` (journal → inputs) and ``attribute_inputs`` (replay + decomposition)
from a freshly opened journal; printed: mean, p95 and max of the total over the repeats,
and the targets (≤ 1 s for the month of crack-spread, ≤ 2 s for the year of monthly factor).

**Parity run** (``--parity-sessions N``, default 1; 0 skips it): crack-spread live on the
embedded gateway running by itself at ``--speed`` (default 600) through whole sessions
(decisions every 5 minutes, the harness of tests/test_parity.py), then its backtest over the
gateway's history of the same minutes; printed: sessions per wall minute and how many
decisions agree.
Run: ``python benchmarks/attribution.py [--repeats N] [--speed 600] [--parity-sessions 1]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from livedesk.backend.journal import Journal
from livedesk.backend.risk.attribution_source import attribute_inputs, decision_detail, load
from livedesk.backend.risk.replay_signals import CrackSpreadReplay, crack_spread_inputs

DAY = 86400.0
T0 = 1_790_000_000.0
NLV = 1_000_000.0
WINDOW = 60
REAL_SIGNAL = CrackSpreadReplay()


def crack_like_signal(inputs: dict) -> dict[int, float]:
    """A crack-spread-shaped signal: percentile ranks of PSX and of the crack over the window,
    the z-score of their difference, a position of ±100 PSX when |z| > 1."""
    bars = np.asarray(inputs["bars"], dtype=float).reshape(4, WINDOW)
    psx, cl, ho, rb = bars
    crack = (2 * rb * 42 + ho * 42 - 3 * cl) / 3

    def ranks(x: np.ndarray) -> np.ndarray:
        return (x[:, None] > x[None, :]).sum(axis=1) / len(x)

    d = ranks(psx) - ranks(crack)
    sd = d.std(ddof=1)
    z = (d[-1] - d.mean()) / sd if sd > 0 else 0.0
    q = 100.0 if z < -1 else -100.0 if z > 1 else 0.0
    return {1: q, 2: 0.0, 3: 0.0, 4: 0.0}


def _fills(j: Journal, rng, name, order_id, con_id, side, qty, mid, t, mult=1.0) -> None:
    n = int(rng.integers(1, 4))
    parts = np.diff(np.round(np.linspace(0, qty, n + 1)))
    sign = 1 if side == "BUY" else -1
    for k, q in enumerate(parts):
        if q <= 0:
            continue
        fill_mid = mid * (1 + rng.normal(0, 2e-4))
        price = fill_mid * (1 + sign * abs(rng.normal(3e-4, 1e-4)))
        j.record_fill(
            f"{name}.{order_id}.{k}", side="BOT" if sign > 0 else "SLD", qty=float(q),
            price=price, t=t + 1 + k, order_id=order_id, strategy=name, con_id=con_id,
            symbol=f"C{con_id}", commission=1.0, multiplier=mult, fill_mid=fill_mid,
        )  # fmt: skip


def build_crack_month(path: Path, every_min: int, real: bool, sliding: bool = False) -> None:
    """21 sessions of crack-spread decisions every ``every_min`` minutes, 41 orders.

    ``sliding``: each session is one series of one-minute bars and each decision records its
    last 119 rows (as live does: the window slides one bar a minute); otherwise every
    decision's window is an independent random walk (no two windows share a row)."""
    rng = np.random.default_rng(1)
    per_day = 390 // every_min
    with Journal(path, synchronous="NORMAL") as j:
        j.record_sample(T0, 0.0, NLV, 0.0)
        run = j.start_run("crack-spread", {"window": WINDOW}, t=T0)
        base = np.array([90.0, 70.0, 2.4, 2.2])
        steps = 21 * per_day
        trade_at = set(rng.choice(steps, 41, replace=False).tolist())
        order_id, held = 1, 0.0
        rows = 2 * WINDOW - 1 if real else WINDOW
        for i in range(steps):
            t = T0 + (i // per_day) * DAY + (i % per_day) * 60 * every_min
            if sliding:
                if i % per_day == 0:  # a new session: its own series of minute bars
                    steps_today = rows + per_day
                    day = base * np.exp(np.cumsum(rng.normal(0, 1e-3, (steps_today, 4)), axis=0))
                k = i % per_day
                bars = day[k + 1 : k + 1 + rows]
            else:
                bars = base * np.exp(np.cumsum(rng.normal(0, 1e-3, (rows, 4)), axis=0))
            if real:
                frame = pd.DataFrame(bars, columns=["psx", "cl", "ho", "rb"])
                inputs = crack_spread_inputs(frame, 0, 2.0, WINDOW, 0.1, NLV, bars[-1, 0], 1)
            else:
                inputs = {"bars": bars.T.ravel().round(6).tolist()}
            targets = REAL_SIGNAL(inputs) if real else crack_like_signal(inputs)
            mids = {c + 1: float(bars[-1, c]) for c in range(4)}
            j.record_decision(run, "decision", decision_detail(inputs, targets, mids), t=t)
            if i in trade_at:
                qty, side = 100.0, "BUY" if held <= 0 else "SELL"
                held += 100 if side == "BUY" else -100
                mid = mids[1]
                j.record_order(
                    order_id, action=side, qty=qty, order_type="MKT", strategy="crack-spread",
                    symbol="PSX", con_id=1, bid=mid - 0.01, ask=mid + 0.01, t=t,
                )  # fmt: skip
                _fills(j, rng, "crack-spread", order_id, 1, side, qty, mid, t)
                order_id += 1


def build_factor_year(path: Path) -> None:
    rng = np.random.default_rng(2)
    names = 500
    with Journal(path, synchronous="NORMAL") as j:
        j.record_sample(T0, 0.0, NLV, 0.0)
        run = j.start_run("monthly-factor", {"names": names}, t=T0)
        mids = 20 + 180 * rng.random(names)
        order_id = 1
        held = np.zeros(names)
        for month in range(12):
            t = T0 + month * 30.4 * DAY
            mids *= np.exp(rng.normal(0, 0.05, names))
            scores = rng.normal(size=names)
            target = np.round(np.where(scores > 0, 1, -1) * 2000 / mids)
            detail = decision_detail(
                {"scores": scores.round(4).tolist()},
                {c + 1: float(target[c]) for c in range(names)},
                {c + 1: float(mids[c]) for c in range(names)},
            )
            j.record_decision(run, "decision", detail, t=t)
            for c in range(names):
                delta = target[c] - held[c]
                if delta == 0:
                    continue
                side = "BUY" if delta > 0 else "SELL"
                j.record_order(
                    order_id, action=side, qty=abs(delta), order_type="MKT",
                    strategy="monthly-factor", symbol=f"C{c + 1}", con_id=c + 1,
                    bid=mids[c] - 0.01, ask=mids[c] + 0.01, t=t + c * 0.1,
                )  # fmt: skip
                _fills(j, rng, "monthly-factor", order_id, c + 1, side, abs(delta), mids[c], t)
                order_id += 1
            held = target


def time_one(path: Path, strategy: str, signal, repeats: int) -> tuple[list[float], dict]:
    times, facts = [], {}
    cpu: list[float] = []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        with Journal(path) as j:
            inputs = load(j, strategy)
            t1 = time.perf_counter()
            a = attribute_inputs(inputs, signal)
        t2 = time.perf_counter()
        times.append(t2 - t0)
        cpu.append(time.process_time() - c0)
        facts = {
            "cpu": cpu,
            "decisions": len(inputs.decisions),
            "orders": len(inputs.orders),
            "fills": sum(len(o.fills) for o in inputs.orders),
            "load_s": t1 - t0,
            "attribute_s": t2 - t1,
            "spread_bps": a.bps("spread_impact"),
        }
    return times, facts


async def parity_run(speed: float, sessions: int) -> None:
    """Sessions of live crack-spread per wall minute at ``speed``, and its parity."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from livedesk.backend.sim.gateway import SimGateway
    from livedesk.backend.sim.market.model import MarketModel
    from tests.parity_harness import run_parity

    market = MarketModel(seed=7)
    gw = SimGateway(port=0, market=market, speed=speed, start_time=market.session_open() + 60)
    await gw.start()
    try:
        t0 = time.perf_counter()
        run = await run_parity(gw, sessions, stepped=False)
        wall = time.perf_counter() - t0
    finally:
        await gw.stop()
    same = sum(run.live[t] == run.backtest.get(t) for t in run.live)
    print(
        f"parity run: crack-spread live at --speed {speed:g}, {run.sessions} session(s) of "
        f"5-min decisions in {wall:.1f} s wall = {run.sessions / wall * 60:.2f} sessions per "
        f"wall minute; {same} of {len(run.live)} decisions equal the backtest's"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--speed", type=float, default=600.0)
    p.add_argument("--parity-sessions", type=int, default=1)
    args = p.parse_args()
    print(f"python {sys.version.split()[0]} on {platform.machine()} ({platform.system()})")
    if args.parity_sessions > 0:
        import asyncio

        asyncio.run(parity_run(args.speed, args.parity_sessions))
    with tempfile.TemporaryDirectory() as tmp:

        def crack(every: int, real: bool, sliding: bool = False):
            return lambda path: build_crack_month(path, every, real, sliding)

        cases = [
            ("crack-spread, 1 month, 5-min decisions, crack-shaped numpy signal",
             "crack-spread", crack(5, False), crack_like_signal, 1.0),
            ("crack-spread, 1 month, 1-min decisions (its default), recorded targets",
             "crack-spread", crack(1, True), None, 1.0),
            ("crack-spread, 1 month, 1-min decisions, through its own evaluate, "
             "independent windows (worst case)", "crack-spread", crack(1, True), REAL_SIGNAL, 1.0),
            ("crack-spread, 1 month, 1-min decisions, through its own evaluate, "
             "windows sliding a bar a minute (as live records)", "crack-spread",
             crack(1, True, True), REAL_SIGNAL, 1.0),
            ("monthly factor, 1 year", "monthly-factor", build_factor_year, None, 2.0),
        ]  # fmt: skip
        for k, (label, name, build, signal, target) in enumerate(cases):
            path = Path(tmp) / f"{name}-{k}.sqlite3"
            t0 = time.perf_counter()
            build(path)
            built = time.perf_counter() - t0
            times, f = time_one(path, name, signal, args.repeats)
            arr = np.array(times)
            replayed = "its signal" if signal else "recorded targets"
            print(
                f"{label}: {f['decisions']} decisions, {f['orders']} orders, {f['fills']} fills, "
                f"journal {path.stat().st_size / 1e6:.1f} MB (built in {built:.1f} s); "
                f"replayed through {replayed}"
            )
            print(
                f"  attribution (open + load + replay + decompose), {args.repeats} runs: "
                f"mean {arr.mean():.3f} s  p95 {np.percentile(arr, 95):.3f} s  "
                f"max {arr.max():.3f} s  (last: load {f['load_s']:.3f} s, "
                f"attribute {f['attribute_s']:.3f} s)  target <= {target:g} s: "
                f"{'met' if arr.max() <= target else 'MISSED'}"
            )
            cpu = np.array(f["cpu"])
            print(
                f"  CPU time of the same runs (what they cost without waiting for a shared "
                f"core): mean {cpu.mean():.3f} s  p95 {np.percentile(cpu, 95):.3f} s  "
                f"max {cpu.max():.3f} s; load average {os.getloadavg()[0]:.1f} on "
                f"{os.cpu_count()} CPUs"
            )


if __name__ == "__main__":
    main()
