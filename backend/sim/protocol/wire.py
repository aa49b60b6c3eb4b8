"""TWS API wire framing: field formatting, length-prefixed frames and the handshake.

Every message is a 4-byte big-endian length followed by NUL-terminated text fields.
The handshake is the exception: after ``b"API\\0"`` the client sends one length-prefixed,
*un*-terminated payload ``v<min>..<max>[ <options>]``; the server answers with a normal
two-field frame (server version, connection time).
"""

from __future__ import annotations

import math
import numbers
import re
import struct
from collections.abc import Sequence
from decimal import Decimal

SERVER_VERSION = 178
"""The highest server version the gateway speaks (the range and its gates: ``versions``)."""
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INT = 2**31 - 1
UNSET_DOUBLE_TEXT = "1.7976931348623157E308"
MAX_FRAME = 16 * 1024 * 1024
MAX_HANDSHAKE = 1024

_LEN = struct.Struct(">I")
_HANDSHAKE_RE = re.compile(r"v(\d{1,6})(?:\.\.(\d{1,6}))?(?: (.*))?", re.DOTALL)


class FrameError(ValueError):
    """The byte stream cannot be framed; the connection should be dropped."""


def fmt(value: object) -> str:
    """Format one field the way TWS does.

    None -> "", bools -> "1"/"0", NaN -> "", UNSET_DOUBLE -> "1.7976931348623157E308";
    other floats use the shortest text that round-trips, integral ones without ".0"
    (so they also parse where the decoder expects an int).
    """
    t = type(value)  # fast paths first: this runs for every field of every tick
    if t is str:
        return value  # type: ignore[return-value]
    if t is int:
        return str(value)
    if t is float:
        return _fmt_float(value)  # type: ignore[arg-type]
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, Decimal):
        return "" if value.is_nan() else str(value)
    if isinstance(value, numbers.Real):
        return _fmt_float(float(value))
    raise TypeError(f"cannot put a {type(value).__name__} on the wire")


def _fmt_float(x: float) -> str:
    if math.isnan(x):
        return ""
    if x == UNSET_DOUBLE:
        return UNSET_DOUBLE_TEXT
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def encode_frame(fields: Sequence) -> bytes:
    """Encode fields as one length-prefixed frame of NUL-terminated text."""
    parts = [fmt(f) for f in fields]
    text = "\0".join(parts)
    if parts and text.count("\0") != len(parts) - 1:
        bad = next(p for p in parts if "\0" in p)
        raise ValueError(f"field contains NUL: {bad!r}")
    payload = (text + "\0").encode() if parts else b""
    return _LEN.pack(len(payload)) + payload


class FrameDecoder:
    """Incremental decoder of length-prefixed frames into lists of text fields."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[list[str]]:
        """Add received bytes; return every message now complete (possibly none).

        Raises FrameError when a frame announces a length above the limit.
        """
        self._buf += data
        out: list[list[str]] = []
        while len(self._buf) >= 4:
            (n,) = _LEN.unpack_from(self._buf)
            if n > self._max:
                raise FrameError(f"frame length {n} exceeds {self._max}")
            if len(self._buf) < 4 + n:
                break
            payload = bytes(self._buf[4 : 4 + n])
            del self._buf[: 4 + n]
            fields = payload.decode(errors="backslashreplace").split("\0")
            if fields[-1] == "":
                fields.pop()
            out.append(fields)
        return out

    @property
    def pending(self) -> int:
        """Number of buffered bytes not yet part of a complete frame."""
        return len(self._buf)


def parse_handshake(buf: bytes) -> tuple[int, int, bytes] | None:
    """Parse the client's version range from the bytes that follow ``b"API\\0"``.

    Returns ``(min_version, max_version, rest)`` once the payload is complete, None while
    more bytes are needed. Raises FrameError on anything that is not a version range.
    """
    if len(buf) < 4:
        return None
    (n,) = _LEN.unpack_from(buf)
    if n == 0 or n > MAX_HANDSHAKE:
        raise FrameError(f"bad handshake length {n}")
    if len(buf) < 4 + n:
        return None
    try:
        text = buf[4 : 4 + n].decode("ascii")
    except UnicodeDecodeError as exc:
        raise FrameError("handshake is not ASCII") from exc
    m = _HANDSHAKE_RE.fullmatch(text)
    if not m:
        raise FrameError(f"bad handshake payload {text!r}")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) else lo
    if lo > hi:
        raise FrameError(f"empty version range {lo}..{hi}")
    return lo, hi, bytes(buf[4 + n :])


def handshake_reply(version: int, conn_time: str) -> bytes:
    """The server's handshake answer: its version and connection time."""
    return encode_frame([version, conn_time])
