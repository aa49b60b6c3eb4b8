"""Why live differs from the backtest: the shortfall split into execution, timing, misses, model.

Pure: every input is a recorded value (decisions, orders with their arrival mid, fills with the
mid at fill time, end-of-window marks); nothing here talks to a broker or a journal.

Two paths over one window, both starting from the same holdings:

* **ideal** — the recorded decisions replayed through the strategy's own signal function; each
  decision's target is reached at once, in full, at the mid at the decision time ``D``, with no
  commission;
* **live** — the orders as sent and the fills as they happened.

Both paths hold the book held at the window's start (``h`` of each contract, marked from its
mark at the start ``S`` to the end ``E``): ``held = sum h * (E - S) * k`` is part of the ideal
and of the live PnL alike, so it cancels out of every execution component but not out of
``ideal - backtest``.

For an order of side ``s`` (+1 buy, -1 sell), quantity ``Q``, decision mid ``D`` (the arrival mid
``A`` at submission when no decision mid is known), multiplier ``k`` and fills
``(q_i, p_i, m_i, c_i)`` (quantity, price, mid at the fill, commission), the live minus ideal PnL
splits exactly into::

    spread and impact  = sum_i s * q_i * (m_i - p_i) * k      fill price vs the mid at that time
    delay              = sum_i s * q_i * (D - m_i) * k        the mid moving from the decision
                                                              (through the arrival) to the fill
    commission         = -sum_i c_i
    missed and partial = -s * (Q - sum_i q_i) * (E - D) * k   the unfilled remainder, per order
                         + (orders as sent - ideal trades)    per contract: ideal trades never
                                                              sent (zero when the orders are
                                                              the ideal trades)

(a fill without a known mid counts its whole price difference from ``A`` as spread and impact).
Every component's per-trade list (:attr:`Attribution.contributions`) sums to the component. The
**residual** is the measured live PnL (from the strategy's sampled PnL, held book included)
minus the live PnL rebuilt from the held book and the fills: marks off the mid, financing,
anything the trade record does not explain. It must be small when the record is complete.
``ideal - backtest`` is the **model/regime** part: the backtest's data, fill and cost
assumptions against the live market.

Every component is reported in dollars, in bps of the window's starting NetLiquidation and
annualised (``bps * 365.25 / window_days``, as :mod:`livedesk.backend.risk.execution` does), with
the trades that contributed most to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from livedesk.backend.risk.execution import DAYS_PER_YEAR, side_sign

EXECUTION = ("spread_impact", "delay", "commission", "missed")
COMPONENTS = (*EXECUTION, "residual", "model")
LABELS = {
    "spread_impact": "spread and impact",
    "delay": "delay",
    "commission": "commission",
    "missed": "missed and partial fills",
    "residual": "residual",
    "model": "model/regime",
}
TOP_TRADES = 5


@dataclass(frozen=True)
class AttributionFill:
    """One execution of an order: quantity (> 0), price, commission and the mid at fill time."""

    t: float
    qty: float
    price: float
    commission: float = 0.0
    mid: float = math.nan


@dataclass(frozen=True)
class AttributionOrder:
    """An order as sent (one contract; a combo is given leg by leg), its mids and its fills.

    ``arrival_mid`` is the mid at submission, ``decision_mid`` the mid at the decision that
    sent it (NaN when unknown: the arrival mid stands in).
    """

    key: str
    con_id: int
    symbol: str
    side: str
    qty: float
    decision_t: float
    arrival_mid: float
    multiplier: float = 1.0
    fills: tuple[AttributionFill, ...] = ()
    decision_mid: float = math.nan

    @property
    def reference_mid(self) -> float:
        """The ideal path's price of this order: its decision mid, else its arrival mid."""
        d = self.decision_mid
        return d if math.isfinite(d) and d != 0 else self.arrival_mid

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return side_sign(self.side)

    @property
    def filled(self) -> float:
        """Quantity filled."""
        return sum(f.qty for f in self.fills)


@dataclass(frozen=True)
class DecisionRecord:
    """A recorded decision: when, the signal's inputs, the mids then, and the targets it chose.

    ``targets`` are the strategy's whole book as contract quantities (conId → signed quantity,
    as resolved live; a held contract left out goes to zero); ``mids`` are the mids at the
    decision time of every contract targeted or held.
    """

    t: float
    inputs: object
    targets: Mapping[int, float]
    mids: Mapping[int, float]
    multipliers: Mapping[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class IdealTrade:
    """A trade of the ideal path: signed quantity at the arrival mid, no commission."""

    t: float
    con_id: int
    qty: float
    price: float
    multiplier: float = 1.0


@dataclass(frozen=True)
class Contribution:
    """One trade's part in one component, in dollars."""

    key: str
    symbol: str
    usd: float


@dataclass(frozen=True)
class Attribution:
    """Live vs ideal vs backtest over one window, component by component."""

    nlv: float
    window_days: float
    trades: int
    notional: float
    ideal_pnl: float
    live_pnl: float
    rebuilt_live_pnl: float
    backtest_pnl: float | None
    usd: Mapping[str, float]
    top: Mapping[str, tuple[Contribution, ...]]
    signal: Callable | None = None
    contributions: Mapping[str, tuple[Contribution, ...]] = field(default_factory=dict)
    held_pnl: float = 0.0

    def bps(self, component: str) -> float:
        """A component in bps of the starting NetLiquidation."""
        return self.usd[component] / self.nlv * 1e4

    def annualised_bps(self, component: str) -> float:
        """A component in bps a year."""
        return self.bps(component) * DAYS_PER_YEAR / self.window_days

    @property
    def execution_usd(self) -> float:
        """Spread and impact + delay + commission + missed fills."""
        return sum(self.usd[c] for c in EXECUTION)

    @property
    def gap_usd(self) -> float | None:
        """Live minus backtest (None without a backtest)."""
        return None if self.backtest_pnl is None else self.live_pnl - self.backtest_pnl

    def rows(self) -> list[tuple[str, float, float, float]]:
        """(component, dollars, bps, annualised bps) for every component present; they sum to
        live − backtest (or live − ideal without a backtest)."""
        names = [c for c in COMPONENTS if c in self.usd]
        return [(c, self.usd[c], self.bps(c), self.annualised_bps(c)) for c in names]


def replay(
    signal: Callable[[object], Mapping[int, float]] | None,
    decisions: Sequence[DecisionRecord],
    start_positions: Mapping[int, float] | None = None,
) -> list[IdealTrade]:
    """The ideal path's trades: each decision's target reached in full at its mid.

    With ``signal`` the targets are recomputed from the recorded inputs by the strategy's own
    signal function (the same object live used); otherwise the recorded targets are used.
    A target contract without a mid at its decision cannot be replayed: ``ValueError``.
    """
    held = dict(start_positions or {})
    trades: list[IdealTrade] = []
    for d in sorted(decisions, key=lambda d: d.t):
        targets = dict(signal(d.inputs)) if signal is not None else dict(d.targets)
        for con_id in sorted(set(targets) | {c for c, q in held.items() if q}):
            delta = targets.get(con_id, 0.0) - held.get(con_id, 0.0)
            if abs(delta) < 1e-12:
                continue
            mid = d.mids.get(con_id, math.nan)
            if not (math.isfinite(mid) and mid > 0):
                raise ValueError(f"decision at t={d.t}: no mid for conId {con_id} to replay it")
            trades.append(IdealTrade(d.t, con_id, delta, mid, d.multipliers.get(con_id, 1.0)))
            held[con_id] = targets.get(con_id, 0.0)
    return trades


def _mark(marks: Mapping[int, float], con_id: int, when: str = "end-of-window") -> float:
    mark = marks.get(con_id, math.nan)
    if not (math.isfinite(mark) and mark != 0):
        raise ValueError(f"no {when} mark for conId {con_id}")
    return mark


def held_book_pnl(
    held: Mapping[int, float],
    start_marks: Mapping[int, float],
    end_marks: Mapping[int, float],
    multipliers: Mapping[int, float] | None = None,
) -> float:
    """PnL of the book held at the window start, marked from its start to its end marks."""
    total = 0.0
    for con_id, qty in held.items():
        if abs(qty) < 1e-12:
            continue
        start = _mark(start_marks, con_id, "window-start")
        end = _mark(end_marks, con_id)
        total += qty * (end - start) * (multipliers or {}).get(con_id, 1.0)
    return total


def attribute(
    orders: Sequence[AttributionOrder],
    ideal: Sequence[IdealTrade],
    end_marks: Mapping[int, float],
    *,
    nlv: float,
    window_days: float,
    live_pnl: float | None = None,
    backtest_pnl: float | None = None,
    signal: Callable | None = None,
    held: Mapping[int, float] | None = None,
    start_marks: Mapping[int, float] | None = None,
    multipliers: Mapping[int, float] | None = None,
) -> Attribution:
    """Decompose ``live − ideal`` (and ``ideal − backtest``) over one window.

    ``held`` is the book at the window start (conId → signed quantity), marked from
    ``start_marks`` to ``end_marks`` (``multipliers`` by conId) on both paths. ``live_pnl`` is
    the measured PnL of the strategy over the window, its held book included; without it the
    live PnL rebuilt from the held book and the fills is used and the residual is zero.
    ``backtest_pnl`` adds the model/regime part.
    """
    if not (math.isfinite(nlv) and nlv > 0):
        raise ValueError(f"NetLiquidation must be positive, got {nlv}")
    if not (math.isfinite(window_days) and window_days > 0):
        raise ValueError(f"window must be longer than zero days, got {window_days}")
    held_pnl = held_book_pnl(held or {}, start_marks or {}, end_marks, multipliers)
    parts: dict[str, list[Contribution]] = {c: [] for c in EXECUTION}
    rebuilt, notional = held_pnl, 0.0
    sent: dict[int, float] = {}
    names: dict[int, str] = {}
    for o in orders:
        s, k, end = o.sign, o.multiplier, _mark(end_marks, o.con_id)
        ref = o.reference_mid
        spread = delay = commission = 0.0
        for f in o.fills:
            mid = f.mid if math.isfinite(f.mid) and f.mid != 0 else o.arrival_mid
            spread += s * f.qty * (mid - f.price) * k
            delay += s * f.qty * (ref - mid) * k
            commission -= f.commission
            rebuilt += s * f.qty * (end - f.price) * k - f.commission
            notional += abs(f.qty * f.price * k)
        unfilled = -s * (o.qty - o.filled) * (end - ref) * k
        sent[o.con_id] = sent.get(o.con_id, 0.0) + s * o.qty * (end - ref) * k
        names.setdefault(o.con_id, o.symbol)
        for name, usd in (
            ("spread_impact", spread),
            ("delay", delay),
            ("commission", commission),
            ("missed", unfilled),
        ):
            parts[name].append(Contribution(o.key, o.symbol, usd))
    trades_pnl: dict[int, float] = {}
    for t in ideal:
        pnl = t.qty * (_mark(end_marks, t.con_id) - t.price) * t.multiplier
        trades_pnl[t.con_id] = trades_pnl.get(t.con_id, 0.0) + pnl
    # Orders as sent vs the ideal trades, contract by contract: an ideal trade never sent (or
    # an order the decisions did not ask for) is a miss too. Zero when they are the same.
    for con_id in sorted(set(sent) | set(trades_pnl)):
        gap = sent.get(con_id, 0.0) - trades_pnl.get(con_id, 0.0)
        if abs(gap) > 1e-9:
            symbol = names.get(con_id, f"conId {con_id}")
            parts["missed"].append(Contribution("not sent", symbol, gap))
    ideal_pnl = held_pnl + sum(trades_pnl.values())
    usd = {c: math.fsum(x.usd for x in parts[c]) for c in EXECUTION}
    measured = rebuilt if live_pnl is None else live_pnl
    usd["residual"] = measured - rebuilt
    if backtest_pnl is not None:
        usd["model"] = ideal_pnl - backtest_pnl
    contributions = {c: tuple(parts[c]) for c in EXECUTION}
    top = {
        c: tuple(sorted(parts[c], key=lambda x: -abs(x.usd))[:TOP_TRADES])
        for c in EXECUTION
        if parts[c]
    }
    return Attribution(
        nlv=nlv,
        window_days=window_days,
        trades=sum(1 for o in orders if o.fills),
        notional=notional,
        ideal_pnl=ideal_pnl,
        live_pnl=measured,
        rebuilt_live_pnl=rebuilt,
        backtest_pnl=backtest_pnl,
        usd=usd,
        top=top,
        signal=signal,
        contributions=contributions,
        held_pnl=held_pnl,
    )


def combine(parts: Sequence[Attribution]) -> Attribution:
    """Several strategies' attributions over one window as one (same NLV and window)."""
    if not parts:
        raise ValueError("nothing to combine")
    first = parts[0]
    if any(p.nlv != first.nlv or p.window_days != first.window_days for p in parts):
        raise ValueError("attributions over different windows or NLVs cannot be added")
    names = {c for p in parts for c in p.usd}
    has_backtest = all(p.backtest_pnl is not None for p in parts)
    top = {
        c: tuple(
            sorted((x for p in parts for x in p.top.get(c, ())), key=lambda x: -abs(x.usd))[
                :TOP_TRADES
            ]
        )
        for c in EXECUTION
    }
    return Attribution(
        nlv=first.nlv,
        window_days=first.window_days,
        trades=sum(p.trades for p in parts),
        notional=sum(p.notional for p in parts),
        ideal_pnl=sum(p.ideal_pnl for p in parts),
        live_pnl=sum(p.live_pnl for p in parts),
        rebuilt_live_pnl=sum(p.rebuilt_live_pnl for p in parts),
        backtest_pnl=sum(p.backtest_pnl for p in parts) if has_backtest else None,  # type: ignore[misc]
        usd={
            c: sum(p.usd.get(c, 0.0) for p in parts)
            for c in COMPONENTS
            if c in names and (c != "model" or has_backtest)
        },
        top=top,
        contributions={
            c: tuple(x for p in parts for x in p.contributions.get(c, ())) for c in EXECUTION
        },
        held_pnl=sum(p.held_pnl for p in parts),
    )


def explain(metric: str, live: float, backtest: float, attribution: Attribution) -> str:
    """One line saying why live diverges, e.g. for a divergence flag.

    ``live Sharpe 0.90 vs 1.50: execution explains 82 %: 6.1 bps/trade spread+impact × 41
    trades/month``. The share is execution's part of the live − backtest gap when both point
    the same way; otherwise the larger of execution and model/regime is named.
    """
    head = f"live {metric} {live:.2f} vs {backtest:.2f}"
    gap = attribution.gap_usd
    if gap is None or gap == 0:
        return f"{head}: no backtest over this window to attribute the gap to"
    execution = attribution.execution_usd
    model = attribution.usd.get("model", 0.0)
    if execution * gap > 0 and abs(execution) >= abs(model):
        per_trade = (
            -attribution.usd["spread_impact"] / attribution.notional * 1e4
            if attribution.notional > 0
            else 0.0
        )
        per_month = attribution.trades / attribution.window_days * (DAYS_PER_YEAR / 12)
        return (
            f"{head}: execution explains {_share(execution, gap)}: {per_trade:.1f} bps/trade "
            f"spread+impact × {per_month:.0f} trades/month"
        )
    if model * gap > 0:
        return f"{head}: model/regime explains {_share(model, gap)} (backtest vs ideal live)"
    return f"{head}: neither execution nor model/regime explains the gap; the residual dominates"


def _share(part: float, whole: float) -> str:
    return f"{min(part / whole, 9.99) * 100:.0f} %"
