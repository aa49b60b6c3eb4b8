"""Account requests of a client session: positions, account updates and summaries, PnL,
and the pushes after fills (a mixin of :class:`~livedesk.backend.sim.clients.session.ClientSession`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from livedesk.backend.sim.broker.book import contract_of
from livedesk.backend.sim.market.history import NEW_YORK
from livedesk.backend.sim.protocol import messages as m
from livedesk.backend.sim.protocol import requests as rq

if TYPE_CHECKING:
    from livedesk.backend.sim.gateway import SimGateway

SUMMARY_TAGS = (
    "AccountType",
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "AccruedCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "PreviousDayEquityWithLoanValue",
    "GrossPositionValue",
    "RegTEquity",
    "RegTMargin",
    "SMA",
    "InitMarginReq",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "Cushion",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "LookAheadNextChange",
    "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq",
    "LookAheadAvailableFunds",
    "LookAheadExcessLiquidity",
    "HighestSeverity",
    "DayTradesRemaining",
    "Leverage",
)


LEDGER_TAGS = ("CashBalance", "TotalCashBalance", "NetLiquidationByCurrency", "UnrealizedPnL",
               "RealizedPnL")  # fmt: skip
"""Per-currency values IB reports for the base currency (BASE) and each held currency."""


def ledger(cash: float, values: dict[str, float]) -> dict[str, float]:
    """The ledger values of a one-currency account (the same in BASE and its currency)."""
    return {
        "CashBalance": cash,
        "TotalCashBalance": cash,
        "NetLiquidationByCurrency": values["NetLiquidation"],
        "UnrealizedPnL": values["UnrealizedPnL"],
        "RealizedPnL": values["RealizedPnL"],
    }


class AccountRequests:
    """Position, account, summary and PnL handlers; the session supplies ``gw``, ``send``,
    ``send_error`` and the subscription state."""

    gw: SimGateway
    account_updates: bool
    positions_sub: bool
    multi: dict[int, str]
    summary: dict[int, tuple[str, ...]]
    pnl: set[int]
    pnl_single: dict[int, int]

    def on_positions(self, req: rq.ReqPositions) -> None:
        self.positions_sub = True
        acct = self.gw.broker.account
        for h in acct.holdings.values():
            inst = self.gw.market.registry.by_con_id(h.con_id)
            self.send(m.position(acct.account_id, contract_of(inst), h.qty, h.avg_cost))
        self.send(m.position_end())

    def on_cancel_positions(self, req: rq.CancelPositions) -> None:
        self.positions_sub = False

    def on_positions_multi(self, req: rq.ReqPositionsMulti) -> None:
        acct = self.gw.broker.account
        for h in acct.holdings.values():
            inst = self.gw.market.registry.by_con_id(h.con_id)
            self.send(
                m.position_multi(
                    req.req_id,
                    acct.account_id,
                    req.model_code,
                    contract_of(inst),
                    h.qty,
                    h.avg_cost,
                )
            )
        self.send(m.position_multi_end(req.req_id))

    def on_account_updates(self, req: rq.ReqAccountUpdates) -> None:
        acct = self.gw.broker.account
        if req.account and req.account != acct.account_id:
            self.send_error(-1, 321, f"Error validating request: unknown account {req.account}")
            return
        self.account_updates = req.subscribe
        if req.subscribe:
            now = self.gw.now()
            self._send_account_values(now)
            for h in acct.holdings.values():
                self._send_portfolio_item(h.con_id, now)
            self.send(
                m.account_update_time(dt.datetime.fromtimestamp(now, NEW_YORK).strftime("%H:%M"))
            )
            self.send(m.account_download_end(acct.account_id))

    def _send_account_values(self, now: float) -> None:
        acct = self.gw.broker.account
        values = self.gw.broker.account_values(now)
        self.send(m.account_value("AccountType", "INDIVIDUAL", "", acct.account_id))
        self.send(m.account_value("AccountCode", acct.account_id, "", acct.account_id))
        for key, value in values.items():
            self.send(m.account_value(key, f"{value:.2f}", acct.currency, acct.account_id))
        for key, value in ledger(acct.cash, values).items():  # (those in USD are sent above)
            for currency in ("BASE",) if key in values else ("BASE", acct.currency):
                self.send(m.account_value(key, f"{value:.2f}", currency, acct.account_id))

    def _send_portfolio_item(self, con_id: int, now: float) -> None:
        broker = self.gw.broker
        h = broker.account.holdings.get(con_id)
        inst = self.gw.market.registry.by_con_id(con_id)
        if h is None or inst is None:
            return
        price = broker.mark(con_id, now)
        value = h.qty * price * h.multiplier
        unreal = value - h.qty * h.avg_cost
        self.send(
            m.portfolio_value(
                contract_of(inst),
                h.qty,
                price,
                value,
                h.avg_cost,
                unreal,
                h.realized,
                broker.account.account_id,
            )
        )

    def on_multi(self, req: rq.ReqAccountUpdatesMulti) -> None:
        self.multi[req.req_id] = req.model_code
        self._send_multi(req.req_id, self.gw.now())
        self.send(m.account_update_multi_end(req.req_id))

    def _send_multi(self, req_id: int, now: float) -> None:
        acct = self.gw.broker.account
        for key, value in self.gw.broker.account_values(now).items():
            self.send(
                m.account_update_multi(
                    req_id, acct.account_id, self.multi[req_id], key, f"{value:.2f}", acct.currency
                )
            )

    def on_cancel_multi(self, req: rq.CancelAccountUpdatesMulti) -> None:
        self.multi.pop(req.req_id, None)

    def on_account_summary(self, req: rq.ReqAccountSummary) -> None:
        tags = tuple(t for t in req.tags if t)
        self.summary[req.req_id] = tags
        self._send_summary(req.req_id, self.gw.now())
        self.send(m.account_summary_end(req.req_id))

    def _send_summary(self, req_id: int, now: float) -> None:
        acct = self.gw.broker.account
        values = self.gw.broker.account_values(now)
        values["Leverage"] = values.get("Leverage-S", 0.0)
        wanted = self.summary[req_id]
        ledger_currencies = {
            "$LEDGER": ("BASE",),
            f"$LEDGER:{acct.currency}": (acct.currency,),
            "$LEDGER:ALL": ("BASE", acct.currency),
        }
        for tag in wanted:
            for currency in ledger_currencies.get(tag, ()):
                for key, value in ledger(acct.cash, values).items():
                    self.send(
                        m.account_summary(req_id, acct.account_id, key, f"{value:.2f}", currency)
                    )
        for tag in SUMMARY_TAGS:
            if wanted and "All" not in wanted and tag not in wanted:
                continue
            if tag == "AccountType":
                self.send(m.account_summary(req_id, acct.account_id, tag, "INDIVIDUAL", ""))
            elif tag in values:
                self.send(
                    m.account_summary(
                        req_id, acct.account_id, tag, f"{values[tag]:.2f}", acct.currency
                    )
                )

    def on_cancel_summary(self, req: rq.CancelAccountSummary) -> None:
        self.summary.pop(req.req_id, None)

    def on_pnl(self, req: rq.ReqPnL) -> None:
        self.pnl.add(req.req_id)
        self._send_pnl(req.req_id, self.gw.now())

    def _send_pnl(self, req_id: int, now: float) -> None:
        v = self.gw.broker.account_values(now)
        self.send(m.pnl(req_id, v["DailyPnL"], v["UnrealizedPnL"], v["RealizedPnL"]))

    def on_cancel_pnl(self, req: rq.CancelPnL) -> None:
        self.pnl.discard(req.req_id)

    def on_pnl_single(self, req: rq.ReqPnLSingle) -> None:
        if self.gw.market.registry.by_con_id(req.con_id) is None:
            self.send_error(
                req.req_id, 200, "No security definition has been found for the request"
            )
            return
        self.pnl_single[req.req_id] = req.con_id
        self._send_pnl_single(req.req_id, self.gw.now())

    def _send_pnl_single(self, req_id: int, now: float) -> None:
        broker = self.gw.broker
        con_id = self.pnl_single[req_id]
        h = broker.account.holdings.get(con_id)
        qty = h.qty if h else 0.0
        price = broker.mark(con_id, now)
        mult = h.multiplier if h else 1.0
        value = qty * price * mult
        unreal = value - qty * h.avg_cost if h else 0.0
        realized = h.realized if h else 0.0
        prev = self.gw.market.prev_close(con_id)
        daily = h.daily_pnl(price, prev) if h else 0.0
        self.send(m.pnl_single(req_id, qty, daily, unreal, realized, value))

    def on_cancel_pnl_single(self, req: rq.CancelPnLSingle) -> None:
        self.pnl_single.pop(req.req_id, None)

    def portfolio_changed(self, con_ids: set[int], now: float) -> None:
        """Push position, portfolio and account updates after fills."""
        acct = self.gw.broker.account
        for con_id in con_ids:
            h = acct.holdings.get(con_id)
            inst = self.gw.market.registry.by_con_id(con_id)
            if self.positions_sub and h is not None:
                self.send(m.position(acct.account_id, contract_of(inst), h.qty, h.avg_cost))
            if self.account_updates:
                self._send_portfolio_item(con_id, now)
        if self.account_updates:
            self._send_account_values(now)
        for req_id in self.multi:
            self._send_multi(req_id, now)
        for req_id, con_id in self.pnl_single.items():
            if con_id in con_ids:
                self._send_pnl_single(req_id, now)
