"""Pre-encoded frames of the streaming hot path: tickPrice, tickSize, tickOptionComputation
and updateMktDepth(L2), built as bytes in one step.

Each is byte-for-byte ``wire.encode_frame`` of its field-list encoder in ``messages`` /
``data_messages`` (tests compare them), without the per-field dispatch, list and NUL
check (the fields here are numbers and the gateway's own exchange names).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from livedesk.backend.sim.protocol.wire import UNSET_DOUBLE, UNSET_DOUBLE_TEXT, fmt

if TYPE_CHECKING:
    from livedesk.backend.sim.protocol.versions import Protocol

_LEN = struct.Struct(">I").pack
BID, ASK, LAST, VOLUME = 1, 2, 4, 8
"""The tick types of a quote's bid, ask, last and session volume."""


def _frame(text: str) -> bytes:
    payload = text.encode()
    return _LEN(len(payload)) + payload


def tick_price(req_id: int, tick_type: int, price: float, wire_size: float | int) -> bytes:
    """tickPrice (1) with its size already in the version's unit, no attributes."""
    return _frame(f"1\x006\x00{req_id}\x00{tick_type}\x00{fmt(price)}\x00{fmt(wire_size)}\x000\x00")


def tick_size(req_id: int, tick_type: int, wire_size: float | int) -> bytes:
    """tickSize (2) with the size already in the version's unit."""
    return _frame(f"2\x006\x00{req_id}\x00{tick_type}\x00{fmt(wire_size)}\x00")


def tick_option_computation(
    req_id: int,
    tick_type: int,
    implied_vol: float,
    delta: float,
    opt_price: float,
    gamma: float,
    vega: float,
    theta: float,
    und_price: float,
) -> bytes:
    """tickOptionComputation (21), attribute 1, no dividend; every value computed (the
    caller sends ``messages.tick_option_computation`` when one may be missing)."""
    return _frame(
        f"21\x00{req_id}\x00{tick_type}\x001\x00{fmt(implied_vol)}\x00{fmt(delta)}\x00"
        f"{fmt(opt_price)}\x000\x00{fmt(gamma)}\x00{fmt(vega)}\x00{fmt(theta)}\x00"
        f"{fmt(und_price)}\x00"
    )


def mkt_depth(
    req_id: int, position: int, operation: int, side: int, price: float, size: float | int
) -> bytes:
    """updateMktDepth (12)."""
    return _frame(
        f"12\x001\x00{req_id}\x00{position}\x00{operation}\x00{side}\x00{fmt(price)}\x00"
        f"{fmt(size)}\x00"
    )


def mkt_depth_l2(
    req_id: int,
    position: int,
    market_maker: str,
    operation: int,
    side: int,
    price: float,
    size: float | int,
) -> bytes:
    """updateMktDepthL2 (13) of a smart-depth book."""
    return _frame(
        f"13\x001\x00{req_id}\x00{position}\x00{market_maker}\x00{operation}\x00{side}\x00"
        f"{fmt(price)}\x00{fmt(size)}\x001\x00"
    )


def _num(x: float | int) -> str:
    """:func:`~livedesk.backend.sim.protocol.wire.fmt` of a price or size, its float case
    inlined (the hot path: one call instead of two)."""
    t = type(x)
    if t is int:
        return str(x)
    if t is float:
        if x.is_integer():
            if abs(x) < 1e16:
                return str(int(x))
            return UNSET_DOUBLE_TEXT if x == UNSET_DOUBLE else repr(x)
        return "" if x != x else repr(x)  # NaN: an empty field
    return fmt(x)


class TickFrames:
    """The tickPrice / tickSize / tickOptionComputation frames of one subscription, its
    reqId and tick types formatted once: byte-for-byte the functions above.

    With the negotiated ``proto`` and the instrument's ``sec_type`` it also writes a whole
    quote's changes (:meth:`quote`), sizes in that version's unit."""

    __slots__ = ("_prices", "_sizes", "_options", "_req_id", "proto", "_sec_type", "_heads")

    def __init__(self, req_id: int, proto: Protocol | None = None, sec_type: str = "") -> None:
        self._req_id = req_id
        self._prices: dict[int, str] = {}
        self._sizes: dict[int, str] = {}
        self._options: dict[int, str] = {}
        self.proto = proto
        self._sec_type = sec_type
        self._heads = (
            f"1\x006\x00{req_id}\x00{BID}\x00",
            f"1\x006\x00{req_id}\x00{ASK}\x00",
            f"1\x006\x00{req_id}\x00{LAST}\x00",
            f"2\x006\x00{req_id}\x00{VOLUME}\x00",
        )

    def quote(self, q: tuple, prev: tuple | None, out: list[bytes]) -> bool:
        """Append to ``out`` the bid, ask and last tickPrice (with their sizes) and the volume
        tickSize of a quote's fields ``q`` (``(bid, ask, bid_size, ask_size, last, last_size,
        volume)``, see ``MarketModel.quote_values``) whose values differ from ``prev`` (all
        of them when None), in that order, as :func:`tick_price` / :func:`tick_size` write
        them; whether the last price moved.

        "Differ" is a tuple comparison's (identity, then ``==``), so a NaN that is the very
        same object counts as unchanged, as it did when the sent values were kept in tuples."""
        num, pack, append = _num, _LEN, out.append
        bid_head, ask_head, last_head, vol_head = self._heads
        proto = self.proto
        sec_type = self._sec_type
        if proto.fractional_size and (proto.market_data_in_shares or sec_type != "STK"):
            wire = None  # sizes as they are
        else:
            wire = proto.tick_size
        price, ask_price, size, ask_size, last_price, last_size, volume = q
        if prev is None:
            moved = bid = ask = last = vol = True
        else:
            p0, p1, z0, z1, p4, z5, v6 = prev
            bid = (price != p0 and price is not p0) or (size != z0 and size is not z0)
            ask = (ask_price != p1 and ask_price is not p1) or (
                ask_size != z1 and ask_size is not z1
            )
            moved = last_price != p4
            last = (moved and last_price is not p4) or (last_size != z5 and last_size is not z5)
            vol = volume != v6 and volume is not v6
        if bid:
            if wire is not None:
                size = wire(size, sec_type)
            z = str(size) if type(size) is int else num(size)  # sizes: ints, mostly
            text = f"{bid_head}{num(price)}\x00{z}\x000\x00"
            append(pack(len(text)) + text.encode())
        if ask:
            if wire is not None:
                ask_size = wire(ask_size, sec_type)
            z = str(ask_size) if type(ask_size) is int else num(ask_size)  # sizes: ints, mostly
            text = f"{ask_head}{num(ask_price)}\x00{z}\x000\x00"
            append(pack(len(text)) + text.encode())
        if last:
            if wire is not None:
                last_size = wire(last_size, sec_type)
            z = str(last_size) if type(last_size) is int else num(last_size)  # sizes: ints, mostly
            text = f"{last_head}{num(last_price)}\x00{z}\x000\x00"
            append(pack(len(text)) + text.encode())
        if vol:
            if wire is not None:
                volume = wire(volume, sec_type)
            z = str(volume) if type(volume) is int else num(volume)
            text = f"{vol_head}{z}\x00"
            append(pack(len(text)) + text.encode())
        return moved

    def price(self, tick_type: int, price: float, wire_size: float | int) -> bytes:
        """:func:`tick_price`."""
        head = self._prices.get(tick_type)
        if head is None:
            head = self._prices[tick_type] = f"1\x006\x00{self._req_id}\x00{tick_type}\x00"
        text = f"{head}{_num(price)}\x00{_num(wire_size)}\x000\x00"
        return _LEN(len(text)) + text.encode()

    def size(self, tick_type: int, wire_size: float | int) -> bytes:
        """:func:`tick_size`."""
        head = self._sizes.get(tick_type)
        if head is None:
            head = self._sizes[tick_type] = f"2\x006\x00{self._req_id}\x00{tick_type}\x00"
        text = f"{head}{_num(wire_size)}\x00"
        return _LEN(len(text)) + text.encode()

    def option(
        self,
        tick_type: int,
        implied_vol: float,
        delta: float,
        opt_price: float,
        gamma: float,
        vega: float,
        theta: float,
        und_price: float,
    ) -> bytes:
        """:func:`tick_option_computation`."""
        head = self._options.get(tick_type)
        if head is None:
            head = self._options[tick_type] = f"21\x00{self._req_id}\x00{tick_type}\x001\x00"
        text = (
            f"{head}{_num(implied_vol)}\x00{_num(delta)}\x00{_num(opt_price)}\x000\x00"
            f"{_num(gamma)}\x00{_num(vega)}\x00{_num(theta)}\x00{_num(und_price)}\x00"
        )
        return _LEN(len(text)) + text.encode()
