"""The console session's views: header figures and each pane's rows. A mixin of
:class:`~livedesk.backend.console.session.ConsoleSession`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from livedesk.backend.console.equity import EquitySeries
from livedesk.backend.console.labels import combo_label, contract_label
from livedesk.backend.console.market_clock import MarketStatus
from livedesk.backend.console.views import OrderRow, PositionRow, clean, order_rows, position_rows


@dataclass(frozen=True)
class HeaderView:
    """Everything the header shows."""

    account: str
    badge: str  # SIM | PAPER | LIVE | ""
    readonly: bool
    nlv: float
    day_pnl: float
    day_pnl_pct: float
    gross: float
    gross_pct: float
    connection: str
    last_code: int
    farms: str
    market: MarketStatus
    trading_state: str
    trading_reason: str
    live_confirmed: bool
    stale: bool = False
    """Disconnected: the figures are the last known ones."""
    stale_age: float = math.nan
    """Seconds since the figures were last fresh (NaN while fresh)."""
    reconnect_in: float | None = None
    """Seconds to the next reconnect attempt (None when none is scheduled)."""
    speed: str = ""
    """The demo's speed next to the SIM badge (``60×``, ``PAUSED``); "" when not shown."""


class SessionViews:
    """Views over ``self.app``, ``self.engine``, ``self.controller`` and the tracker."""

    # ---- views --------------------------------------------------------------------
    def strategy_params(self) -> dict[str, dict]:
        """Each strategy's current parameters (its backtest reference is stale when built
        with others); empty while the strategies load."""
        ctl = self.controller
        if ctl is None:
            return {}
        return {i.name: dict(i.params) for i in ctl.infos()}

    @property
    def link_up(self) -> bool:
        """True while the API socket is connected (CONNECTED or DEGRADED)."""
        app = self.app
        if app is None or self.health.state in ("DISCONNECTED", "CONNECTING", "CLOSED"):
            return False
        return app.ib.isConnected()

    @property
    def stale_age(self) -> float:
        """Seconds the panes have shown their last data (NaN while connected)."""
        since = getattr(self, "_stale_since", None)
        if self.link_up or since is None:
            return math.nan
        return time.monotonic() - since

    def _mark_link(self) -> bool:
        """Track when the link went down; True while it is up."""
        up = self.link_up
        if up:
            self._stale_since = None
        elif getattr(self, "_stale_since", None) is None:
            self._stale_since = time.monotonic()
        return up

    def _reconnect_in(self) -> float | None:
        session = getattr(self.app, "session", None)
        at = getattr(session, "next_attempt_at", None)
        if at is None:
            return None
        return max(0.0, at - time.monotonic())

    def contract_label(self, contract) -> str:
        """The trader's name of a contract: ``SPY 31DEC26 528 C``, ``CL F27``, a combo by its
        recognised strategy and strikes (``SPY iron condor 31DEC26 513/518/538/543``)."""
        if contract.secType == "BAG":
            legs = self.app.bags.legs(contract) if self.app is not None else None
            if legs:
                return combo_label(contract.symbol, [(g.contract, g.sign * g.ratio) for g in legs])
            return f"{contract.symbol} combo ({len(contract.comboLegs or [])} legs)"
        return contract_label(contract)

    def header(self) -> HeaderView:
        """The header's figures now; while disconnected the last known ones, marked stale."""
        app = self.app
        market = self.market_clock.status(self.now())
        last = getattr(self, "_last_header", None)
        if app is not None and not self._mark_link() and last is not None:
            return replace(
                last,
                connection=self.health.state,
                last_code=self.health.last_code,
                farms=self.health.farms_label(),
                market=market,
                stale=True,
                stale_age=self.stale_age,
                reconnect_in=self._reconnect_in(),
                speed=self.speed_text(),
            )
        if app is None:
            nan = math.nan
            return HeaderView(
                "", self.badge, self.target.readonly, nan, nan, nan, nan, nan,
                self.health.state, self.health.last_code, self.health.farms_label(), market,
                "", "", False,
            )  # fmt: skip
        account = app.account
        nlv = app.net_liquidation
        day = math.nan
        for p in app.ib.pnl(account):
            day = clean(p.dailyPnL)
        base = nlv - day if math.isfinite(nlv) and math.isfinite(day) else math.nan
        gross = sum(abs(clean(i.marketValue) or 0.0) for i in app.ib.portfolio(account))
        view = HeaderView(
            account=account,
            badge=self.badge,
            readonly=self.target.readonly,
            nlv=nlv,
            day_pnl=day,
            day_pnl_pct=day / base if base and base > 0 else math.nan,
            gross=gross,
            gross_pct=gross / nlv if nlv and nlv > 0 else math.nan,
            connection=self.health.state,
            last_code=self.health.last_code,
            farms=self.health.farms_label(),
            market=market,
            trading_state=str(app.trading_state),
            trading_reason=app.guard.state_reason,
            live_confirmed=self.badge != "LIVE" or not app.account_guard.check(),
            speed=self.speed_text(),
        )
        if account and math.isfinite(nlv):
            self._last_header = view
        return view

    def positions(self) -> list[PositionRow]:
        """Positions pane rows (the last known ones while disconnected)."""
        if self.app is None:
            return []
        if not self._mark_link():
            return getattr(self, "_last_positions", [])
        app = self.app
        self._last_positions = position_rows(
            app.ib.portfolio(app.account),
            app.net_liquidation,
            self.tracker.attribution,
            self.tracker.combos,
            app.marks(),
        )
        return self._last_positions

    def orders(self) -> list[OrderRow]:
        """Orders pane rows: working orders and today's orders (the last known ones while
        disconnected)."""
        if self.app is None:
            return []
        if not self._mark_link():
            return getattr(self, "_last_orders", [])
        self._last_orders = order_rows(
            self.app.ib.trades(), self.tracker.arrival, self.tracker.first_seen, self.contract_label
        )
        return self._last_orders

    def account_figures(self) -> list:
        """The account's cash, buying power, excess liquidity, margins and day PnL
        (:class:`~livedesk.backend.console.account_view.AccountFigure`); empty before the
        connection and while disconnected (the pane keeps the last ones, marked stale)."""
        from livedesk.backend.console.account_view import account_figures

        app = self.app
        if app is None or not self.link_up:
            return []
        return account_figures(app.ib.accountValues(), app.ib.pnl(), app.account)

    def executions(self) -> list:
        """Executions view rows (:class:`~livedesk.backend.console.executions.ExecutionRow`):
        the journal's fills (read once) and this session's, oldest first."""
        from livedesk.backend.console import executions as ex

        if self.app is None:
            return []
        if not self._mark_link():
            return getattr(self, "_last_executions", [])
        ib = self.app.ib
        known = getattr(self, "_journal_executions", None)
        if known is None:
            contracts = {c.conId: c for c in (p.contract for p in ib.positions())}
            contracts.update((f.contract.conId, f.contract) for f in ib.fills())

            def label(con_id, symbol: str) -> str:
                c = contracts.get(con_id)
                return self.contract_label(c) if c is not None else symbol

            fills = self.journal.fills() if self.journal is not None else []
            known = self._journal_executions = ex.journal_rows(fills, label)
        live = ex.live_rows(ib.fills(), ib.trades(), self.tracker.arrival, self.contract_label)
        self._last_executions = ex.execution_rows(known, live)
        return self._last_executions

    def strategy_books(self) -> dict[str, tuple[float, int]]:
        """Per strategy: gross exposure ($, |quantity × price × multiplier| summed over its
        positions) and how many positions it holds — never summed share counts."""
        out: dict[str, tuple[float, int]] = {}
        if self.app is None or not self.tracker.attribution:
            return out
        app = self.app
        items = {i.contract.conId: i for i in app.ib.portfolio(app.account)}
        marks = app.marks()
        for con_id, book in self.tracker.attribution.items():
            item = items.get(con_id)
            price, mult = math.nan, 1.0
            if item is not None:
                mark = marks.get(con_id)
                price = mark if mark is not None and mark > 0 else clean(item.marketPrice)
                m = clean(item.contract.multiplier) if item.contract.multiplier else 1.0
                mult = m if m and m > 0 and item.contract.secType != "STK" else 1.0
            for name, qty in book.items():
                if not qty:
                    continue
                gross, n = out.get(name, (0.0, 0))
                value = abs(qty * price * mult) if math.isfinite(price) else 0.0
                out[name] = (gross + value, n + 1)
        return out

    def strategies(self) -> list:
        """``StrategyInfo`` rows (empty without a controller)."""
        return self.controller.infos() if self.controller is not None else []

    def _series(self, key: str) -> EquitySeries:
        s = self.equity.get(key)
        if s is None:
            s = self.equity[key] = EquitySeries(key)
            if self.journal is not None:
                s.load(self.journal)
        return s

    def equity_view(self, key: str, window: str, width: int):
        """Equity/drawdown of ``key`` ("account" or a strategy) over ``window``."""
        series = self._series(key)
        if self.engine is not None and key in self.engine.keys():
            snap = self.engine.snapshot(key)
            series.add(float(snap["t"]), float(snap["nlv"]))
        start = self.market_clock.session_start(self.now())
        return series.view(window, width, self.now(), start)

    def risk_blocks(self) -> list:
        """Risk pane blocks (empty before the connection); new divergence flags are logged."""
        blocks = self.risk_table.blocks() if self.risk_table is not None else []
        flagged = {(b.key, line.metric): line for b in blocks for line in b.lines if line.flag}
        for key, metric in sorted(flagged.keys() - self._flagged):
            line = flagged[(key, metric)]
            self.add_log(
                "warning",
                "risk",
                f"{key}: live {line.label} diverges from the backtest ({line.detail})",
                toast=True,
            )
        self._flagged = set(flagged)
        return blocks
