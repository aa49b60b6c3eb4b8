"""Benchmarks of the simulated gateway, driven by the unmodified ib_async client over loopback.

Prints: connect + start-up sync time, market-order round trip (placeOrder → Filled seen by
ib_async, 1,000 orders paced under ib_async's 45 requests/s), ticks delivered to one
client with 200 stock subscriptions and with 200 *option* subscriptions (tickOptionComputation
messages counted as ticks) per CPU-second (user + system) of the gateway process, which is
what #26's targets count (wall rates and the client's CPU printed beside them), the time
to answer ``reqSecDefOptParams`` plus 100 option ``reqContractDetails``, and the gateway's
memory with 500+ instruments and two years of history.
Run: ``python benchmarks/sim_gateway.py [--orders N] [--seconds S]``.

``--state-round-trip`` runs only the persistence comparison: the same market-order round
trip against two ``livedesk sim-gateway`` processes side by side, without and with
``--state FILE``, orders interleaved (``--state-orders`` each, default 750): median / p95 /
max and the ratio of the medians (target ≤ 1.5).

``--ticks`` prints only the streaming rates: ticks to one client with 200 stock and with 200
option subscriptions, and market-depth updates with 50 books, each per CPU-second (user +
sys) of the gateway process, with its conditions (streaming passes, simulated time and ticks
per pass, load average), the CPU time the gateway and the client used, and the wall rate.

``--week`` runs only the continuous-calendar soak: a simulated week (``--week-days``, default
7, from ``--week-start``) at ``--speed 3600`` with one trading client; wall time, the
gateway's RSS at the start, the end and per simulated day, and the RSS trend (target: none).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from ib_async import IB, Contract, LimitOrder, MarketOrder, Option, Stock

from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.sim.market.instruments import default_registry
from livedesk.backend.sim.market.model import MarketModel

TICK_SPEED, TICK_INTERVAL = 30.0, 0.001
"""The gateway clock speed and streaming-pass interval the tick rates are measured at."""
DEPTH_BOOKS, DEPTH_ROWS = 50, 5

_GATEWAY_SCRIPT = """
import asyncio, signal, sys
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.sim.market.model import MarketModel

async def main():
    market = MarketModel(seed=7)
    gw = SimGateway(port=0, market=market, speed={speed}, tick_interval={interval},
                    start_time=market.session_open() + 3600)
    gw.max_depth_books = {books}
    gw.max_market_data_lines = {lines}
    passes = 0
    pulse = gw.pulse

    def counted():
        nonlocal passes
        passes += 1
        pulse()

    gw.pulse = counted  # SIGUSR1 prints the streaming passes so far and the simulated time
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGUSR1, lambda: print(f"passes {{passes}} {{gw.now()!r}}", flush=True)
    )
    await gw.start()
    print(f"listening on 127.0.0.1:{{gw.port}}", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


async def bench_connect(market: MarketModel, n: int = 20) -> list[float]:
    times = []
    async with SimGateway(
        port=0, market=market, speed=0, start_time=market.session_open() + 3600
    ) as gw:
        for i in range(n):
            ib = IB()
            t0 = time.perf_counter()
            await ib.connectAsync("127.0.0.1", gw.port, clientId=100 + i)
            times.append(time.perf_counter() - t0)
            ib.disconnect()
            await asyncio.sleep(0.01)
    return times


async def bench_round_trip(port: int, orders: int) -> list[float]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1)
    [c] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    rtts: list[float] = []
    for i in range(orders):
        done = asyncio.get_running_loop().create_future()
        t0 = time.perf_counter()
        trade = ib.placeOrder(c, MarketOrder("BUY" if i % 2 == 0 else "SELL", 1))

        def on_status(t, fut=done):
            if t.orderStatus.status == "Filled" and not fut.done():
                fut.set_result(time.perf_counter())

        trade.statusEvent += on_status
        rtts.append(await asyncio.wait_for(done, 5) - t0)
        await asyncio.sleep(max(0.0, 1 / 44 - (time.perf_counter() - t0)))  # under 45 req/s
    ib.disconnect()
    return rtts


class GatewayProcess:
    """``livedesk sim-gateway`` in its own process, as a user runs it."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.port = 0

    async def __aenter__(self) -> GatewayProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "livedesk.tui.cli",
            "sim-gateway",
            "--port",
            "0",
            *self.args,
            stdout=asyncio.subprocess.PIPE,
        )
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 60)).decode()
        self.port = int(line.rsplit(":", 1)[1])
        return self

    async def __aexit__(self, *exc) -> None:
        self.proc.terminate()
        await self.proc.wait()


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time of process ``pid`` in seconds (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc)."""
    return sum(cpu_times(pid))


class ScriptGateway(GatewayProcess):
    """A gateway process built in Python (clock speed, streaming interval, depth-book cap)."""

    def __init__(self, speed: float, interval: float, books: int = 3, lines: int = 250) -> None:
        super().__init__()
        self.code = _GATEWAY_SCRIPT.format(
            speed=speed, interval=interval, books=books, lines=lines
        )  # ``lines``: market-data lines (IB's default 100 would refuse half of 200 subscriptions)

    async def __aenter__(self) -> ScriptGateway:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", self.code, stdout=asyncio.subprocess.PIPE
        )
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 60)).decode()
        self.port = int(line.rsplit(":", 1)[1])
        return self


async def gateway_passes(proc) -> tuple[int, float]:
    """Streaming passes so far and the simulated time of a :class:`ScriptGateway` process."""
    proc.send_signal(signal.SIGUSR1)
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        if line.startswith("passes "):
            _, n, now = line.split()
            return int(n), float(now)


class Measured:
    """Wall time and CPU time (this client and the gateway process) over a window.

    The gateway's CPU is its process's user + system time (the kernel's share of the
    loopback sends included), read from /proc before and after the window."""

    def __init__(self, gw_pid: int) -> None:
        self.pid = gw_pid

    def _gateway(self) -> tuple[float, float]:
        return cpu_times(self.pid) if self.pid else (0.0, 0.0)

    def __enter__(self) -> Measured:
        self.t0, self.c0, self.g0 = time.perf_counter(), time.process_time(), self._gateway()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        self.client_cpu = time.process_time() - self.c0
        user, system = self._gateway()
        self.gateway_user, self.gateway_sys = user - self.g0[0], system - self.g0[1]
        self.gateway_cpu = self.gateway_user + self.gateway_sys

    def per_gateway_cpu(self, count: int) -> float:
        """``count`` per CPU-second (user + system) of the gateway process."""
        return count / self.gateway_cpu if self.gateway_cpu > 0 else float("nan")

    def cpu_text(self, count: int = 0, unit: str = "ticks") -> str:
        """The CPU used, and ``count`` per CPU-second of the gateway and of the client (what
        one core each would sustain when the machine is shared)."""
        text = (
            f"CPU over {self.wall:.1f} s wall: gateway {self.gateway_cpu:.2f} s "
            f"(user {self.gateway_user:.2f} + sys {self.gateway_sys:.2f}), "
            f"client {self.client_cpu:.2f} s"
        )
        passes = getattr(self, "passes", None)
        if passes:
            n, sim = passes
            text += (
                f"; {n:,} streaming passes ({n / self.wall:,.0f}/s wall, "
                f"{sim / max(n, 1) * 1e3:.0f} ms simulated time"
                + (f" and {count / max(n, 1):,.0f} {unit}" if count else "")
                + " each)"
            )
        if count and self.gateway_cpu > 0 and self.client_cpu > 0:
            text += (
                f"; {count:,} {unit}; {count / self.gateway_cpu:,.0f} {unit} per gateway "
                f"CPU-second, {count / self.client_cpu:,.0f} per client CPU-second, "
                f"{count / self.wall:,.0f} per wall second"
            )
        return text


async def measure_window(proc, seconds: float) -> Measured:
    """CPU of both sides over ``seconds``, and the gateway's streaming passes in that window
    (``proc``: a :class:`ScriptGateway` process; None measures the client alone)."""
    p0 = await gateway_passes(proc) if proc is not None else None
    with Measured(proc.pid if proc is not None else 0) as m:
        await asyncio.sleep(seconds)
    if p0 is not None:
        p1 = await gateway_passes(proc)
        m.passes = (p1[0] - p0[0], p1[1] - p0[1])
    return m


async def warm_up(tickers, ready=lambda t: t.bid == t.bid, limit: float = 60.0) -> None:
    """Wait until every subscription has had its first answer (paths are built lazily and
    the subscriptions are paced), then one more second, before measuring."""
    end = time.perf_counter() + limit
    while not all(ready(t) for t in tickers) and time.perf_counter() < end:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)


async def bench_ticks(port: int, subs: int, seconds: float, proc=None) -> tuple[float, str]:
    """Ticks seen by one ib_async client subscribed to ``subs`` stocks, per gateway CPU-second
    (and the CPU text)."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1)
    stocks = [i for i in default_registry() if i.sec_type == "STK" and i.currency == "USD"]
    count = 0

    def on_pending(tickers):
        nonlocal count
        count += sum(len(t.ticks) for t in tickers)

    tickers = [ib.reqMktData(Stock(conId=inst.con_id, exchange="SMART")) for inst in stocks[:subs]]
    await warm_up(tickers)
    ib.pendingTickersEvent += on_pending
    m = await measure_window(proc, seconds)
    ib.disconnect()
    return m.per_gateway_cpu(count), m.cpu_text(count)


def option_universe(market: MarketModel, n: int = 200) -> list[int]:
    """conIds of ``n`` listed options near the money: SPY, then the other chains."""
    out: list[int] = []
    plan = [("SPY", 20, 2)] + [(s, 10, 1) for s in ("AAPL", "MSFT", "NVDA", "AMZN", "JPM", "XOM")]
    for symbol, strikes, n_exp in plan:
        chain = market.options.chain(symbol)
        und = market.prev_close(chain.underlying.con_id)
        near = sorted(chain.strikes, key=lambda k: abs(k - und))[:strikes]
        for expiry in chain.expiry_texts[1 : 1 + n_exp]:
            for k in near:
                for right in ("C", "P"):
                    [inst] = market.registry.find(
                        symbol, "OPT", last_trade_date=expiry, strike=k, right=right
                    )
                    out.append(inst.con_id)
    return out[:n]


async def bench_option_ticks(
    port: int, con_ids: list[int], seconds: float, proc=None
) -> tuple[float, str]:
    """Ticks (price, size and option-computation messages) for option subscriptions, per
    gateway CPU-second (and the CPU text)."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=2)
    count = 0
    greeks = ib.wrapper.tickOptionComputation

    def counting_greeks(*args):
        nonlocal count
        count += 1
        greeks(*args)

    ib.wrapper.tickOptionComputation = counting_greeks  # the decoder looks it up per message

    def on_pending(tickers):
        nonlocal count
        count += sum(len(t.ticks) for t in tickers)

    tickers = [ib.reqMktData(Contract(conId=con_id, exchange="SMART")) for con_id in con_ids]
    await warm_up(tickers)
    ib.pendingTickersEvent += on_pending
    count = 0
    m = await measure_window(proc, seconds)
    ib.disconnect()
    return m.per_gateway_cpu(count), m.cpu_text(count)


async def bench_depth(port: int, books: int, seconds: float, proc=None) -> tuple[float, str]:
    """Market-depth row updates seen by one ib_async client with ``books`` books, per gateway
    CPU-second (and the CPU text)."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=3)
    stocks = [i for i in default_registry() if i.sec_type == "STK" and i.currency == "USD"]
    count = 0
    depth = ib.wrapper.updateMktDepthL2

    def counting(*args):
        nonlocal count
        count += 1
        depth(*args)

    ib.wrapper.updateMktDepthL2 = counting  # updateMktDepth (12) lands here too
    tickers = [
        ib.reqMktDepth(Stock(conId=inst.con_id, exchange="SMART"), DEPTH_ROWS)
        for inst in stocks[:books]
    ]
    await warm_up(tickers, lambda t: bool(t.domBids))
    count = 0
    m = await measure_window(proc, seconds)
    ib.disconnect()
    return m.per_gateway_cpu(count), m.cpu_text(count, "updates")


async def run_tick_benches(market: MarketModel, seconds: float) -> None:
    """The streaming rates: stock ticks, option ticks, depth updates, each per CPU-second
    (user + system) of the gateway process — what the targets of #26 count — with the CPU
    of both sides and the wall rate."""
    where = (
        f"gateway process at speed {TICK_SPEED:g}, streaming every {TICK_INTERVAL * 1e3:g} ms, "
        f"one ib_async client, {seconds:g} s window, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    async with ScriptGateway(TICK_SPEED, TICK_INTERVAL) as gw:
        rate, cpu = await bench_ticks(gw.port, 200, seconds, gw.proc)
    print(
        f"ticks delivered, 200 stock subscriptions: {rate:,.0f} ticks per gateway CPU-second "
        f"(target >= 200,000; {where}; {cpu})"
    )
    async with ScriptGateway(TICK_SPEED, TICK_INTERVAL) as gw:
        rate, cpu = await bench_option_ticks(gw.port, option_universe(market), seconds, gw.proc)
    print(
        f"ticks delivered, 200 option subscriptions (greeks included): {rate:,.0f} ticks per "
        f"gateway CPU-second (target >= 100,000; {where}; {cpu})"
    )
    async with ScriptGateway(TICK_SPEED, TICK_INTERVAL, DEPTH_BOOKS) as gw:
        rate, cpu = await bench_depth(gw.port, DEPTH_BOOKS, seconds, gw.proc)
    print(
        f"market-depth updates delivered, {DEPTH_BOOKS} books of {DEPTH_ROWS} rows a side: "
        f"{rate:,.0f} updates per gateway CPU-second ({where}; {cpu})"
    )


async def bench_chain_details(market: MarketModel, n: int = 100) -> tuple[float, int]:
    """Seconds spent waiting for reqSecDefOptParams and ``n`` option reqContractDetails.

    Requests go one at a time; the pauses that keep the client under IB's 50 messages/s
    are not counted, only the round trips.
    """
    async with SimGateway(
        port=0, market=market, speed=0, start_time=market.session_open() + 3600
    ) as gw:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=3)
        ib.client.MaxRequests = 0  # time the gateway, not ib_async's 45 requests/s throttle
        [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        await asyncio.sleep(1.0)
        t0 = time.perf_counter()
        chains = await ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)
        elapsed = time.perf_counter() - t0
        chain = next(c for c in chains if c.exchange == "SMART")
        strikes = sorted(chain.strikes, key=lambda k: abs(k - market.prev_close(spy.conId)))
        found = 0
        for i in range(n):
            if i % 40 == 39:
                await asyncio.sleep(1.0)  # stay under 50 messages/s (not timed)
            expiry = chain.expirations[i % len(chain.expirations)]
            option = Option("SPY", expiry, strikes[i // 2 % len(strikes)], "CP"[i % 2], "SMART")
            t0 = time.perf_counter()
            found += len(await ib.reqContractDetailsAsync(option))
            elapsed += time.perf_counter() - t0
        ib.disconnect()
    return elapsed, found


async def bench_state_round_trip(orders: int) -> dict[str, list[float]]:
    """Round trips without and with ``--state`` (a fresh state file), interleaved.

    Two ``livedesk sim-gateway`` processes run side by side, one with ``--state``; one
    client each places market orders in turn (A B, B A, A B, ...: who goes first
    alternates), each client paced under 45 requests/s, so both see the same machine load
    at the same moments.
    """
    with tempfile.TemporaryDirectory() as tmp:
        state = str(Path(tmp) / "state.db")
        async with (
            GatewayProcess("--speed", "0") as plain,
            GatewayProcess("--speed", "0", "--state", state) as durable,
        ):
            clients = {}
            for label, gw in (("no state", plain), ("--state", durable)):
                ib = IB()
                await ib.connectAsync("127.0.0.1", gw.port, clientId=1)
                [c] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
                clients[label] = (ib, c)
            out: dict[str, list[float]] = {label: [] for label in clients}
            for i in range(orders):
                t_pair = time.perf_counter()
                pair = list(clients.items())
                if i % 2:  # alternate who goes first: the second waits behind the first's pushes
                    pair.reverse()
                for label, (ib, c) in pair:
                    out[label].append(await _one_round_trip(ib, c, "BUY" if i % 4 < 2 else "SELL"))
                await asyncio.sleep(max(0.0, 1 / 44 - (time.perf_counter() - t_pair)))
            for ib, _ in clients.values():
                ib.disconnect()
    return out


async def _one_round_trip(ib: IB, c: Contract, side: str) -> float:
    """Seconds from placeOrder to the Filled status seen by ib_async."""
    done = asyncio.get_running_loop().create_future()
    t0 = time.perf_counter()
    trade = ib.placeOrder(c, MarketOrder(side, 1))

    def on_status(t) -> None:
        if t.orderStatus.status == "Filled" and not done.done():
            done.set_result(time.perf_counter())

    trade.statusEvent += on_status
    if trade.orderStatus.status == "Filled" and not done.done():
        done.set_result(time.perf_counter())
    return await asyncio.wait_for(done, 5) - t0


def print_state_round_trip(runs: dict[str, list[float]]) -> None:
    for label, r in runs.items():
        tail = r[-100:]
        print(
            f"round trip {label:>8}: median {statistics.median(r) * 1e3:.2f} ms, "
            f"p95 {pct(r, 95) * 1e3:.2f} ms, max {max(r) * 1e3:.2f} ms over {len(r)} orders "
            f"(last 100: median {statistics.median(tail) * 1e3:.2f} ms)"
        )
    base, state = (statistics.median(v) for v in runs.values())
    print(f"round trip ratio --state / no state (medians): {state / base:.2f} (target <= 1.5)")


def bench_memory() -> tuple[int, float, float]:
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    market = MarketModel(seed=11)
    for inst in market.registry:
        market.daily_bars(inst.con_id)
        market.quote(inst.con_id, market.session_open() + 60)
    elapsed = time.perf_counter() - t0
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return len(market.registry), current / 2**20, elapsed


def pd_minute(epoch: float):
    """A UTC pandas Timestamp of the minute containing ``epoch`` (for the calendar)."""
    import pandas as pd

    return pd.Timestamp(int(epoch // 60) * 60, unit="s", tz="UTC")


def rss_mib(pid: int) -> float:
    """Resident set size of process ``pid`` in MiB (Linux /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bench_week(days: int, start: str, speed: float = 3600.0) -> None:
    """A simulated week at ``--speed 3600`` with one trading client: wall time, the gateway's
    RSS at the start, at each simulated midnight and at the end, and what traded each day."""
    from zoneinfo import ZoneInfo

    from livedesk.backend.sim.market.calendar import start_session, xnys

    ny = ZoneInfo("America/New_York")
    cal = xnys(start_session(start)[0])
    async with GatewayProcess("--speed", f"{speed:g}", "--start", start) as gw:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=7)
        codes: list[int] = []
        ib.errorEvent += lambda req_id, code, msg, c: codes.append(code)
        symbols = ("AAPL", "MSFT", "JPM", "XOM", "PSX", "NVDA", "AMZN", "SPY")
        contracts = await ib.qualifyContractsAsync(*(Stock(s, "SMART", "USD") for s in symbols))
        tickers = [ib.reqMktData(c) for c in contracts]
        pnl = ib.reqPnL(ib.managedAccounts()[0])
        rss0 = rss_mib(gw.proc)
        sim0 = (await ib.reqCurrentTimeAsync()).timestamp()
        wall0 = time.perf_counter()
        per_day: dict[str, dict] = {}
        trades, i, sim = [], 0, sim0
        while sim < sim0 + days * 86400:
            await asyncio.sleep(0.25)  # 15 simulated minutes
            sim = (await ib.reqCurrentTimeAsync()).timestamp()
            day = dt.datetime.fromtimestamp(sim, ny).strftime("%a %Y-%m-%d")
            row = per_day.setdefault(day, {"rss": [], "nlv": set(), "pnl": set(), "last": set()})
            row["rss"].append(rss_mib(gw.proc))
            row["nlv"].update(v.value for v in ib.accountValues() if v.tag == "NetLiquidation")
            row["pnl"].add(round(pnl.dailyPnL, 2))
            row["last"].add(tickers[0].last)
            if not cal.is_open_on_minute(pd_minute(sim)):
                continue  # the client trades in the session only (orders would wait anyway)
            c = contracts[i % len(contracts)]
            trades.append((ib.placeOrder(c, MarketOrder("BUY" if i % 2 else "SELL", 10)), sim))
            price = tickers[i % len(contracts)].last
            if price == price and price > 0:
                trades.append((ib.placeOrder(c, LimitOrder("BUY", 10, round(0.8 * price, 2))), sim))
            i += 1
        wall = time.perf_counter() - wall0
        await asyncio.sleep(0.5)
        rss1 = rss_mib(gw.proc)
        fills = [f for t, _ in trades for f in t.fills]
        fill_days = {f.execution.time.astimezone(ny).strftime("%a %Y-%m-%d") for f in fills}
        expired = sum(t.orderStatus.status == "Cancelled" and not t.fills for t, _ in trades)
        print(
            f"simulated week: {days} days from {start} (New York) at --speed {speed:g}, one "
            f"ib_async client, {len(symbols)} quote subscriptions, reqPnL, a market order and "
            f"a DAY limit order 20 % below the market every 15 simulated minutes of each session"
        )
        print(
            f"  wall {wall:.1f} s (ideal {days * 86400 / speed:.1f} s); {len(trades)} orders, "
            f"{len(fills)} fills on {len(fill_days)} days, {expired} cancelled unfilled (DAY "
            f"expiry at the close), errors {sorted(set(codes)) or 'none'}"
        )
        print(f"  gateway RSS: start {rss0:.1f} MiB, end {rss1:.1f} MiB")
        rows = []
        for day, row in per_day.items():
            rows.append(row["rss"][0])
            traded = "fills" if day in fill_days else "no fills"
            print(
                f"  {day}: RSS first {row['rss'][0]:.1f} MiB, max {max(row['rss']):.1f} MiB, "
                f"{traded}, "
                f"{len(row['nlv'])} NetLiquidation values, {len(row['pnl'])} dailyPnL values, "
                f"{len(row['last'])} AAPL last prices"
            )
        if len(rows) >= 3:
            slope = statistics.linear_regression(range(len(rows)), rows).slope
            print(
                f"  RSS (first sample of each day) trend: {slope:+.2f} MiB/day (target: no growth trend)"
            )
        ib.disconnect()


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    if args.week:
        await bench_week(args.week_days, args.week_start)
        return
    if args.ticks:
        await run_tick_benches(MarketModel(seed=7), args.seconds)
        return
    if args.state_round_trip:
        print_state_round_trip(await bench_state_round_trip(args.state_orders))
        return
    market = MarketModel(seed=7)
    c = await bench_connect(market)
    print(
        f"connect + full start-up sync: median {statistics.median(c) * 1e3:.1f} ms, "
        f"p90 {pct(c, 90) * 1e3:.1f} ms over {len(c)} connects (target < 50 ms)"
    )
    async with GatewayProcess("--speed", "0") as gw:
        r = await bench_round_trip(gw.port, args.orders)
    print(
        f"market-order round trip placeOrder -> Filled: median {statistics.median(r) * 1e3:.2f} ms, "
        f"p99 {pct(r, 99) * 1e3:.2f} ms over {len(r)} orders (targets < 2 ms, < 10 ms)"
    )
    await run_tick_benches(market, args.seconds)
    elapsed, found = await bench_chain_details(market)
    print(
        f"reqSecDefOptParams + 100 option reqContractDetails: {elapsed * 1e3:.0f} ms "
        f"({found} contracts, sum of sequential round trips)"
    )
    print_state_round_trip(await bench_state_round_trip(args.state_orders))
    n, mib, secs = bench_memory()
    print(
        f"gateway market memory: {n} instruments, 2 years daily + today's intraday: {mib:.1f} MiB "
        f"(built in {secs:.2f} s)"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--orders", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument(
        "--state-round-trip",
        action="store_true",
        help="only the round trip without and with --state",
    )
    p.add_argument("--ticks", action="store_true", help="only the tick and depth rates")
    p.add_argument("--state-orders", type=int, default=750, help="orders per state run")
    p.add_argument("--week", action="store_true", help="only the simulated week at --speed 3600")
    p.add_argument("--week-days", type=int, default=7, help="simulated days of --week (7)")
    p.add_argument(
        "--week-start", default="2026-11-23T09:30", help="--start of --week (New York time)"
    )
    asyncio.run(main(p.parse_args()))
