"""The live algorithm: zipline's ``context`` and the object ``zipline.api`` dispatches to.

In zipline ``context`` *is* the ``TradingAlgorithm`` and ``zipline.api.order(...)`` calls
``get_algo_instance().order(...)``; :class:`LiveAlgorithm` plays both parts, so an
unmodified file's ``order(symbol("AAPL"), 10)`` and ``context.set_commission(...)`` land
here. Every order maps onto a :class:`~livedesk.backend.strategies.context.StrategyContext`
primitive (tagged with the strategy's name, through the pre-trade guard, dry-run aware).
The methods run on the algorithm's worker thread; broker calls go through ``feed.call``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from ib_async import LimitOrder, Order, StopLimitOrder, StopOrder

from livedesk.backend.algo.feed import AlgoFeed
from livedesk.backend.algo.portfolio import (
    Portfolio,
    Position,
    Positions,
    account_values,
    make_account,
)
from livedesk.backend.algo.scheduling import Scheduled
from livedesk.backend.trading.orders import market


class OrderRefused(RuntimeError):
    """The pre-trade guard (or the broker) refused an algorithm's order."""


class NotAllowedHere(RuntimeError):
    """An API call zipline also forbids where it was made (e.g. ordering in before_trading_start)."""


@dataclass(frozen=True)
class LiveOrder:
    """An order as ``get_open_orders`` / ``get_order`` return it (zipline's fields)."""

    id: str
    asset: Any
    amount: float
    filled: float
    limit: float | None
    stop: float | None
    status: str
    created: pd.Timestamp | None

    @property
    def sid(self) -> Any:
        return self.asset

    @property
    def open_amount(self) -> float:
        return self.amount - self.filled


def order_type(limit_price=None, stop_price=None, style=None):
    """The ``(action, qty) -> Order`` factory of zipline's order arguments."""
    if style is not None:
        if limit_price is not None or stop_price is not None:
            raise ValueError("pass either style or limit_price/stop_price, not both")

        def from_style(action: str, qty: float) -> Order:
            buy = action == "BUY"
            return order_type(style.get_limit_price(buy), style.get_stop_price(buy))(action, qty)

        return from_style
    if limit_price is not None and stop_price is not None:
        return lambda a, q: StopLimitOrder(a, q, float(limit_price), float(stop_price))
    if limit_price is not None:
        return lambda a, q: LimitOrder(a, q, float(limit_price))
    if stop_price is not None:
        return lambda a, q: StopOrder(a, q, float(stop_price))
    return market


class LiveAlgorithm:
    """One algorithm module running live (its ``context``)."""

    _internal = frozenset()

    def __init__(self, module, feed: AlgoFeed, frequency: str, capital: float) -> None:
        self.module = module
        self.feed = feed
        self.frequency = frequency
        self.capital_base = capital
        self.initialized = False
        self.in_before_trading_start = False
        self.scheduled: list[Scheduled] = []
        self.pipelines: dict[str, Any] = {}
        self.pipeline_engine = None
        self.notes: list[str] = []
        self.backtest_only: list[str] = []
        """``set_commission`` / ``set_slippage`` / ``set_benchmark`` calls: accepted, noted."""
        self.recorded_vars: dict[str, Any] = {}
        self.order_ids: dict[str, Any] = {}
        self._dry_ids = 0
        type(self)._internal = frozenset(vars(self)) | {"_internal"}

    # ---- user attributes (persisted) ------------------------------------------------
    def user_attributes(self) -> dict[str, Any]:
        """The attributes the algorithm set on ``context``."""
        return {k: v for k, v in vars(self).items() if k not in self._internal}

    # ---- assets ---------------------------------------------------------------------
    def symbol(self, symbol_str: str, country_code: str | None = None):
        """The bundle's asset for ``symbol_str``."""
        return self.feed.finder.lookup_symbol(symbol_str, as_of_date=None)

    def symbols(self, *args, **kwargs):
        return [self.symbol(s, **kwargs) for s in args]

    def sid(self, sid: int):
        return self.feed.finder.retrieve_asset(int(sid))

    # ---- time and environment --------------------------------------------------------
    def get_datetime(self, tz=None) -> pd.Timestamp:
        """The broker's time of this decision (UTC unless ``tz``)."""
        now = self.feed.now
        return now.tz_convert(tz) if tz is not None else now

    @property
    def datetime(self) -> pd.Timestamp:
        return self.feed.now

    def get_environment(self, field: str = "platform"):
        env = {
            "arena": "live",
            "data_frequency": self.frequency,
            "platform": "livedesk",
            "capital_base": self.capital_base,
            "start": self.feed.now,
            "end": self.feed.now,
        }
        return env if field == "*" else env[field]

    # ---- backtest-only settings ----------------------------------------------------
    def _note(self, what: str) -> None:
        if what not in self.backtest_only:
            self.backtest_only.append(what)

    def set_commission(self, us_equities=None, us_futures=None) -> None:
        self._note("set_commission")

    def set_slippage(self, us_equities=None, us_futures=None) -> None:
        self._note("set_slippage")

    def set_benchmark(self, benchmark) -> None:
        self._note("set_benchmark")

    # ---- scheduling and recording ------------------------------------------------
    def schedule_function(
        self, func, date_rule=None, time_rule=None, half_days=True, calendar=None
    ) -> None:
        """Register ``func``; evaluated with zipline's own rules on XNYS (see ``scheduling``)."""
        from zipline.utils.events import date_rules, make_eventrule, time_rules

        from livedesk.backend.algo.scheduling import calendar as xnys

        if date_rule is not None and not hasattr(date_rule, "should_trigger"):
            raise TypeError("date_rule must be a date_rules rule")
        date_rule = date_rule or date_rules.every_day()
        if self.frequency == "minute":
            time_rule = time_rule or time_rules.every_minute()
        else:
            time_rule = time_rules.every_minute()
        cal = xnys()

        def make():
            return make_eventrule(date_rule, time_rule, cal, half_days)

        name = f"{getattr(func, '__name__', 'function')}#{len(self.scheduled)}"
        self.scheduled.append(Scheduled(func, None, make, name))

    def record(self, *args, **kwargs) -> None:
        """Record values: numbers are journaled with the decision (strategy detail)."""
        pairs = dict(zip(args[::2], args[1::2], strict=False))
        pairs.update(kwargs)
        for name, value in pairs.items():
            self.recorded_vars[name] = value
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(number):
                self.feed.ctx.record(**{str(name): number})

    # ---- pipeline ---------------------------------------------------------------------
    def attach_pipeline(self, pipeline, name: str, chunks=None, eager=True):
        self.pipelines[name] = pipeline
        return pipeline

    def pipeline_output(self, name: str):
        """The pipeline ``name`` for the current session, on the configured bundle."""
        if name not in self.pipelines:
            raise KeyError(f"no pipeline named {name!r} is attached")
        if self.pipeline_engine is None:
            raise RuntimeError("pipelines need a bundle")
        return self.pipeline_engine.output(name, self.pipelines[name], self.feed.session)

    # ---- portfolio --------------------------------------------------------------------
    @property
    def portfolio(self) -> Portfolio:
        app = self.feed.ctx.app
        values = account_values(app.ib, app.account)
        positions = Positions()
        marks = app.marks()
        for con_id, p in app.positions.items():
            if not p.position:
                continue
            asset = self.feed.asset_of(con_id, getattr(p.contract, "symbol", ""))
            if asset is None:
                continue
            mark = marks.get(con_id, p.avgCost)
            positions[asset] = Position(asset, p.position, float(p.avgCost), float(mark))
        nlv = app.net_liquidation_or_none() or values.get("NetLiquidation", 0.0)
        value = sum(p.amount * p.last_sale_price for p in positions.values())
        return Portfolio(
            positions=positions,
            cash=values.get("TotalCashValue", nlv - value),
            portfolio_value=nlv,
            positions_value=value,
            starting_cash=self.capital_base,
            pnl=nlv - self.capital_base,
            returns=nlv / self.capital_base - 1.0 if self.capital_base else 0.0,
            positions_exposure=value,
        )

    @property
    def account(self):
        pf = self.portfolio
        app = self.feed.ctx.app
        gross = sum(abs(p.amount * p.last_sale_price) for p in pf.positions.values())
        return make_account(
            account_values(app.ib, app.account), pf.portfolio_value, gross, pf.positions_value
        )

    # ---- orders ----------------------------------------------------------------------
    def _send(self, method: str, asset, amount: float, limit_price, stop_price, style):
        if self.in_before_trading_start:
            raise NotAllowedHere("orders cannot be placed in before_trading_start (as in zipline)")
        factory = order_type(limit_price, stop_price, style)
        ctx = self.feed.ctx

        async def go():
            contract = await self.feed.contract(asset)
            return await getattr(ctx, method)(contract, amount, factory)

        result = self.feed.call(go())
        if result.order is None:  # nothing to do (already at the target, rounds to zero)
            return None
        if not result.sent and not ctx.dry_run:
            raise OrderRefused(f"{method} {asset.symbol}: {result.message}")
        if ctx.dry_run:
            self._dry_ids += 1
            oid = f"dry-{self._dry_ids}"
        else:
            oid = str(result.order.orderId)
        self.order_ids[oid] = (asset, result.order)
        return oid

    def order(self, asset, amount, limit_price=None, stop_price=None, style=None):
        """Buy (> 0) or sell ``amount`` shares; returns the order id (None for 0)."""
        amount = int(amount)
        if amount == 0:
            return None
        if self.in_before_trading_start:
            raise NotAllowedHere("orders cannot be placed in before_trading_start (as in zipline)")
        factory = order_type(limit_price, stop_price, style)
        action = "BUY" if amount > 0 else "SELL"
        order = factory(action, abs(amount))
        ctx = self.feed.ctx

        async def go():
            contract = await self.feed.contract(asset)
            return await ctx.send_order(contract, order)

        result = self.feed.call(go())
        if not result.sent and not ctx.dry_run:
            raise OrderRefused(f"order {asset.symbol} {amount:+d}: {result.message}")
        if ctx.dry_run:
            self._dry_ids += 1
            oid = f"dry-{self._dry_ids}"
        else:
            oid = str(order.orderId)
        self.order_ids[oid] = (asset, order)
        return oid

    def order_value(self, asset, value, limit_price=None, stop_price=None, style=None):
        return self._send("order_value", asset, float(value), limit_price, stop_price, style)

    def order_percent(self, asset, percent, limit_price=None, stop_price=None, style=None):
        return self._send("order_percent", asset, float(percent), limit_price, stop_price, style)

    def order_target(self, asset, target, limit_price=None, stop_price=None, style=None):
        return self._send(
            "order_target_quantity", asset, float(int(target)), limit_price, stop_price, style
        )

    def order_target_value(self, asset, target, limit_price=None, stop_price=None, style=None):
        return self._send(
            "order_target_value", asset, float(target), limit_price, stop_price, style
        )

    def order_target_percent(self, asset, target, limit_price=None, stop_price=None, style=None):
        return self._send(
            "order_target_percent", asset, float(target), limit_price, stop_price, style
        )

    def _live_order(self, trade) -> LiveOrder:
        o = trade.order
        sign = 1.0 if o.action == "BUY" else -1.0
        asset = self.feed.asset_of(trade.contract.conId, trade.contract.symbol)
        lmt = o.lmtPrice if o.orderType in ("LMT", "STP LMT") else None
        stp = o.auxPrice if o.orderType in ("STP", "STP LMT") else None
        created = trade.log[0].time if trade.log else None
        return LiveOrder(
            str(o.orderId),
            asset,
            sign * float(o.totalQuantity),
            sign * float(trade.orderStatus.filled),
            lmt,
            stp,
            trade.orderStatus.status,
            pd.Timestamp(created) if created is not None else None,
        )

    def get_open_orders(self, asset=None):
        """This strategy's working orders: a dict asset -> [orders], or a list for ``asset``."""
        out: dict[Any, list[LiveOrder]] = {}
        for t in self.feed.ctx.working_trades():
            lo = self._live_order(t)
            out.setdefault(lo.asset, []).append(lo)
        if asset is not None:
            return out.get(asset, [])
        return out

    def get_order(self, order_id):
        for t in self.feed.ctx.app.ib.trades():
            if str(t.order.orderId) == str(order_id):
                return self._live_order(t)
        return None

    def cancel_order(self, order_param) -> None:
        """Cancel one of this strategy's working orders (an order or its id)."""
        oid = str(getattr(order_param, "id", order_param))
        ctx = self.feed.ctx
        for t in ctx.working_trades():
            if str(t.order.orderId) == oid:
                if ctx.dry_run:
                    return

                async def go(order=t.order):
                    await ctx.app.pacing.acquire()
                    ctx.app.ib.cancelOrder(order)

                self.feed.call(go())
                return
