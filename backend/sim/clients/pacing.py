"""IB's pacing rules as the simulated gateway enforces them, per client connection.

* More than ``max_rate`` (50) messages in any one second → error 100; after
  ``max_violations`` (3) violations the gateway drops the connection.  Messages are counted
  by their *arrival* time (when their bytes were read off the socket, see
  :mod:`livedesk.backend.sim.clients.transport`), never by when the gateway got round to
  dispatching them, so the gateway's own processing delay cannot push a client over.
  The sliding window is one second minus ``jitter`` (50 ms): a client that throttles itself
  to 45 messages per second in bursts (ib_async's default) stays clear even when a burst
  is read a few milliseconds late, while a sustained 53 messages/s or a burst of 51 is
  caught.
* Historical data (IB's documented limits for small bars): an identical request within
  15 s, 6 or more requests for the same contract/tick type within 2 s, or more than 60
  requests in 10 minutes → error 162.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class MessagePacer:
    """Sliding one-second window of inbound messages."""

    max_rate: int = 50
    max_violations: int = 3
    jitter: float = 0.05
    times: deque = field(default_factory=deque)
    violations: int = 0
    _flagged_second: float = -1.0

    def record(self, now: float) -> str | None:
        """Record one message that arrived at ``now`` (monotonic seconds).

        Returns ``"error"`` (answer with error 100), ``"disconnect"`` or None.
        """
        self.times.append(now)
        window = 1.0 - self.jitter
        while self.times and now - self.times[0] >= window:
            self.times.popleft()
        if len(self.times) <= self.max_rate:
            return None
        if now - self._flagged_second < 1.0:
            return None  # one error per burst second, as TWS does
        self._flagged_second = now
        self.violations += 1
        return "disconnect" if self.violations >= self.max_violations else "error"


@dataclass
class HistoricalPacer:
    """IB's historical-data pacing rules."""

    identical_window: float = 15.0
    same_contract_window: float = 2.0
    same_contract_max: int = 6
    total_window: float = 600.0
    total_max: int = 60
    requests: deque = field(default_factory=deque)

    def check(self, key: tuple, contract_key: tuple, now: float) -> str | None:
        """Return the reason for a pacing violation, or None (and record the request)."""
        while self.requests and now - self.requests[0][0] >= self.total_window:
            self.requests.popleft()
        for t, k, _ in self.requests:
            if k == key and now - t < self.identical_window:
                return "identical historical data request within 15 seconds"
        same = sum(
            1
            for t, _, c in self.requests
            if c == contract_key and now - t < self.same_contract_window
        )
        if same + 1 >= self.same_contract_max:
            return "6 or more historical data requests for the same contract within 2 seconds"
        if len(self.requests) + 1 > self.total_max:
            return "more than 60 historical data requests within 10 minutes"
        self.requests.append((now, key, contract_key))
        return None
