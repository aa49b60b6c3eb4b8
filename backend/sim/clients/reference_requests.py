"""Reference data and the requests a paper account without subscriptions refuses (a mixin of
:class:`~livedesk.backend.sim.clients.session.ClientSession`).

Answered with data: matching symbols, market rules, smart components, soft-dollar tiers
(none), family codes, news providers (IB's free ones), display groups. Answered with the
error a paper account without subscriptions gets, on the request's id: news articles and
historical news and WSH (10276 "News feed is not allowed."), fundamentals (10358
"Fundamentals data is not allowed."), FA on a non-FA account (321). News bulletins and the
server log level are accepted silently, as TWS does when there is nothing to send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livedesk.backend.sim.market import rules
from livedesk.backend.sim.protocol import data_messages as dm
from livedesk.backend.sim.protocol import data_requests as dr

if TYPE_CHECKING:
    from livedesk.backend.sim.gateway import SimGateway

NEWS_NOT_ALLOWED = (10276, "News feed is not allowed.")
FUNDAMENTALS_NOT_ALLOWED = (10358, "Fundamentals data is not allowed.")
FA_REQUEST_REFUSED = (
    321,
    "Error validating request.-'b9' : cause - FA data operations ignored for non FA customers.",
)
FA_REPLACE_REFUSED = (
    321,
    "Error validating request.-'b1' : cause - FA data operations ignored for non FA customers.",
)
FREE_NEWS_PROVIDERS = (
    ("BRFG", "Briefing.com General Market Columns"),
    ("BRFUPDN", "Briefing.com Analyst Actions"),
    ("DJNL", "Dow Jones Newsletters"),
)
SMART_COMPONENTS = (
    (1, "NYSE", "N"), (2, "ARCA", "P"), (3, "NASDAQ", "Q"), (4, "BATS", "Z"),
    (5, "EDGX", "K"), (6, "IEX", "V"), (7, "MEMX", "U"), (8, "BYX", "Y"),
)  # fmt: skip
DISPLAY_GROUPS = "1|2|3|4|5|6|7"
MAX_MATCHES = 16


class ReferenceRequests:
    """Reference-data handlers; the session supplies ``gw``, ``send`` and ``send_error``."""

    gw: SimGateway

    def on_matching_symbols(self, req: dr.ReqMatchingSymbols) -> None:
        self.send(
            dm.symbol_samples(req.req_id, self.matching_symbols(req.pattern), proto=self.proto)
        )

    def matching_symbols(self, pattern: str) -> list[tuple]:
        """Stocks whose symbol starts with ``pattern`` (then whose name contains it), as
        symbolSamples rows; ``OPT`` is listed as a derivative where a chain exists."""
        text = pattern.strip().upper()
        if not text:
            return []
        stocks = [i for i in self.gw.market.registry if i.sec_type == "STK"]
        first = sorted((i for i in stocks if i.symbol.startswith(text)), key=lambda i: i.symbol)
        named = [i for i in stocks if i not in first and text in i.long_name.upper()]
        options = self.gw.market.options
        out = []
        for inst in (first + named)[:MAX_MATCHES]:
            derivs = ["OPT"] if options is not None and options.chain(inst.symbol) else []
            out.append(
                (inst.con_id, inst.symbol, "STK", inst.primary_exchange, inst.currency, derivs,
                 inst.long_name)
            )  # fmt: skip
        return out

    def on_market_rule(self, req: dr.ReqMarketRule) -> None:
        ladder = rules.increments(req.rule_id)  # an unknown id: an empty ladder
        self.send(dm.market_rule(req.rule_id, ladder or ()))

    def on_smart_components(self, req: dr.ReqSmartComponents) -> None:
        if not req.bbo_exchange:
            self.send_error(
                req.req_id, 200, "No security definition has been found for the request"
            )
            return
        self.send(dm.smart_components(req.req_id, SMART_COMPONENTS))

    def on_soft_dollar_tiers(self, req: dr.ReqSoftDollarTiers) -> None:
        self.send(dm.soft_dollar_tiers(req.req_id, ()))

    def on_family_codes(self, req: dr.ReqFamilyCodes) -> None:
        self.send(dm.family_codes(((self.gw.broker.account.account_id, ""),)))

    def on_news_providers(self, req: dr.ReqNewsProviders) -> None:
        self.send(dm.news_providers(FREE_NEWS_PROVIDERS))

    def on_not_allowed(self, req) -> None:
        """News articles, historical news, WSH and fundamentals: refused on the request id."""
        code, text = (
            FUNDAMENTALS_NOT_ALLOWED if isinstance(req, dr.ReqFundamentalData) else NEWS_NOT_ALLOWED
        )
        self.send_error(req.req_id, code, text)

    def on_request_fa(self, req: dr.RequestFA) -> None:
        self.send_error(-1, *FA_REQUEST_REFUSED)

    def on_replace_fa(self, req: dr.ReplaceFA) -> None:
        self.send_error(req.req_id, *FA_REPLACE_REFUSED)

    def on_query_display_groups(self, req: dr.QueryDisplayGroups) -> None:
        self.send(dm.display_group_list(req.req_id, DISPLAY_GROUPS))

    def on_group_events(self, req: dr.SubscribeToGroupEvents) -> None:
        self.send(dm.display_group_updated(req.req_id, ""))

    def on_update_display_group(self, req: dr.UpdateDisplayGroup) -> None:
        self.send(dm.display_group_updated(req.req_id, req.contract_info))

    def on_verify(self, req: dr.Verify) -> None:
        self.send(
            dm.verify_completed(
                req.with_auth, False, "API verification is not used by this gateway"
            )
        )
