"""The gateway's clock (``reqCurrentTime``), not the wall clock.

The simulated gateway may run faster than real time (``--speed 60``) or be stepped by hand
(``speed=0``), so schedules must ask the gateway what time it is. :class:`GatewayClock`
caches the last answer for ``max_age`` real seconds (so one iteration costs at most one
request) and estimates the gateway's rate (simulated seconds per real second) from
successive answers, which :meth:`GatewayClock.sleep_until` uses to wake up on time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from livedesk.backend.broker.current_time import current_time

NEW_YORK = ZoneInfo("America/New_York")

Source = Callable[[], Awaitable[dt.datetime]]


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
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self.max_age = max_age
        self.min_sleep = min_sleep
        self.max_sleep = max_sleep
        self._mono = mono
        self._sample: tuple[float, float] | None = None  # (gateway epoch, monotonic)
        self.rate: float | None = None
        """Estimated gateway seconds per real second (None until two samples)."""
        self.requests = 0
        self._last: tuple[float, float] | None = None
        self._inflight: asyncio.Future | None = None
        self.timeout = timeout

    @classmethod
    def of(cls, ib, **kw) -> GatewayClock:
        """A clock reading an ``ib_async.IB``'s gateway."""
        return cls(lambda: current_time(ib), **kw)

    async def refresh(self) -> dt.datetime:
        """Ask the gateway now (one request; concurrent callers share it)."""
        task = self._inflight
        if task is None or task.done():
            task = self._inflight = asyncio.ensure_future(self._ask())
        return await asyncio.shield(task)

    async def _ask(self) -> dt.datetime:
        # ib_async keys reqCurrentTime by name: two at once would orphan the first
        answer = await asyncio.wait_for(self._source(), self.timeout)
        self.requests += 1
        t, m = answer.timestamp(), self._mono()
        if self._sample is not None:
            dt_real = m - self._sample[1]
            if dt_real >= 2.0:
                self.rate = max(0.0, (t - self._sample[0]) / dt_real)
                self._sample = (t, m)
        else:
            self._sample = (t, m)
        self._last = (t, m)
        return dt.datetime.fromtimestamp(t, NEW_YORK)

    def today(self) -> dt.date:
        """The gateway's New York date at the last answer (the wall date before any)."""
        last = self._last
        if last is None:
            return dt.datetime.now(NEW_YORK).date()
        return dt.datetime.fromtimestamp(last[0], NEW_YORK).date()

    async def now(self) -> dt.datetime:
        """Gateway time (cached up to ``max_age`` real seconds, extrapolated at ``rate``)."""
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
            cap = self.max_sleep if self.rate is not None else min(self.max_sleep, 1.0)
            delay = min(cap, max(self.min_sleep, (target - now) / rate))
            if stop is None:
                await asyncio.sleep(delay)
                continue
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return False
            except TimeoutError:
                pass
