"""Market scanners over the simulated universe (``reqScannerSubscription``).

Each stock of the registry is measured at ``now`` from the model itself: the change from
the previous close (``MarketModel.prev_close``), the session's cumulative volume, and the
average daily volume of the last 20 history sessions. Scans rank on one of those:

* ``TOP_PERC_GAIN`` / ``TOP_PERC_LOSE`` — the largest rise / fall in percent (a stock that
  did not rise, or fall, is not listed);
* ``MOST_ACTIVE`` — the largest session volume in shares;
* ``HOT_BY_VOLUME`` — the largest session volume relative to the average daily volume.

Filters: ``abovePrice`` / ``belowPrice`` / ``aboveVolume`` of the subscription and the filter
tags ``priceAbove``, ``priceBelow``, ``volumeAbove``, ``changePercAbove``,
``changePercBelow``. At most 50 rows, as TWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from livedesk.backend.sim.market.instruments import Instrument
from livedesk.backend.sim.market.model import MarketModel

MAX_ROWS = 50
SCAN_CODES = {
    "TOP_PERC_GAIN": "Top % Gainers",
    "TOP_PERC_LOSE": "Top % Losers",
    "MOST_ACTIVE": "Most Active",
    "HOT_BY_VOLUME": "Hot Contracts by Volume",
}
FILTER_TAGS = ("priceAbove", "priceBelow", "volumeAbove", "changePercAbove", "changePercBelow")
AVERAGE_SESSIONS = 20


class ScanError(ValueError):
    """A scan code or filter the scanner does not know."""


@dataclass(frozen=True, slots=True)
class Measure:
    """What a scan ranks one stock on."""

    inst: Instrument
    price: float
    change_pct: float
    volume: float
    relative_volume: float


def measure(market: MarketModel, inst: Instrument, now: float, avg_volume: float) -> Measure:
    """One stock's scan measures at ``now``."""
    q = market.quote(inst.con_id, now)
    prev = market.prev_close(inst.con_id)
    price = q.last
    elapsed = (now - market.session_open()) / (market.session_close() - market.session_open())
    expected = avg_volume * min(max(elapsed, 1e-3), 1.0)
    return Measure(
        inst,
        price,
        100.0 * (price / prev - 1.0) if prev > 0 else 0.0,
        float(q.volume),
        q.volume / expected if expected > 0 else 0.0,
    )


def average_volume(market: MarketModel, con_id: int) -> float:
    """Mean daily volume of the last :data:`AVERAGE_SESSIONS` history sessions."""
    vol = np.asarray(market.daily_bars(con_id)["volume"], dtype=float)
    return float(vol[-AVERAGE_SESSIONS:].mean()) if len(vol) else 0.0


def warm_up(market: MarketModel, now: float, averages: dict[int, float]) -> Iterator[int]:
    """Fill ``averages`` and build each stock's session path, yielding after each stock (the
    first scan of a gateway touches the whole universe: the caller spreads it out)."""
    for inst in market.registry:
        if inst.sec_type != "STK" or inst.con_id in averages:
            continue
        averages[inst.con_id] = average_volume(market, inst.con_id)
        market.quote(inst.con_id, now)
        yield inst.con_id


def is_warm(market: MarketModel, averages: dict[int, float]) -> bool:
    """Whether every stock's average volume is known."""
    return all(i.con_id in averages for i in market.registry if i.sec_type == "STK")


def scan(
    market: MarketModel,
    code: str,
    now: float,
    rows: int,
    filters: dict[str, float],
    averages: dict[int, float],
) -> list[Measure]:
    """The ranked stocks of scan ``code`` (``averages`` caches average volumes by conId)."""
    if code not in SCAN_CODES:
        raise ScanError(f"unknown scan code {code!r}")
    unknown = set(filters) - set(FILTER_TAGS)
    if unknown:
        raise ScanError(f"unknown filter {sorted(unknown)[0]!r}")
    out = []
    for inst in market.registry:
        if inst.sec_type != "STK":
            continue
        avg = averages.get(inst.con_id)
        if avg is None:
            avg = averages[inst.con_id] = average_volume(market, inst.con_id)
        m = measure(market, inst, now, avg)
        if _passes(m, filters):
            out.append(m)
    if code == "TOP_PERC_GAIN":
        out = sorted((m for m in out if m.change_pct > 0), key=lambda m: -m.change_pct)
    elif code == "TOP_PERC_LOSE":
        out = sorted((m for m in out if m.change_pct < 0), key=lambda m: m.change_pct)
    elif code == "MOST_ACTIVE":
        out.sort(key=lambda m: -m.volume)
    else:
        out.sort(key=lambda m: -m.relative_volume)
    limit = MAX_ROWS if rows <= 0 else min(rows, MAX_ROWS)
    return out[:limit]


def _passes(m: Measure, f: dict[str, float]) -> bool:
    checks = (
        ("priceAbove", m.price, 1),
        ("priceBelow", m.price, -1),
        ("volumeAbove", m.volume, 1),
        ("changePercAbove", m.change_pct, 1),
        ("changePercBelow", m.change_pct, -1),
    )
    for tag, value, sign in checks:
        bound = f.get(tag)
        if bound is not None and (value - bound) * sign <= 0:
            return False
    return True


def parameters_xml() -> str:
    """The scanner parameters document (``reqScannerParameters``): instruments, locations,
    scan codes and the filter fields above, in TWS's element names."""
    scans = "".join(
        f"<ScanType><displayName>{name}</displayName><scanCode>{code}</scanCode>"
        "<instruments>STK</instruments><absoluteColumns>false</absoluteColumns>"
        "</ScanType>"
        for code, name in SCAN_CODES.items()
    )
    fields = "".join(
        f"<AbstractField><code>{tag}</code><displayName>{tag}</displayName>"
        "<type>DoubleField</type></AbstractField>"
        for tag in FILTER_TAGS
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<ScanParameterResponse>"
        "<InstrumentList><Instrument><name>US Stocks</name><type>STK</type>"
        "<filters>" + ",".join(FILTER_TAGS) + "</filters></Instrument></InstrumentList>"
        "<LocationTree><Location><displayName>US Stocks</displayName>"
        "<locationCode>STK.US</locationCode><instruments>STK</instruments>"
        "<LocationTree><Location><displayName>Listed/NASDAQ</displayName>"
        "<locationCode>STK.US.MAJOR</locationCode><instruments>STK</instruments>"
        "</Location></LocationTree></Location></LocationTree>"
        f"<ScanTypeList>{scans}</ScanTypeList>"
        f"<FilterList><RangeFilter><id>sim</id><category>Price</category>"
        f"<Columns>{fields}</Columns></RangeFilter></FilterList>"
        "</ScanParameterResponse>"
    )
