"""Server versions the simulated gateway speaks, and every version gate in one table.

A TWS client announces a range ``v<min>..<max>``; the server answers with the highest
version both sides know and from then on *both* sides lay out every message by that
version's rules. IB names each layout change ``MIN_SERVER_VER_<FEATURE>`` (``ibapi``'s
``server_versions.py``). This module is the only place that knows those numbers: the
encoders (``messages``, ``order_messages``) and the parsers (``requests``, ``order_requests``) ask a
:class:`Protocol` by feature name, never compare version numbers themselves.

The supported range is :data:`MIN_VERSION` … :data:`MAX_VERSION` (157 … 178): 157 is the
version IB's ``ibapi`` 9.81 negotiates and the floor of ``ib_insync`` / ``ib_async``;
178 is the ceiling of ``ib_async`` 2.1 (clients announcing more, such as ``ibapi`` 10.x,
are answered with 178). Below 157 a long list of older layouts would apply; those
clients are refused with error 530 before anything else is sent, as is a client whose
minimum is above 178.

Messages whose layout does not change within 157…178 (account values, portfolio,
positions, orderStatus, commissionReport, option computations, PnL, …) have no gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from livedesk.backend.sim.protocol.wire import SERVER_VERSION

MIN_VERSION = 157
MAX_VERSION = SERVER_VERSION

UNSUPPORTED_VERSION = 530
"""Error code for a client whose version range does not meet the gateway's."""

GATES: dict[str, int] = {
    # name (a Protocol attribute): first server version with the feature
    "order_duration": 158,  # MIN_SERVER_VER_DURATION: placeOrder/openOrder duration
    "market_data_in_shares": 159,  # MIN_SERVER_VER_MARKET_DATA_IN_SHARES: tick sizes in shares
    "post_to_ats": 160,  # MIN_SERVER_VER_POST_TO_ATS: placeOrder/openOrder postToAts
    "wshe_calendar": 161,  # MIN_SERVER_VER_WSHE_CALENDAR: reqWshMetaData / reqWshEventData
    "auto_cancel_parent": 162,  # MIN_SERVER_VER_AUTO_CANCEL_PARENT: openOrder/placeOrder
    "fractional_size": 163,  # MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT: decimal sizes
    "size_rules": 164,  # MIN_SERVER_VER_SIZE_RULES: contractDetails minSize/sizeIncrement
    "advanced_order_reject": 166,  # MIN_SERVER_VER_ADVANCED_ORDER_REJECT: error json, override
    "user_info": 167,  # MIN_SERVER_VER_USER_INFO: reqUserInfo / userInfo
    "manual_order_time": 169,  # MIN_SERVER_VER_MANUAL_ORDER_TIME: place/cancel order times
    "peg_best_mid_offsets": 170,  # MIN_SERVER_VER_PEGBEST_PEGMID_OFFSETS
    "wsh_event_filters": 171,  # MIN_SERVER_VER_WSH_EVENT_DATA_FILTERS: reqWshEventData filters
    "wsh_event_dates": 173,  # MIN_SERVER_VER_WSH_EVENT_DATA_FILTERS_DATE: its dates and limit
    "hmds_in_shares": 175,  # MIN_SERVER_VER_HMDS_MARKET_DATA_IN_SHARES: bar volume in shares
    "issuer_id": 176,  # MIN_SERVER_VER_BOND_ISSUERID: reqContractDetails issuerId
    "fa_profile_desupport": 177,  # MIN_SERVER_VER_FA_PROFILE_DESUPPORT: no faProfile field
    "pending_price_revision": 178,  # MIN_SERVER_VER_PENDING_PRICE_REVISION: execDetails
}

REQUEST_GATES: dict[int, str] = {
    104: "user_info",  # reqUserInfo exists from this gate on
    100: "wshe_calendar",  # reqWshMetaData
    101: "wshe_calendar",  # cancelWshMetaData
    102: "wshe_calendar",  # reqWshEventData
    103: "wshe_calendar",  # cancelWshEventData
}
"""Client message ids that only exist from a gate on (unknown message id before it)."""

LOT_SIZE = 100
"""Shares per size unit of a stock's market data before the *_in_shares gates."""


@dataclass(frozen=True, slots=True)
class Protocol:
    """The layout rules of one negotiated server version (one flag per :data:`GATES` row)."""

    version: int
    order_duration: bool
    market_data_in_shares: bool
    post_to_ats: bool
    wshe_calendar: bool
    auto_cancel_parent: bool
    fractional_size: bool
    size_rules: bool
    advanced_order_reject: bool
    user_info: bool
    manual_order_time: bool
    peg_best_mid_offsets: bool
    wsh_event_filters: bool
    wsh_event_dates: bool
    hmds_in_shares: bool
    issuer_id: bool
    fa_profile_desupport: bool
    pending_price_revision: bool

    def has(self, feature: str) -> bool:
        """Whether the named gate of :data:`GATES` is open at this version."""
        if feature not in GATES:
            raise KeyError(f"unknown protocol feature {feature!r}")
        return bool(getattr(self, feature))

    def md_size_multiplier(self, sec_type: str) -> int:
        """Shares per market-data size unit (contractDetails' mdSizeMultiplier)."""
        return 1 if self.market_data_in_shares or sec_type != "STK" else LOT_SIZE

    def tick_size(self, shares: float, sec_type: str) -> float | int:
        """A market-data size (bid/ask/last size, volume) in this version's unit."""
        return self._size(shares, self.md_size_multiplier(sec_type))

    def bar_volume(self, shares: float, sec_type: str) -> float | int:
        """A historical bar's volume in this version's unit."""
        lot = 1 if self.hmds_in_shares or sec_type != "STK" else LOT_SIZE
        return self._size(shares, lot)

    def _size(self, shares: float, unit: int) -> float | int:
        if unit != 1:
            return int(round(shares / unit))  # sizes in lots are whole lots
        # before fractional sizes the decoders read sizes with int()
        return shares if self.fractional_size else int(round(shares))


@cache
def protocol(version: int) -> Protocol:
    """The rules of ``version`` (must lie in the supported range)."""
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ValueError(f"server version {version} outside {MIN_VERSION}..{MAX_VERSION}")
    return Protocol(version, **{name: version >= first for name, first in GATES.items()})


LATEST = protocol(MAX_VERSION)


class VersionRefused(Exception):
    """A client's version range and the gateway's do not overlap."""

    code = UNSUPPORTED_VERSION


def negotiate(client_min: int, client_max: int) -> int:
    """The server version to speak with a client announcing ``v<min>..<max>``.

    Raises VersionRefused (with the text to send as error 530) when the ranges do not
    overlap: a client too old for the floor, or one that insists on more than 178.
    """
    if client_max < MIN_VERSION:
        raise VersionRefused(
            f"Unsupported client version: the client speaks v{client_min}..v{client_max}, "
            f"this gateway needs at least v{MIN_VERSION} (supports v{MIN_VERSION}..v{MAX_VERSION})"
        )
    if client_min > MAX_VERSION:
        raise VersionRefused(
            f"Unsupported client version: the client needs at least v{client_min}, "
            f"this gateway speaks at most v{MAX_VERSION} (supports v{MIN_VERSION}..v{MAX_VERSION})"
        )
    return min(client_max, MAX_VERSION)
