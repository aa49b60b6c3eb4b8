"""The broker's clock: IB's server time (``reqCurrentTime``), never the wall clock.

Everything LiveDesk shows or journals is stamped with this one clock, owned by the
:class:`~livedesk.backend.broker.session.BrokerSession` (``TradingApp.clock``). On the
simulated gateway it is the simulated clock — which may run faster than real time
(``--speed 60``), be stepped by hand (``speed=0``) or sit on another day than the wall clock.

:class:`GatewayClock` keeps the recent answers of the gateway and, from them, the gateway's
rate (simulated seconds per real second, over a baseline of up to ``baseline`` real seconds)
and its offset, so :meth:`GatewayClock.time` reads the broker's time synchronously between
requests. IB answers in whole seconds: the offset is the tightest lower bound over the
recent answers, so the reading converges to within the request latency. The session
refreshes it with its heartbeat. :meth:`GatewayClock.now` (async) asks the gateway when the
last answer is older than ``max_age``; :meth:`GatewayClock.sleep_until` wakes schedules on
time. ``exact`` is an in-process reading of the same gateway clock (the embedded simulated
gateway's ``now``), used instead of the estimate when set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import deque
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from livedesk.backend.broker.current_time import current_time

NEW_YORK = ZoneInfo("America/New_York")

Source = Callable[[], Awaitable[dt.datetime]]

# an answer further than this from the prediction (gateway seconds) re-anchors the estimate
JUMP = 2.5
WAKE_EVERY = 1.0
"""Real seconds a schedule sleeps at most before asking the gateway's time again."""


class GatewayClock:
    """Gateway time in New York, from ``source`` (e.g. ``ib.reqCurrentTimeAsync``)."""

    def __init__(
        self,
        source: Source,
        *,
        max_age: float = 0.5,
        min_sleep: float = 0.02,
        max_sleep: float = 30.0,
        timeout: float = 10.0,
        baseline: float = 60.0,
        mono: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        exact: Callable[[], float] | None = None,
    ) -> None:
        self._source = source
        self.max_age = max_age
        self.min_sleep = min_sleep
        self.max_sleep = max_sleep
        self.timeout = timeout
        self.baseline = baseline
        self.exact = exact
        """An in-process reading of the gateway's clock (epoch seconds), or None."""
        self._mono = mono
        self._wall = wall
        self.rate: float | None = None
        """Estimated gateway seconds per real second (None until two answers 2 s apart)."""
        self.requests = 0
        self._samples: deque[tuple[float, float]] = deque()  # (gateway epoch, monotonic)
        self._last: tuple[float, float] | None = None
        self._floor = -float("inf")
        self._inflight: asyncio.Future | None = None
        self.listeners: list[Callable[[], None]] = []
        """Called after every answer of the gateway (e.g. to journal :meth:`reading`)."""

    @classmethod
    def of(cls, ib, **kw) -> GatewayClock:
        """A clock reading an ``ib_async.IB``'s gateway (clocks of one IB share requests)."""
        return cls(lambda: current_time(ib), **kw)

    # ---- requests ------------------------------------------------------------------
    async def refresh(self) -> dt.datetime:
        """Ask the gateway now (one request; concurrent callers share it)."""
        task = self._inflight
        if task is None or task.done():
            task = self._inflight = asyncio.ensure_future(self._ask())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if task.cancelled() and (me is None or not me.cancelling()):
                # the request died with the old link (reset on reconnect), the caller was
                # not cancelled: a lost link, which callers wait out and retry
                raise ConnectionError("the gateway's time request was lost with the link") from None
            raise

    async def _ask(self) -> dt.datetime:
        # ib_async keys reqCurrentTime by name: two at once would orphan the first
        answer = await asyncio.wait_for(self._source(), self.timeout)
        self.requests += 1
        self.observe(answer.timestamp(), self._mono())
        for fn in list(self.listeners):
            fn()
        return dt.datetime.fromtimestamp(answer.timestamp(), NEW_YORK)

    def observe(self, t: float, m: float) -> None:
        """Record the gateway's answer ``t`` (epoch) received at monotonic ``m``."""
        samples = self._samples
        drift = JUMP + 0.05 * (m - samples[-1][1]) if samples else 0.0
        if self.rate is not None and abs(self._estimate(m) - t) > drift:
            self._samples.clear()  # the gateway restarted, was stepped or changed speed
            self.rate = None
            self._floor = -float("inf")
        samples.append((t, m))
        while len(samples) > 2 and m - samples[1][1] >= self.baseline:
            samples.popleft()
        t0, m0 = samples[0]
        if m - m0 >= 2.0:
            self.rate = max(0.0, (t - t0) / (m - m0))
        self._last = (t, m)

    def reset(self) -> None:
        """Forget the answers (a new gateway, e.g. after a reconnect): the next one anchors.

        A request still in flight (its answer lost with the old link) is dropped too.
        """
        task, self._inflight = self._inflight, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        self._samples.clear()
        self.rate = None
        self._floor = -float("inf")

    def _estimate(self, m: float) -> float:
        """The gateway time at monotonic ``m`` from the recent answers."""
        rate = 1.0 if self.rate is None else self.rate
        # whole-second answers: each is a lower bound of the time when it arrived
        return max(t + (m - mt) * rate for t, mt in self._samples)

    # ---- readings ------------------------------------------------------------------
    def time(self) -> float:
        """The broker's time now (epoch seconds); the wall clock before the first answer."""
        if self.exact is not None:
            return self.exact()
        if not self._samples:
            return self._wall()
        t = self._estimate(self._mono())
        if self._floor - JUMP < t < self._floor:
            t = self._floor  # never step back by a rounding (a restart may go back)
        self._floor = t
        return t

    def reading(self) -> dict[str, float]:
        """Broker time, wall time and rate now: lets an offline command follow this clock."""
        return {
            "t": self.time(),
            "wall": self._wall(),
            "rate": 1.0 if self.rate is None else self.rate,
        }

    def datetime(self) -> dt.datetime:
        """:meth:`time` in New York."""
        return dt.datetime.fromtimestamp(self.time(), NEW_YORK)

    @property
    def synced(self) -> bool:
        """True once the gateway has answered (or the clock is read in-process)."""
        return self.exact is not None or bool(self._samples)

    @property
    def offset(self) -> float:
        """Broker time minus wall time (seconds) now."""
        return self.time() - self._wall()

    def today(self) -> dt.date:
        """The broker's New York date (the wall date before any answer)."""
        return self.datetime().date()

    async def now(self) -> dt.datetime:
        """Gateway time (cached up to ``max_age`` real seconds, extrapolated at ``rate``)."""
        if self.exact is not None:
            return self.datetime()
        last = self._last
        if last is None or self._mono() - last[1] > self.max_age:
            return await self.refresh()
        t = last[0] + (self._mono() - last[1]) * (self.rate or 0.0)
        return dt.datetime.fromtimestamp(t, NEW_YORK)

    async def sleep_until(self, when: dt.datetime, stop: asyncio.Event | None = None) -> bool:
        """Wait until the gateway clock reaches ``when``; False if ``stop`` was set first."""
        target = when.timestamp()
        while True:
            now = (await self.refresh()).timestamp()
            if now >= target:
                return True
            rate = self.rate if self.rate else 1.0
            # look again at least every second: the rate is an estimate, and a gateway may be
            # stepped or sped up meanwhile (one shared request per connection, so cheap)
            cap = min(self.max_sleep, WAKE_EVERY)
            delay = min(cap, max(self.min_sleep, (target - now) / rate))
            if stop is None:
                await asyncio.sleep(delay)
                continue
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return False
            except TimeoutError:
                pass


def from_reading(reading: dict | None, wall: float) -> dt.datetime | None:
    """The broker time at wall time ``wall`` extrapolated from a saved :meth:`GatewayClock.reading`."""
    try:
        t = float(reading["t"]) + (wall - float(reading["wall"])) * float(reading["rate"])
    except (TypeError, KeyError, ValueError):
        return None
    return dt.datetime.fromtimestamp(t, NEW_YORK)
