"""The socket side of one API client connection: handshake, framing limits, arrival times, output.

:class:`Connection` is the asyncio protocol of one accepted socket.  It knows bytes, not
requests; the :class:`~livedesk.backend.sim.clients.session.ClientSession` it feeds knows requests.

* **Handshake** — ``API\\0`` then one length-prefixed version range; anything else closes the
  socket at once.  The handshake *and* the first API message (``startApi`` or a control
  frame) must arrive within ``handshake_timeout`` of connecting, so idle or half-open
  sockets are closed instead of lingering.
* **Caps** — clients (sockets past the handshake) and sockets still in their handshake are
  counted apart (``max_connections``, ``max_pending``).  While ``max_connections`` clients
  are connected a new socket is closed at once; when ``max_pending`` sockets are still in
  their handshake a new one closes the *oldest* of them, so a flood of sockets that never
  finish the handshake cannot lock a real client out (it completes in milliseconds).
* **Frames** — a frame announcing more than ``max_frame`` bytes closes the connection as soon
  as its length prefix is read; a frame left incomplete for ``frame_timeout`` closes it too.
* **Arrival times** — every frame carries the monotonic time its bytes were read off the
  socket (``data_received``), which is what message pacing counts.  Frames are queued and
  dispatched a few milliseconds' worth per event-loop iteration, so the socket is read
  (and later frames stamped) while a burst is still being served: the gateway's own
  processing time never makes a client look faster than it is.  A client that floods
  faster than the gateway serves has its socket paused past ``max_queued_frames``.
* **Output** — frames are written through :meth:`Connection.write`.  Above ``conflate_bytes``
  of unsent output the transport pauses writing and the session *conflates*: streaming
  updates (ticks, bars, PnL, account values) are not queued and the next pass sends only
  the latest values.  A connection whose unsent output passes ``max_output_bytes`` while the
  client is not reading is dropped with a logged reason, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from livedesk.backend.sim.protocol.wire import (
    FrameDecoder,
    FrameError,
    encode_frame,
    parse_handshake,
)

if TYPE_CHECKING:
    from livedesk.backend.sim.gateway import SimGateway

log = logging.getLogger("livedesk.sim.transport")

API_PREFIX = b"API\0"


@dataclass(frozen=True)
class ConnectionLimits:
    """Per-connection limits of the simulated gateway (see the module docstring)."""

    max_frame: int = 256 * 1024
    """Largest request frame accepted, in bytes (a placeOrder is well under 2 KiB)."""
    handshake_timeout: float = 5.0
    """Seconds allowed from connect to a completed handshake and the first API message."""
    frame_timeout: float = 30.0
    """Seconds a started frame may stay incomplete."""
    max_connections: int = 32
    """Concurrent API clients — sockets past the handshake (TWS accepts 32); while that many
    are connected a new socket is closed at once, and a handshake completed above it too."""
    max_pending: int = 32
    """Concurrent sockets still in their handshake, counted apart from the clients; a new
    socket beyond it closes the oldest of them, so sockets that never finish the handshake
    cannot lock clients out (each is closed at ``handshake_timeout`` anyway)."""
    conflate_bytes: int = 1 << 20
    """Unsent output above which streaming updates are conflated."""
    max_output_bytes: int = 8 << 20
    """Unsent output above which a client that does not read is disconnected."""
    max_queued_frames: int = 5000
    """Frames read but not yet served above which reading the socket pauses."""
    dispatch_budget: float = 0.002
    """Seconds of request serving per event-loop iteration before the socket is read again."""
    send_buffer: int | None = None
    """Kernel send buffer (SO_SNDBUF) of each client socket; None keeps the OS default."""
    close_grace: float = 2.0
    """Seconds a closing socket may take to deliver its last output before it is aborted."""

    def __post_init__(self) -> None:
        if not 0 < self.conflate_bytes <= self.max_output_bytes:
            raise ValueError("need 0 < conflate_bytes <= max_output_bytes")
        if self.max_frame < 64 or self.max_connections < 1 or self.max_pending < 1:
            raise ValueError("max_frame must be >= 64, max_connections and max_pending >= 1")
        if self.handshake_timeout <= 0 or self.frame_timeout <= 0:
            raise ValueError("timeouts must be positive")


class FrameSink(Protocol):
    """What a :class:`Connection` feeds: the session serving the client."""

    def on_handshake(self, min_version: int, max_version: int) -> list | None:
        """Fields of the handshake reply, or None to refuse (the socket is then closed)."""

    def on_frame(self, fields: list[str], arrival: float) -> None:
        """One complete request frame that arrived at ``arrival`` (monotonic seconds)."""

    def on_closed(self) -> None:
        """The socket is gone, however it closed."""


class Connection(asyncio.Protocol):
    """One accepted client socket (see the module docstring)."""

    def __init__(
        self,
        gw: SimGateway,
        limits: ConnectionLimits,
        make_session: Callable[[Connection], FrameSink],
    ) -> None:
        self.gw = gw
        self.limits = limits
        self.transport: asyncio.Transport | None = None
        self.peer: tuple | None = None
        self.session: FrameSink = make_session(self)
        self.handshaken = False
        self.started = False
        self.born = time.monotonic()
        self.closed = False
        self.conflating = False
        self.close_reason = ""
        self.peak_output = 0
        self._hello = b""
        self._decoder = FrameDecoder(max_frame=limits.max_frame)
        self._deadline: asyncio.TimerHandle | None = None
        self._frame_timer: asyncio.TimerHandle | None = None
        self._inbox: deque[tuple[list[str], float]] = deque()
        self._draining = False
        self._reading_paused = False

    # ---- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")
        clients = sum(1 for c in self.gw.connections if c.handshaken)
        pending = [c for c in self.gw.connections if not c.handshaken and not c.closed]
        self.gw.connections.add(self)
        if clients >= self.limits.max_connections:
            self._refuse(f"too many connections (max {self.limits.max_connections})")
            return
        if len(pending) >= self.limits.max_pending:  # the oldest unfinished one makes room
            oldest = min(pending, key=lambda c: c.born)
            oldest.close_reason = (
                f"too many unfinished handshakes (max {self.limits.max_pending}): oldest closed"
            )
            _CAP_LOG.note(oldest.peer, oldest.close_reason)
            oldest.closed = True
            oldest.transport.abort()
        sock = transport.get_extra_info("socket")
        if self.limits.send_buffer and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.limits.send_buffer)
        self.transport.set_write_buffer_limits(
            high=self.limits.conflate_bytes, low=self.limits.conflate_bytes // 4
        )
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(
            self.limits.handshake_timeout,
            self.drop,
            f"no handshake and API start within {self.limits.handshake_timeout:g} s",
        )

    def _refuse(self, reason: str) -> None:
        self.close_reason = reason
        _CAP_LOG.note(self.peer, reason)
        self.closed = True
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        arrival = time.monotonic()
        if self.closed:
            return
        try:
            if not self.handshaken:
                data = self._handshake(data)
                if not self.handshaken or self.closed:
                    return
            frames = self._decoder.feed(data)
        except FrameError as exc:
            self.drop(str(exc))
            return
        if frames:
            self._inbox.extend((fields, arrival) for fields in frames)
            if not self._draining:
                self._draining = True
                asyncio.get_running_loop().call_soon(self._drain)
            if len(self._inbox) > self.limits.max_queued_frames and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
        self._watch_partial_frame(bool(frames))

    def _drain(self) -> None:
        """Serve queued frames for at most ``dispatch_budget``, then let the loop read again."""
        end = time.monotonic() + self.limits.dispatch_budget
        inbox = self._inbox
        while inbox and not self.closed:
            fields, arrival = inbox.popleft()
            try:
                self.session.on_frame(fields, arrival)
            except Exception:  # a bug serving one frame must not stall the connection
                log.exception("serving a frame from %s failed", _peer_text(self.peer))
            if time.monotonic() >= end:
                break
        if self.closed:
            inbox.clear()
        if inbox:
            asyncio.get_running_loop().call_soon(self._drain)
            return
        self._draining = False
        if self._reading_paused and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for timer in (self._deadline, self._frame_timer):
            if timer is not None:
                timer.cancel()
        self.gw.connections.discard(self)
        self.session.on_closed()

    def pause_writing(self) -> None:
        self.conflating = True

    def resume_writing(self) -> None:
        self.conflating = False

    # ---- input ---------------------------------------------------------------------------
    def _handshake(self, data: bytes) -> bytes:
        """Consume handshake bytes; returns what follows it once the handshake is complete."""
        self._hello += data
        head = self._hello[: len(API_PREFIX)]
        if head != API_PREFIX[: len(head)]:
            raise FrameError("not an API client")
        if len(self._hello) < len(API_PREFIX):
            return b""
        parsed = parse_handshake(self._hello[len(API_PREFIX) :])
        if parsed is None:
            return b""
        lo, hi, rest = parsed
        self._hello = b""
        if sum(1 for c in self.gw.connections if c.handshaken) >= self.limits.max_connections:
            self._refuse(f"too many connections (max {self.limits.max_connections})")
            return b""
        reply = self.session.on_handshake(lo, hi)
        if reply is None:
            self.close()
            return b""
        self.handshaken = True
        self.write_frames([reply])
        return rest

    def api_started(self) -> None:
        """The client has started the API (or sent a control frame): no more deadline."""
        self.started = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _watch_partial_frame(self, completed: bool) -> None:
        """Time the frame now being received (restarted whenever a frame completes)."""
        if self._frame_timer is not None and (completed or self._decoder.pending == 0):
            self._frame_timer.cancel()
            self._frame_timer = None
        if self._decoder.pending and self._frame_timer is None:
            self._frame_timer = asyncio.get_running_loop().call_later(
                self.limits.frame_timeout,
                self.drop,
                f"frame incomplete after {self.limits.frame_timeout:g} s",
            )

    # ---- output --------------------------------------------------------------------------
    @property
    def output_size(self) -> int:
        """Bytes written but not yet accepted by the socket."""
        return self.transport.get_write_buffer_size() if self.transport else 0

    def write(self, data: bytes) -> None:
        """Queue bytes for the client; drop the client if it has stopped reading."""
        if self.closed or self.transport is None:
            return
        size = self.transport.get_write_buffer_size()
        if size > self.limits.conflate_bytes and size + len(data) > self.limits.max_output_bytes:
            self.drop(
                f"client not reading: {size + len(data)} bytes of output unsent "
                f"(max {self.limits.max_output_bytes})"
            )
            return
        self.transport.write(data)
        self.peak_output = max(self.peak_output, self.transport.get_write_buffer_size())

    def write_frames(self, frames: list[list]) -> None:
        """Encode and write frames at once (bypasses the session's queue)."""
        self.write(b"".join(encode_frame(f) for f in frames))

    def close(self) -> None:
        """Close after the output already written has been sent (aborted after a grace
        period if the client does not read it, so the socket and its id are released)."""
        if not self.closed and self.transport is not None:
            self.closed = True
            self._finish_close()

    def _finish_close(self) -> None:
        self.transport.close()
        asyncio.get_running_loop().call_later(
            self.limits.close_grace, self._abort_if_open, "did not read its last output"
        )

    def _abort_if_open(self, reason: str) -> None:
        if self.transport is not None and self in self.gw.connections:
            self.close_reason = reason
            log.warning("aborting connection from %s: %s", _peer_text(self.peer), reason)
            self.transport.abort()

    def close_later(self, delay: float) -> None:
        """Stop reading now, close after ``delay`` seconds (lets a final error go out)."""
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(delay, self._finish_close)

    def drop(self, reason: str) -> None:
        """Abort the connection at once, logging why."""
        if self.transport is None or self.transport.is_closing():
            self.closed = True
            return
        self.close_reason = reason
        log.warning("dropping connection from %s: %s", _peer_text(self.peer), reason)
        self.closed = True
        self.transport.abort()


class _RateLimitedWarning:
    """Logs a repeated refusal at most once a second, with the count of those not logged."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._last = -interval
        self._suppressed = 0

    def note(self, peer: tuple | None, reason: str) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        more = f" (and {self._suppressed} more since)" if self._suppressed else ""
        log.warning("refusing connection from %s: %s%s", _peer_text(peer), reason, more)
        self._last, self._suppressed = now, 0


_CAP_LOG = _RateLimitedWarning()


def _peer_text(peer: tuple | None) -> str:
    return f"{peer[0]}:{peer[1]}" if peer else "?"
