"""Decode server frames with IB's own ``ibapi`` decoder (9.81 or 10.x) and record the calls.

``decode(frames, server_version)`` feeds length-prefixed frames to ``ibapi.decoder.Decoder``
wired to a recording ``EWrapper`` and returns ``[[method, [args…]], …]`` with every
argument made JSON-like (objects become dicts of their attributes, Decimals floats), plus
the decoder failures seen (exceptions, ``BadMessage``, ``diff len fields`` log lines).
``python -m tests.ibapi_decode VERSION`` reads a JSON list of hex frames on stdin and
prints the result as JSON: the conformance tests use it for ``ibapi`` 9.81, which lives in
its own directory on ``PYTHONPATH``.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import sys
from decimal import Decimal

MARKERS = ("diff len fields", "BadMessage", "Bad message")


def plain(x, depth: int = 0):
    """A JSON-like copy of a decoded value."""
    if isinstance(x, Decimal):
        return None if x.is_nan() else float(x)
    if isinstance(x, float):
        return None if math.isnan(x) else x
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, bytes):
        return x.decode(errors="backslashreplace")
    if isinstance(x, (list, tuple, set)):
        items = sorted(x, key=str) if isinstance(x, set) else x
        return [plain(i, depth + 1) for i in items]
    if depth < 4 and hasattr(x, "__dict__"):
        return {k: plain(v, depth + 1) for k, v in vars(x).items() if not k.startswith("_")}
    return str(x)


def _recorder():
    """An EWrapper whose every callback appends ``[name, args]`` to ``.calls``."""
    from ibapi.wrapper import EWrapper

    wrapper = EWrapper()
    wrapper.calls = []
    for name, _ in inspect.getmembers(EWrapper, inspect.isfunction):
        if not name.startswith("_") and name != "logAnswer":
            setattr(wrapper, name, _record(wrapper, name))
    return wrapper


def _record(wrapper, name: str):
    def record(*args):
        wrapper.calls.append([name, [plain(a) for a in args]])

    return record


class _Log(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if any(m in text for m in MARKERS):
            self.failures.append(text[:300])


def decode(frames: list[bytes], server_version: int) -> dict:
    """Decode each frame separately; return the recorded calls per frame and the failures."""
    from ibapi import comm
    from ibapi.decoder import Decoder

    wrapper = _recorder()
    decoder = Decoder(wrapper, server_version)
    log = _Log()
    logger = logging.getLogger("ibapi")
    logger.addHandler(log)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    two_args = len(inspect.signature(decoder.interpret).parameters) == 2  # 10.x
    per_frame: list = []
    failures: list[str] = []
    try:
        for frame in frames:
            wrapper.calls = []
            _, msg, _ = comm.read_msg(frame)
            fields = comm.read_fields(msg)
            try:
                if two_args:
                    decoder.interpret(fields[1:], int(fields[0]))
                else:
                    decoder.interpret(fields)
            except Exception as exc:  # what ends ibapi's message loop
                failures.append(f"{fields[:2]}: {type(exc).__name__}: {exc}")
            per_frame.append(wrapper.calls)
    finally:
        logger.removeHandler(log)
        logger.setLevel(old)
    return {"calls": per_frame, "failures": failures + log.failures}


def main(argv: list[str]) -> int:
    frames = [bytes.fromhex(h) for h in json.load(sys.stdin)]
    print(json.dumps(decode(frames, int(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
