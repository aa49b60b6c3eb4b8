"""The request handlers beyond quotes, bars, account and orders, in one mixin: market depth,
ticks and short bars, scanners, option calculations and exercise, reference data and the
requests a paper account refuses. :meth:`DataRequests.data_handlers` is the session's
dispatch table for them; :meth:`DataRequests.stream_data` is their share of each streaming
pass.
"""

from __future__ import annotations

from collections.abc import Callable

from livedesk.backend.sim.clients.depth_requests import DepthRequests, DepthSub
from livedesk.backend.sim.clients.option_requests import OptionRequests
from livedesk.backend.sim.clients.reference_requests import ReferenceRequests
from livedesk.backend.sim.clients.scanner_requests import ScannerRequests, ScanSub
from livedesk.backend.sim.clients.tick_requests import RealTimeBarSub, TickByTickSub, TickRequests
from livedesk.backend.sim.protocol import data_requests as dr


class DataRequests(DepthRequests, TickRequests, ScannerRequests, OptionRequests, ReferenceRequests):
    """Subscriptions and handlers of :mod:`~livedesk.backend.sim.protocol.data_requests`."""

    def init_data(self) -> None:
        """Create the subscription tables (called by the session's constructor)."""
        self.depth: dict[int, DepthSub] = {}
        self.depth_updates = 0
        self.tbt: dict[int, TickByTickSub] = {}
        self.rtb: dict[int, RealTimeBarSub] = {}
        self.scans: dict[int, ScanSub] = {}

    def data_handlers(self) -> dict[type, Callable]:
        """Request type -> handler, for the session's dispatch."""
        ignore = lambda r: None  # noqa: E731
        return {
            dr.ReqMktDepth: self.on_mkt_depth,
            dr.CancelMktDepth: self.on_cancel_mkt_depth,
            dr.ReqMktDepthExchanges: self.on_mkt_depth_exchanges,
            dr.ReqTickByTickData: self.on_tick_by_tick,
            dr.ReqHistoricalTicks: self.on_historical_ticks,
            dr.ReqRealTimeBars: self.on_real_time_bars,
            dr.ReqHistogramData: self.on_histogram,
            dr.ReqScannerParameters: self.on_scanner_parameters,
            dr.ReqScannerSubscription: self.on_scanner_subscription,
            dr.CalcOptionPrice: self.on_calc_option_price,
            dr.CalcImpliedVolatility: self.on_calc_implied_vol,
            dr.ExerciseOptions: self.on_exercise,
            dr.ReqMatchingSymbols: self.on_matching_symbols,
            dr.ReqMarketRule: self.on_market_rule,
            dr.ReqSmartComponents: self.on_smart_components,
            dr.ReqSoftDollarTiers: self.on_soft_dollar_tiers,
            dr.ReqFamilyCodes: self.on_family_codes,
            dr.ReqNewsProviders: self.on_news_providers,
            dr.ReqNewsArticle: self.on_not_allowed,
            dr.ReqHistoricalNews: self.on_not_allowed,
            dr.ReqFundamentalData: self.on_not_allowed,
            dr.ReqWshMetaData: self.on_not_allowed,
            dr.ReqWshEventData: self.on_not_allowed,
            dr.RequestFA: self.on_request_fa,
            dr.ReplaceFA: self.on_replace_fa,
            dr.QueryDisplayGroups: self.on_query_display_groups,
            dr.SubscribeToGroupEvents: self.on_group_events,
            dr.UpdateDisplayGroup: self.on_update_display_group,
            dr.Verify: self.on_verify,
            dr.ReqNewsBulletins: ignore,
            dr.CancelNewsBulletins: ignore,
            dr.SetServerLogLevel: ignore,
            dr.Cancel: self.on_cancel,
        }

    def on_cancel(self, req: dr.Cancel) -> None:
        """Any cancel by request id: the subscription (if any) ends; nothing is answered."""
        table = {23: self.scans, 51: self.rtb, 98: self.tbt}.get(req.msg_id)
        if table is not None:
            table.pop(req.req_id, None)

    def stream_data(self, now: float) -> None:
        """This module's share of a streaming pass: depth, tick-by-tick, real-time bars and
        scanner refreshes."""
        for req_id, sub in self.depth.items():
            self.push_depth(req_id, sub, now)
        for req_id, sub in self.tbt.items():
            self.push_tick_by_tick(req_id, sub, now)
        for req_id, sub in self.rtb.items():
            self.push_real_time_bars(req_id, sub, now)
        for req_id, sub in list(self.scans.items()):
            if not self.push_scan(req_id, sub, now):
                self.scans.pop(req_id, None)
