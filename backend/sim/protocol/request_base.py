"""The reading side shared by every request parser: typed field cursor, errors, base type."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from ib_async import ComboLeg, Contract
from ib_async.contract import DeltaNeutralContract, TagValue

from livedesk.backend.sim.protocol.versions import Protocol

READ_ERROR = 320
UNKNOWN_ID = 505

INT_RE = re.compile(r"[+-]?\d{1,30}", re.ASCII)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
"""TWS reads integer fields as signed 32-bit; anything outside is refused (320)."""
FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


class RequestError(Exception):
    """A request that cannot be served; answer with ``error(req_id, code, msg)``."""

    def __init__(self, code: int, msg: str, req_id: int = -1) -> None:
        super().__init__(f"{code}: {msg} (reqId {req_id})")
        self.code = code
        self.msg = msg
        self.req_id = req_id


class Cursor:
    """Reads typed fields in order; the first id read becomes the error's reqId."""

    def __init__(self, fields: list[str], start: int, proto: Protocol) -> None:
        self._f = fields
        self._i = start
        self.req_id = -1
        self.proto = proto

    def fail(self, what: str) -> RequestError:
        return RequestError(READ_ERROR, f"Error reading request: {what}", self.req_id)

    def text(self, name: str) -> str:
        if self._i >= len(self._f):
            raise self.fail(f"missing field {name}")
        v = self._f[self._i]
        self._i += 1
        return v

    def integer(self, name: str, default: int = 0, bounded: bool = True) -> int:
        v = self.text(name)
        if v == "":
            return default
        if INT_RE.fullmatch(v):
            n = int(v)
        elif FLOAT_RE.fullmatch(v) and float(v).is_integer():
            n = int(float(v))
        else:
            raise self.fail(f"{name}={v!r} is not an integer")
        if bounded and not INT_MIN <= n <= INT_MAX:
            raise self.fail(f"{name}={v} is outside the 32-bit integer range")
        return n

    def number(self, name: str, default: float = 0.0) -> float:
        v = self.text(name)
        if v == "":
            return default
        if v == "Infinite":
            return math.inf
        if FLOAT_RE.fullmatch(v):
            x = float(v)
            if math.isfinite(x):
                return x
        raise self.fail(f"{name}={v!r} is not a finite number")

    def optional_number(self, name: str) -> float | None:
        """A number that may be unset (sent as ""): None then."""
        if self._i < len(self._f) and self._f[self._i] == "":
            self._i += 1
            return None
        return self.number(name)

    def flag(self, name: str, default: bool = False) -> bool:
        v = self.text(name)
        if v == "":
            return default
        if INT_RE.fullmatch(v):
            return int(v) != 0
        raise self.fail(f"{name}={v!r} is not a boolean")

    def req(self, name: str = "reqId", bounded: bool = True) -> int:
        """Read the request (or order) id and remember it for error reports.

        ``bounded=False`` (placeOrder's id) leaves the range check to order validation,
        which answers an out-of-range order id with 103 as TWS does.
        """
        self.req_id = self.integer(name, -1, bounded)
        return self.req_id

    def count(self, name: str, limit: int = 10_000) -> int:
        n = self.integer(name)
        if not 0 <= n <= limit:
            raise self.fail(f"{name}={n} out of range")
        return n

    def tag_values(self, name: str) -> tuple[TagValue, ...]:
        """A "tag=value;tag=value;" list sent as one field."""
        out = []
        for item in self.text(name).split(";"):
            if not item:
                continue
            tag, sep, value = item.partition("=")
            if not sep:
                raise self.fail(f"{name} entry {item!r} has no '='")
            out.append(TagValue(tag, value))
        return tuple(out)

    def tag_value_pairs(self, name: str) -> list[TagValue]:
        """A count followed by that many (tag, value) field pairs."""
        return [
            TagValue(self.text(f"{name}.tag"), self.text(f"{name}.value"))
            for _ in range(self.count(name))
        ]

    def contract(self) -> Contract:
        """The 12 contract fields Client.send writes for a Contract."""
        kw = dict(
            conId=self.integer("conId"),
            symbol=self.text("symbol"),
            secType=self.text("secType"),
            lastTradeDateOrContractMonth=self.text("lastTradeDateOrContractMonth"),
            strike=self.number("strike"),
            right=self.text("right"),
            multiplier=self.text("multiplier"),
            exchange=self.text("exchange"),
            primaryExchange=self.text("primaryExchange"),
            currency=self.text("currency"),
            localSymbol=self.text("localSymbol"),
            tradingClass=self.text("tradingClass"),
        )
        return Contract.create(**kw)

    def short_legs(self) -> list[ComboLeg]:
        """BAG legs as reqMktData / reqHistoricalData send them (4 fields each)."""
        return [
            ComboLeg(
                conId=self.integer("leg.conId"),
                ratio=self.integer("leg.ratio"),
                action=self.text("leg.action"),
                exchange=self.text("leg.exchange"),
            )
            for _ in range(self.count("comboLegs"))
        ]

    def delta_neutral(self) -> DeltaNeutralContract | None:
        if not self.flag("deltaNeutralContract"):
            return None
        return DeltaNeutralContract(
            self.integer("dnc.conId"), self.number("dnc.delta"), self.number("dnc.price")
        )

    def remaining(self) -> int:
        """Fields not read yet."""
        return len(self._f) - self._i

    def end(self) -> None:
        if self._i != len(self._f):
            raise self.fail(f"{len(self._f) - self._i} unexpected trailing field(s)")


@dataclass(frozen=True)
class Request:
    """Base of all parsed requests; ``MSG_ID`` is the wire message id."""

    MSG_ID: ClassVar[int] = 0
