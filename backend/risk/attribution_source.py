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

Window conventions: ``since``/``until`` are epoch seconds of the one clock every journaled time
comes from (the broker's); orders, fills and decisions with ``since <= t < until`` belong to it.
A record without a time (missing, zero, negative) is an error naming it, never a window counted
from 1970; orders that follow none of the strategy's decisions by less than a day mean the
decisions and the orders were stamped by different clocks, also an error. Without
``since``/``until`` a strategy's window spans its own first to last record.

Combos: a BAG order (conId 0, or fills on other conIds than the order's) is attributed through
its legs: one order per leg, with the leg's ratio from its fills, the leg's decision mid (else
its first fill's mid, else its price) as the arrival. A strategy that recorded no decision in the
window (the ``manual`` orders) is its own ideal: its orders in full at their arrival mids.

The book held at the window start (the strategy's fills before it) is marked from the latest
mid at or before the start to the end mark on both paths. The end-of-window marks are given by the caller (live
marks) or, from the journal alone, the latest mid recorded at or before the window end (a
fill's mid, else its price, else a decision's mid). NLV is the account's sampled
NetLiquidation at the window's start (:func:`start_nlv`, or the caller's). The backtest PnL is the NLV times the
compounded backtest daily returns of the sessions inside the window.

The measured live PnL is the strategy's sampled PnL change over the window, the held book's
included (the fills' rebuilt PnL when there is no sample in the window; the residual is then
zero).

:func:`attribute_pages` attributes every strategy on its own page: one strategy's failure (a
missing mark, a bad time) is that page's message and never blanks the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livedesk.backend.journal import Journal
from livedesk.backend.risk.attribution import (
    Attribution,
    AttributionOrder,
    DecisionRecord,
    IdealTrade,
    attribute,
    combine,
    replay,
)
from livedesk.backend.risk.attribution_orders import orders_with_fills
from livedesk.backend.risk.attribution_snapshots import SNAPSHOT_NLV, snapshot_at
from livedesk.backend.risk.attribution_times import check_times, valid_time
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
    start_marks: Mapping[int, float] = field(default_factory=dict)
    multipliers: Mapping[int, float] = field(default_factory=dict)

    @property
    def window_days(self) -> float:
        """Window length in calendar days."""
        return (self.until - self.since) / DAY


def _in(t: float, since: float, until: float) -> bool:
    return since <= t < until


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
    after it (the ``--once`` runs' snapshots when the account series has none; None without
    any usable sample)."""
    for key in (ACCOUNT, SNAPSHOT_NLV):
        s = journal.samples(key)
        ok = np.isfinite(s.nlv) & (s.nlv > 0)
        before = s.nlv[ok & (s.t <= t)]
        if before.size:
            return float(before[-1])
        after = s.nlv[ok]
        if after.size:
            return float(after[0])
    return None


@dataclass(frozen=True)
class StrategyRecords:
    """A strategy's whole record in the journal, read once (:func:`read_records`) and
    windowed by :func:`load` as often as needed."""

    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    decisions: list[DecisionRecord]
    """The decisions with a replay record, by time."""


def read_records(journal: Journal, strategy: str) -> StrategyRecords:
    """The orders, fills and replayable decisions of ``strategy`` (three queries)."""
    decisions = sorted(
        (
            rec
            for row in journal.strategy_decisions(strategy)
            if (rec := decision_record(row)) is not None
        ),
        key=lambda d: d.t,
    )
    return StrategyRecords(journal.orders(strategy), journal.fills(strategy), decisions)


def load(
    journal: Journal,
    strategy: str,
    *,
    since: float | None = None,
    until: float | None = None,
    end_marks: Mapping[int, float] | None = None,
    nlv: float | None = None,
    records: StrategyRecords | None = None,
) -> StrategyInputs:
    """Build a strategy's attribution inputs over ``[since, until)`` from the journal
    (its ``records`` when already read).

    Without ``since``/``until`` the window spans the strategy's first to last record (at
    least one second). ValueError when there is no NetLiquidation to scale by, or a record
    has no usable time (see :func:`check_times`).
    """
    if records is None:
        records = read_records(journal, strategy)
    all_orders, all_fills, all_decisions = records.orders, records.fills, records.decisions
    check_times(strategy, all_orders, all_fills, all_decisions)
    times = (
        [o["submitted_at"] for o in all_orders]
        + [f["t"] for f in all_fills]
        + [d.t for d in all_decisions]
    )
    if not times and (since is None or until is None):
        raise ValueError(f"{strategy}: no order, fill or decision recorded to attribute")
    lo = since if since is not None else min(times)
    hi = until if until is not None else max(max(times, default=lo), lo) + 1.0
    if not (valid_time(lo) and hi > lo):
        raise ValueError(f"{strategy}: window {lo!r} … {hi!r} is empty or has no valid start")
    orders = [o for o in all_orders if _in(o["submitted_at"], lo, hi)]
    ids = {o["order_id"] for o in orders}
    fills = [f for f in all_fills if f["order_id"] in ids and f["t"] < hi]
    decisions = [d for d in all_decisions if _in(d.t, lo, hi)]
    start: dict[int, float] = {}
    multipliers: dict[int, float] = {}
    for f in all_fills:
        if f["con_id"] is None:
            continue
        if f["multiplier"]:
            multipliers[int(f["con_id"])] = float(f["multiplier"])
        if f["t"] < lo:
            sign = 1.0 if f["side"] in ("BOT", "BUY") else -1.0
            start[int(f["con_id"])] = start.get(int(f["con_id"]), 0.0) + sign * f["qty"]
    start = {c: q for c, q in start.items() if abs(q) > 1e-12}
    att_orders, skipped = orders_with_fills(orders, fills, all_decisions)
    marks = dict(_latest_marks(all_fills, all_decisions, hi))
    marks.update(end_marks or {})
    start_marks = _latest_marks(all_fills, all_decisions, lo) if start else {}
    snap = snapshot_at(journal, strategy, lo)
    if snap is not None:  # the broker's positions at a run, for the strategy's contracts
        own = {int(o["con_id"]) for o in all_orders if o["con_id"]}
        own |= {c for d in all_decisions for c in d.targets} | set(start)
        held = {int(c): float(q) for c, q in snap["positions"].items() if int(c) in own}
        for f in all_fills:  # and what filled between the snapshot and the window start
            if f["con_id"] is not None and snap["t"] <= f["t"] < lo:
                sign = 1.0 if f["side"] in ("BOT", "BUY") else -1.0
                held[int(f["con_id"])] = held.get(int(f["con_id"]), 0.0) + sign * f["qty"]
        start = {c: q for c, q in held.items() if abs(q) > 1e-12}
        start_marks = {**start_marks, **{int(c): float(m) for c, m in snap["marks"].items()}}
        multipliers.update({int(c): float(k) for c, k in snap["multipliers"].items()})
    if nlv is None:
        nlv = start_nlv(journal, lo)
        if nlv is None:
            raise ValueError(
                f"no NetLiquidation sample in the journal for {strategy!r}; pass --nlv "
                "(livedesk run NAME --once records one with each run)"
            )
    live = None
    pnl = journal.samples(series_name(strategy))
    inside = (pnl.t >= lo) & (pnl.t < hi) & np.isfinite(pnl.total_pnl)
    if inside.any():
        before = pnl.total_pnl[(pnl.t < lo) & np.isfinite(pnl.total_pnl)]
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
        start_marks,
        multipliers,
    )


def orders_as_ideal(orders: Sequence[AttributionOrder]) -> list[IdealTrade]:
    """The ideal path of a strategy without decisions: its orders in full at their mids."""
    return [
        IdealTrade(o.decision_t, o.con_id, o.sign * o.qty, o.reference_mid, o.multiplier)
        for o in orders
    ]


def attribute_inputs(inputs: StrategyInputs, signal: Callable | None = None) -> Attribution:
    """Replay the decisions (through ``signal`` when given) and attribute the window.

    A signal with a ``prepare(records)`` method (crack-spread's) is handed every decision's
    inputs, in time order, first: it may compute them in one vectorised pass. Without any
    decision in the window the orders are their own ideal (:func:`orders_as_ideal`).
    """
    if not inputs.decisions:
        ideal = orders_as_ideal(inputs.orders)
        signal = None
    else:
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
        held=inputs.start_positions,
        start_marks=inputs.start_marks,
        multipliers=inputs.multipliers,
    )


def strategies_with_records(journal: Journal) -> list[str]:
    """Strategies with orders or decisions in the journal, sorted."""
    names = {o["strategy"] for o in journal.orders() if o["strategy"]}
    names |= {r["strategy"] for r in journal.runs()}
    return sorted(names)


@dataclass(frozen=True)
class AttributionPages:
    """One page per strategy (its attribution, or why it could not be attributed) and the
    total over the strategies that could, over their common window (None without any).
    A partial result (see :func:`attribute_pages`'s ``partial``) names what is still being
    computed in ``pending``."""

    per: Mapping[str, Attribution]
    errors: Mapping[str, str]
    total: Attribution | None
    pending: tuple[str, ...] = ()
    """Strategies (and ``"total"``) not computed yet; empty in a final result."""

    @property
    def names(self) -> list[str]:
        """Every strategy with a page, in journal order."""
        return sorted({*self.per, *self.errors})


def _attribute_one(
    journal: Journal,
    name: str,
    signal: Callable | None,
    **window: Any,
) -> tuple[Attribution, StrategyInputs]:
    inputs = load(journal, name, **window)
    try:
        return attribute_inputs(inputs, signal), inputs
    except (KeyError, TypeError, IndexError) as exc:
        if signal is None:
            raise
        log.warning("%s: replay through its signal failed (%r); recorded targets used", name, exc)
        return attribute_inputs(inputs, None), inputs


def attribute_pages(
    journal: Journal,
    strategies: Sequence[str] | None = None,
    *,
    since: float | None = None,
    until: float | None = None,
    signals: Mapping[str, Callable] | None = None,
    end_marks: Mapping[int, float] | None = None,
    nlv: float | None = None,
    partial: Callable[[AttributionPages], None] | None = None,
) -> AttributionPages:
    """Every strategy attributed on its own page (its own window unless ``since``/``until``
    are given); a strategy that fails is an error page, never an exception that blanks the
    others. Each strategy is replayed through its own signal in ``signals`` when given (its
    recorded targets when the recorded inputs do not fit the signal: logged, and the
    result's ``signal`` is then None). Each strategy's record is read from the journal once.
    ``partial`` is called with the pages done so far after each strategy (``pending`` names
    the rest, ``"total"`` included), so a view can show them before the total is ready."""
    names = list(strategies) if strategies is not None else strategies_with_records(journal)
    per: dict[str, Attribution] = {}
    errors: dict[str, str] = {}
    spans: dict[str, tuple[float, float]] = {}
    records: dict[str, StrategyRecords] = {}
    window = {"end_marks": end_marks, "nlv": nlv}
    for k, name in enumerate(names):
        signal = (signals or {}).get(name)
        try:
            records[name] = read_records(journal, name)
            per[name], inputs = _attribute_one(
                journal, name, signal, since=since, until=until, records=records[name], **window
            )
            spans[name] = (inputs.since, inputs.until)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            errors[name] = str(exc) or type(exc).__name__
        if partial is not None:
            partial(AttributionPages(dict(per), dict(errors), None, (*names[k + 1 :], "total")))
    total = None
    fixed = since is not None and until is not None
    if len(per) == 1 or (per and fixed):
        total = combine(list(per.values()))
    elif per:
        lo = min(s[0] for s in spans.values()) if since is None else since
        hi = max(s[1] for s in spans.values()) if until is None else until
        try:
            total = combine(
                [
                    _attribute_one(
                        journal,
                        n,
                        (signals or {}).get(n),
                        since=lo,
                        until=hi,
                        records=records[n],
                        **window,
                    )[0]  # fmt: skip
                    for n in per
                ]
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("no total attribution over the common window: %s", exc)
    return AttributionPages(per, errors, total)


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
    """Per-strategy attributions and their total (:func:`attribute_pages`); ValueError with
    the first strategy's failure when one fails (for callers that need every strategy)."""
    pages = attribute_pages(
        journal, strategies, since=since, until=until, signals=signals,
        end_marks=end_marks, nlv=nlv,
    )  # fmt: skip
    if pages.errors:
        name, message = next(iter(pages.errors.items()))
        raise ValueError(message if name in message else f"{name}: {message}")
    return dict(pages.per), pages.total
