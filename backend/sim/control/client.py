"""Client side of ``livedesk sim-control``: one in-band control frame to a running sim gateway."""

from __future__ import annotations

import asyncio
import struct

from livedesk.backend.sim.control.faults import CONTROL_MSG_ID
from livedesk.backend.sim.protocol.wire import SERVER_VERSION, FrameDecoder, encode_frame


async def send_control(
    host: str, port: int, command: str, args: list[str], timeout: float = 5.0
) -> tuple[bool, str]:
    """Send ``command`` to the gateway at host:port; returns (ok, reply text)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        version = f"v{SERVER_VERSION}".encode()
        writer.write(b"API\0" + struct.pack(">I", len(version)) + version)
        writer.write(encode_frame([CONTROL_MSG_ID, command, *args]))
        await writer.drain()
        decoder = FrameDecoder()
        while True:
            data = await asyncio.wait_for(reader.read(65536), timeout)
            if not data:
                return False, "connection closed without a reply"
            for fields in decoder.feed(data):
                if fields and fields[0] == str(CONTROL_MSG_ID):
                    return fields[1] == "ok", fields[2] if len(fields) > 2 else ""
    finally:
        writer.close()
