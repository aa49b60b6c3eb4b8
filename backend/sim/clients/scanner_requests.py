"""Market scanners of a client session: scanner parameters, and subscriptions answered with
the scan of the simulated universe at once and then every :data:`REFRESH_SECONDS` of
gateway time (a mixin of :class:`~livedesk.backend.sim.clients.session.ClientSession`)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from livedesk.backend.sim.market import scanner
from livedesk.backend.sim.protocol import data_messages as dm
from livedesk.backend.sim.protocol import data_requests as dr

if TYPE_CHECKING:
    from livedesk.backend.sim.gateway import SimGateway

REFRESH_SECONDS = 30.0
WARM_CHUNK = 20
"""Stocks prepared per event-loop turn before a gateway's first scan."""


@dataclass
class ScanSub:
    """One scanner subscription: what it scans and when it is next refreshed."""

    code: str
    rows: int
    filters: dict[str, float]
    next_refresh: float


class ScannerRequests:
    """reqScannerParameters / reqScannerSubscription / cancelScannerSubscription."""

    gw: SimGateway
    scans: dict[int, ScanSub]

    def _averages(self) -> dict[int, float]:
        """Average daily volumes of the current session's universe (they move with the
        history: one table per session)."""
        return self.gw.scan_averages.setdefault(self.gw.market.session, {})

    def on_scanner_parameters(self, req: dr.ReqScannerParameters) -> None:
        self.send(dm.scanner_parameters(scanner.parameters_xml()))

    def on_scanner_subscription(self, req: dr.ReqScannerSubscription) -> None:
        filters: dict[str, float] = {}
        for tag, value in (
            ("priceAbove", req.above_price),
            ("priceBelow", req.below_price),
            ("volumeAbove", req.above_volume),
        ):
            if value is not None and abs(value) < 1e300:
                filters[tag] = value
        try:
            for tv in req.filter_options:
                filters[tv.tag] = float(tv.value)
        except ValueError:
            self.send_error(
                req.req_id,
                162,
                "Historical Market Data Service error message:"
                "API scanner subscription cancelled: a filter value is not a number",
            )
            return
        if req.instrument not in ("", "STK"):
            self.send_error(
                req.req_id,
                162,
                "Historical Market Data Service error message:API scanner subscription "
                f"cancelled: instrument {req.instrument!r} is not scanned (STK only)",
            )
            return
        sub = ScanSub(req.scan_code, req.rows, filters, 0.0)
        if req.scan_code not in scanner.SCAN_CODES:
            self.push_scan(req.req_id, sub, self.gw.now())  # answers the error
            return
        self.scans[req.req_id] = sub
        if scanner.is_warm(self.gw.market, self._averages()):
            self.push_scan(req.req_id, sub, self.gw.now())
        else:  # the first scan of the gateway: build the universe without stalling the loop
            sub.next_refresh = math.inf
            self.gw.track(asyncio.ensure_future(self._warm_then_scan(req.req_id, sub)))

    async def _warm_then_scan(self, req_id: int, sub: ScanSub) -> None:
        for n, _ in enumerate(scanner.warm_up(self.gw.market, self.gw.now(), self._averages())):
            if n % WARM_CHUNK == WARM_CHUNK - 1:
                await asyncio.sleep(0)
        if self.scans.get(req_id) is sub and not self.closed:
            sub.next_refresh = 0.0
            if not self.push_scan(req_id, sub, self.gw.now()):
                self.scans.pop(req_id, None)

    def push_scan(self, req_id: int, sub: ScanSub, now: float) -> bool:
        """Send the scan's rows (and scannerDataEnd); False (after an error) if it cannot run."""
        if now < sub.next_refresh:
            return True
        sub.next_refresh = now + REFRESH_SECONDS
        try:
            found = scanner.scan(
                self.gw.market, sub.code, now, sub.rows, sub.filters, self._averages()
            )
        except scanner.ScanError as exc:
            self.send_error(
                req_id,
                162,
                f"Historical Market Data Service error message:API scanner subscription cancelled: {exc}",
            )
            return False
        rows = [
            (
                rank,
                m.inst.con_id,
                m.inst.symbol,
                "STK",
                "",
                0.0,
                "",
                "SMART",
                m.inst.currency,
                m.inst.symbol,
                "NMS",
                m.inst.symbol,
                "",
                "",
                "",
                "",
            )  # fmt: skip
            for rank, m in enumerate(found)
        ]
        self.send(dm.scanner_data(req_id, rows))
        return True

    def on_cancel_scanner(self, req_id: int) -> None:
        self.scans.pop(req_id, None)
