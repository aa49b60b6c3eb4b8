"""Settings and counters of the broker session (:mod:`livedesk.backend.broker.session`)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


def fallback_ids(client_id: int, fallback: int) -> tuple[int, ...]:
    """The fallback client id to try on 326 (none when it equals ``client_id``)."""
    return () if fallback == client_id else (fallback,)


class ClientIdInUse(ConnectionError):
    """Every configured client id is held by another connection (error 326)."""


@dataclass(frozen=True)
class SessionConfig:
    """Where to connect and how hard to try."""

    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 1
    fallback_client_ids: tuple[int, ...] = ()
    readonly: bool = False
    account: str = ""
    timeout: float = 4.0
    backoff_initial: float = 0.25
    backoff_factor: float = 2.0
    backoff_max: float = 4.0
    jitter: float = 0.2
    heartbeat_interval: float = 5.0
    heartbeat_timeout: float = 5.0
    reconcile_timeout: float = 10.0
    adopted_poll_interval: float = 5.0
    """Seconds between polls of adopted orders (ours, working under another client id)."""
    seed: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if not self.host:
            problems.append("host is empty")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} is not in 1..65535")
        for cid in (self.client_id, *self.fallback_client_ids):
            if cid <= 0:
                problems.append(f"client id {cid} must be positive (0 is TWS's manual-order id)")
        for name in ("timeout", "backoff_initial", "backoff_max", "heartbeat_interval",
                     "heartbeat_timeout", "reconcile_timeout", "adopted_poll_interval"):  # fmt: skip
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.backoff_factor < 1:
            problems.append(f"backoff_factor must be >= 1, got {self.backoff_factor!r}")
        if not 0 <= self.jitter < 1:
            problems.append(f"jitter must be in [0, 1), got {self.jitter!r}")
        if problems:
            raise ValueError("invalid session settings: " + "; ".join(problems))

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (0-based), jittered."""
        base = min(self.backoff_max, self.backoff_initial * self.backoff_factor**attempt)
        return base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))


@dataclass
class SessionStats:
    """Counters for the soak benchmark and the console."""

    drops: int = 0
    reconnects: int = 0
    heartbeat_failures: int = 0
    reconciliations: int = 0
    reconcile_failures: int = 0
    missed_fills: int = 0
    reconnect_seconds: list[float] = field(default_factory=list)
    """Seconds from the moment the gateway accepted us again… measured from the drop."""


RestoreHook = Callable[[], Awaitable[None] | None]
