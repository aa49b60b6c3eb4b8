"""Plan and send a 40-order rebalance against the simulated gateway, pacing on.

Prints: the time to plan and send (contracts resolved and quotes streaming beforehand, as in
the console), the same from cold (resolving and subscribing inside the timing), the time
until every order is filled, whether any pacing error (100/162) was seen, and then the pure
sizing helpers' throughput (``benchmarks/sizing.py``).  Run: ``python benchmarks/rebalance.py``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

from livedesk.backend.contracts import stock
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.sim.market.instruments import default_registry
from livedesk.backend.sim.market.model import MarketModel
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.orders import market

N = 40


async def one_run(market_model: MarketModel, warm: bool) -> tuple[float, float, list[int]]:
    async with SimGateway(
        port=0, market=market_model, speed=1.0, start_time=market_model.session_open() + 3600
    ) as gw:
        app = await TradingApp.connect("127.0.0.1", gw.port, client_id=1)
        errors: list[int] = []
        app.ib.errorEvent += lambda req_id, code, msg, c: errors.append(code)
        symbols = [i.symbol for i in default_registry() if i.currency == "USD"][:N]
        t0 = time.perf_counter()
        contracts = [await app.resolve_contract(stock(s)) for s in symbols]
        if warm:
            await asyncio.gather(*(app.quote(c) for c in contracts))
            t0 = time.perf_counter()
        result = await app.rebalance({c: 0.9 / N for c in contracts}, market)
        sent = time.perf_counter() - t0
        while not all(t.isDone() for t in result.trades):
            await asyncio.sleep(0.001)
        filled = time.perf_counter() - t0
        assert len(result.trades) == N, f"expected {N} orders, got {len(result.trades)}"
        app.disconnect()
        return sent, filled, [e for e in errors if e in (100, 162)]


async def main() -> None:
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    mm = MarketModel(seed=7)
    sent, filled, pacing = await one_run(mm, warm=True)
    print(
        f"rebalance, {N} orders, quotes streaming: plan + send {sent:.3f} s, all filled "
        f"{filled:.3f} s, pacing errors: {len(pacing)} (target <= 1.5 s, none)"
    )
    sent, filled, pacing = await one_run(mm, warm=False)
    print(
        f"rebalance, {N} orders, cold (resolve {N} contracts + subscribe {N} quotes inside the "
        f"timing): {sent:.3f} s, all filled {filled:.3f} s, pacing errors: {len(pacing)}"
    )


if __name__ == "__main__":
    asyncio.run(main())
    sys.path.insert(0, str(Path(__file__).parent))
    import sizing

    sizing.main()
