"""Order types, times in force and IB algos of the simulated gateway: when an order is
triggered, at what limit it rests, and how much of it an algo may fill by now.

==============  ==========================================================================
type            model
==============  ==========================================================================
MKT             marketable: the touch plus square-root impact (:mod:`.matching`)
LMT             marketable up to ``lmtPrice``, else rests and fills at it when the last
                trade goes through it
STP / STP LMT   triggers when the last trade reaches ``auxPrice``, then MKT / LMT
TRAIL           a stop that trails the last trade by ``auxPrice`` (or ``trailingPercent``
                %): a sell stop ratchets up, a buy stop down; ``trailStopPrice`` is the
                initial stop; triggers like STP, then MKT
TRAIL LIMIT     as TRAIL, then a limit ``lmtPriceOffset`` beyond the stop (or, without an
                offset, the initial stop-to-limit distance of ``trailStopPrice``/``lmtPrice``)
MIT / LIT       triggers when the last trade touches ``auxPrice`` from the favourable side
                (a buy when it falls to it, a sell when it rises to it), then MKT / LMT
REL             pegged to the own side (buy: bid + ``auxPrice``; sell: ask - offset),
                capped by ``lmtPrice`` when set; fills at its peg when the last trade is at
                or through it
PEG MID         pegged to the midpoint (buy: mid - ``auxPrice``; sell: mid + offset),
                capped by ``lmtPrice``; fills at its peg when the last is at or through it
MOC / LOC       the closing auction: the whole order at the session's closing price (LOC
                only if that price is within its limit; otherwise cancelled at the close)
==============  ==========================================================================

Times in force: DAY, GTC, IOC (whatever fills at once, the rest cancelled), FOK (all at
once or nothing), GTD (``goodTillDate``; cancelled when it passes), OPG (MKT or LMT in the
opening auction: the whole order at the open price of the next session that opens after it
was placed; an unfilled LMT OPG is cancelled at the open).

Algos (``algoStrategy``, case-insensitive, on MKT or LMT):

* ``Adaptive`` — ``adaptivePriority`` Urgent fills like the plain order; Normal and Patient
  (the default) fill at the midpoint rounded to the tick against the trader, without
  impact, when the spread is at least two ticks, else at the touch.
* ``Twap`` / ``Vwap`` — sliced from ``startTime`` (default: when placed) to ``endTime``
  (default: the close) in New York time: by a time ``t`` at most ``qty × f(t)`` may have
  filled, ``f`` the elapsed fraction of the window (TWAP) or of the session volume traded in
  it (VWAP); each slice trades as the base order.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable

from ib_async import Order

from livedesk.backend.sim.errors import OrderReject

ORDER_TYPES = frozenset(
    {"MKT", "LMT", "STP", "STP LMT", "TRAIL", "TRAIL LIMIT", "MIT", "LIT", "REL", "PEG MID"}
    | {"MOC", "LOC"}
)
TIFS = frozenset({"DAY", "GTC", "IOC", "FOK", "GTD", "OPG"})
CLOSING_AUCTION = frozenset({"MOC", "LOC"})
MARKETABLE = frozenset({"MKT", "STP", "TRAIL", "MIT", "MOC"})
PEGGED = frozenset({"REL", "PEG MID"})
ALGOS = {"adaptive": "Adaptive", "twap": "Twap", "vwap": "Vwap"}
UNSET = 1e307
MAX_PRICE = 1e8
"""No price above this is accepted (checked before any arithmetic)."""
MAX_QUANTITY = 1e9
"""No order quantity above this is accepted (checked before any arithmetic)."""


def is_set(x: float) -> bool:
    """Whether an optional price field holds a value (IB sends unset as DBL_MAX)."""
    return math.isfinite(x) and abs(x) < UNSET


def reject_param(msg: str) -> OrderReject:
    """Error 201 "Order rejected - reason:..." for an order field TWS would refuse (clients
    then cancel the order, as with TWS's own rejections)."""
    return OrderReject(201, f"Order rejected - reason:{msg}")


def check_bounds(order: Order) -> None:
    """Quantity and every price within sane bounds; runs before anything multiplies them."""
    qty = float(order.totalQuantity)
    if math.isfinite(qty) and qty > MAX_QUANTITY:
        raise OrderReject(
            383,
            f"The order size {qty:g} exceeds the maximum order size of {MAX_QUANTITY:.0f}",
        )
    for name in ("lmtPrice", "auxPrice", "trailStopPrice", "lmtPriceOffset", "trailingPercent"):
        value = float(getattr(order, name))
        if math.isnan(value):
            raise OrderReject(320, f"Error reading request: {name} is not a number")
        if is_set(value) and abs(value) > MAX_PRICE:
            raise OrderReject(
                110,
                f"The price does not conform to the minimum price variation for this "
                f"contract: {name}={value:g} is above the maximum {MAX_PRICE:.0f}",
            )


def check_type_and_tif(order: Order, now: float) -> None:
    """Order type, time in force, their combination and the fields each needs (387/201)."""
    kind = order.orderType
    if kind not in ORDER_TYPES:
        raise OrderReject(387, f"Unsupported order type: {kind}")
    tif = order.tif or "DAY"
    if tif not in TIFS:
        raise OrderReject(387, f"Unsupported time in force: {tif}")
    if kind in CLOSING_AUCTION and tif != "DAY":
        raise reject_param(f"{kind} orders must be DAY orders (tif {tif})")
    if tif == "OPG" and kind not in ("MKT", "LMT"):
        raise reject_param(f"OPG (opening auction) takes MKT or LMT orders, not {kind}")
    if tif == "GTD":
        until = parse_good_till(order.goodTillDate)
        if until is None:
            raise reject_param(f"invalid goodTillDate {order.goodTillDate!r}")
        if until <= now:
            raise reject_param(f"goodTillDate {order.goodTillDate!r} is in the past")
    if kind.startswith("TRAIL"):
        amount, pct = float(order.auxPrice), float(order.trailingPercent)
        if not (is_set(amount) and amount > 0) and not (is_set(pct) and 0 < pct < 100):
            raise reject_param(f"{kind} needs a trailing amount (auxPrice) or trailingPercent")
        if kind == "TRAIL LIMIT":
            offset = float(order.lmtPriceOffset)
            has_offset = is_set(offset) and offset >= 0
            has_pair = is_set(float(order.lmtPrice)) and is_set(float(order.trailStopPrice))
            if not (has_offset or has_pair):
                raise reject_param(
                    "TRAIL LIMIT needs lmtPriceOffset, or lmtPrice with trailStopPrice"
                )
    if kind in PEGGED and is_set(float(order.auxPrice)) and float(order.auxPrice) < 0:
        raise reject_param(f"{kind} offset (auxPrice) cannot be negative")
    if order.algoStrategy:
        check_algo(order, now)


def priced_fields(kind: str) -> tuple[tuple[str, bool], ...]:
    """``(field, required)`` of the prices an order type sends on the tick grid."""
    return {
        "LMT": (("lmtPrice", True),),
        "LOC": (("lmtPrice", True),),
        "STP": (("auxPrice", True),),
        "MIT": (("auxPrice", True),),
        "STP LMT": (("lmtPrice", True), ("auxPrice", True)),
        "LIT": (("lmtPrice", True), ("auxPrice", True)),
        "TRAIL": (("trailStopPrice", False), ("auxPrice", False)),
        "TRAIL LIMIT": (("trailStopPrice", False), ("lmtPrice", False), ("auxPrice", False)),
        "REL": (("lmtPrice", False),),
        "PEG MID": (("lmtPrice", False),),
    }.get(kind, ())


# ---- GTD and algo times ------------------------------------------------------------------
_WHEN = re.compile(r"^\s*(?:(\d{8})(\s+|-))?(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([A-Za-z_/]+)?\s*$")
_ZONES = {"": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York"}


def _zone(name: str) -> dt.tzinfo | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_time(text: str, day: dt.date) -> float | None:
    """Epoch of ``"[YYYYMMDD] HH:MM[:SS] [zone]"`` (New York without a zone; IB's
    ``YYYYMMDD-HH:MM:SS`` is UTC; ``day`` when no date); None when it does not parse."""
    m = _WHEN.match(text or "")
    if not m:
        return None
    date_text, sep, hh, mm, ss, zone_name = m.groups()
    zone = _zone(zone_name or ("UTC" if sep == "-" else ""))
    if zone is None:
        return None
    try:
        d = dt.datetime.strptime(date_text, "%Y%m%d").date() if date_text else day
        when = dt.datetime(d.year, d.month, d.day, int(hh), int(mm), int(ss or 0), tzinfo=zone)
    except ValueError:
        return None
    return when.timestamp()


def parse_good_till(text: str) -> float | None:
    """Epoch of a ``goodTillDate`` (``YYYYMMDD HH:MM:SS [zone]``, a date is required)."""
    if not text or not re.match(r"^\s*\d{8}", text):
        return None
    if re.fullmatch(r"\s*\d{8}\s*", text):
        text = text.strip() + " 23:59:59"
    return parse_time(text, dt.date.today())


def algo_name(order: Order) -> str:
    """The canonical name of the order's algo ("" for none)."""
    return ALGOS.get((order.algoStrategy or "").lower(), "") if order.algoStrategy else ""


def algo_params(order: Order) -> dict[str, str]:
    """The order's algoParams as a dict."""
    return {tv.tag: str(tv.value) for tv in order.algoParams or []}


def check_algo(order: Order, now: float) -> None:
    """An IB algo this simulator models, on a base order type it accepts (201 otherwise)."""
    name = algo_name(order)
    if not name:
        raise reject_param(f"unsupported algoStrategy {order.algoStrategy!r}")
    if order.orderType not in ("MKT", "LMT"):
        raise reject_param(f"the {name} algo takes MKT or LMT orders, not {order.orderType}")
    params = algo_params(order)
    if name == "Adaptive":
        prio = params.get("adaptivePriority", "Normal")
        if prio not in ("Urgent", "Normal", "Patient"):
            raise reject_param(f"invalid adaptivePriority {prio!r}")
        return
    day = dt.datetime.fromtimestamp(now, _zone("")).date()
    for tag in ("startTime", "endTime"):
        if params.get(tag) and parse_time(params[tag], day) is None:
            raise reject_param(f"invalid {name} {tag} {params[tag]!r}")


def adaptive_price(order: Order, bid: float, ask: float, tick: float, side: int) -> float | None:
    """The Adaptive algo's fill price for a marketable slice (None: fill like the base)."""
    if algo_params(order).get("adaptivePriority", "Normal") == "Urgent":
        return None
    if ask - bid < 2 * tick - 1e-9:
        return ask if side > 0 else bid
    mid = (bid + ask) / 2
    steps = mid / tick
    steps = math.ceil(steps - 1e-9) if side > 0 else math.floor(steps + 1e-9)
    return round(steps * tick, 10)


def schedule_cap(
    order: Order,
    submitted: float,
    close: float,
    now: float,
    volume_at: Callable[[float], float],
) -> float | None:
    """How much of a TWAP/VWAP order may have filled by ``now`` (None: no schedule)."""
    name = algo_name(order)
    if name not in ("Twap", "Vwap"):
        return None
    params = algo_params(order)
    day = dt.datetime.fromtimestamp(now, _zone("")).date()
    start = parse_time(params.get("startTime", ""), day) or submitted
    end = parse_time(params.get("endTime", ""), day) or close
    start, end = max(start, submitted), max(min(end, close), start)
    qty = float(order.totalQuantity)
    if now >= end:
        return qty
    if now <= start:
        return 0.0
    if name == "Twap":
        frac = (now - start) / (end - start)
    else:
        v0, v1 = volume_at(start), volume_at(end)
        frac = (volume_at(now) - v0) / (v1 - v0) if v1 > v0 else (now - start) / (end - start)
    return math.floor(qty * min(max(frac, 0.0), 1.0) + 1e-9)
