"""Parsing of the market-data, reference-data, news and misc requests beyond the basics.

Market depth, tick-by-tick, historical ticks, real-time bars, histograms, scanners,
option calculations and exercise, fundamentals, news, WSH, FA, display groups and
verification — laid out as ``ib_async`` 2.1, ``ib_insync`` 0.9.86 and ``ibapi`` send them at
server versions 157…178 (``requests`` dispatches to :data:`PARSERS`). The version gates
that matter here are the WSH ones (``wshe_calendar``, ``wsh_event_filters``,
``wsh_event_dates``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ib_async import Contract
from ib_async.contract import TagValue

from livedesk.backend.sim.protocol.request_base import Cursor, Request

# --- market depth ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReqMktDepth(Request):
    MSG_ID: ClassVar[int] = 10
    req_id: int
    contract: Contract
    num_rows: int
    smart_depth: bool
    options: tuple[TagValue, ...]


@dataclass(frozen=True)
class CancelMktDepth(Request):
    MSG_ID: ClassVar[int] = 11
    req_id: int
    smart_depth: bool


@dataclass(frozen=True)
class ReqMktDepthExchanges(Request):
    MSG_ID: ClassVar[int] = 82


# --- news, FA, log level -----------------------------------------------------------------


@dataclass(frozen=True)
class ReqNewsBulletins(Request):
    MSG_ID: ClassVar[int] = 12
    all_messages: bool


@dataclass(frozen=True)
class CancelNewsBulletins(Request):
    MSG_ID: ClassVar[int] = 13


@dataclass(frozen=True)
class SetServerLogLevel(Request):
    MSG_ID: ClassVar[int] = 14
    level: int


@dataclass(frozen=True)
class RequestFA(Request):
    MSG_ID: ClassVar[int] = 18
    fa_data_type: int


@dataclass(frozen=True)
class ReplaceFA(Request):
    MSG_ID: ClassVar[int] = 19
    fa_data_type: int
    xml: str
    req_id: int


@dataclass(frozen=True)
class ReqNewsArticle(Request):
    MSG_ID: ClassVar[int] = 84
    req_id: int
    provider_code: str
    article_id: str
    options: tuple[TagValue, ...]


@dataclass(frozen=True)
class ReqNewsProviders(Request):
    MSG_ID: ClassVar[int] = 85


@dataclass(frozen=True)
class ReqHistoricalNews(Request):
    MSG_ID: ClassVar[int] = 86
    req_id: int
    con_id: int
    provider_codes: str
    start: str
    end: str
    total_results: int
    options: tuple[TagValue, ...]


@dataclass(frozen=True)
class ReqFundamentalData(Request):
    MSG_ID: ClassVar[int] = 52
    req_id: int
    contract: Contract
    report_type: str
    options: tuple[TagValue, ...]


@dataclass(frozen=True)
class ReqWshMetaData(Request):
    MSG_ID: ClassVar[int] = 100
    req_id: int


@dataclass(frozen=True)
class ReqWshEventData(Request):
    MSG_ID: ClassVar[int] = 102
    req_id: int
    con_id: int
    filter: str
    start: str
    end: str
    total_limit: int


# --- options -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExerciseOptions(Request):
    MSG_ID: ClassVar[int] = 21
    req_id: int
    contract: Contract
    action: int
    quantity: int
    account: str
    override: int


@dataclass(frozen=True)
class CalcImpliedVolatility(Request):
    MSG_ID: ClassVar[int] = 54
    req_id: int
    contract: Contract
    option_price: float
    under_price: float


@dataclass(frozen=True)
class CalcOptionPrice(Request):
    MSG_ID: ClassVar[int] = 55
    req_id: int
    contract: Contract
    volatility: float
    under_price: float


# --- scanner -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReqScannerSubscription(Request):
    MSG_ID: ClassVar[int] = 22
    req_id: int
    rows: int
    instrument: str
    location: str
    scan_code: str
    above_price: float | None
    below_price: float | None
    above_volume: float | None
    filter_options: tuple[TagValue, ...]


@dataclass(frozen=True)
class ReqScannerParameters(Request):
    MSG_ID: ClassVar[int] = 24


# --- ticks, bars, histogram --------------------------------------------------------------


@dataclass(frozen=True)
class ReqRealTimeBars(Request):
    MSG_ID: ClassVar[int] = 50
    req_id: int
    contract: Contract
    bar_size: int
    what_to_show: str
    use_rth: bool


@dataclass(frozen=True)
class ReqHistogramData(Request):
    MSG_ID: ClassVar[int] = 88
    req_id: int
    contract: Contract
    use_rth: bool
    period: str


@dataclass(frozen=True)
class ReqHistoricalTicks(Request):
    MSG_ID: ClassVar[int] = 96
    req_id: int
    contract: Contract
    start: str
    end: str
    number_of_ticks: int
    what_to_show: str
    use_rth: bool
    ignore_size: bool


@dataclass(frozen=True)
class ReqTickByTickData(Request):
    MSG_ID: ClassVar[int] = 97
    req_id: int
    contract: Contract
    tick_type: str
    number_of_ticks: int
    ignore_size: bool


# --- reference data ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReqSoftDollarTiers(Request):
    MSG_ID: ClassVar[int] = 79
    req_id: int


@dataclass(frozen=True)
class ReqFamilyCodes(Request):
    MSG_ID: ClassVar[int] = 80


@dataclass(frozen=True)
class ReqMatchingSymbols(Request):
    MSG_ID: ClassVar[int] = 81
    req_id: int
    pattern: str


@dataclass(frozen=True)
class ReqSmartComponents(Request):
    MSG_ID: ClassVar[int] = 83
    req_id: int
    bbo_exchange: str


@dataclass(frozen=True)
class ReqMarketRule(Request):
    MSG_ID: ClassVar[int] = 91
    rule_id: int


# --- display groups and verification ---------------------------------------------------


@dataclass(frozen=True)
class QueryDisplayGroups(Request):
    MSG_ID: ClassVar[int] = 67
    req_id: int


@dataclass(frozen=True)
class SubscribeToGroupEvents(Request):
    MSG_ID: ClassVar[int] = 68
    req_id: int
    group_id: int


@dataclass(frozen=True)
class UpdateDisplayGroup(Request):
    MSG_ID: ClassVar[int] = 69
    req_id: int
    contract_info: str


@dataclass(frozen=True)
class Verify(Request):
    """verifyRequest (65), verifyMessage (66), verifyAndAuthRequest (72) or …Message (73)."""

    MSG_ID: ClassVar[int] = 65
    msg_id: int
    with_auth: bool


@dataclass(frozen=True)
class Cancel(Request):
    """A cancel of a request by id (the handler looks the id up in every table)."""

    MSG_ID: ClassVar[int] = 0
    msg_id: int
    req_id: int


CANCELS: dict[int, tuple[bool, str]] = {
    # message id: (has a version field, what it cancels)
    23: (True, "scanner"),
    51: (True, "real-time bars"),
    53: (True, "fundamental data"),
    56: (True, "implied volatility"),
    57: (True, "option price"),
    70: (True, "display group events"),
    89: (False, "histogram"),
    98: (False, "tick-by-tick"),
    101: (False, "WSH meta data"),
    103: (False, "WSH event data"),
}


# --- parsers -----------------------------------------------------------------------------


def _req_mkt_depth(c: Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    contract = c.contract()
    rows = c.integer("numRows")
    smart = c.flag("isSmartDepth")
    return ReqMktDepth(req_id, contract, rows, smart, c.tag_values("mktDepthOptions"))


def _cancel_mkt_depth(c: Cursor) -> Request:
    c.integer("version")
    return CancelMktDepth(c.req(), c.flag("isSmartDepth"))


def _versioned(cls: type[Request], *names: str) -> Callable[[Cursor], Request]:
    def parse(c: Cursor) -> Request:
        c.integer("version")
        return cls(*(c.integer(n) for n in names))

    return parse


def _replace_fa(c: Cursor) -> Request:
    c.integer("version")
    kind = c.integer("faDataType")
    xml = c.text("cxml")
    return ReplaceFA(kind, xml, c.req())


def _news_article(c: Cursor) -> Request:
    return ReqNewsArticle(
        c.req(), c.text("providerCode"), c.text("articleId"), c.tag_values("opts")
    )


def _historical_news(c: Cursor) -> Request:
    return ReqHistoricalNews(
        c.req(),
        c.integer("conId"),
        c.text("providerCodes"),
        c.text("startDateTime"),
        c.text("endDateTime"),
        c.integer("totalResults"),
        c.tag_values("historicalNewsOptions"),
    )


def _fundamental(c: Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    contract = Contract.create(
        conId=c.integer("conId"),
        symbol=c.text("symbol"),
        secType=c.text("secType"),
        exchange=c.text("exchange"),
        primaryExchange=c.text("primaryExchange"),
        currency=c.text("currency"),
        localSymbol=c.text("localSymbol"),
    )
    report = c.text("reportType")
    c.count("fundamentalDataOptions")
    return ReqFundamentalData(req_id, contract, report, c.tag_values("fundamentalDataOptions"))


def _wsh_event(c: Cursor) -> Request:
    req_id = c.req()
    con_id = c.integer("conId")
    flt = start = end = ""
    limit = 0
    if c.proto.wsh_event_filters:
        flt = c.text("filter")
        for name in ("fillWatchlist", "fillPortfolio", "fillCompetitors"):
            c.flag(name)
    if c.proto.wsh_event_dates:
        start, end = c.text("startDate"), c.text("endDate")
        limit = c.integer("totalLimit")
    return ReqWshEventData(req_id, con_id, flt, start, end, limit)


def _exercise(c: Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    contract = Contract.create(
        conId=c.integer("conId"),
        symbol=c.text("symbol"),
        secType=c.text("secType"),
        lastTradeDateOrContractMonth=c.text("lastTradeDateOrContractMonth"),
        strike=c.number("strike"),
        right=c.text("right"),
        multiplier=c.text("multiplier"),
        exchange=c.text("exchange"),
        currency=c.text("currency"),
        localSymbol=c.text("localSymbol"),
        tradingClass=c.text("tradingClass"),
    )
    return ExerciseOptions(
        req_id,
        contract,
        c.integer("exerciseAction"),
        c.integer("exerciseQuantity"),
        c.text("account"),
        c.integer("override"),
    )


def _calc(cls: type[Request], value_name: str) -> Callable[[Cursor], Request]:
    def parse(c: Cursor) -> Request:
        c.integer("version")
        req_id = c.req()
        contract = c.contract()
        value = c.number(value_name)
        under = c.number("underPrice")
        if c.remaining() == 2:  # ib_async sends a count before the options; ibapi does not
            c.count("optionsCount")
        c.tag_values("options")
        return cls(req_id, contract, value, under)

    return parse


def _scanner(c: Cursor) -> Request:
    req_id = c.req()
    rows = c.integer("numberOfRows", -1)
    instrument, location, code = c.text("instrument"), c.text("locationCode"), c.text("scanCode")
    above, below = c.optional_number("abovePrice"), c.optional_number("belowPrice")
    above_volume = c.optional_number("aboveVolume")
    for name in (
        "marketCapAbove", "marketCapBelow", "moodyRatingAbove", "moodyRatingBelow",
        "spRatingAbove", "spRatingBelow", "maturityDateAbove", "maturityDateBelow",
        "couponRateAbove", "couponRateBelow", "excludeConvertible",
        "averageOptionVolumeAbove", "scannerSettingPairs", "stockTypeFilter",
    ):  # fmt: skip
        c.text(name)
    filters = c.tag_values("scannerSubscriptionFilterOptions")
    c.tag_values("scannerSubscriptionOptions")
    return ReqScannerSubscription(
        req_id, rows, instrument, location, code, above, below, above_volume, filters
    )


def _real_time_bars(c: Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    contract = c.contract()
    size = c.integer("barSize")
    what = c.text("whatToShow")
    rth = c.flag("useRTH")
    c.tag_values("realTimeBarsOptions")
    return ReqRealTimeBars(req_id, contract, size, what, rth)


def _histogram(c: Cursor) -> Request:
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag("includeExpired")
    return ReqHistogramData(req_id, contract, c.flag("useRTH"), c.text("timePeriod"))


def _historical_ticks(c: Cursor) -> Request:
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag("includeExpired")
    start, end = c.text("startDateTime"), c.text("endDateTime")
    n = c.integer("numberOfTicks")
    what = c.text("whatToShow")
    rth = c.flag("useRth")
    ignore = c.flag("ignoreSize")
    c.tag_values("miscOptions")
    return ReqHistoricalTicks(req_id, contract, start, end, n, what, rth, ignore)


def _tick_by_tick(c: Cursor) -> Request:
    req_id = c.req()
    contract = c.contract()
    return ReqTickByTickData(
        req_id, contract, c.text("tickType"), c.integer("numberOfTicks"), c.flag("ignoreSize")
    )


def _verify(msg_id: int, n_fields: int, auth: bool) -> Callable[[Cursor], Request]:
    def parse(c: Cursor) -> Request:
        c.integer("version")
        for i in range(n_fields):
            c.text(f"field{i}")
        return Verify(msg_id, auth)

    return parse


def _display_group(read: Callable[[Cursor], Request]) -> Callable[[Cursor], Request]:
    def parse(c: Cursor) -> Request:
        c.integer("version")
        return read(c)

    return parse


def _cancel(msg_id: int, versioned: bool) -> Callable[[Cursor], Request]:
    def parse(c: Cursor) -> Request:
        if versioned:
            c.integer("version")
        return Cancel(msg_id, c.req())

    return parse


PARSERS: dict[int, Callable[[Cursor], Request]] = {
    10: _req_mkt_depth,
    11: _cancel_mkt_depth,
    12: _versioned(ReqNewsBulletins, "allMsgs"),
    13: _versioned(CancelNewsBulletins),
    14: _versioned(SetServerLogLevel, "logLevel"),
    18: _versioned(RequestFA, "faDataType"),
    19: _replace_fa,
    21: _exercise,
    22: _scanner,
    24: _versioned(ReqScannerParameters),
    50: _real_time_bars,
    52: _fundamental,
    54: _calc(CalcImpliedVolatility, "optionPrice"),
    55: _calc(CalcOptionPrice, "volatility"),
    65: _verify(65, 2, False),
    66: _verify(66, 1, False),
    67: _display_group(lambda c: QueryDisplayGroups(c.req())),
    68: _display_group(lambda c: SubscribeToGroupEvents(c.req(), c.integer("groupId"))),
    69: _display_group(lambda c: UpdateDisplayGroup(c.req(), c.text("contractInfo"))),
    72: _verify(72, 3, True),
    73: _verify(73, 2, True),
    79: lambda c: ReqSoftDollarTiers(c.req()),
    80: lambda c: ReqFamilyCodes(),
    81: lambda c: ReqMatchingSymbols(c.req(), c.text("pattern")),
    82: lambda c: ReqMktDepthExchanges(),
    83: lambda c: ReqSmartComponents(c.req(), c.text("bboExchange")),
    84: _news_article,
    85: lambda c: ReqNewsProviders(),
    86: _historical_news,
    88: _histogram,
    91: lambda c: ReqMarketRule(c.integer("marketRuleId")),
    96: _historical_ticks,
    97: _tick_by_tick,
    100: lambda c: ReqWshMetaData(c.req()),
    102: _wsh_event,
    **{msg_id: _cancel(msg_id, versioned) for msg_id, (versioned, _) in CANCELS.items()},
}
"""Parser of each message id this module handles."""
