"""Encoders of the server -> client messages answering :mod:`.data_requests`.

Market depth, tick-by-tick, historical ticks, real-time bars, histograms, scanner data and
parameters, market rules, matching symbols, smart components, depth exchanges, news
providers, family codes, soft-dollar tiers, display groups and verification. Layouts mirror
the decoders of ``ib_async`` / ``ib_insync`` / ``ibapi`` at server versions 157…178; only
``symbol_samples`` changes within that range (description and issuer id from 176).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from livedesk.backend.sim.protocol.versions import Protocol

Fields = list

# tick-by-tick types (reqTickByTickData's tickType text -> wire number)
TICK_BY_TICK = {"Last": 1, "AllLast": 2, "BidAsk": 3, "MidPoint": 4}


def mkt_depth(
    req_id: int, position: int, operation: int, side: int, price: float, size: float
) -> Fields:
    """updateMktDepth (12); operation 0 insert, 1 update, 2 delete; side 0 ask, 1 bid."""
    return [12, 1, int(req_id), int(position), int(operation), int(side), price, size]


def mkt_depth_l2(
    req_id: int,
    position: int,
    market_maker: str,
    operation: int,
    side: int,
    price: float,
    size: float,
    smart: bool,
) -> Fields:
    """updateMktDepthL2 (13): a row with the exchange (market maker) that shows it."""
    return [
        13, 1, int(req_id), int(position), market_maker, int(operation), int(side),
        price, size, int(smart),
    ]  # fmt: skip


def mkt_depth_exchanges(rows: Iterable[tuple[str, str, str, str, int]]) -> Fields:
    """mktDepthExchanges (80): (exchange, secType, listingExch, serviceDataType, aggGroup)."""
    rows = list(rows)
    out: list = [80, len(rows)]
    for row in rows:
        out += list(row)
    return out


def tick_by_tick_last(
    req_id: int, tick_type: int, time: int, price: float, size: float, exchange: str
) -> Fields:
    """tickByTick (99) Last (1) or AllLast (2)."""
    return [99, int(req_id), int(tick_type), int(time), price, size, 0, exchange, ""]


def tick_by_tick_bid_ask(
    req_id: int, time: int, bid: float, ask: float, bid_size: float, ask_size: float
) -> Fields:
    """tickByTick (99) BidAsk (3)."""
    return [99, int(req_id), 3, int(time), bid, ask, bid_size, ask_size, 0]


def tick_by_tick_mid(req_id: int, time: int, mid: float) -> Fields:
    """tickByTick (99) MidPoint (4)."""
    return [99, int(req_id), 4, int(time), mid]


def historical_ticks_mid(req_id: int, ticks: Sequence[tuple[int, float]], done: bool) -> Fields:
    """historicalTicks (96): MIDPOINT ticks as (time, price)."""
    out: list = [96, int(req_id), len(ticks)]
    for t, price in ticks:
        out += [int(t), "", price, 0]
    return out + [int(done)]


def historical_ticks_bid_ask(
    req_id: int, ticks: Sequence[tuple[int, float, float, float, float]], done: bool
) -> Fields:
    """historicalTicksBidAsk (97): (time, bid, ask, bid size, ask size)."""
    out: list = [97, int(req_id), len(ticks)]
    for t, bid, ask, bs, as_ in ticks:
        out += [int(t), 0, bid, ask, bs, as_]
    return out + [int(done)]


def historical_ticks_last(
    req_id: int, ticks: Sequence[tuple[int, float, float, str]], done: bool
) -> Fields:
    """historicalTicksLast (98): (time, price, size, exchange)."""
    out: list = [98, int(req_id), len(ticks)]
    for t, price, size, exchange in ticks:
        out += [int(t), 0, price, size, exchange, ""]
    return out + [int(done)]


def real_time_bar(
    req_id: int,
    time: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    volume: float,
    wap: float,
    count: int,
) -> Fields:
    """realtimeBar (50): one 5-second bar starting at ``time`` (epoch seconds)."""
    return [50, 3, int(req_id), int(time), o, h, lo, c, volume, wap, int(count)]


def histogram_data(req_id: int, rows: Sequence[tuple[float, int]]) -> Fields:
    """histogramData (89): (price, count) rows."""
    out: list = [89, int(req_id), len(rows)]
    for price, count in rows:
        out += [price, int(count)]
    return out


def market_rule(rule_id: int, increments: Sequence[tuple[float, float]]) -> Fields:
    """marketRule (93): (low edge, increment) rows."""
    out: list = [93, int(rule_id), len(increments)]
    for low, inc in increments:
        out += [low, inc]
    return out


def symbol_samples(
    req_id: int,
    rows: Sequence[tuple[int, str, str, str, str, Sequence[str], str]],
    *,
    proto: Protocol,
) -> Fields:
    """symbolSamples (79): (conId, symbol, secType, primaryExchange, currency,
    derivativeSecTypes, description); description and issuer id from v176."""
    out: list = [79, int(req_id), len(rows)]
    for con_id, symbol, sec_type, primary, currency, derivs, description in rows:
        out += [int(con_id), symbol, sec_type, primary, currency, len(derivs), *derivs]
        if proto.issuer_id:
            out += [description, ""]
    return out


def smart_components(req_id: int, rows: Sequence[tuple[int, str, str]]) -> Fields:
    """smartComponents (82): (bit number, exchange, exchange letter)."""
    out: list = [82, int(req_id), len(rows)]
    for row in rows:
        out += list(row)
    return out


def soft_dollar_tiers(req_id: int, tiers: Sequence[tuple[str, str, str]]) -> Fields:
    """softDollarTiers (77): (name, value, display name)."""
    out: list = [77, int(req_id), len(tiers)]
    for tier in tiers:
        out += list(tier)
    return out


def family_codes(codes: Sequence[tuple[str, str]]) -> Fields:
    """familyCodes (78): (account id, family code)."""
    out: list = [78, len(codes)]
    for code in codes:
        out += list(code)
    return out


def news_providers(providers: Sequence[tuple[str, str]]) -> Fields:
    """newsProviders (85): (code, name)."""
    out: list = [85, len(providers)]
    for p in providers:
        out += list(p)
    return out


def scanner_parameters(xml: str) -> Fields:
    """scannerParameters (19): the XML document."""
    return [19, 1, xml]


def scanner_data(req_id: int, rows: Sequence[tuple]) -> Fields:
    """scannerData (20): (rank, conId, symbol, secType, lastTrade, strike, right, exchange,
    currency, localSymbol, marketName, tradingClass, distance, benchmark, projection, legs)."""
    out: list = [20, 3, int(req_id), len(rows)]
    for row in rows:
        out += list(row)
    return out


def display_group_list(req_id: int, groups: str) -> Fields:
    """displayGroupList (67)."""
    return [67, 1, int(req_id), groups]


def display_group_updated(req_id: int, contract_info: str) -> Fields:
    """displayGroupUpdated (68)."""
    return [68, 1, int(req_id), contract_info]


def verify_completed(with_auth: bool, ok: bool, text: str) -> Fields:
    """verifyCompleted (66) or verifyAndAuthCompleted (70)."""
    return [70 if with_auth else 66, 1, int(ok), text]
