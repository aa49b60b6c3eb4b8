"""Seeded soak run: traders on a simulated gateway while faults are injected, then invariants.

A test harness, not part of the product: used by ``tests/test_soak.py`` (bounded, in CI) and
``benchmarks/soak.py`` (longer). The
gateway runs with a frozen clock (``speed=0``) that the run advances step by step, so a
simulated week takes minutes. At every step, with probability ``fault_rate``, one fault
from a seeded schedule is injected: socket drops, gateway restarts, 1100 → 1101/1102,
1101, 1102, rejected orders, partial fills, pacing notices (100 / 162), a broken data
farm (2103 → 2104), a silent link (the heartbeat must notice), and faults that strike
while orders are in flight: a drop right after an order is sent (between send and ack),
a drop between the partial fills of a working order, and a drop in the middle of a
rebalance (after its first orders). Traders decide only when the session is ready
(connected and reconciled) and data is OK.

At the end every order is cancelled, the session is reconciled once more, and the
invariants are counted: fills the gateway made that the journal lacks (*lost*), journal
fills the gateway never made, duplicate orders — sharing an idempotency key, or, whatever
their keys, two gateway orders for one intent (the same strategy, contract and decision)
— contracts whose gateway position differs from the journal's net fills or the app's
view, faults after which no decision was made again within ``resume_steps`` steps, and the
resident memory at each simulated day (its growth in MiB/day).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from livedesk.backend.broker.orderref import key_of, strategy_of
from livedesk.backend.contracts import stock
from livedesk.backend.errors import AccountValueUnavailable, PriceUnavailable
from livedesk.backend.events import OrderSent
from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.sim.market.model import MarketModel
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.guard import GuardLimits
from livedesk.backend.trading.orders import limit, market
from livedesk.backend.trading.results import OrderRefused
from tests.soak_records import SoakRecords

log = logging.getLogger("livedesk.soak")

FAULTS = {
    "drop": 3,
    "restart": 2,
    "1100": 2,
    "1101": 1,
    "1102": 2,
    "reject": 3,
    "partial": 3,
    "pacing": 2,
    "farm": 2,
    "silent": 1,
    "inflight": 3,
    "mid-partial": 2,
    "mid-rebalance": 2,
}
"""Relative weights of the injected faults."""

SESSION_OPTIONS = {
    "backoff_initial": 0.05,
    "backoff_max": 1.0,
    "jitter": 0.2,
    "heartbeat_interval": 0.5,
    "heartbeat_timeout": 1.5,
    "reconcile_timeout": 5.0,
}

BOOKS = {
    "crack-spread": ("XOM", "CVX", "PSX"),
    "options-combo": ("SPY", "IBM"),
    "monthly-factor": ("AAPL", "MSFT", "JPM", "KO", "PG"),
}
"""Stand-in books: each trader re-targets one of its names at every decision."""


@dataclass
class SoakConfig:
    """How long, how rough."""

    seed: int = 1
    steps: int = 200
    step_seconds: float = 60.0
    """Simulated seconds per step."""
    fault_rate: float = 0.15
    decide_every: int = 3
    """Steps between two decisions of a trader."""
    max_quantity: int = 60
    wall_limit: float = 600.0
    """Give up (and report) after this many wall-clock seconds."""
    strategies: tuple[str, ...] = ()
    """Real strategies to run under a :class:`StrategyController` beside the traders
    (e.g. ``crack-spread``, ``options-combo``, ``monthly-factor``); their parameters come
    from ``strategy_params``."""
    strategy_params: dict = field(default_factory=dict)
    step_pause: float = 0.005
    """Real seconds to yield after each step (real strategies need time to decide)."""
    resume_steps: int = 12
    """A fault after which no trader decides again within this many steps is counted."""
    demo_bundle: bool = False
    """Ingest the demo bundle for the soak's market first: the monthly factor's month-end
    run ranks on it (without it that run skips with "no bundle")."""
    session: dt.date | None = None
    """The gateway's first session (None: today's); e.g. a month's last days to see the
    monthly factor's month-end run in a short soak."""
    on_day: Callable[[SoakResult], None] | None = None
    """Called at the start of every new simulated session (progress of long runs)."""


@dataclass
class SoakResult:
    """What happened, and the invariants."""

    steps: int = 0
    sessions: int = 1
    """Trading sessions (days) the run spanned."""
    sim_seconds: float = 0.0
    wall_seconds: float = 0.0
    faults: Counter = field(default_factory=Counter)
    reconnect_seconds: list[float] = field(default_factory=list)
    """Seconds from the gateway being reachable again to the session ready (reconciled)."""
    decisions: int = 0
    paused: int = 0
    refused: int = 0
    refusals: Counter = field(default_factory=Counter)
    """Why decisions were refused (first words of the reason)."""
    orders_sent: int = 0
    gateway_orders: int = 0
    gateway_fills: int = 0
    journal_fills: int = 0
    lost_fills: int = 0
    phantom_fills: int = 0
    duplicate_orders: int = 0
    duplicate_intents: int = 0
    duplicate_detail: list[str] = field(default_factory=list)
    link: str = ""
    """The broker link at the last session roll (state, readiness, data quality)."""
    """Gateway orders beyond the first for one (strategy, contract, decision)."""
    inflight_faults: int = 0
    """Faults that struck with an order in flight (send → ack, partial fills, rebalance)."""
    unresumed_faults: list[str] = field(default_factory=list)
    """Faults after which no decision was made within ``resume_steps`` steps."""
    rss_by_day: list[float] = field(default_factory=list)
    warm_from: int = 1
    """First entry of ``rss_by_day`` taken once every real strategy had made its first
    decision or skip (the monthly factor's first run loads zipline and its bundle: a one-time
    step); the memory trend starts there (the first day's entry is always left out)."""
    """Resident memory at the start of each simulated session."""
    position_mismatches: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    """conId → (gateway, journal net fills, app view)."""
    rss_mib: list[float] = field(default_factory=list)
    """Resident memory at each tenth of the run."""
    peak_rss_mib: float = 0.0
    halted: str = ""
    strategy_decisions: dict[str, int] = field(default_factory=dict)
    """Journaled decisions (incl. skips and pauses) per real strategy."""
    strategy_status: dict[str, str] = field(default_factory=dict)
    strategy_kinds: dict[str, Counter] = field(default_factory=dict)
    strategy_last: dict[str, str] = field(default_factory=dict)
    strategy_skips: dict[str, Counter] = field(default_factory=dict)
    """Why each real strategy skipped (not paused): reason → count."""
    strategy_errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every invariant holds."""
        return (
            not (self.lost_fills or self.phantom_fills or self.duplicate_orders)
            and not self.duplicate_intents
            and not self.position_mismatches
            and not self.unresumed_faults
        )

    @property
    def rss_growth_per_day(self) -> float:
        """Least-squares slope of the resident memory over simulated days (MiB/day)."""
        ys = self.rss_by_day[self.warm_from :]  # after the warm-up
        if len(ys) < 2:
            return float("nan")
        n = len(ys)
        mx, my = (n - 1) / 2, sum(ys) / n
        return sum((i - mx) * (y - my) for i, y in enumerate(ys)) / sum(
            (i - mx) ** 2 for i in range(n)
        )


def rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc), else the peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Soak:
    """One soak run (see the module docstring)."""

    def __init__(self, config: SoakConfig, journal_path: Path) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.journal_path = journal_path
        self.result = SoakResult()
        self.gw: SimGateway | None = None
        self.app: TradingApp | None = None
        self.journal: Journal | None = None
        self.contracts: dict[str, object] = {}
        self._pending: list[tuple[int, Callable[[], None]]] = []
        self.records = SoakRecords(journal_path.with_name("soak-records.sqlite3"))
        """Orders sent (with the gateway's time: an order may arrive steps later, behind
        ib_async's 45-per-second throttle, after the trader's next decision), the traders'
        intents, and every order and execution the gateway made — on disk, not in the
        measured process's memory."""
        self._drop_on_send = 0
        """Drop every connection on the n-th next order sent (0: not armed)."""
        self._open_faults: list[tuple[int, str]] = []
        self._rebalance_next = False
        self._warm = not config.strategies
        self.decide: Callable[[str, int], Awaitable[None]] = self._decide
        self.books = (
            {f"load-{k}": v for k, v in BOOKS.items()} if config.strategies else dict(BOOKS)
        )
        """A trader's decision at a step; the soak test may replace it."""

    # ---- run -----------------------------------------------------------------------
    async def run(self) -> SoakResult:
        """Run every step, then settle and check the invariants."""
        res, cfg = self.result, self.cfg
        t0 = time.monotonic()
        market_model = MarketModel(seed=cfg.seed, session=cfg.session)
        if cfg.demo_bundle:  # before the gateway starts: nothing to keep waiting meanwhile
            from livedesk.backend.bundles.ingest import ingest_demo

            ingest_demo(cfg.seed, cfg.session)
        self.gw = SimGateway(
            port=0,
            market=market_model,
            speed=0,
            start_time=market_model.session_open() + 600,
            tick_interval=0.02,
            account_interval=0.2,
        )
        await self.gw.start()
        roll = self.gw.broker.roll_session

        def snapshot_then_roll(close: float) -> None:  # the gateway forgets a day's fills
            self._snapshot()
            roll(close)
            self.records.new_session()

        self.gw.broker.roll_session = snapshot_then_roll
        self.journal = Journal(self.journal_path, synchronous="NORMAL")
        try:
            self.app = await TradingApp.connect(
                "127.0.0.1",
                self.gw.port,
                1,
                journal=self.journal,
                session_options={**SESSION_OPTIONS, "seed": cfg.seed},
                # simulated hours pass in wall seconds: the per-minute rate cap is scaled
                limits=GuardLimits(max_orders_per_minute=100_000),
            )
            self.app.bus.subscribe(self._count)
            if cfg.strategies:
                await self._start_strategies()
            for names in BOOKS.values():
                for sym in names:
                    self.contracts[sym] = await self.app.resolve_contract(stock(sym))
            start_sim = self.gw.now()
            for step in range(cfg.steps):
                if time.monotonic() - t0 > cfg.wall_limit:
                    log.warning("soak stopped at step %d: wall limit", step)
                    break
                await self._step(step)
                res.steps = step + 1
                if step % max(1, cfg.steps // 10) == 0:
                    res.rss_mib.append(rss_mib())
            self._close_faults(res.steps + 1)  # the last resume_steps steps cannot be judged
            res.sim_seconds = self.gw.now() - start_sim
            await self._settle()
            self._check()
        finally:
            if self.app is not None:
                self.app.disconnect()
            await self.gw.stop()
            self.journal.close()
            self.records.close()
        res.wall_seconds = time.monotonic() - t0
        res.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return res

    async def _step(self, step: int) -> None:
        gw, app = self.gw, self.app
        for due, fn in [p for p in self._pending if p[0] <= step]:
            self._pending.remove((due, fn))
            fn()
        self._close_faults(step)
        if self.rng.random() < self.cfg.fault_rate:
            await self._inject(step)
        for i, name in enumerate(self.books):
            if (step + i) % self.cfg.decide_every == 0:
                await self.decide(name, step)
        now = gw.now()
        if gw.broker.is_open(now):
            gw.advance(self.cfg.step_seconds)
        else:  # nights and weekends: straight to the next open
            market_model = gw.market
            nxt = market_model.session_open()
            if nxt <= now:
                nxt = market_model.next_session_open()
            gw.advance(nxt - now + 1.0)
            self.result.sessions += 1
            self.result.rss_by_day.append(rss_mib())
            if not self._warm and self._strategies_warm():
                self._warm = True
                self.result.warm_from = max(1, len(self.result.rss_by_day) - 1)
            session = app.session
            self.result.link = (
                f"{session.state} ready={session.ready} "
                f"data={app.data_stale_reason or 'ok'} paused={self.result.paused}"
            )
            if self.cfg.on_day is not None:
                self.cfg.on_day(self.result)
        await self._pause()
        self._snapshot()
        if not app.session.ready:
            await app.session.wait_ready(0.5)

    def _strategies_warm(self) -> bool:
        """Every real strategy has made a decision or a skip the link did not cut."""
        ctl = getattr(self, "controller", None)
        if ctl is None:
            return True
        return all(
            any((d["detail"] or {}).get("summary") != "paused" for d in ctl.recent_decisions(n))
            for n in self.cfg.strategies
        )

    async def _pause(self) -> None:
        """Give the step ``step_pause`` wall seconds, less once every running strategy has
        taken what was due (its next run lies after the gateway's now): a paused or slow
        one still gets the whole pause, so the soak is no kinder to it than before."""
        ctl = getattr(self, "controller", None)
        if ctl is None:
            await asyncio.sleep(self.cfg.step_pause)
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + self.cfg.step_pause
        await asyncio.sleep(0.01)
        while loop.time() < end and not self._caught_up(ctl):
            await asyncio.sleep(0.01)

    def _caught_up(self, ctl) -> bool:
        from livedesk.backend.strategies.base import StrategyStatus

        now = self.gw.now()
        for info in ctl.infos():
            if info.status == StrategyStatus.RUNNING:
                return False
            if info.status == StrategyStatus.WAITING and (
                info.next_run is None or info.next_run.timestamp() <= now
            ):
                return False
        return True

    def _count(self, ev) -> None:
        if isinstance(ev, OrderSent):
            self.result.orders_sent += 1
            # an id whose order was lost in a drop is handed out again after the reconnect
            # (the gateway never saw it): the latest send of an id is the one it may hold
            self.records.sent(ev.order_id, self.gw.now(), ev.con_id)
            if self._drop_on_send:
                self._drop_on_send -= 1
                if not self._drop_on_send:  # right after placeOrder, before any ack
                    self.result.inflight_faults += 1
                    self.gw.faults.drop_all()

    def _decided(self, step: int) -> None:
        """A trader decided: every fault injected before ``step`` has been resumed from."""
        self._open_faults = [(s, k) for s, k in self._open_faults if s >= step]

    def _close_faults(self, step: int) -> None:
        late = [(s, k) for s, k in self._open_faults if step - s > self.cfg.resume_steps]
        for s, k in late:
            self.result.unresumed_faults.append(f"{k} at step {s}")
        self._open_faults = [f for f in self._open_faults if f not in late]

    def _snapshot(self) -> None:
        """The gateway's executions and orders so far (its lists restart each day)."""
        records = self.records
        for fe in self.gw.broker.executions:
            records.gateway_exec(fe.execution.execId)
        for (cid, oid), so in self.gw.broker.orders.items():
            ref = so.order.orderRef
            records.gateway_order(
                (cid, oid, so.perm_id), key_of(ref), strategy_of(ref), so.contract.conId,
                so.submitted_at,
            )  # fmt: skip

    # ---- real strategies -----------------------------------------------------------
    async def _start_strategies(self) -> None:
        from livedesk.backend.strategies import GatewayClock, StrategyController, create_strategy

        cfg = self.cfg
        self.controller = StrategyController(
            self.app,
            bus=self.app.bus,
            journal=self.journal,
            strategies=[create_strategy(n, cfg.strategy_params.get(n, {})) for n in cfg.strategies],
            clock=GatewayClock.of(self.app.ib, max_age=0, max_sleep=0.05),  # notice each step soon
        )
        self.controller.pause_poll = 0.05
        for name in cfg.strategies:
            await self.controller.start(name)

    async def _stop_strategies(self) -> None:
        ctl = getattr(self, "controller", None)
        if ctl is None:
            return
        res = self.result
        for name in self.cfg.strategies:
            info = ctl.info(name)
            res.strategy_status[name] = str(info.status)
            if info.last_error:
                res.strategy_errors[name] = info.last_error.strip().splitlines()[-1][:200]
            runs = self.journal.runs(name)
            rows = [d for r in runs for d in self.journal.decisions(r["id"])]
            res.strategy_decisions[name] = len(rows)
            res.strategy_kinds[name] = Counter(
                d["kind"] + (":paused" if (d["detail"] or {}).get("paused") else "") for d in rows
            )
            res.strategy_skips[name] = Counter(
                str(
                    (d["detail"] or {}).get("skipped_reason") or (d["detail"] or {}).get("summary")
                )[:90]
                for d in rows
                if d["kind"] == "skip" and not (d["detail"] or {}).get("paused")
            )
            if rows:
                res.strategy_last[name] = str(rows[-1]["detail"])[:300]
        await ctl.close()

    # ---- traders -------------------------------------------------------------------
    async def _decide(self, name: str, step: int) -> None:
        app, res = self.app, self.result
        if not app.session.ready or not app.data_ok:
            res.paused += 1
            return
        self._decided(step)
        if self._rebalance_next:
            self._rebalance_next = False
            await self._rebalance(name)
            return
        sym = self.rng.choice(self.books[name])
        contract = self.contracts[sym]
        self.records.intent(name, contract.conId, self.gw.now())
        target = self.rng.randint(-self.cfg.max_quantity // 3, self.cfg.max_quantity)
        order_type = market
        if self.rng.random() < 0.4:
            q = self.gw.market.quote(contract.conId, self.gw.now())
            price = round((q.bid + q.ask) / 2, 2)
            order_type = lambda a, n, p=price: limit(a, n, p)  # noqa: E731
        res.decisions += 1
        try:
            await asyncio.wait_for(
                app.order_target_quantity(contract, order_type, target, strategy=name), 5
            )
        except (OrderRefused, PriceUnavailable, AccountValueUnavailable, ConnectionError) as exc:
            res.refused += 1
            res.refusals[" ".join(str(exc).split()[:8])] += 1
            log.debug("%s refused: %s", name, exc)
        except TimeoutError:
            res.refused += 1
            res.refusals["timeout"] += 1

    async def _rebalance(self, name: str) -> None:
        """One rebalance of the trader's whole book (a fault is armed to strike inside it)."""
        app, res = self.app, self.result
        weights = {self.contracts[s]: self.rng.uniform(0.0, 0.02) for s in self.books[name]}
        now = self.gw.now()
        for c in weights:
            self.records.intent(name, c.conId, now)
        res.decisions += 1
        try:
            await asyncio.wait_for(app.rebalance(weights, strategy=name, cancel_stray=False), 10)
        except (OrderRefused, PriceUnavailable, AccountValueUnavailable, ConnectionError) as exc:
            res.refused += 1
            res.refusals[" ".join(str(exc).split()[:8])] += 1
        except TimeoutError:
            res.refused += 1
            res.refusals["timeout"] += 1

    # ---- faults ------------------------------------------------------------------------
    async def _inject(self, step: int) -> None:
        kinds, weights = zip(*FAULTS.items(), strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        gw, faults, res = self.gw, self.gw.faults, self.result
        res.faults[kind] += 1
        self._open_faults.append((step, kind))
        if kind == "inflight":  # the next order: dropped between send and ack
            self._drop_on_send = 1
        elif kind == "mid-rebalance":  # the next decision rebalances; drop after its 2nd order
            self._rebalance_next = True
            self._drop_on_send = 2
        elif kind == "mid-partial":  # partial fills now, a drop while they are under way
            faults.force_partial_fills(3)

            def drop_if_working() -> None:
                if any(so.filled for so in gw.broker.working()):
                    res.inflight_faults += 1
                faults.drop_all()

            self._pending.append((step + 1, drop_if_working))
        elif kind == "drop":
            back = time.monotonic()
            faults.drop_all()
            await self._await_reconnect(back)
        elif kind == "restart":
            await faults.restart(downtime=self.rng.uniform(0.05, 0.5))
            await self._await_reconnect(time.monotonic())
        elif kind == "1100":
            faults.send_error(1100)
            code = self.rng.choice((1101, 1102))
            self._pending.append((step + self.rng.randint(1, 3), lambda: faults.send_error(code)))
        elif kind in ("1101", "1102"):
            faults.send_error(int(kind))
        elif kind == "reject":
            faults.reject_next_order("Simulated margin check")
        elif kind == "partial":
            faults.force_partial_fills(self.rng.randint(1, 3))
        elif kind == "pacing":
            faults.send_error(100, "Max rate of messages per second has been exceeded:max=50")
            faults.send_error(162, "Historical Market Data Service error message:pacing violation")
        elif kind == "farm":
            faults.send_error(self.rng.choice((2103, 2105, 2110)))
            self._pending.append((step + self.rng.randint(1, 4), lambda: faults.send_error(2104)))
            self._pending.append((step + 4, lambda: faults.send_error(2106)))
        elif kind == "silent":
            faults.go_silent()
            cfg = self.app.session.config
            await asyncio.sleep(cfg.heartbeat_interval + cfg.heartbeat_timeout + 0.2)
            faults.go_silent(False)
            await self._await_reconnect(time.monotonic())
        _ = gw

    async def _await_reconnect(self, since: float) -> None:
        session = self.app.session
        loop = asyncio.get_running_loop()
        end = loop.time() + 3.0
        while session.state not in ("DISCONNECTED", "CONNECTING") and loop.time() < end:
            if session.stats.drops and not session.ib.isConnected():
                break
            await asyncio.sleep(0.005)
        if await session.wait_ready(30.0):
            self.result.reconnect_seconds.append(time.monotonic() - since)

    # ---- end ---------------------------------------------------------------------------
    async def _settle(self) -> None:
        app, gw = self.app, self.gw
        await self._stop_strategies()
        for _due, fn in self._pending:
            fn()
        self._pending.clear()
        gw.faults.go_silent(False)
        gw.faults.send_error(2104)
        gw.faults.send_error(2106)
        await app.session.wait_ready(30.0)
        with contextlib.suppress(OrderRefused):
            await app.cancel_all()
        for _ in range(30):
            gw.advance(1)
            await asyncio.sleep(0.02)
            if not gw.broker.working():
                break
        for _ in range(3):  # a fault injected at the very end may still be healing
            await app.session.wait_ready(30.0)
            try:
                await app.ib.reqCurrentTimeAsync()
                break
            except ConnectionError:
                await asyncio.sleep(0.5)
        await asyncio.sleep(0.1)
        self._snapshot()
        if await app.session.reconcile() is None:
            self.result.halted = app.session.halt_reason
        await asyncio.sleep(0.05)

    def _check(self) -> None:
        res, journal, gw, app = self.result, self.journal, self.gw, self.app
        fills = journal.fills()
        ids = [f["exec_id"] for f in fills]
        gateway_execs = self.records.exec_ids()
        res.gateway_fills = len(gateway_execs)
        res.journal_fills = len(ids)
        res.lost_fills = len(gateway_execs - set(ids))
        res.phantom_fills = len(set(ids) - gateway_execs) + (len(ids) - len(set(ids)))
        res.gateway_orders = self.records.order_count()
        keys = self.records.key_counts()
        res.duplicate_orders = sum(n - 1 for k, n in keys.items() if n > 1) + keys.get("", 0)
        res.duplicate_intents = self.duplicate_intents()
        gw_pos = {c: h.qty for c, h in gw.broker.account.holdings.items() if h.qty}
        net = {c: q for c, q in journal.net_fills().items() if abs(q) > 1e-9}
        view = {c: p.position for c, p in app.positions.items()}
        for con_id in set(gw_pos) | set(net) | set(view):
            triple = (gw_pos.get(con_id, 0.0), net.get(con_id, 0.0), view.get(con_id, 0.0))
            if len(set(triple)) > 1:
                res.position_mismatches[con_id] = triple
        res.reconnect_seconds.extend([])
        res.faults = Counter(dict(res.faults))
        _ = app.session.stats

    def duplicate_intents(self) -> int:
        """Gateway orders beyond one per intent: orders of a strategy on a contract after
        the same decision of it (the latest decision at or before the order was sent, or
        arrived when no send was seen: a re-send by reconciliation) — whatever their
        idempotency keys, so a re-send under a new key is caught too."""
        per_intent: dict[tuple, list] = {}
        intents, sends = self.records.intents(), self.records.sends()
        for cid, oid, strategy, con_id, arrived in self.records.orders():
            times = intents.get((strategy, con_id))
            if not times:
                continue  # a real strategy's order: its decisions are not traced here
            seen = sends.get(oid) if cid == 1 else None
            sent = seen[0] if seen is not None and seen[1] == con_id else None
            t = arrived if sent is None else sent
            decision = max((d for d in times if d <= t + 1e-6), default=None)
            per_intent.setdefault((strategy, con_id, decision), []).append((oid, sent, arrived))
        for (strategy, con_id, decision), orders in per_intent.items():
            if len(orders) > 1:
                self.result.duplicate_detail.append(
                    f"{strategy} conId {con_id} decision at {decision}: orders "
                    f"(id, sent, arrived) {sorted(orders, key=lambda o: o[2])}"
                )
        return sum(len(v) - 1 for v in per_intent.values() if len(v) > 1)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
