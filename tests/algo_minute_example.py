"""A minute-mode zipline algorithm exercising the live adapter's API (used by test_algo_api)."""

from zipline.api import (
    attach_pipeline,
    cancel_order,
    date_rules,
    get_datetime,
    get_open_orders,
    order,
    order_target_percent,
    pipeline_output,
    record,
    schedule_function,
    sid,
    symbols,
    time_rules,
)
from zipline.finance import commission
from zipline.pipeline import Pipeline
from zipline.pipeline.data import USEquityPricing


def initialize(context):
    context.a, context.b = symbols("AAPL", "MSFT")
    context.same = sid(context.a.sid) == context.a
    context.log = []
    context.bts = 0
    context.set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
    schedule_function(at_open, date_rules.every_day(), time_rules.market_open(minutes=30))
    schedule_function(near_close, date_rules.every_day(), time_rules.market_close(minutes=30))
    attach_pipeline(Pipeline(columns={"close": USEquityPricing.close.latest}), "px")


def before_trading_start(context, data):
    context.bts += 1
    out = pipeline_output("px")
    context.px = {a.symbol: float(v) for a, v in out["close"].items()}


def at_open(context, data):
    context.log.append(["open", str(get_datetime())])
    order_target_percent(context.a, 0.01)


def near_close(context, data):
    price = data.current(context.b, "price")
    oid = order(context.b, 5, limit_price=round(price * 0.97, 2))
    context.open_before_cancel = len(get_open_orders(context.b))
    cancel_order(oid)
    context.log.append(["close", str(get_datetime())])


def handle_data(context, data):
    h = data.history([context.a, context.b], "price", 60, "1m")
    record(bars=len(h), a_price=data.current(context.a, "price"))
    context.can = bool(data.can_trade(context.a))
    context.cash = context.portfolio.cash
    context.nlv = context.account.net_liquidation
    context.held = context.portfolio.positions[context.a].amount
