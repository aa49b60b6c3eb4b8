"""Kill a process that is writing the sim gateway's state at many points; check each restore.

Run as ``python -m tests.sim_state_crash STATE_FILE KILLS SEED``: builds the market once,
then KILLS times forks a child that restores the broker from STATE_FILE and trades on it
(market orders that fill, resting limits, modifications, cancels — every change saved)
until it is SIGKILLed after a random delay.  After each kill the parent restores the file
into a fresh broker and checks that it is consistent.  Prints one JSON line:
``{"executions": [...count after each kill...], "violations": [...]}``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import sys
import time

from ib_async import LimitOrder, MarketOrder

from livedesk.backend.sim.broker.account import SimAccount
from livedesk.backend.sim.broker.book import SimBroker, contract_of
from livedesk.backend.sim.broker.state import StateStore
from livedesk.backend.sim.errors import OrderReject
from livedesk.backend.sim.market.model import MarketModel

CASH = 1_000_000.0
SYMBOLS = ("AAPL", "MSFT", "SPY")


def new_broker(market: MarketModel) -> SimBroker:
    return SimBroker(market, SimAccount("DU0000001", cash=CASH))


def trade_forever(market: MarketModel, path: str, seed: int) -> None:
    """The child: restore, then change the state as fast as it can (each change saved)."""
    broker = new_broker(market)
    store = StateStore(path, checkpoint_every=7)  # compact often: kills land mid-checkpoint
    store.load(broker)
    broker.on_change = lambda: store.save(broker)
    rnd = random.Random(seed)
    insts = [market.registry.find(s, "STK", currency="USD")[0] for s in SYMBOLS]
    now = market.session_open() + 600 + broker.next_exec_seq
    while True:
        now += 1.0
        inst = rnd.choice(insts)
        q = market.quote(inst.con_id, now)
        oid = broker.used_ids.get(1, 0) + 1
        roll = rnd.random()
        working = broker.working()
        try:
            if roll < 0.5:
                side = rnd.choice(("BUY", "SELL"))
                broker.place(1, oid, contract_of(inst), MarketOrder(side, rnd.randint(1, 5)), now)
            elif roll < 0.75 or not working:
                order = LimitOrder("BUY", rnd.randint(1, 9), round(q.bid * 0.9, 2), tif="GTC")
                broker.place(1, oid, contract_of(inst), order, now)
            elif roll < 0.9:
                so = rnd.choice(working)
                broker.cancel(so.client_id, so.order_id)
            else:
                so = rnd.choice(working)
                order = LimitOrder(
                    "BUY", so.order.totalQuantity + 1, so.order.lmtPrice - 0.01, tif="GTC"
                )
                broker.place(so.client_id, so.order_id, so.contract, order, now)
        except OrderReject:
            pass
        broker.step(now)


def violations(market: MarketModel, path: str) -> tuple[int, list[str]]:
    """Restore ``path`` and list every inconsistency found."""
    broker = new_broker(market)
    store = StateStore(path)
    store.load(broker)
    store.close()
    out: list[str] = []
    execs = broker.executions
    if broker.next_exec_seq != len(execs) + 1:
        out.append(f"next_exec_seq {broker.next_exec_seq} with {len(execs)} executions")
    if len({fe.execution.execId for fe in execs}) != len(execs):
        out.append("duplicate execution ids")
    qty: dict[int, float] = {}
    cash = CASH
    filled: dict[int, float] = {}
    for fe in execs:
        ex = fe.execution
        signed = ex.shares if ex.side == "BOT" else -ex.shares
        qty[fe.contract.conId] = qty.get(fe.contract.conId, 0.0) + signed
        cash -= signed * ex.price + fe.report.commission
        filled[ex.permId] = filled.get(ex.permId, 0.0) + ex.shares
    held = {cid: h.qty for cid, h in broker.account.holdings.items() if h.qty}
    if held != {cid: q for cid, q in qty.items() if q}:
        out.append(f"holdings {held} != executions {qty}")
    if abs(broker.account.cash - cash) > 1e-3:
        out.append(f"cash {broker.account.cash} != {cash} from the executions")
    ids = [so.order_id for so in broker.orders.values()] + [fe.execution.orderId for fe in execs]
    if ids and broker.used_ids.get(1, 0) < max(ids):
        out.append(f"order-id watermark {broker.used_ids.get(1)} below {max(ids)}")
    perms = [so.perm_id for so in broker.orders.values()] + [fe.execution.permId for fe in execs]
    if perms and broker.next_perm_id <= max(perms):
        out.append("next_perm_id not above every perm id")
    for so in broker.orders.values():
        if not so.is_working:
            out.append(f"finished order {so.order_id} stored as working")
        if abs(filled.get(so.perm_id, 0.0) - so.filled) > 1e-9:
            out.append(f"order {so.order_id} filled {so.filled} != its executions")
    return len(execs), out


def main() -> None:
    path, kills, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    market = MarketModel(seed=7, session=dt.date(2026, 11, 20))
    for inst in SYMBOLS:  # build the paths before forking, so children start trading at once
        market.quote(market.registry.find(inst, "STK", currency="USD")[0].con_id, 0.0)
    rnd = random.Random(seed)
    counts: list[int] = []
    found: list[str] = []
    for k in range(kills):
        pid = os.fork()
        if pid == 0:
            try:
                trade_forever(market, path, seed * 1000 + k)
            finally:
                os._exit(1)
        time.sleep(rnd.uniform(0.002, 0.06))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        n, bad = violations(market, path)
        counts.append(n)
        found += [f"kill {k}: {v}" for v in bad]
    print(json.dumps({"executions": counts, "violations": found}))


if __name__ == "__main__":
    main()
