"""Per-version conformance: every server message, encoded at 157, 166, 176 and 178, decoded
by each client that speaks that version — ``ib_async`` 2.1 (157…178), ``ib_insync`` 0.9.86
(157…176), IB's ``ibapi`` 10.x (any) and IB's ``ibapi`` 9.81 (157, in a subprocess) — and
every client request, sent by the client at that version, parsed back by the gateway.

The expected values are written here from IB's ``MIN_SERVER_VER_*`` numbers (not read from
``versions.GATES``): a field gated at N must arrive from N on and be absent before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from ib_async import (
    Contract,
    ContractDetails,
    Execution,
    LimitOrder,
    Order,
    OrderState,
    Stock,
)

from livedesk.backend.sim.protocol import messages as m
from livedesk.backend.sim.protocol import requests as rq
from livedesk.backend.sim.protocol.versions import (
    GATES,
    LATEST,
    MAX_VERSION,
    MIN_VERSION,
    Protocol,
    VersionRefused,
    negotiate,
    protocol,
)
from livedesk.backend.sim.protocol.wire import UNSET_DOUBLE, UNSET_INT, FrameDecoder, encode_frame
from tests.test_sim_clients import ROOT, ibapi_981_dir

pytestmark = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"  # IB.__del__ of the offline clients
)

VERSIONS = (157, 166, 176, 178)
AAPL = Stock("AAPL", "SMART", "USD", conId=1004, primaryExchange="NASDAQ", localSymbol="AAPL")
ACCOUNT = "DU0000001"


# --- the samples -----------------------------------------------------------------------


def _order() -> Order:
    o = LimitOrder("BUY", 7, 12.5)
    o.orderId, o.clientId, o.permId, o.account = 42, 3, 9001, ACCOUNT
    o.tif = "DAY"
    o.faProfile = "PROF"
    o.duration, o.postToAts, o.autoCancelParent = 77, 1, True
    o.minTradeQty, o.minCompeteSize, o.competeAgainstBestOffset = 5, 6, 0.5
    o.midOffsetAtWhole, o.midOffsetAtHalf = 0.75, 0.25
    o.filledQuantity = 7
    return o


def _execution() -> Execution:
    return Execution(
        execId="0001.01",
        time=datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
        acctNumber=ACCOUNT,
        exchange="NASDAQ",
        side="BOT",
        shares=7,
        price=12.5,
        permId=9001,
        clientId=3,
        orderId=42,
        cumQty=7,
        avgPrice=12.5,
        orderRef="ref1",
        lastLiquidity=1,
        pendingPriceRevision=True,
    )


def _details() -> ContractDetails:
    return ContractDetails(
        contract=AAPL,
        marketName="NMS",
        minTick=0.01,
        orderTypes="LMT,MKT",
        validExchanges="SMART,NASDAQ",
        priceMagnifier=1,
        longName="APPLE INC",
        timeZoneId="US/Eastern",
        tradingHours="20261120:0930-20261120:1600",
        liquidHours="20261120:0930-20261120:1600",
        aggGroup=1,
        stockType="COMMON",
        minSize=1.0,
        sizeIncrement=2.0,
        suggestedSizeIncrement=100.0,
    )


BAR = ("20261120", 10.0, 12.0, 9.5, 11.0, 1_234_567.0, 10.75, 321)

Check = tuple[str, int, str, Any]
"""(normalised callback, argument index, attribute path or "", expected value)."""


@dataclass(frozen=True)
class Sample:
    name: str
    encode: Any  # Callable[[Protocol], list]
    checks: Any  # Callable[[int, str], list[Check]]


def _lots(v: int, shares: float, first_in_shares: int) -> float:
    return shares if v >= first_in_shares else round(shares / 100)


SAMPLES = [
    Sample(
        "nextValidId", lambda p: m.next_valid_id(11), lambda v, lib: [("nextValidId", 0, "", 11)]
    ),
    Sample(
        "managedAccounts",
        lambda p: m.managed_accounts([ACCOUNT]),
        lambda v, lib: [("managedAccounts", 0, "", ACCOUNT)],
    ),
    Sample(
        "error",
        lambda p: m.error(7, 201, "Order rejected", '{"r":1}', proto=p),
        # MIN_SERVER_VER_ADVANCED_ORDER_REJECT = 166
        lambda v, lib: (
            [("error", 0, "", 7), ("error", 1, "", 201), ("error", 2, "", "Order rejected")]
            + ([("error", 3, "", '{"r":1}')] if v >= 166 else [])
        ),
    ),
    Sample(
        "currentTime",
        lambda p: m.current_time(1_790_000_000),
        lambda v, lib: [("currentTime", 0, "", 1_790_000_000)],
    ),
    Sample(
        "marketDataType",
        lambda p: m.market_data_type(5, 3),
        lambda v, lib: [("marketDataType", 1, "", 3)],
    ),
    Sample(
        "tickPrice",
        lambda p: m.tick_price(5, 1, 101.25, 2500, proto=p, sec_type="STK"),
        # MIN_SERVER_VER_MARKET_DATA_IN_SHARES = 159: lots of 100 before
        lambda v, lib: [
            ("tickPrice", 2, "", 101.25),
            ("tickSize", 1, "", 0),
            ("tickSize", 2, "", _lots(v, 2500, 159)),
        ],
    ),
    Sample(
        "tickSize",
        lambda p: m.tick_size(5, 8, 1_234_500, proto=p, sec_type="STK"),
        lambda v, lib: [("tickSize", 1, "", 8), ("tickSize", 2, "", _lots(v, 1_234_500, 159))],
    ),
    Sample(
        "tickSize option",
        lambda p: m.tick_size(6, 8, 321, proto=p, sec_type="OPT"),
        lambda v, lib: [("tickSize", 2, "", 321)],  # options are counted in contracts
    ),
    Sample(
        "tickString",
        lambda p: m.tick_string(5, 45, "1790000000"),
        lambda v, lib: [("tickString", 2, "", "1790000000")],
    ),
    Sample(
        "tickGeneric",
        lambda p: m.tick_generic(5, 49, 0.0),
        lambda v, lib: [("tickGeneric", 1, "", 49)],
    ),
    Sample(
        "tickReqParams",
        lambda p: m.tick_req_params(5, 0.01, "9c0001", 3),
        lambda v, lib: [("tickReqParams", 1, "", 0.01)],
    ),
    Sample(
        "tickSnapshotEnd",
        lambda p: m.tick_snapshot_end(5),
        lambda v, lib: [("tickSnapshotEnd", 0, "", 5)],
    ),
    Sample(
        "tickOptionComputation",
        lambda p: m.tick_option_computation(
            5, 13, 1, 0.2, 0.5, 3.25, 0.0, 0.03, 0.31, -0.42, 552.5
        ),
        lambda v, lib: [
            ("tickOptionComputation", 1, "", 13),
            ("tickOptionComputation", 3, "", 0.2),
            ("tickOptionComputation", 4, "", 0.5),
            ("tickOptionComputation", 10, "", 552.5),
        ],
    ),
    Sample(
        "contractDetails",
        lambda p: m.contract_details(9, _details(), proto=p),
        # MIN_SERVER_VER_SIZE_RULES = 164: minSize/sizeIncrement/suggestedSizeIncrement from
        # 164; before it a version field and mdSizeMultiplier (100 for stocks before 159)
        lambda v, lib: (
            [
                ("contractDetails", 0, "", 9),
                ("contractDetails", 1, "contract.conId", 1004),
                ("contractDetails", 1, "minTick", 0.01),
                ("contractDetails", 1, "longName", "APPLE INC"),
                ("contractDetails", 1, "stockType", "COMMON"),
                ("contractDetails", 1, "liquidHours", "20261120:0930-20261120:1600"),
            ]
            + (
                [
                    ("contractDetails", 1, "minSize", 1.0),
                    ("contractDetails", 1, "sizeIncrement", 2.0),
                    ("contractDetails", 1, "suggestedSizeIncrement", 100.0),
                ]
                if v >= 164
                else []
            )
            + ([("contractDetails", 1, "mdSizeMultiplier", 100)] if lib == "ibapi-9.81" else [])
        ),
    ),
    Sample(
        "contractDetailsEnd",
        lambda p: m.contract_details_end(9),
        lambda v, lib: [("contractDetailsEnd", 0, "", 9)],
    ),
    Sample(
        "position",
        lambda p: m.position(ACCOUNT, AAPL, 150.0, 101.5),
        lambda v, lib: [
            ("position", 1, "conId", 1004),
            ("position", 2, "", 150.0),
            ("position", 3, "", 101.5),
        ],
    ),
    Sample(
        "positionEnd", lambda p: m.position_end(), lambda v, lib: [("positionEnd", -1, "", None)]
    ),
    Sample(
        "positionMulti",
        lambda p: m.position_multi(4, ACCOUNT, "M1", AAPL, 150.0, 101.5),
        lambda v, lib: [("positionMulti", 3, "conId", 1004), ("positionMulti", 4, "", 150.0)],
    ),
    Sample(
        "positionMultiEnd",
        lambda p: m.position_multi_end(4),
        lambda v, lib: [("positionMultiEnd", 0, "", 4)],
    ),
    Sample(
        "updateAccountValue",
        lambda p: m.account_value("NetLiquidation", "1000000.00", "USD", ACCOUNT),
        lambda v, lib: [
            ("updateAccountValue", 1, "", "1000000.00"),
            ("updateAccountValue", 3, "", ACCOUNT),
        ],
    ),
    Sample(
        "updatePortfolio",
        lambda p: m.portfolio_value(AAPL, 150.0, 102.0, 15300.0, 101.5, 75.0, 0.0, ACCOUNT),
        lambda v, lib: [
            ("updatePortfolio", 0, "conId", 1004),
            ("updatePortfolio", 1, "", 150.0),
            ("updatePortfolio", 5, "", 75.0),
            ("updatePortfolio", 7, "", ACCOUNT),
        ],
    ),
    Sample(
        "updateAccountTime",
        lambda p: m.account_update_time("10:30"),
        lambda v, lib: [("updateAccountTime", 0, "", "10:30")],
    ),
    Sample(
        "accountDownloadEnd",
        lambda p: m.account_download_end(ACCOUNT),
        lambda v, lib: [("accountDownloadEnd", 0, "", ACCOUNT)],
    ),
    Sample(
        "accountUpdateMulti",
        lambda p: m.account_update_multi(4, ACCOUNT, "", "NetLiquidation", "5.00", "USD"),
        lambda v, lib: [("accountUpdateMulti", 4, "", "5.00")],
    ),
    Sample(
        "accountUpdateMultiEnd",
        lambda p: m.account_update_multi_end(4),
        lambda v, lib: [("accountUpdateMultiEnd", 0, "", 4)],
    ),
    Sample(
        "accountSummary",
        lambda p: m.account_summary(8, ACCOUNT, "BuyingPower", "2000000.00", "USD"),
        lambda v, lib: [("accountSummary", 2, "", "BuyingPower"), ("accountSummary", 4, "", "USD")],
    ),
    Sample(
        "accountSummaryEnd",
        lambda p: m.account_summary_end(8),
        lambda v, lib: [("accountSummaryEnd", 0, "", 8)],
    ),
    Sample(
        "pnl",
        lambda p: m.pnl(3, -1.5, 2.5, 0.5),
        lambda v, lib: [("pnl", 1, "", -1.5), ("pnl", 3, "", 0.5)],
    ),
    Sample(
        "pnlSingle",
        lambda p: m.pnl_single(3, 150.0, -1.5, 2.5, 0.5, 15300.0),
        lambda v, lib: [("pnlSingle", 1, "", 150.0), ("pnlSingle", 5, "", 15300.0)],
    ),
    Sample(
        "openOrder",
        lambda p: m.open_order(AAPL, _order(), OrderState(status="Submitted"), proto=p),
        # DURATION 158, POST_TO_ATS 160, AUTO_CANCEL_PARENT 162, PEGBEST_PEGMID_OFFSETS 170,
        # FA_PROFILE_DESUPPORT 177 (faProfile sent before it)
        lambda v, lib: (
            [
                ("openOrder", 0, "", 42),
                ("openOrder", 1, "conId", 1004),
                ("openOrder", 2, "lmtPrice", 12.5),
                ("openOrder", 2, "totalQuantity", 7),
                ("openOrder", 2, "permId", 9001),
                ("openOrder", 2, "tif", "DAY"),
                ("openOrder", 3, "status", "Submitted"),
                ("openOrder", 2, "duration", 77 if v >= 158 else UNSET_INT),
                ("openOrder", 2, "postToAts", 1 if v >= 160 else UNSET_INT),
                ("openOrder", 2, "autoCancelParent", v >= 162),
                ("openOrder", 2, "minTradeQty", 5 if v >= 170 else UNSET_INT),
                ("openOrder", 2, "midOffsetAtHalf", 0.25 if v >= 170 else UNSET_DOUBLE),
            ]
            + (
                [("openOrder", 2, "faProfile", "PROF" if v < 177 else "")]
                if lib.startswith("ib_")
                else []
            )
        ),
    ),
    Sample(
        "openOrderEnd",
        lambda p: m.open_order_end(),
        lambda v, lib: [("openOrderEnd", -1, "", None)],
    ),
    Sample(
        "completedOrder",
        lambda p: m.completed_order(
            AAPL,
            _order(),
            OrderState(
                status="Filled",
                completedTime="20261120 10:30:00 America/New_York",
                completedStatus="Filled",
            ),
            proto=p,
        ),
        lambda v, lib: (
            [
                ("completedOrder", 0, "conId", 1004),
                ("completedOrder", 1, "lmtPrice", 12.5),
                ("completedOrder", 1, "filledQuantity", 7),
                ("completedOrder", 1, "autoCancelParent", True),
                ("completedOrder", 2, "completedStatus", "Filled"),
                ("completedOrder", 1, "midOffsetAtHalf", 0.25 if v >= 170 else UNSET_DOUBLE),
            ]
            + (
                [("completedOrder", 1, "faProfile", "PROF" if v < 177 else "")]
                if lib.startswith("ib_")
                else []
            )
        ),
    ),
    Sample(
        "completedOrdersEnd",
        lambda p: m.completed_orders_end(),
        lambda v, lib: [("completedOrdersEnd", -1, "", None)],
    ),
    Sample(
        "orderStatus",
        lambda p: m.order_status(42, "Filled", 7, 0, 12.5, 9001, 0, 12.5, 3),
        lambda v, lib: [
            ("orderStatus", 1, "", "Filled"),
            ("orderStatus", 2, "", 7),
            ("orderStatus", 8, "", 3),
        ],
    ),
    Sample(
        "execDetails",
        lambda p: m.exec_details(-1, AAPL, _execution(), proto=p),
        # MIN_SERVER_VER_PENDING_PRICE_REVISION = 178
        lambda v, lib: (
            [
                ("execDetails", 0, "", -1),
                ("execDetails", 1, "conId", 1004),
                ("execDetails", 2, "execId", "0001.01"),
                ("execDetails", 2, "shares", 7),
                ("execDetails", 2, "lastLiquidity", 1),
            ]
            + (
                [("execDetails", 2, "pendingPriceRevision", v >= 178)]
                if lib != "ibapi-9.81"
                else []
            )
        ),
    ),
    Sample(
        "execDetailsEnd",
        lambda p: m.exec_details_end(12),
        lambda v, lib: [("execDetailsEnd", 0, "", 12)],
    ),
    Sample(
        "commissionReport",
        lambda p: m.commission_report("0001.01", 1.25, "USD"),
        lambda v, lib: [
            ("commissionReport", 0, "execId", "0001.01"),
            ("commissionReport", 0, "commission", 1.25),
        ],
    ),
    Sample(
        "historicalData",
        lambda p: m.historical_data(2, "20261116", "20261120", [BAR], proto=p, sec_type="STK"),
        # MIN_SERVER_VER_HMDS_MARKET_DATA_IN_SHARES = 175: lots of 100 before
        lambda v, lib: [
            ("historicalData", 1, "close", 11.0),
            ("historicalData", 1, "volume", _lots(v, 1_234_567, 175)),
            ("historicalDataEnd", 0, "", 2),
        ],
    ),
    Sample(
        "historicalDataUpdate",
        lambda p: m.historical_data_update(2, 5, BAR, proto=p, sec_type="STK"),
        lambda v, lib: [
            ("historicalDataUpdate", 1, "close", 11.0),
            ("historicalDataUpdate", 1, "volume", _lots(v, 1_234_567, 175)),
        ],
    ),
    Sample(
        "headTimestamp",
        lambda p: m.head_timestamp(2, "20241120"),
        lambda v, lib: [("headTimestamp", 1, "", "20241120")],
    ),
    Sample(
        "securityDefinitionOptionParameter",
        lambda p: m.sec_def_opt_params(
            3, "SMART", 756733, "SPY", "100", ["20261127"], [550.0, 555.0]
        ),
        lambda v, lib: [
            ("securityDefinitionOptionParameter", 2, "", 756733),
            ("securityDefinitionOptionParameter", 5, "", ["20261127"]),
            ("securityDefinitionOptionParameter", 6, "", [550.0, 555.0]),
        ],
    ),
    Sample(
        "securityDefinitionOptionParameterEnd",
        lambda p: m.sec_def_opt_params_end(3),
        lambda v, lib: [("securityDefinitionOptionParameterEnd", 0, "", 3)],
    ),
    Sample(
        "userInfo",  # MIN_SERVER_VER_USER_INFO = 167: the message does not exist before
        lambda p: m.user_info(3, "wb1", proto=p),
        lambda v, lib: [("userInfo", 1, "", "wb1")],
    ),
]


def _sample_exists(s: Sample, v: int) -> bool:
    return not (s.name == "userInfo" and v < 167)


# --- decoding with each client ---------------------------------------------------------


class _AsyncRecorder:
    """Stands in for ib_async's / ib_insync's Wrapper: records every callback."""

    def __init__(self) -> None:
        self.calls: list = []
        self.defaultTimezone = UTC
        self.ib = type("IBStub", (), {"TimezoneTWS": None})()

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args):
            self.calls.append([name, list(args)])

        return record


def _plain(x: Any) -> Any:
    from tests.ibapi_decode import plain

    return plain(x)


_PRICE_TO_SIZE = {1: 0, 2: 3, 4: 5, 66: 69, 67: 70, 68: 71}


def _normalise(lib: str, calls: list) -> list:
    """Bring each client's callbacks to one vocabulary: ibapi 10.x names, no errorTime."""
    out = []
    for name, args in calls:
        if lib.startswith("ib_"):
            args = [_plain(a) for a in args]
        if name == "priceSizeTick":  # ib_async / ib_insync: one callback for both
            req_id, tick, price, size = args
            out += [
                ["tickPrice", [req_id, tick, price]],
                ["tickSize", [req_id, _PRICE_TO_SIZE[tick], size]],
            ]
            continue
        if name == "error":
            if lib == "ibapi":
                args = [args[0], *args[2:]]  # drop errorTime
            args = (args + ["", ""])[:4]
        if name == "commissionAndFeesReport":
            name = "commissionReport"
            args = [{**args[0], "commission": args[0]["commissionAndFees"]}]
        if name in ("tickPrice",) and lib.startswith("ibapi"):
            args = args[:3]
        out.append([name, args])
    return out


def _decode_ib(lib: str, frames: list[bytes], v: int) -> tuple[list, list[str]]:
    if lib == "ib_async":
        from ib_async.decoder import Decoder
    else:
        Decoder = pytest.importorskip("ib_insync.decoder").Decoder
    logger = logging.getLogger(lib)
    failures: list[str] = []

    class H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            failures.append(record.getMessage()[:300])

    handler = H(level=logging.ERROR)
    logger.addHandler(handler)
    rec = _AsyncRecorder()
    dec = Decoder(rec, v)
    per_frame = []
    try:
        for frame in frames:
            rec.calls = []
            for fields in FrameDecoder().feed(frame):
                dec.interpret(fields)
            per_frame.append(rec.calls)
    finally:
        logger.removeHandler(handler)
    return per_frame, failures


_IBAPI_981: dict[int, dict] = {}


def _decode_981(frames: list[bytes], v: int) -> dict:
    target = ibapi_981_dir()
    if target is None:
        pytest.skip("ibapi 9.81 is not installed (the install step puts it in .venv/ibapi-9.81)")
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ibapi_decode", str(v)],
        input=json.dumps([f.hex() for f in frames]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _decode(lib: str, frames: list[bytes], v: int) -> tuple[list, list[str]]:
    if lib in ("ib_async", "ib_insync"):
        calls, failures = _decode_ib(lib, frames, v)
    elif lib == "ibapi":
        from tests.ibapi_decode import decode

        r = decode(frames, v)
        calls, failures = r["calls"], r["failures"]
    else:
        if v not in _IBAPI_981:
            _IBAPI_981[v] = _decode_981(frames, v)
        r = _IBAPI_981[v]
        calls, failures = r["calls"], r["failures"]
    return [_normalise(lib, c) for c in calls], failures


PREDATES: dict[str, set[str]] = {
    # attributes a client's objects do not have because it predates their gate
    "ib_insync": {"pendingPriceRevision"},
    "ibapi-9.81": {
        "duration",
        "postToAts",
        "minTradeQty",
        "midOffsetAtHalf",
        "pendingPriceRevision",
    },
}


def _get(value: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal values; a client may hand numbers over as text (ib_async's ids, for one)."""
    if isinstance(b, bool):
        return a in (0, 1, True, False, "0", "1") and bool(int(a)) == b
    if isinstance(b, float | int):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12)
        except (TypeError, ValueError):
            return False
    if isinstance(b, list) and isinstance(a, list):
        return len(a) == len(b) and all(
            _same(x, y) for x, y in zip(sorted(a), sorted(b), strict=True)
        )
    return a == b


CLIENTS = {
    "ib_async": (157, 178),
    "ib_insync": (157, 176),
    "ibapi": (100, 999),
    "ibapi-9.81": (100, 157),
}


def _cases():
    for lib, (lo, hi) in CLIENTS.items():
        for v in VERSIONS:
            if lo <= v <= hi:
                yield pytest.param(lib, v, id=f"{lib}-v{v}")


@pytest.mark.parametrize(("lib", "v"), list(_cases()))
def test_every_message_decodes_at_its_version(lib: str, v: int) -> None:
    if lib == "ibapi":
        pytest.importorskip("ibapi.decoder", reason="ibapi-stable is a test dependency")
    proto = protocol(v)
    samples = [s for s in SAMPLES if _sample_exists(s, v)]
    frames = [encode_frame(s.encode(proto)) for s in samples]
    calls, failures = _decode(lib, frames, v)
    assert failures == []
    problems = []
    for sample, got in zip(samples, calls, strict=True):
        names = [c[0] for c in got]
        for method, index, path, want in sample.checks(v, lib):
            matching = [c for c in got if c[0] == method]
            if not matching:
                problems.append(f"{sample.name}: no {method} callback (got {names})")
                continue
            if index < 0:
                continue
            if path in PREDATES.get(lib, ()):
                assert want in (UNSET_INT, UNSET_DOUBLE, False), (sample.name, path, v)
                continue
            have = _get(matching[0][1][index], path)
            if not _same(have, want):
                problems.append(
                    f"{sample.name}: {method}[{index}].{path} = {have!r}, want {want!r}"
                )
    assert problems == []


def test_ibs_decoder_reads_every_message_at_every_supported_version() -> None:
    """Between the four sampled versions too (e.g. 163's size tick, 158's duration)."""
    pytest.importorskip("ibapi.decoder", reason="ibapi-stable is a test dependency")
    for v in range(MIN_VERSION, MAX_VERSION + 1):
        test_every_message_decodes_at_its_version("ibapi", v)


@pytest.mark.parametrize("v", [157, 166])
def test_user_info_does_not_exist_before_167(v: int) -> None:
    with pytest.raises(ValueError):
        m.user_info(3, proto=protocol(v))
    with pytest.raises(rq.RequestError) as err:
        rq.parse_request(["104", "3"], proto=protocol(v))
    assert err.value.code == 505


def test_sizes_are_whole_lots_before_fractional_sizes() -> None:
    # before 163 the decoders read sizes with int(): no decimal text may go out
    f = m.tick_price(1, 1, 10.0, 2550, proto=protocol(157), sec_type="STK")
    assert f[5] == 26 and isinstance(f[5], int)  # 25.5 lots rounds to 26
    f = m.tick_size(1, 0, 0.5, proto=protocol(162), sec_type="OPT")
    assert f[4] == 0 and isinstance(f[4], int)
    assert m.tick_size(1, 0, 0.5, proto=protocol(163), sec_type="OPT")[4] == 0.5


# --- requests: each client's encoder at each version, parsed back ----------------------


class _Wire:
    """Stands in for a client's connection and records every byte written."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.numBytesSent = 0
        self.numMsgSent = 0

    def sendMsg(self, msg: bytes) -> None:  # noqa: N802 - the clients' name
        self.data += msg
        self.numBytesSent += len(msg)
        self.numMsgSent += 1

    def isConnected(self) -> bool:  # noqa: N802
        return True

    def disconnect(self) -> None:
        """Nothing to close."""


def _client_frames(lib: str, v: int, send) -> list[list[str]]:
    """The frames a client library writes for ``send(client)`` at server version ``v``."""
    wire = _Wire()
    if lib in ("ib_async", "ib_insync"):
        mod = pytest.importorskip(lib)
        client = mod.IB().client
        client.conn = wire
        client.connState = client.CONNECTED
        client._serverVersion = v
        client._apiReady = True
        client.MaxRequests = 0
    else:
        pytest.importorskip("ibapi.client", reason="ibapi-stable is a test dependency")
        from ibapi.client import EClient
        from ibapi.wrapper import EWrapper

        client = EClient(EWrapper())
        client.conn = wire
        client.serverVersion_ = v
        client.connState = EClient.CONNECTED
    # ib_insync's send() asks asyncio for the current loop; an earlier async test in this
    # worker may have left none set, so give this synchronous call a loop of its own.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        send(client)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return FrameDecoder().feed(bytes(wire.data))


def _ib_order(lib: str) -> Order:
    o = pytest.importorskip(lib).LimitOrder("SELL", 25, 99.5)
    o.account = ACCOUNT
    o.tif = "GTC"
    o.orderRef = "r7"
    o.ocaType = 0
    o.rule80A = ""
    o.outsideRth = True
    return o


def _ibapi_order():
    from decimal import Decimal

    from ibapi.order import Order as IbOrder

    o = IbOrder()
    o.action, o.orderType, o.totalQuantity, o.lmtPrice = "SELL", "LMT", Decimal(25), 99.5
    o.account, o.tif, o.orderRef, o.outsideRth = ACCOUNT, "GTC", "r7", True
    o.eTradeOnly = o.firmQuoteOnly = False
    return o


def _ibapi_contract(secType: str = "STK", legs: list | None = None):
    from ibapi.contract import ComboLeg as IbLeg
    from ibapi.contract import Contract as IbContract

    c = IbContract()
    c.conId, c.symbol, c.secType, c.exchange, c.currency = (
        (1004 if not legs else 0),
        "AAPL",
        secType,
        "SMART",
        "USD",
    )
    if legs:
        c.comboLegs = []
        for con_id, action in legs:
            leg = IbLeg()
            leg.conId, leg.ratio, leg.action, leg.exchange = con_id, 1, action, "SMART"
            c.comboLegs.append(leg)
    return c


BAG_LEGS = [(1115064484, "BUY"), (1115064485, "SELL")]


def _ib_contract(lib: str, bag: bool = False) -> Contract:
    mod = pytest.importorskip(lib)
    if not bag:
        return mod.Stock("AAPL", "SMART", "USD", conId=1004)
    return mod.Contract(
        symbol="AAPL",
        secType="BAG",
        exchange="SMART",
        currency="USD",
        comboLegs=[mod.ComboLeg(conId=c, ratio=1, action=a, exchange="SMART") for c, a in BAG_LEGS],
    )


def _place(lib: str, bag: bool):
    if lib == "ibapi":
        contract = _ibapi_contract("BAG", BAG_LEGS) if bag else _ibapi_contract()
        return lambda c: c.placeOrder(31, contract, _ibapi_order())
    contract = _ib_contract(lib, bag)
    return lambda c: c.placeOrder(31, contract, _ib_order(lib))


def _cancel(lib: str):
    if lib == "ibapi":
        from ibapi.order_cancel import OrderCancel

        oc = OrderCancel()
        oc.manualOrderCancelTime = ""
        return lambda c: c.cancelOrder(31, oc)
    return lambda c: c.cancelOrder(31, "")


REQUEST_CLIENTS = {"ib_async": (157, 178), "ib_insync": (157, 176), "ibapi": (100, 999)}


def _request_cases():
    for lib, (lo, hi) in REQUEST_CLIENTS.items():
        for v in VERSIONS:
            if lo <= v <= hi:
                yield pytest.param(lib, v, id=f"{lib}-v{v}")


@pytest.mark.parametrize(("lib", "v"), list(_request_cases()))
@pytest.mark.parametrize("bag", [False, True], ids=["stock", "bag"])
def test_place_order_parses_at_every_version(lib: str, v: int, bag: bool) -> None:
    [fields] = _client_frames(lib, v, _place(lib, bag))
    req = rq.parse_request(fields, proto=protocol(v))
    assert isinstance(req, rq.PlaceOrder) and req.order_id == 31
    o = req.order
    assert (o.action, o.totalQuantity, o.orderType, o.lmtPrice) == ("SELL", 25, "LMT", 99.5)
    assert (o.account, o.tif, o.orderRef, o.outsideRth) == (ACCOUNT, "GTC", "r7", True)
    assert o.ocaType == 0 and o.rule80A == "" and not o.whatIf
    if bag:
        assert [(leg.conId, leg.action) for leg in req.contract.comboLegs] == BAG_LEGS
    else:
        assert req.contract.conId == 1004


@pytest.mark.parametrize(("lib", "v"), list(_request_cases()))
def test_cancel_and_contract_details_parse_at_every_version(lib: str, v: int) -> None:
    proto = protocol(v)
    [fields] = _client_frames(lib, v, _cancel(lib))
    req = rq.parse_request(fields, proto=proto)
    assert req == rq.CancelOrder(31, "")
    contract = _ibapi_contract() if lib == "ibapi" else _ib_contract(lib)
    [fields] = _client_frames(lib, v, lambda c: c.reqContractDetails(8, contract))
    req = rq.parse_request(fields, proto=proto)
    assert isinstance(req, rq.ReqContractDetails) and req.contract.conId == 1004


@pytest.mark.parametrize("v", VERSIONS)
def test_a_request_of_another_version_is_refused_not_misread(v: int) -> None:
    # ib_async's placeOrder at 178 read by a session at 176 (one field short: faProfile)
    [fields] = _client_frames("ib_async", 178, _place("ib_async", False))
    if v == 178:
        assert isinstance(rq.parse_request(fields, proto=protocol(v)), rq.PlaceOrder)
        return
    with pytest.raises(rq.RequestError) as err:
        rq.parse_request(fields, proto=protocol(v))
    assert err.value.code == 320


# --- the table and the handshake -------------------------------------------------------


def test_protocol_flags_follow_the_gate_table() -> None:
    import dataclasses

    assert [f.name for f in dataclasses.fields(Protocol)][1:] == list(GATES)
    for v in range(MIN_VERSION, MAX_VERSION + 1):
        p = protocol(v)
        assert all(p.has(name) == (v >= first) for name, first in GATES.items())
    assert LATEST.version == 178 and all(LATEST.has(n) for n in GATES)
    with pytest.raises(ValueError):
        protocol(156)
    with pytest.raises(KeyError):
        LATEST.has("no_such_gate")


IB_CONSTANTS = {
    "order_duration": "MIN_SERVER_VER_DURATION",
    "market_data_in_shares": "MIN_SERVER_VER_MARKET_DATA_IN_SHARES",
    "post_to_ats": "MIN_SERVER_VER_POST_TO_ATS",
    "wshe_calendar": "MIN_SERVER_VER_WSHE_CALENDAR",
    "auto_cancel_parent": "MIN_SERVER_VER_AUTO_CANCEL_PARENT",
    "fractional_size": "MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT",
    "size_rules": "MIN_SERVER_VER_SIZE_RULES",
    "advanced_order_reject": "MIN_SERVER_VER_ADVANCED_ORDER_REJECT",
    "user_info": "MIN_SERVER_VER_USER_INFO",
    "manual_order_time": "MIN_SERVER_VER_MANUAL_ORDER_TIME",
    "peg_best_mid_offsets": "MIN_SERVER_VER_PEGBEST_PEGMID_OFFSETS",
    "wsh_event_filters": "MIN_SERVER_VER_WSH_EVENT_DATA_FILTERS",
    "wsh_event_dates": "MIN_SERVER_VER_WSH_EVENT_DATA_FILTERS_DATE",
    "hmds_in_shares": "MIN_SERVER_VER_HMDS_MARKET_DATA_IN_SHARES",
    "issuer_id": "MIN_SERVER_VER_BOND_ISSUERID",
    "fa_profile_desupport": "MIN_SERVER_VER_FA_PROFILE_DESUPPORT",
    "pending_price_revision": "MIN_SERVER_VER_PENDING_PRICE_REVISION",
}


def test_gate_table_matches_ibs_server_versions() -> None:
    sv = pytest.importorskip("ibapi.server_versions", reason="ibapi-stable is a test dependency")
    assert set(IB_CONSTANTS) == set(GATES)
    assert {name: getattr(sv, const) for name, const in IB_CONSTANTS.items()} == GATES
    # every IB gate inside the supported range that touches a message the gateway speaks
    # is in the table; the others (crypto trades, IPO prices, instrument time zones,
    # historical schedules) concern messages it never sends
    inside = {
        k: v
        for k, v in vars(sv).items()
        if k.startswith("MIN_SERVER_VER_") and MIN_VERSION < v <= MAX_VERSION
    }
    unused = {
        "MIN_SERVER_VER_HISTORICAL_SCHEDULE",
        "MIN_SERVER_VER_CRYPTO_AGGREGATED_TRADES",
        "MIN_SERVER_VER_IPO_PRICES",
        "MIN_SERVER_VER_INSTRUMENT_TIMEZONE",
    }
    assert set(inside) - unused == set(IB_CONSTANTS.values())


@pytest.mark.parametrize(
    ("lo", "hi", "version"),
    [(100, 157, 157), (157, 176, 176), (157, 178, 178), (100, 222, 178), (178, 190, 178)],
)
def test_negotiate_picks_the_highest_common_version(lo: int, hi: int, version: int) -> None:
    assert negotiate(lo, hi) == version


@pytest.mark.parametrize(("lo", "hi"), [(100, 156), (179, 190)])
def test_negotiate_refuses_ranges_outside_157_to_178(lo: int, hi: int) -> None:
    with pytest.raises(VersionRefused) as err:
        negotiate(lo, hi)
    assert err.value.code == 530 and "v157..v178" in str(err.value)


async def _raw_handshake(port: int, announce: str) -> tuple[list[list[str]], bool]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = announce.encode()
    writer.write(b"API\0" + len(payload).to_bytes(4, "big") + payload)
    await writer.drain()
    data = b""
    closed = False
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), 0.25 if data else 2.0)
            if not chunk:
                closed = True
                break
            data += chunk
    except TimeoutError:
        pass
    writer.close()
    return FrameDecoder().feed(data), closed


@pytest.mark.parametrize(
    ("announce", "code_or_version"),
    [
        ("v100..150", 530),
        ("v179..190", 530),
        ("v100..157", 157),
        ("v157..176", 176),
        ("v100..222", 178),
    ],
)
async def test_handshake_answers_the_negotiated_version_or_530(
    gw, announce, code_or_version
) -> None:
    frames, closed = await _raw_handshake(gw.port, announce)
    if code_or_version == 530:
        # nothing but the refusal, in the layout a client reads before any version
        assert len(frames) == 1 and closed
        [fields] = frames
        assert fields[:4] == ["4", "2", "-1", "530"] and len(fields) == 5
        assert "v157..v178" in fields[4]
    else:
        assert frames[0][0] == str(code_or_version) and len(frames[0]) == 2 and not closed


async def test_ib_async_refused_when_it_insists_on_more_than_178(gw) -> None:
    from ib_async import IB

    ib = IB()
    ib.client.MinClientVersion, ib.client.MaxClientVersion = 180, 190
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, c: errors.append(code)
    with pytest.raises((ConnectionError, TimeoutError)):
        await ib.connectAsync("127.0.0.1", gw.port, clientId=9, timeout=2)
    assert 530 in errors
    assert not ib.isConnected()


def _other_requests(lib: str) -> list[tuple[Any, type]]:
    """(send, expected request type) for the ungated requests a notebook sends."""
    if lib == "ibapi":
        from ibapi.execution import ExecutionFilter as IbFilter

        contract = _ibapi_contract()
        flt = IbFilter()
    else:
        mod = pytest.importorskip(lib)
        contract = _ib_contract(lib)
        flt = mod.ExecutionFilter()
    hist = ("", "1 D", "1 min", "TRADES", 1, 1, False, [])
    return [
        (lambda c: c.reqMktData(4, contract, "", False, False, []), rq.ReqMktData),
        (lambda c: c.reqHistoricalData(5, contract, *hist), rq.ReqHistoricalData),
        (lambda c: c.reqExecutions(6, flt), rq.ReqExecutions),
        (lambda c: c.reqPnL(7, ACCOUNT, ""), rq.ReqPnL),
        (lambda c: c.reqSecDefOptParams(8, "SPY", "", "STK", 756733), rq.ReqSecDefOptParams),
        (lambda c: c.reqAccountUpdates(True, ACCOUNT), rq.ReqAccountUpdates),
        (lambda c: c.reqPositions(), rq.ReqPositions),
        (lambda c: c.reqOpenOrders(), rq.ReqOpenOrders),
        (lambda c: c.reqCompletedOrders(False), rq.ReqCompletedOrders),
        (lambda c: c.reqAccountSummary(9, "All", "NetLiquidation"), rq.ReqAccountSummary),
    ]


@pytest.mark.parametrize(("lib", "v"), list(_request_cases()))
def test_notebook_requests_parse_at_every_version(lib: str, v: int) -> None:
    for send, kind in _other_requests(lib):
        [fields] = _client_frames(lib, v, send)
        assert isinstance(rq.parse_request(fields, proto=protocol(v)), kind)


LINKED = {
    "orderType": "TRAIL LIMIT", "parentId": 30, "transmit": False, "ocaGroup": "oca-9",
    "ocaType": 2, "auxPrice": 1.25, "trailingPercent": 0.5, "trailStopPrice": 98.75,
    "lmtPriceOffset": 0.1, "goodTillDate": "20261231 16:00:00 US/Eastern", "tif": "GTD",
    "algoStrategy": "Vwap",
}  # fmt: skip
"""The order fields brackets, OCA, trailing stops, GTD and algos need (issue 26)."""


def _linked_order(lib: str):
    if lib == "ibapi":
        from ibapi.tag_value import TagValue as IbTagValue

        o = _ibapi_order()
        tag = IbTagValue
    else:
        o = _ib_order(lib)
        tag = pytest.importorskip(lib).TagValue
    for name, value in LINKED.items():
        setattr(o, name, value)
    o.algoParams = [tag("maxPctVol", "0.1"), tag("startTime", "10:00:00 US/Eastern")]
    return o


@pytest.mark.parametrize(("lib", "v"), list(_request_cases()))
def test_place_order_reads_the_linking_fields_at_every_version(lib: str, v: int) -> None:
    contract = _ibapi_contract() if lib == "ibapi" else _ib_contract(lib)
    [fields] = _client_frames(lib, v, lambda c: c.placeOrder(31, contract, _linked_order(lib)))
    req = rq.parse_request(fields, proto=protocol(v))
    o = req.order
    assert {name: getattr(o, name) for name in LINKED} == LINKED
    assert [(tv.tag, tv.value) for tv in o.algoParams] == [
        ("maxPctVol", "0.1"),
        ("startTime", "10:00:00 US/Eastern"),
    ]
