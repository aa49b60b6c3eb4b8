"""The sim gateway's sockets: arrival-time pacing, backpressure, limits, sessions, control hooks.

Raw sockets stand in for the clients a real gateway meets: idle ones, garbage, huge frames,
clients that never read.  Rates are measured from the gateway's own arrival timestamps.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import sys
import time

import pytest
from ib_async import IB, Client, Stock

from livedesk.backend.sim.clients.pacing import MessagePacer
from livedesk.backend.sim.clients.transport import ConnectionLimits
from livedesk.backend.sim.control.client import send_control
from livedesk.backend.sim.control.faults import CONTROL_MSG_ID
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.sim.protocol import requests as rq
from livedesk.backend.sim.protocol.wire import SERVER_VERSION, FrameDecoder, encode_frame
from tests.conftest import until

HELLO = b"API\0" + struct.pack(">I", 9) + b"v157..178"


class _Recorder:
    """Stands in for ib_async's connection: keeps the bytes a Client would send."""

    def __init__(self) -> None:
        self.data = bytearray()

    def sendMsg(self, msg: bytes) -> None:  # noqa: N802 - ib_async's name
        self.data += msg

    def disconnect(self) -> None:
        pass


def wire_bytes(call, client_id: int = 0) -> bytes:
    """The bytes ib_async's Client writes for ``call(client)`` at server version 178."""
    client = Client(IB().wrapper)
    rec = _Recorder()
    client.conn = rec
    client.connState = Client.CONNECTED
    client._serverVersion = SERVER_VERSION
    client.clientId = client_id
    client.MaxRequests = 0
    call(client)
    return bytes(rec.data)


class RawClient:
    """A bare socket to the gateway (optionally with a tiny receive buffer)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = FrameDecoder()
        self.frames: list[list[str]] = []

    @classmethod
    async def connect(cls, port: int, rcvbuf: int | None = None) -> RawClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        return cls(sock)

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def start(self, client_id: int) -> None:
        await self.send(HELLO + wire_bytes(lambda c: c.startApi(), client_id))

    async def read_until(self, predicate, timeout: float = 3.0) -> bool:
        """Read frames until ``predicate(frames)``; False on EOF."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate(self.frames):
            left = end - loop.time()
            if left <= 0:
                raise AssertionError("expected frames did not arrive")
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), left)
            if not data:
                return False
            self.frames += self.decoder.feed(data)
        return True

    async def closed_by_peer(self, timeout: float) -> bool:
        """Whether the gateway closes the socket within ``timeout`` (data is discarded)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        try:
            while (left := end - loop.time()) > 0:
                if not await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 20), left):
                    return True
        except (ConnectionError, OSError):
            return True
        except TimeoutError:
            return False
        return False

    def close(self) -> None:
        self.sock.close()


def errors_in(frames: list[list[str]]) -> list[int]:
    return [int(f[3]) for f in frames if f and f[0] == "4"]


@pytest.fixture
async def limited(market):
    """A gateway with small, fast limits for the socket tests."""
    gw = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=market.session_open() + 3600,
        tick_interval=0.02,
        limits=ConnectionLimits(
            handshake_timeout=0.5,
            frame_timeout=0.3,
            max_connections=32,
            conflate_bytes=64 << 10,
            max_output_bytes=512 << 10,
            send_buffer=16 << 10,
            close_grace=0.3,
        ),
    )
    await gw.start()
    yield gw
    await gw.stop()


def record_arrivals(gw: SimGateway, client_id: int) -> list[float]:
    """Arrival times the gateway's pacer sees for ``client_id``'s messages from now on."""
    session = gw.sessions[client_id]
    arrivals: list[float] = list(session.pacer.times)  # those still in the window
    record = session.pacer.record

    def recording(now: float):
        arrivals.append(now)
        return record(now)

    session.pacer.record = recording
    return arrivals


def max_in_window(times: list[float], window: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best


# ---- pacing ---------------------------------------------------------------------------
def test_pacer_counts_a_sliding_window_with_jitter_tolerance() -> None:
    ok = MessagePacer()
    # ib_async's throttle: bursts of 45, each read up to 40 ms late or early
    for burst, skew in enumerate((0.0, -0.04, 0.03, -0.02)):
        for _ in range(45):
            assert ok.record(10.0 + burst * 1.0 + skew) is None
    burst = MessagePacer()
    verdicts = [burst.record(20.0) for _ in range(55)]
    assert verdicts[:50] == [None] * 50 and verdicts[50] == "error"  # the 51st in one second
    steady = MessagePacer()
    verdicts = [steady.record(30.0 + i / 55) for i in range(60)]  # an even 55 per second
    assert "error" in verdicts and verdicts.index("error") < 56
    # three violations in three different seconds: disconnect
    many = MessagePacer()
    out = [many.record(40.0 + s + i * 1e-4) for s in range(3) for i in range(60)]
    assert out.count("error") == 2 and out[-1] is None and "disconnect" in out


async def test_45_per_second_in_bursts_never_gets_100_even_when_dispatch_is_slow(
    gw: SimGateway, ib: IB
) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, con: codes.append(code)
    arrivals = record_arrivals(gw, 1)
    already = len(arrivals)
    session = gw.sessions[1]
    on_time = session._handlers[rq.ReqCurrentTime]

    def slow_current_time(req) -> None:
        time.sleep(0.008)  # the gateway is busy: 45 messages take ~0.36 s to dispatch
        on_time(req)

    session._handlers[rq.ReqCurrentTime] = slow_current_time
    assert ib.client.MaxRequests == 45  # ib_async's own throttle, in bursts of 45
    answers: list[float] = []
    current_time = ib.wrapper.currentTime
    ib.wrapper.currentTime = lambda t: (answers.append(t), current_time(t))
    for _ in range(135):
        ib.client.reqCurrentTime()
    await until(lambda: len(answers) == 135, timeout=10)
    assert 100 not in codes
    assert len(arrivals) == already + 135
    assert max_in_window(arrivals, 0.95) <= 45  # what the gateway counted: 45 per second


async def test_55_per_second_gets_100(gw: SimGateway, ib: IB) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, con: codes.append(code)
    arrivals = record_arrivals(gw, 1)
    ib.client.MaxRequests = 55  # a client throttling itself at 55 messages per second
    for _ in range(60):
        ib.client.reqCurrentTime()
    await until(lambda: 100 in codes)
    assert max_in_window(arrivals, 0.95) > 50
    assert ib.isConnected()


# ---- backpressure -----------------------------------------------------------------------
def subscribe_all(market, n: int) -> bytes:
    stocks = [i for i in market.registry if i.sec_type == "STK" and i.currency == "USD"][:n]
    return b"".join(
        wire_bytes(
            lambda c, i=i, k=k: c.reqMktData(
                k, Stock(conId=i.con_id, exchange="SMART"), "", False, False, []
            )
        )
        for k, i in enumerate(stocks, start=1)
    )


async def test_non_reading_client_is_conflated_then_dropped_memory_bounded(
    limited: SimGateway, ib: IB, caplog
) -> None:
    gw = limited
    lazy = await RawClient.connect(gw.port, rcvbuf=4096)
    await lazy.start(7)
    await until(lambda: 7 in gw.sessions)
    await lazy.send(subscribe_all(gw.market, 40))
    session = gw.sessions[7]
    await until(lambda: len(session.mkt) == 40)
    conn = session.conn
    for _ in range(400):  # 400 simulated seconds of quotes on 40 lines, never read
        gw.advance(1)
        await asyncio.sleep(0)
    assert session.conflated > 0  # the streaming passes were conflated ...
    assert 7 in gw.sessions  # ... so quotes alone never get it dropped
    limit = gw.limits.max_output_bytes
    assert conn.peak_output <= limit  # and the unsent output stayed bounded
    # the healthy client is unaffected meanwhile
    assert await ib.reqCurrentTimeAsync()
    # answers it must not lose (two days of 1-minute bars for 30 stocks, ~1 MB) pile up past
    # the hard limit: it is dropped, with the reason logged
    caplog.set_level(logging.WARNING, logger="livedesk.sim.transport")
    stocks = [i for i in gw.market.registry if i.sec_type == "STK" and i.currency == "USD"]
    bars = b"".join(
        wire_bytes(
            lambda c, k=k, i=i: c.reqHistoricalData(
                900 + k, Stock(conId=i.con_id, exchange="SMART"), "", "2 D", "1 min",
                "TRADES", 1, 1, False, [],
            )
        )
        for k, i in enumerate(stocks[:30])
    )  # fmt: skip
    await lazy.send(bars)
    await until(lambda: 7 not in gw.sessions, timeout=10)
    assert "client not reading" in conn.close_reason
    assert any("client not reading" in r.getMessage() for r in caplog.records)
    assert conn.peak_output <= limit
    lazy.close()
    again = IB()  # its client id was released
    await again.connectAsync("127.0.0.1", gw.port, clientId=7, timeout=5)
    again.disconnect()


async def test_closing_a_non_reader_is_bounded_in_time(limited: SimGateway) -> None:
    gw = limited
    lazy = await RawClient.connect(gw.port, rcvbuf=4096)
    await lazy.start(8)
    await until(lambda: 8 in gw.sessions)
    await lazy.send(subscribe_all(gw.market, 40))
    session = gw.sessions[8]
    await until(lambda: len(session.mkt) == 40)
    while not session.conn.conflating:  # its output is backed up
        gw.advance(1)
        await asyncio.sleep(0)
    gw.faults.drop_all()  # a graceful close cannot deliver: aborted after the grace period
    await until(lambda: session.conn not in gw.connections, timeout=2)
    assert session.conn.close_reason == "did not read its last output"
    lazy.close()


# ---- connection limits --------------------------------------------------------------
async def test_idle_sockets_are_capped_and_closed(limited: SimGateway) -> None:
    gw = limited
    t0 = time.monotonic()
    idle = [await RawClient.connect(gw.port) for _ in range(200)]
    await until(lambda: len(gw.connections) <= 32, timeout=2)
    shut = await asyncio.gather(*(c.closed_by_peer(2.0) for c in idle))
    assert all(shut)  # refused at once above the cap, the rest at the handshake deadline
    assert not gw.connections and time.monotonic() - t0 < 4
    for c in idle:
        c.close()
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=1, timeout=5)
    assert ib.isConnected()
    ib.disconnect()


async def test_connection_cap_refuses_the_extra_one(limited: SimGateway) -> None:
    gw = limited
    clients = [await RawClient.connect(gw.port) for _ in range(32)]
    for c in clients:
        await c.send(HELLO)
    await until(lambda: len(gw.connections) == 32)
    extra = await RawClient.connect(gw.port)
    assert await extra.closed_by_peer(0.3)
    assert len(gw.connections) == 32
    for c in clients + [extra]:
        c.close()


async def test_garbage_connections_are_all_closed(limited: SimGateway) -> None:
    gw = limited
    rnd = random.Random(11)
    clients = []
    for _ in range(50):
        c = await RawClient.connect(gw.port)
        payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64)))
        if rnd.random() < 0.5:
            payload = HELLO + payload
        await c.send(payload)
        clients.append(c)
    shut = await asyncio.gather(*(c.closed_by_peer(2.0) for c in clients))
    assert all(shut) and not gw.connections
    for c in clients:
        c.close()


async def test_huge_frames_close_at_once(limited: SimGateway, market) -> None:
    gw = limited
    clients = [await RawClient.connect(gw.port) for _ in range(8)]
    for k, c in enumerate(clients):
        await c.start(10 + k)
    await until(lambda: len(gw.sessions) == 8)
    t0 = time.monotonic()
    for c in clients:  # each announces 16 MiB and sends the first KiB of it
        await c.send(struct.pack(">I", 16 << 20) + b"x" * 1000)
    shut = await asyncio.gather(*(c.closed_by_peer(1.0) for c in clients))
    assert all(shut) and time.monotonic() - t0 < 0.5  # at once, not at some timeout
    await until(lambda: not gw.sessions and not gw.connections)
    for c in clients:
        c.close()


async def test_frame_just_above_the_maximum_is_refused(limited: SimGateway) -> None:
    gw = limited
    ok, too_big = await RawClient.connect(gw.port), await RawClient.connect(gw.port)
    for c in (ok, too_big):
        await c.start(0 if c is ok else 4)
    await until(lambda: 0 in gw.sessions and 4 in gw.sessions)
    n = gw.limits.max_frame
    await too_big.send(struct.pack(">I", n + 1))
    assert await too_big.closed_by_peer(1.0)
    await ok.send(struct.pack(">I", n) + b"\0" * n)  # the maximum itself is read (then 505)
    assert await ok.read_until(lambda fs: 505 in errors_in(fs))
    for c in (ok, too_big):
        c.close()


async def test_incomplete_frame_and_missing_start_api_time_out(limited: SimGateway) -> None:
    gw = limited
    partial = await RawClient.connect(gw.port)
    await partial.start(5)
    await until(lambda: 5 in gw.sessions)
    await partial.send(struct.pack(">I", 1000) + b"x" * 10)  # a frame that never completes
    assert await partial.closed_by_peer(1.5)
    no_start = await RawClient.connect(gw.port)
    await no_start.send(HELLO)  # handshake only, never startApi
    assert await no_start.closed_by_peer(1.5)
    for c in (partial, no_start):
        c.close()


async def test_frames_split_across_reads_do_not_time_out(limited: SimGateway) -> None:
    gw = limited
    c = await RawClient.connect(gw.port)
    await c.start(6)
    await until(lambda: 6 in gw.sessions)
    ask = wire_bytes(lambda cl: cl.reqCurrentTime())
    await c.send(ask[:-3])
    for _ in range(12):  # 0.6 s, twice the frame timeout, always mid-frame between sends
        await asyncio.sleep(0.05)
        await c.send(ask[-3:] + ask[:-3])
    await asyncio.sleep(0.05)
    assert 6 in gw.sessions  # every frame completed in time: no timeout
    await c.send(ask[-3:])
    assert await c.read_until(lambda fs: sum(f[0] == "49" for f in fs) == 13)
    c.close()


# ---- sessions ------------------------------------------------------------------------
async def test_second_start_api_on_a_socket_is_refused(gw: SimGateway) -> None:
    c = await RawClient.connect(gw.port)
    await c.start(5)
    await c.read_until(lambda fs: any(f[0] == "9" for f in fs))  # nextValidId
    await c.send(wire_bytes(lambda cl: cl.startApi(), 6))
    assert await c.read_until(lambda fs: 321 in errors_in(fs))
    assert list(gw.sessions) == [5]
    c.close()
    await until(lambda: not gw.sessions)


async def _close_cleanly(gw: SimGateway, c: RawClient) -> None:
    c.close()


async def _reset(gw: SimGateway, c: RawClient) -> None:
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # RST, not FIN


async def _drop_hook(gw: SimGateway, c: RawClient) -> None:
    gw.faults.drop_all()


async def _pacing(gw: SimGateway, c: RawClient) -> None:
    ask = wire_bytes(lambda cl: cl.reqCurrentTime())
    for _ in range(3):
        await c.send(ask * 60)
        await asyncio.sleep(1.0)


async def _bad_frame(gw: SimGateway, c: RawClient) -> None:
    await c.send(struct.pack(">I", 1 << 30))


async def _restart(gw: SimGateway, c: RawClient) -> None:
    await gw.faults.restart(downtime=0.01)


@pytest.mark.parametrize(
    "how",
    [_close_cleanly, _reset, _drop_hook, _pacing, _bad_frame, _restart],
    ids=lambda f: f.__name__,
)
async def test_client_id_is_freed_however_the_socket_closes(gw: SimGateway, how) -> None:
    c = await RawClient.connect(gw.port)
    await c.start(5)
    await c.send(wire_bytes(lambda cl: cl.startApi(), 6))  # the ghost-id attempt
    await until(lambda: 5 in gw.sessions)
    await how(gw, c)
    await until(lambda: not gw.sessions, timeout=5)
    c.close()
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=5, timeout=5)  # no 326
    ib2 = IB()
    await ib2.connectAsync("127.0.0.1", gw.port, clientId=6, timeout=5)
    assert sorted(gw.sessions) == [5, 6]
    ib.disconnect()
    ib2.disconnect()


# ---- fault hooks -----------------------------------------------------------------------
async def test_control_needs_a_handshake(gw: SimGateway) -> None:
    c = await RawClient.connect(gw.port)
    await c.send(encode_frame([CONTROL_MSG_ID, "partial", "2"]))  # no "API\0" handshake
    assert await c.closed_by_peer(1.0)
    assert gw.broker.partial_next == 0
    c.close()


@pytest.mark.parametrize(
    ("command", "args", "text"),
    [
        ("partial", ["99999999999999999999"], "partial [N]"),
        ("partial", ["0"], "1..1000"),
        ("partial", ["-3"], "partial [N]"),
        ("partial", ["two"], "partial [N]"),
        ("error", ["99999999999999999999"], "CODE an integer"),
        ("error", ["0"], "1..99999"),
        ("drop", ["now"], "takes no arguments"),
        ("market-data", ["delayed", "NOSUCH"], "unknown symbol"),
        ("market-data", ["sideways"], "unknown market data fault"),
        ("reject-next", ["x" * 300], "at most 256"),
        ("explode", [], "unknown command"),
    ],
)
async def test_control_arguments_are_checked(
    gw: SimGateway, command: str, args: list[str], text: str
) -> None:
    ok, reply = await send_control("127.0.0.1", gw.port, command, args)
    assert not ok and text in reply
    b = gw.broker
    assert (b.partial_next, b.reject_next, gw.faults.market_data_fault("AAPL")) == (0, [], None)
    assert gw.sessions == {} and not gw.silent


async def test_control_from_loopback_works_and_no_control_refuses(market) -> None:
    async with SimGateway(port=0, market=market, speed=0) as gw:
        assert await send_control("127.0.0.1", gw.port, "partial", ["2"]) == (
            True,
            "ok partial: clients=0 silent=False",
        )
        assert gw.broker.partial_next == 2
    async with SimGateway(port=0, market=market, speed=0, control=False) as gw:
        ok, reply = await send_control("127.0.0.1", gw.port, "partial", ["2"])
        assert not ok and "--no-control" in reply
        assert gw.broker.partial_next == 0
        gw.faults.force_partial_fills(1)  # the embedding program keeps its Python API
        assert gw.broker.partial_next == 1


def test_control_refused_from_a_remote_peer(market) -> None:
    gw = SimGateway(port=0, market=market, speed=0)
    assert "loopback" in gw.faults.refusal(("192.0.2.7", 50000))
    assert "loopback" in gw.faults.refusal(None)
    assert gw.faults.refusal(("127.0.0.1", 50000)) is None
    assert gw.faults.refusal(("::1", 50000, 0, 0)) is None


@pytest.mark.slow
async def test_cli_no_control_refuses_sim_control(tmp_path) -> None:
    from tests.test_cli import ROOT, cli_env

    gw = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "livedesk.tui.cli", "sim-gateway", "--port", "0", "--speed", "0",
        "--no-control",
        cwd=ROOT, env=cli_env(tmp_path), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        line = (await asyncio.wait_for(gw.stdout.readline(), 60)).decode().strip()
        port = line.rsplit(":", 1)[1]
        ctl = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "livedesk.tui.cli", "sim-control", "--port", port, "drop",
            cwd=ROOT, env=cli_env(tmp_path), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(ctl.communicate(), 60)
        assert ctl.returncode == 2 and "disabled" in out.decode() and "--no-control" in out.decode()
        ib = IB()  # the gateway itself serves API clients as usual
        await ib.connectAsync("127.0.0.1", int(port), clientId=1, timeout=10)
        assert await ib.reqCurrentTimeAsync()
        ib.disconnect()
    finally:
        gw.terminate()
        await gw.wait()
