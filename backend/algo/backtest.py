"""``livedesk backtest --algo FILE``: zipline ``run_algorithm`` on the same, unmodified file.

Offline on a LiveDesk bundle (``benchmark_returns=None``), daily bars; the file's own
``set_commission`` / ``set_slippage`` apply (they are zipline's). Every order the algorithm
creates is collected (session, asset, signed quantity) for the parity report, and the daily
returns are stored as the strategy's backtest reference. Imports zipline: import lazily.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from livedesk.backend.algo.parity import OrderRow
from livedesk.backend.risk.figures import MIN_SESSIONS

DEFAULT_CAPITAL = 1_000_000.0


class AlgoBacktestError(ValueError):
    """A backtest that cannot run (span, bundle, frequency); the message says why."""


@dataclass
class AlgoBacktest:
    """The result of one zipline run of an algorithm file."""

    path: Path
    bundle: str
    start: pd.Timestamp
    end: pd.Timestamp
    returns: pd.Series
    orders: list[OrderRow]
    seconds: float
    recorded: pd.DataFrame = field(default_factory=pd.DataFrame)


def sessions_of(bundle: str) -> pd.DatetimeIndex:
    """The bundle's sessions with bars (naive dates)."""
    from livedesk.backend.bundles.store import load_bundle

    reader = load_bundle(bundle).equity_daily_bar_reader
    s = reader.sessions
    first = pd.Timestamp(reader.first_trading_day).tz_localize(None)
    last = pd.Timestamp(reader.last_available_dt).tz_localize(None)
    s = pd.DatetimeIndex(s).tz_localize(None)
    return s[(s >= first) & (s <= last)]


def run_file(
    path: str | Path,
    bundle: str,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    *,
    days: int = 20,
    capital: float = DEFAULT_CAPITAL,
    initial_state: dict[str, Any] | None = None,
) -> AlgoBacktest:
    """Run the algorithm at ``path`` from ``start`` to ``end`` (default: the last ``days``
    sessions of the bundle). ``initial_state``: context attributes set after ``initialize``
    (the live run's journaled state, so a parity run starts from the same context)."""
    from livedesk.backend.algo.loader import load_algorithm
    from livedesk.backend.algo.state import decode
    from livedesk.backend.bundles.run import run_offline

    module = load_algorithm(path)
    sessions = sessions_of(bundle)
    end_ts = sessions[-1] if end is None else pd.Timestamp(end).normalize()
    if start is None:
        upto = sessions[sessions <= end_ts]
        start_ts = upto[-min(days, len(upto))]
    else:
        start_ts = pd.Timestamp(start).normalize()
    if end_ts > sessions[-1]:
        raise AlgoBacktestError(
            f"bundle {bundle!r} ends {sessions[-1]:%Y-%m-%d}; --end {end_ts:%Y-%m-%d} is later"
        )
    if start_ts < sessions[0] or start_ts > end_ts:
        raise AlgoBacktestError(
            f"--start {start_ts:%Y-%m-%d} must be within the bundle ({sessions[0]:%Y-%m-%d} .. "
            f"{sessions[-1]:%Y-%m-%d}) and not after --end {end_ts:%Y-%m-%d}"
        )
    user_init = module.initialize

    def initialize(context):
        user_init(context)
        for name, value in (initial_state or {}).items():
            setattr(context, name, decode(value, context.sid))

    kwargs = {
        k: getattr(module, k)
        for k in ("handle_data", "before_trading_start")
        if getattr(module, k, None) is not None
    }
    t0 = time.perf_counter()
    perf, returns = run_offline(bundle, start_ts, end_ts, capital, initialize=initialize, **kwargs)
    std = {"returns", "orders", "transactions", "positions", "period_open", "period_close"}
    recorded = perf[[c for c in _recorded(perf) if c not in std]]
    return AlgoBacktest(
        Path(path),
        bundle,
        start_ts,
        end_ts,
        returns,
        orders_of(perf),
        time.perf_counter() - t0,
        recorded,
    )


def _recorded(perf: pd.DataFrame) -> list[str]:
    """The columns ``record`` added (zipline's own metrics left out)."""
    known = {
        "algo_volatility",
        "algorithm_period_return",
        "alpha",
        "benchmark_period_return",
        "benchmark_volatility",
        "beta",
        "capital_used",
        "ending_cash",
        "ending_exposure",
        "ending_value",
        "excess_return",
        "gross_leverage",
        "long_exposure",
        "long_value",
        "longs_count",
        "max_drawdown",
        "max_leverage",
        "net_leverage",
        "pnl",
        "portfolio_value",
        "sharpe",
        "short_exposure",
        "short_value",
        "shorts_count",
        "sortino",
        "starting_cash",
        "starting_exposure",
        "starting_value",
        "trading_days",
        "treasury_period_return",
    }
    return [c for c in perf.columns if c not in known]


def orders_of(perf: pd.DataFrame) -> list[OrderRow]:
    """Each order created during the run, once: (session, symbol, signed quantity)."""
    seen: set[str] = set()
    out: list[OrderRow] = []
    for orders in perf["orders"]:
        for o in orders:
            if o["id"] in seen:
                continue
            seen.add(o["id"])
            created = pd.Timestamp(o["created"])
            created = created.tz_convert("America/New_York") if created.tzinfo else created
            out.append(OrderRow(created.date(), o["sid"].symbol, float(o["amount"])))
    return sorted(out)


def _reference_class():
    from livedesk.backend.strategies.backtest import BacktestResult

    class AlgoReference(BacktestResult):
        """The backtest reference; its summary adds the parity report when one was made."""

        def summary(self, min_sessions: int = MIN_SESSIONS) -> str:
            return "\n".join([super().summary(min_sessions), *self.notes.get("parity", [])])

    return AlgoReference


def backtest_reference(
    name: str,
    params: dict,
    path: Path,
    bundle: str,
    options: dict[str, str],
    days: int,
    capital: float,
    cost_bps: float,
    live: tuple[list[OrderRow], list[dt.date]] | None = None,
):
    """Run the file and return the strategy's backtest reference (``livedesk backtest``).

    ``live``: the live run's (orders, sessions) from the journal — the parity report against
    them is added to the reference's notes and summary (``--parity``).
    """
    import numpy as np

    from livedesk.backend.algo.parity import compare
    from livedesk.backend.strategies.replay import summary_metrics

    result = run_file(
        path,
        options.get("bundle") or bundle,
        options.get("start"),
        options.get("end"),
        days=days,
        capital=capital,
    )
    daily = result.returns.to_numpy(dtype=float)
    close = dt.time(16)
    ny = dt.timezone(dt.timedelta(hours=-5))
    parity: list[str] = []
    if live is not None:
        sessions = [d.date() for d in result.returns.index]
        parity = compare(result.orders, live[0], live[1], sessions).lines()
    return _reference_class()(
        strategy=name,
        dates=[d.date() for d in result.returns.index],
        daily_returns=np.nan_to_num(daily),
        metrics=summary_metrics(np.nan_to_num(daily)),
        params=params,
        span_start=dt.datetime.combine(result.start.date(), close, ny),
        span_end=dt.datetime.combine(result.end.date(), close, ny),
        cost_bps=cost_bps,
        bars=len(daily),
        trades=len(result.orders),
        notes={
            "engine": "zipline run_algorithm (daily, offline, benchmark_returns=None)",
            "bundle": result.bundle,
            "algo": str(path),
            "orders": [o.as_dict() for o in result.orders],
            "costs": "the algorithm's own set_commission / set_slippage (zipline defaults if none)",
            **({"parity": parity} if live is not None else {}),
        },
    )
