"""Journal → attribution: the inputs of :mod:`livedesk.backend.risk.attribution` for a window.

What the journal holds for a replay (all written while the strategy runs live):

* **decisions** — rows of the strategy's runs (``runs``/``decisions`` tables) whose detail
  carries a ``replay`` record: ``targets`` (conId → signed quantity of its whole book),
  ``mids`` (conId → mid at the decision), ``multipliers``, the signal's ``inputs`` and a
  ``bars`` reference (what bars were read: symbols, bar size, end time, count — enough to
  re-request them). Build it with :func:`replay_record` (or a whole detail with
  :func:`decision_detail`); rows without one (skips, errors) are ignored;
* **orders** — the arrival bid/ask/mid at submission (``orders`` table, via ``RiskFeed``);
* **fills** — time, price, commission, multiplier and ``fill_mid``, the live mid when the
  fill arrived (``fills`` table, via ``RiskFeed``);
* the strategy's sampled PnL series and the account's NetLiquidation (``samples``), and its
  registered backtest daily returns (``backtest_refs``).

Window conventions: ``since``/``until`` are epoch seconds; orders, fills and decisions with
``since <= t < until`` belong to it. The end-of-window marks are given by the caller (live
marks) or, from the journal alone, the latest mid recorded at or before the window end (a
fill's mid, else its price, else a decision's mid). NLV is the account's sampled
NetLiquidation at the window's start (:func:`start_nlv`, or the caller's). The backtest PnL is the NLV times the
compounded backtest daily returns of the sessions inside the window.

The measured live PnL is the strategy's sampled PnL change over the window when it started
the window flat (otherwise the starting book's own PnL would be mixed in, so the fills'
rebuilt PnL is used and the residual is reported as zero).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livedesk.backend.journal import Journal
from livedesk.backend.risk.attribution import (
    Attribution,
    AttributionFill,
    AttributionOrder,
    DecisionRecord,
    attribute,
    combine,
    replay,
)
from livedesk.backend.risk.engine import ACCOUNT, series_name

log = logging.getLogger("livedesk.attribution")
DAY = 86400.0


REPLAY_KEY = "replay"
"""The key of a decision detail holding what the replay needs."""


def replay_record(
    inputs: Any,
    targets: Mapping[int, float],
    mids: Mapping[int, float],
    multipliers: Mapping[int, float] | None = None,
    bars: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a decision journals for its replay (JSON-safe; conIds as strings)."""
    return {
        "inputs": inputs,
        "targets": {str(c): float(q) for c, q in targets.items()},
        "mids": {str(c): float(m) for c, m in mids.items()},
        "multipliers": {str(c): float(m) for c, m in (multipliers or {}).items()},
        "bars": dict(bars) if bars is not None else None,
    }


def decision_detail(
    inputs: Any,
    targets: Mapping[int, float],
    mids: Mapping[int, float],
    multipliers: Mapping[int, float] | None = None,
    bars: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A whole decision detail: ``extra`` fields plus the :func:`replay_record`."""
    return {**extra, REPLAY_KEY: replay_record(inputs, targets, mids, multipliers, bars)}


def decision_record(row: Mapping[str, Any]) -> DecisionRecord | None:
    """A journal decision row as a :class:`DecisionRecord`; None without a replay record."""
    detail = row.get("detail")
    d = detail.get(REPLAY_KEY) if isinstance(detail, Mapping) else None
    if not isinstance(d, Mapping) or "targets" not in d:
        return None

    def ints(m: Mapping[str, Any] | None) -> dict[int, float]:
        return {int(k): float(v) for k, v in (m or {}).items()}

    return DecisionRecord(
        float(row["t"]),
        d.get("inputs"),
        ints(d["targets"]),
        ints(d.get("mids")),
        ints(d.get("multipliers")),
    )


@dataclass(frozen=True)
class StrategyInputs:
    """Everything :func:`attribute` needs for one strategy over one window."""

    strategy: str
    since: float
    until: float
    orders: tuple[AttributionOrder, ...]
    decisions: tuple[DecisionRecord, ...]
    start_positions: Mapping[int, float]
    end_marks: Mapping[int, float]
    nlv: float
    live_pnl: float | None
    backtest_pnl: float | None
    skipped: tuple[str, ...] = field(default=())

    @property
    def window_days(self) -> float:
        """Window length in calendar days."""
        return (self.until - self.since) / DAY


def _in(t: float, since: float, until: float) -> bool:
    return since <= t < until


def _fill(row: Mapping[str, Any]) -> AttributionFill:
    mid = row.get("fill_mid")
    return AttributionFill(
        float(row["t"]),
        float(row["qty"]),
        float(row["price"]),
        float(row["commission"] or 0.0),
        float(mid) if mid is not None else math.nan,
    )


def _orders(
    orders: Sequence[Mapping[str, Any]], fills: Sequence[Mapping[str, Any]]
) -> tuple[list[AttributionOrder], list[str]]:
    """Orders with their fills (matched by order id); those without an arrival mid skipped."""
    by_order: dict[int, list[Mapping[str, Any]]] = {}
    for f in fills:
        by_order.setdefault(f["order_id"], []).append(f)
    out: list[AttributionOrder] = []
    skipped: list[str] = []
    for o in orders:
        rows = by_order.pop(o["order_id"], [])
        mid = o["arrival_mid"]
        if mid is None:
            mid = next((r["arrival_mid"] for r in rows if r["arrival_mid"] is not None), None)
        if mid is None or not math.isfinite(mid) or mid <= 0 or o["con_id"] is None:
            skipped.append(f"order {o['order_id']} ({o['symbol']}): no arrival mid")
            continue
        mult = next((float(r["multiplier"]) for r in rows if r["multiplier"]), 1.0)
        out.append(
            AttributionOrder(
                str(o["order_id"]),
                int(o["con_id"]),
                o["symbol"] or str(o["con_id"]),
                o["action"],
                float(o["qty"]),
                float(o["submitted_at"]),
                float(mid),
                mult,
                tuple(_fill(r) for r in rows),
            )
        )
    skipped += [f"fill of unknown order {oid}" for oid in by_order]
    return out, skipped


def _latest_marks(
    fills: Sequence[Mapping[str, Any]], decisions: Sequence[DecisionRecord], until: float
) -> dict[int, float]:
    """The latest mid known at or before ``until`` of every contract (see the module doc)."""
    stamped: list[tuple[float, int, float]] = []
    for d in decisions:
        stamped += [(d.t, c, m) for c, m in d.mids.items() if d.t <= until]
    for f in fills:
        if f["t"] <= until and f["con_id"] is not None:
            mark = f["fill_mid"] if f["fill_mid"] is not None else f["price"]
            stamped.append((f["t"], int(f["con_id"]), float(mark)))
    return {c: m for _, c, m in sorted(stamped, key=lambda x: x[0])}


def _sessions_between(dates: Sequence[str], since: float, until: float) -> np.ndarray:
    lo = dt.datetime.fromtimestamp(since, dt.UTC).date()
    hi = dt.datetime.fromtimestamp(until, dt.UTC).date()
    return np.array([lo <= dt.date.fromisoformat(d[:10]) <= hi for d in dates], dtype=bool)


def start_nlv(journal: Journal, t: float) -> float | None:
    """The account's NetLiquidation at ``t``: the last sample at or before it, else the first
    after it (None without any usable sample)."""
    s = journal.samples(ACCOUNT)
    ok = np.isfinite(s.nlv) & (s.nlv > 0)
    before = s.nlv[ok & (s.t <= t)]
    if before.size:
        return float(before[-1])
    after = s.nlv[ok]
    return float(after[0]) if after.size else None


def load(
    journal: Journal,
    strategy: str,
    *,
    since: float | None = None,
    until: float | None = None,
    end_marks: Mapping[int, float] | None = None,
    nlv: float | None = None,
) -> StrategyInputs:
    """Build a strategy's attribution inputs over ``[since, until)`` from the journal.

    Without ``since``/``until`` the window spans the strategy's first to last record (at
    least one second). ValueError when there is no NetLiquidation to scale by.
    """
    all_orders = journal.orders(strategy)
    all_fills = journal.fills(strategy)
    all_decisions = [
        rec
        for run in journal.runs(strategy)
        for row in journal.decisions(run["id"])
        if (rec := decision_record(row)) is not None
    ]
    times = (
        [o["submitted_at"] for o in all_orders]
        + [f["t"] for f in all_fills]
        + [d.t for d in all_decisions]
    )
    lo = since if since is not None else min(times, default=0.0)
    hi = until if until is not None else max(max(times, default=lo), lo) + 1.0
    orders = [o for o in all_orders if _in(o["submitted_at"], lo, hi)]
    ids = {o["order_id"] for o in orders}
    fills = [f for f in all_fills if f["order_id"] in ids and f["t"] < hi]
    decisions = [d for d in all_decisions if _in(d.t, lo, hi)]
    start: dict[int, float] = {}
    for f in all_fills:
        if f["t"] < lo and f["con_id"] is not None:
            sign = 1.0 if f["side"] in ("BOT", "BUY") else -1.0
            start[int(f["con_id"])] = start.get(int(f["con_id"]), 0.0) + sign * f["qty"]
    start = {c: q for c, q in start.items() if abs(q) > 1e-12}
    att_orders, skipped = _orders(orders, fills)
    marks = dict(_latest_marks(all_fills, all_decisions, hi))
    marks.update(end_marks or {})
    if nlv is None:
        nlv = start_nlv(journal, lo)
        if nlv is None:
            raise ValueError(f"no NetLiquidation sample in the journal for {strategy!r}; pass nlv")
    live = None
    if not start:
        pnl = journal.samples(series_name(strategy))
        inside = (pnl.t >= lo) & (pnl.t < hi)
        if inside.any():
            before = pnl.total_pnl[pnl.t < lo]
            live = float(pnl.total_pnl[inside][-1] - (before[-1] if before.size else 0.0))
    backtest = None
    ref = journal.backtest_reference(strategy)
    if ref is not None and ref.dates:
        r = ref.returns[_sessions_between(ref.dates, lo, hi)]
        backtest = float(nlv * (np.prod(1.0 + r) - 1.0)) if r.size else None
    return StrategyInputs(
        strategy,
        lo,
        hi,
        tuple(att_orders),
        tuple(decisions),
        start,
        marks,
        nlv,
        live,
        backtest,
        tuple(skipped),
    )


def attribute_inputs(inputs: StrategyInputs, signal: Callable | None = None) -> Attribution:
    """Replay the decisions (through ``signal`` when given) and attribute the window.

    A signal with a ``prepare(records)`` method (crack-spread's) is handed every decision's
    inputs, in time order, first: it may compute them in one vectorised pass.
    """
    prepare = getattr(signal, "prepare", None)
    if prepare is not None:
        prepare([d.inputs for d in sorted(inputs.decisions, key=lambda d: d.t)])
    try:
        ideal = replay(signal, inputs.decisions, inputs.start_positions)
    finally:
        if prepare is not None:
            prepare(())
    return attribute(
        inputs.orders,
        ideal,
        inputs.end_marks,
        nlv=inputs.nlv,
        window_days=max(inputs.window_days, 1.0 / 24 / 3600),
        live_pnl=inputs.live_pnl,
        backtest_pnl=inputs.backtest_pnl,
        signal=signal,
    )


def strategies_with_records(journal: Journal) -> list[str]:
    """Strategies with orders or decisions in the journal, sorted."""
    names = {o["strategy"] for o in journal.orders() if o["strategy"]}
    names |= {r["strategy"] for r in journal.runs()}
    return sorted(names)


def attribute_journal(
    journal: Journal,
    strategies: Sequence[str] | None = None,
    *,
    since: float | None = None,
    until: float | None = None,
    signals: Mapping[str, Callable] | None = None,
    end_marks: Mapping[int, float] | None = None,
    nlv: float | None = None,
) -> tuple[dict[str, Attribution], Attribution | None]:
    """Per-strategy attributions over one common window, and their total (None if none).

    The window defaults to the earliest to the latest record of the strategies; each
    strategy is replayed through its own signal in ``signals`` when given (its recorded
    targets when the recorded inputs do not fit the signal: logged, and the result's
    ``signal`` is then None).
    """
    names = list(strategies) if strategies is not None else strategies_with_records(journal)
    if not names:
        return {}, None
    if since is None or until is None:
        spans = [load(journal, n, nlv=nlv or 1.0) for n in names]
        since = min(s.since for s in spans) if since is None else since
        until = max(s.until for s in spans) if until is None else until
    out = {}
    for name in names:
        inputs = load(journal, name, since=since, until=until, end_marks=end_marks, nlv=nlv)
        signal = (signals or {}).get(name)
        try:
            out[name] = attribute_inputs(inputs, signal)
        except (KeyError, TypeError, IndexError) as exc:
            if signal is None:
                raise
            log.warning(
                "%s: replay through its signal failed (%r); recorded targets used", name, exc
            )
            out[name] = attribute_inputs(inputs, None)
    return out, combine(list(out.values()))
