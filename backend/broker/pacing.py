"""Client-side pacing: one scheduler every request to the gateway goes through.

Requests queue (FIFO) instead of failing. Two lanes keep a long historical-data wait
from holding up orders: ordinary messages wait only for the message rate; historical
requests wait for IB's historical rules and then for a message slot.

- messages: at most ``max_messages_per_second`` in any rolling second (default 45, below
  IB's 50). A sliding window rather than a token bucket, whose full bucket plus refill
  could let ~2x the rate through within one second;
- historical data: no identical request within 15 s; at most 5 requests for the same
  contract (IB: contract, exchange and tick type) within 2 s; at most 60 in any 10 min.

The clock and sleep are injected so tests run in virtual time. ``on_wait(kind, seconds)``
is called before every wait so a UI can show "pacing: waiting 1.2 s".
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

# Timestamps compared within this margin count as equal (float noise from clock + sleep).
_EPS = 1e-9


def _prune(times: deque[float], window: float, now: float) -> None:
    while times and times[0] + window <= now + _EPS:
        times.popleft()


def _delay_for(times: deque[float], limit: int, window: float, now: float) -> float:
    """Seconds until one more event fits ``limit`` per ``window`` (times already pruned)."""
    if len(times) < limit:
        return 0.0
    return times[len(times) - limit] + window - now


class PacingScheduler:
    """Shared rate limiter for gateway messages and historical-data requests."""

    def __init__(
        self,
        *,
        max_messages_per_second: int = 45,
        identical_interval: float = 15.0,
        same_contract_max: int = 5,
        same_contract_window: float = 2.0,
        historical_max: int = 60,
        historical_window: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_wait: Callable[[str, float], None] | None = None,
    ):
        self.max_messages_per_second = max_messages_per_second
        self.identical_interval = identical_interval
        self.same_contract_max = same_contract_max
        self.same_contract_window = same_contract_window
        self.historical_max = historical_max
        self.historical_window = historical_window
        self.on_wait = on_wait
        self._clock = clock
        self._sleep = sleep
        self._msg_lane = asyncio.Lock()
        self._hist_lane = asyncio.Lock()
        self._messages: deque[float] = deque()
        self._historical: deque[float] = deque()
        self._per_contract: dict[Hashable, deque[float]] = {}
        self._last_request: dict[tuple, float] = {}
        self._deadlines: dict[int, float] = {}
        self._ids = itertools.count()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Requests queued or sleeping, not yet granted."""
        return self._waiting

    @property
    def current_wait(self) -> float:
        """Longest remaining wait of a sleeping request, in seconds (0 if none)."""
        now = self._clock()
        return max((d - now for d in self._deadlines.values()), default=0.0)

    async def acquire(self, kind: str = "msg") -> float:
        """Wait for a message slot; returns the seconds waited."""
        self._waiting += 1
        try:
            return await self._acquire_message(kind)
        finally:
            self._waiting -= 1

    async def acquire_historical(self, key: tuple, contract: Hashable | None = None) -> float:
        """Wait until a historical request ``key`` may be sent; it also takes a message slot.

        ``key`` identifies the request (contract, end, duration, bar size, what, RTH);
        ``contract`` groups requests for the same-contract rule (default ``key[0]``).
        Returns the seconds waited.
        """
        group = contract if contract is not None else key[0]
        self._waiting += 1
        try:
            async with self._hist_lane:
                waited = await self._wait(
                    "historical", lambda now: self._historical_delay(now, key, group)
                )
                waited += await self._acquire_message("historical")
                now = self._clock()
                self._historical.append(now)
                self._per_contract.setdefault(group, deque()).append(now)
                self._last_request[key] = now
                return waited
        finally:
            self._waiting -= 1

    async def _acquire_message(self, kind: str) -> float:
        async with self._msg_lane:
            waited = await self._wait(kind, self._message_delay)
            self._messages.append(self._clock())
            return waited

    async def _wait(self, kind: str, delay_at: Callable[[float], float]) -> float:
        waited = 0.0
        token = next(self._ids)
        try:
            while (delay := delay_at(now := self._clock())) > 0:
                self._deadlines[token] = now + delay
                if self.on_wait is not None:
                    self.on_wait(kind, delay)
                await self._sleep(delay)
                waited += self._clock() - now
        finally:
            self._deadlines.pop(token, None)
        return waited

    def _message_delay(self, now: float) -> float:
        _prune(self._messages, 1.0, now)
        return _delay_for(self._messages, self.max_messages_per_second, 1.0, now)

    def _historical_delay(self, now: float, key: tuple, group: Hashable) -> float:
        _prune(self._historical, self.historical_window, now)
        expired = self.identical_interval
        for k in [k for k, t in self._last_request.items() if t + expired <= now + _EPS]:
            del self._last_request[k]
        for g in list(self._per_contract):
            _prune(self._per_contract[g], self.same_contract_window, now)
            if not self._per_contract[g]:
                del self._per_contract[g]
        delays = [
            _delay_for(self._historical, self.historical_max, self.historical_window, now),
            _delay_for(
                self._per_contract.get(group, deque()),
                self.same_contract_max,
                self.same_contract_window,
                now,
            ),
        ]
        if key in self._last_request:
            delays.append(self._last_request[key] + self.identical_interval - now)
        return max(delays)
