"""The live risk engine: PnL, fills and backtest references in; metrics, tables and curves out.

:class:`RiskEngine` is the thin shell around the pure cores (:mod:`.returns`, :mod:`.metrics`,
:mod:`.divergence`, :mod:`.execution`, :mod:`.downsample`). It holds no network code: the
broker session calls :meth:`RiskEngine.on_pnl`, :meth:`~RiskEngine.on_strategy_pnl`,
:meth:`~RiskEngine.on_fill` and :meth:`~RiskEngine.on_commission` from its ib_async events.

Return definition
    One *intraday* return per emitted sample (at most one every ``interval`` seconds)::

        r_i = (totalPnL_i - totalPnL_{i-1}) / NLV_{i-1}

    where ``totalPnL`` is IB's ``dailyPnL`` (realized + unrealized since the previous close)
    and ``NLV_{i-1}`` the NetLiquidation at the previous sample. For a strategy, ``pnl`` is
    its own daily PnL (attributed by ``orderRef`` upstream) and ``nlv`` its own equity — the
    capital it trades plus its PnL, the base its backtest is measured on.

Daily reset
    ``dailyPnL`` restarts from zero when a session ends. Each observation carries its session
    date; the first sample of a new session is measured against a zero PnL baseline (it
    already holds the overnight move), never against the previous session's last PnL, so
    the reset produces no spurious return. See :mod:`livedesk.backend.risk.returns`.

Series compared with the backtest
    The *daily* series, one close-to-close return ``NLV_close(d) / NLV_close(d-1) - 1`` per
    session, annualised with ``daily_annualization`` (252), is what :meth:`RiskEngine.view`
    compares with a strategy's registered backtest (same frequency as a daily backtest).
    The intraday series only serves early warning (drawdown, volatility, VaR within the day).

Intraday annualization
    Samples come every ``interval`` seconds during 6.5-hour (23,400 s) regular sessions,
    252 sessions a year, hence ``252 * 23400 / interval`` periods a year (1,179,360 at 5 s).
    Overnight gaps are not periods: the overnight move lands in the session's first sample.

Journal first
    Every emitted sample (intraday and daily) and the sampler's state are written to the
    :class:`~livedesk.backend.journal.Journal` in one transaction *before* any metric is updated; if
    the write fails the sampler is rolled back and nothing changes, so the next observation
    recomputes the same PnL change. Fills are journalled (deduplicated by ``execId``) before
    they count. :meth:`RiskEngine.restore` rebuilds every series, metric and sampler baseline
    from the journal on start (1e6 samples in well under a second).

Journal series names: ``account`` and ``daily:account`` for the account, ``strategy:NAME``
and ``daily:strategy:NAME`` for strategy NAME (see :func:`series_name`). A daily sample's
``t`` is its session date at 00:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from livedesk.backend.journal import Journal
from livedesk.backend.risk.divergence import COMPARED_METRICS, compare
from livedesk.backend.risk.downsample import MinMaxDownsampler
from livedesk.backend.risk.execution import (
    ExecutionSummary,
    FillCost,
    annualised_drag_bps,
    combo_net_price,
    commission_bps,
    distribution,
    order_slippage,
    side_sign,
    slippage_bps,
)
from livedesk.backend.risk.figures import (
    MIN_SESSIONS,
    Figure,
    SessionFigures,
    SessionStats,
    daily_figure,
    ny_session,
    sessions_reason,
)
from livedesk.backend.risk.metrics import StreamingRiskMetrics
from livedesk.backend.risk.returns import ReturnSampler, SamplerOutput

log = logging.getLogger("livedesk.risk")
ACCOUNT = "account"
SESSION_SECONDS = 23_400  # 09:30-16:00, one regular trading session
_STRATEGY_PREFIX = "strategy:"
_DAILY_PREFIX = "daily:"
_STATE_PREFIX = "sampler:"
_NAN = math.nan


def series_name(key: str, daily: bool = False) -> str:
    """Journal series of ``key`` (``"account"`` or a strategy name)."""
    base = ACCOUNT if key == ACCOUNT else _STRATEGY_PREFIX + key
    return _DAILY_PREFIX + base if daily else base


def parse_series_name(name: str) -> tuple[str, bool] | None:
    """``(key, daily)`` of a journal series written by the engine, None for any other."""
    daily = name.startswith(_DAILY_PREFIX)
    base = name[len(_DAILY_PREFIX) :] if daily else name
    if base == ACCOUNT:
        return ACCOUNT, daily
    if base.startswith(_STRATEGY_PREFIX) and len(base) > len(_STRATEGY_PREFIX):
        return base[len(_STRATEGY_PREFIX) :], daily
    return None


def session_time(session: dt.date) -> float:
    """Epoch seconds of ``session`` at 00:00 UTC (the ``t`` of its daily sample)."""
    return dt.datetime(session.year, session.month, session.day, tzinfo=dt.UTC).timestamp()


def intraday_periods_per_year(interval: float) -> float:
    """Samples per year at one sample every ``interval`` s of 6.5-hour sessions, 252 a year."""
    return 252 * SESSION_SECONDS / interval


@dataclass(frozen=True)
class RiskRow:
    """One line of the risk table: live (daily) versus backtest; ``flag`` None when untested."""

    key: str
    metric: str
    live: float
    backtest: float
    diff: float
    flag: bool | None


@dataclass(frozen=True)
class FillRecord:
    """A journalled execution with what its costs need."""

    exec_id: str
    strategy: str | None
    t: float
    side: str
    qty: float
    price: float
    arrival_mid: float | None
    commission: float | None
    multiplier: float
    order_key: str | None = None
    """``p<permId>`` (else ``o<orderId>``): groups the leg fills of a combo order."""
    con_id: int | None = None
    fill_mid: float | None = None
    """The live mid when the fill arrived (None when no quote streamed)."""

    def cost(self) -> FillCost:
        """Slippage and commission of this fill (see :mod:`livedesk.backend.risk.execution`)."""
        return FillCost(
            exec_id=self.exec_id,
            strategy=self.strategy,
            notional=abs(self.qty) * self.price * self.multiplier,
            slippage_bps=slippage_bps(self.side, self.price, self.arrival_mid),
            commission_bps=commission_bps(self.commission, self.qty, self.price, self.multiplier),
        )


def order_key(perm_id: int | None, order_id: int | None) -> str | None:
    """The key grouping the fills of one order (its permId, else its orderId)."""
    if perm_id:
        return f"p{perm_id}"
    return f"o{order_id}" if order_id else None


@dataclass(frozen=True)
class ComboOrder:
    """A BAG order: its side, net arrival mid and leg ratios by conId."""

    side: str
    arrival_mid: float | None
    ratios: Mapping[int, float]


def combo_cost(key: str, combo: ComboOrder, legs: Sequence[FillRecord]) -> FillCost:
    """One combo order's cost from its leg fills (see :mod:`livedesk.backend.risk.execution`)."""
    qty: dict[int, float] = {}
    value: dict[int, float] = {}
    side: dict[int, str] = {}
    for f in legs:
        c = f.con_id or 0
        qty[c] = qty.get(c, 0.0) + abs(f.qty)
        value[c] = value.get(c, 0.0) + abs(f.qty) * f.price
        side[c] = f.side
    units = min(qty[c] / combo.ratios.get(c, 1.0) for c in qty)
    net = combo_net_price(
        combo.side, ((side[c], combo.ratios.get(c, 1.0), value[c] / qty[c]) for c in qty)
    )
    mult = legs[0].multiplier
    slip = order_slippage(combo.side, net, combo.arrival_mid, mult, units)
    notional = slip.notional if math.isfinite(slip.notional) else abs(net) * mult * units
    known = [f.commission for f in legs if f.commission is not None]
    commission = sum(known) if known else None
    return FillCost(
        exec_id=f"order:{key}",
        strategy=legs[0].strategy,
        notional=notional,
        slippage_bps=slip.bps,
        commission_bps=commission / notional * 1e4
        if commission is not None and notional > 0
        else _NAN,
    )


@dataclass(frozen=True)
class Reference:
    """A registered backtest: daily returns and summary metrics."""

    returns: np.ndarray
    metrics: dict[str, float]


class _Sparkline:
    """Incremental min/max downsamplers of one growth curve and its drawdown."""

    def __init__(self, width: int) -> None:
        self.equity = MinMaxDownsampler(width)
        self.drawdown = MinMaxDownsampler(width)
        self.consumed = 0
        self.peak = 1.0

    def catch_up(self, growth: np.ndarray) -> None:
        new = growth[self.consumed :]
        if not new.size:
            return
        peaks = np.fmax.accumulate(np.concatenate(([self.peak], new)))[1:]
        self.equity.extend(new)
        self.drawdown.extend(new / peaks - 1.0)
        self.peak = float(peaks[-1])
        self.consumed = growth.size


class _Track:
    """Sampler, intraday and daily metrics, and latest values of one key."""

    def __init__(self, key: str, interval: float, intraday_ann: float, daily_ann: float) -> None:
        self.key = key
        self.sampler = ReturnSampler(interval)
        self.intraday = StreamingRiskMetrics(intraday_ann)
        self.daily = StreamingRiskMetrics(daily_ann)
        self.sessions: list[dt.date] = []  # session of each daily return
        self.first_t = _NAN
        self.last_t = _NAN
        self.total_pnl = _NAN
        self.nlv = _NAN
        self.session: dt.date | None = None
        self.extra: dict[str, float] = {}
        self.spark: _Sparkline | None = None
        self.today = SessionStats()

    def seen(self, t: float) -> None:
        if not self.first_t <= t:  # also true while first_t is NaN
            self.first_t = t
        if not self.last_t >= t:
            self.last_t = t


class RiskEngine:
    """Live risk metrics for the account and each strategy, journalled before they count."""

    def __init__(
        self,
        journal: Journal,
        interval: float = 5.0,
        intraday_annualization: float | None = None,
        daily_annualization: int = 252,
        min_sessions: int = MIN_SESSIONS,
    ) -> None:
        ReturnSampler(interval)  # validates the interval before anything is built
        self.journal = journal
        self.interval = float(interval)
        self.intraday_annualization = (
            intraday_periods_per_year(interval)
            if intraday_annualization is None
            else float(intraday_annualization)
        )
        self.daily_annualization = daily_annualization
        if min_sessions < 2:
            raise ValueError(f"min_sessions must be at least 2, got {min_sessions}")
        self.min_sessions = int(min_sessions)
        """Daily returns needed before annualised figures are shown (``[risk] min_sessions``)."""
        self._reset()

    def _reset(self) -> None:
        self._tracks: dict[str, _Track] = {}
        self._fills: list[FillRecord] = []
        self._fill_index: dict[str, int] = {}
        self._combos: dict[str, ComboOrder] = {}
        self._refs: dict[str, Reference] = {}
        self._ref_version = 0
        self._rows: dict[str, tuple[tuple[int, int], list[RiskRow]]] = {}
        self._track(ACCOUNT)

    def _track(self, key: str, create: bool = True) -> _Track:
        track = self._tracks.get(key)
        if track is None:
            if not create:
                raise KeyError(f"unknown key {key!r}; known: {', '.join(self.keys())}")
            if not key:
                raise ValueError("a strategy needs a non-empty name")
            track = self._tracks[key] = _Track(
                key, self.interval, self.intraday_annualization, self.daily_annualization
            )
        return track

    # ------------------------------------------------------------------ restore
    def restore(self, since: float | None = None) -> None:
        """Rebuild every series, metric, fill and reference from the journal.

        With ``since`` (epoch seconds) only data from then on is loaded — a read-only view
        for reports; the samplers then start afresh instead of resuming their baselines.
        """
        self._reset()
        j = self.journal
        for name in j.sample_keys():
            parsed = parse_series_name(name)
            if parsed is None:
                continue
            key, daily = parsed
            track = self._track(key)
            s = j.samples(name, since=since)
            if not s.t.size:
                continue
            if daily:
                track.daily.extend(s.ret)
                track.sessions = [dt.datetime.fromtimestamp(x, dt.UTC).date() for x in s.t.tolist()]
            else:
                track.intraday.extend(s.ret)
                for t, r in zip(s.t.tolist(), s.ret.tolist(), strict=True):
                    track.today.update(ny_session(t), r)
                track.seen(float(s.t[0]))
                track.seen(float(s.t[-1]))
                track.total_pnl, track.nlv = float(s.total_pnl[-1]), float(s.nlv[-1])
        if since is None:
            for key, track in self._tracks.items():
                state = j.state(_STATE_PREFIX + series_name(key))
                if state is not None:
                    try:
                        sampler = ReturnSampler.from_state(state)
                        session = state["session"]
                        session = None if session is None else dt.date.fromisoformat(session)
                    except (KeyError, TypeError, ValueError) as exc:
                        log.warning("journal: bad sampler state of %s skipped: %r", key, exc)
                        continue
                    track.sampler = sampler
                    if session is not None:
                        track.session = session
        self._restore_fills(since)
        for strategy in j.backtest_strategies():
            ref = j.backtest_reference(strategy)
            if ref is not None:
                self._refs[strategy] = Reference(ref.returns, dict(ref.metrics))

    def _restore_fills(self, since: float | None) -> None:
        orders = self.journal.orders()
        by_perm = {o["perm_id"]: o for o in orders if o.get("perm_id")}
        by_id = {o["order_id"]: o for o in orders}
        for f in self.journal.fills(since=since):
            order = by_perm.get(f.get("perm_id")) or by_id.get(f.get("order_id"))
            key = order_key(f.get("perm_id"), f.get("order_id"))
            legs = ((order or {}).get("contract") or {}).get("legs")
            if legs and key is not None and key not in self._combos:
                self._combos[key] = ComboOrder(
                    order["action"], order.get("arrival_mid"), {int(c): float(r) for c, r in legs}
                )
            mid = f.get("arrival_mid")
            if mid is None and not legs:
                mid = order.get("arrival_mid") if order else None
            numbers = (f.get("t"), f.get("qty"), f.get("price"))
            side = f.get("side")
            if not all(_finite(x) for x in numbers) or not _side_ok(side):
                log.warning("journal: bad fill row %s skipped: %r", f.get("exec_id"), f)
                continue
            self._add_fill(
                FillRecord(
                    exec_id=f["exec_id"],
                    strategy=f["strategy"],
                    t=f["t"],
                    side=f["side"],
                    qty=f["qty"],
                    price=f["price"],
                    arrival_mid=mid if _finite(mid) else None,
                    commission=f["commission"] if _finite(f.get("commission")) else None,
                    multiplier=f.get("multiplier") if _finite(f.get("multiplier")) else 1.0,
                    order_key=key,
                    con_id=f.get("con_id"),
                    fill_mid=f.get("fill_mid") if _finite(f.get("fill_mid")) else None,
                )
            )

    def _add_fill(self, rec: FillRecord) -> None:
        self._fill_index[rec.exec_id] = len(self._fills)
        self._fills.append(rec)
        self._track(rec.strategy or ACCOUNT).seen(rec.t)
        if rec.strategy is not None:
            self._track(ACCOUNT).seen(rec.t)

    # -------------------------------------------------------------- PnL streams
    def on_pnl(
        self,
        t: float,
        daily_pnl: float,
        unrealized: float,
        realized: float,
        nlv: float,
        session: dt.date,
    ) -> SamplerOutput:
        """Feed the account's PnL (IB ``reqPnL``) and NetLiquidation; returns what was emitted.

        ``unrealized`` and ``realized`` are kept for display only; returns use ``daily_pnl``.
        """
        track = self._tracks[ACCOUNT]
        track.extra = {"unrealized": float(unrealized), "realized": float(realized)}
        return self._observe(track, t, daily_pnl, nlv, session)

    def on_strategy_pnl(
        self, strategy: str, t: float, pnl: float, nlv: float, session: dt.date
    ) -> SamplerOutput:
        """Feed one strategy's daily PnL and equity (its own NLV); returns what was emitted."""
        if strategy == ACCOUNT:
            raise ValueError(f"{ACCOUNT!r} is reserved for the whole account")
        return self._observe(self._track(strategy), t, pnl, nlv, session)

    def close_session(self) -> dict[str, SamplerOutput]:
        """Close the current session of every key (call at the close); what each emitted."""
        out = {}
        for key, track in self._tracks.items():
            before = track.sampler.state()
            out[key] = self._commit(track, track.sampler.close_session(), before)
        return out

    def _observe(
        self, track: _Track, t: float, pnl: float, nlv: float, session: dt.date
    ) -> SamplerOutput:
        before = track.sampler.state()
        out = track.sampler.observe(t, pnl, nlv, session)
        out = self._commit(track, out, before)
        track.session = session
        if math.isfinite(pnl):
            track.total_pnl = float(pnl)
        if math.isfinite(nlv) and nlv > 0:
            track.nlv = float(nlv)
        return out

    def _commit(self, track: _Track, out: SamplerOutput, before: dict) -> SamplerOutput:
        """Journal what the sampler emitted (and its state), then update the metrics."""
        name = series_name(track.key)
        rows = [(name, s.t, s.total_pnl, s.nlv, s.ret) for s in out.intraday]
        d = out.daily
        if d is not None:
            rows.append(
                (series_name(track.key, True), session_time(d.session), _NAN, d.nlv_close, d.ret)
            )
        after = track.sampler.state()
        if rows or (before["session"], before["closed"]) != (after["session"], after["closed"]):
            try:
                self.journal.append_samples(rows, {_STATE_PREFIX + name: after})
            except BaseException:
                track.sampler = ReturnSampler.from_state(before)
                raise
        for s in out.intraday:
            track.intraday.update(s.ret)
            track.today.update(s.session, s.ret)
            track.seen(s.t)
        if d is not None:
            track.daily.update(d.ret)
            track.sessions.append(d.session)
        return out

    # -------------------------------------------------------------------- fills
    def on_fill(
        self,
        strategy: str | None,
        exec_id: str,
        side: str,
        qty: float,
        price: float,
        arrival_mid: float | None,
        commission: float | None,
        multiplier: float,
        t: float,
        *,
        order_id: int | None = None,
        perm_id: int | None = None,
        symbol: str | None = None,
        con_id: int | None = None,
        fill_mid: float | None = None,
    ) -> bool:
        """Journal an execution and count it; False for a re-delivered ``exec_id``.

        ``fill_mid`` (the mid when the fill arrived) is journalled for attribution.
        """
        side_sign(side)  # rejects an unknown side before anything is written
        rec = FillRecord(
            exec_id,
            strategy,
            float(t),
            side,
            float(qty),
            float(price),
            arrival_mid,
            commission,
            float(multiplier or 1.0),
            order_key(perm_id, order_id),
            con_id,
            fill_mid if fill_mid is not None and math.isfinite(fill_mid) else None,
        )
        if exec_id in self._fill_index:
            return False
        new = self.journal.record_fill(
            exec_id,
            side=side,
            qty=rec.qty,
            price=rec.price,
            t=rec.t,
            order_id=order_id,
            perm_id=perm_id,
            strategy=strategy,
            symbol=symbol,
            con_id=con_id,
            commission=commission,
            arrival_mid=arrival_mid,
            multiplier=rec.multiplier,
            fill_mid=fill_mid,
        )
        if new:
            self._add_fill(rec)
        return new

    def on_commission(self, exec_id: str, commission: float) -> bool:
        """Attach IB's later commission report to a fill; False when the fill is unknown."""
        i = self._fill_index.get(exec_id)
        if i is None or not self.journal.record_commission(exec_id, commission):
            return False
        self._fills[i] = replace(self._fills[i], commission=float(commission))
        return True

    def note_combo(self, key: str, combo: ComboOrder) -> None:
        """Measure the fills of order ``key`` as one combo order (legs netted)."""
        self._combos.setdefault(key, combo)

    def costs(self, strategy: str | None = None) -> list[FillCost]:
        """Execution costs per fill — a combo order's legs netted into one cost — in order."""
        out: dict[str, FillCost | list[FillRecord]] = {}
        for f in self.fills(strategy):
            combo = self._combos.get(f.order_key) if f.order_key else None
            if combo is None:
                out[f.exec_id] = f.cost()
            else:
                group = out.setdefault("order:" + f.order_key, [])
                assert isinstance(group, list)
                group.append(f)
        return [
            combo_cost(k[6:], self._combos[k[6:]], v) if isinstance(v, list) else v
            for k, v in out.items()
        ]

    def fills(self, strategy: str | None = None) -> list[FillRecord]:
        """Fills counted so far (of one strategy when given), in arrival order."""
        return [f for f in self._fills if strategy is None or f.strategy == strategy]

    def execution(self, strategy: str | None = None, bins: int = 10) -> ExecutionSummary:
        """Execution quality of one strategy's fills, or of all fills when None.

        The drag is annualised over the span from the key's first to its last event
        (samples or fills; at least one day) against its latest NLV — the account's when
        the strategy reports none; NaN without any NLV.
        """
        recs = self.fills(strategy)
        costs = self.costs(strategy)
        track = self._tracks.get(strategy or ACCOUNT)
        nlv = track.nlv if track is not None and track.nlv > 0 else self._tracks[ACCOUNT].nlv
        drag = _NAN
        n_daily = track.daily.n if track is not None else 0
        drag_reason = sessions_reason(n_daily, self.min_sessions)
        if costs and nlv > 0 and not drag_reason:
            first = min([f.t for f in recs] + ([track.first_t] if track else []))
            last = max([f.t for f in recs] + ([track.last_t] if track else []))
            drag = annualised_drag_bps(costs, nlv, max((last - first) / 86_400, 1.0))
        return ExecutionSummary(
            strategy=strategy,
            fills=len(recs),
            notional=sum(c.notional for c in costs),
            slippage=distribution((c.slippage_bps for c in costs), bins),
            commission=distribution((c.commission_bps for c in costs), bins),
            drag_bps_per_year=drag,
            drag_reason=drag_reason,
        )

    # --------------------------------------------------------------- references
    def set_backtest_reference(
        self,
        strategy: str,
        daily_returns: Sequence[float] | np.ndarray,
        summary: Mapping[str, float] | None = None,
        dates: Sequence[str] | None = None,
    ) -> None:
        """Register (journalled) a backtest's daily returns and summary metrics.

        ``summary`` uses the snapshot's metric names; when None it is computed from the
        returns with the daily annualization. ``"account"`` may carry a reference too.
        """
        returns = np.asarray(daily_returns, dtype=np.float64).ravel()
        if summary is None:
            m = StreamingRiskMetrics(self.daily_annualization)
            m.extend(returns)
            summary = {k: v for k, v in m.snapshot().items() if k != "n"}
        self.journal.set_backtest_reference(strategy, returns, summary, dates)
        self._refs[strategy] = Reference(returns, {k: float(v) for k, v in summary.items()})
        self._ref_version += 1

    def backtest_reference(self, key: str) -> Reference | None:
        """The registered backtest of ``key``, or None."""
        return self._refs.get(key)

    # ------------------------------------------------------------------ queries
    def keys(self) -> list[str]:
        """``"account"`` then every strategy seen (PnL, fills or references), sorted."""
        names = set(self._tracks) | set(self._refs)
        names |= {f.strategy for f in self._fills if f.strategy is not None}
        names.discard(ACCOUNT)
        return [ACCOUNT, *sorted(names)]

    def snapshot(self, key: str = ACCOUNT) -> dict:
        """Intraday and daily metrics of ``key`` with its latest PnL, NLV and session."""
        if key not in self._tracks and key in self.keys():
            self._track(key)
        track = self._track(key, create=False)
        return {
            "key": key,
            "t": track.last_t,
            "session": track.session,
            "total_pnl": track.total_pnl,
            "nlv": track.nlv,
            **track.extra,
            "intraday": track.intraday.snapshot(),
            "daily": track.daily.snapshot(),
        }

    def session_figures(self, key: str = ACCOUNT) -> SessionFigures:
        """The session under way of ``key``: return since the open, drawdown, realised vol, fills."""
        track = self._track(key, create=False)
        strategy = None if key == ACCOUNT else key
        recs = self.fills(strategy)
        day = track.today.session or track.session
        if day is None and recs:
            day = ny_session(max(f.t for f in recs))
        fills = sum(1 for f in recs if ny_session(f.t) == day)
        return replace(track.today.figures(fills), session=day)

    def figure(self, key: str, metric: str) -> Figure:
        """The live daily ``metric`` of ``key`` as shown: the value or why it is not."""
        return self.figures(key)[metric]

    def figures(self, key: str) -> dict[str, Figure]:
        """Every live daily metric of ``key`` as shown (one snapshot for all)."""
        daily = self._track(key, create=False).daily.snapshot()
        n = int(daily["n"])
        return {
            m: daily_figure(m, float(v), n, self.min_sessions, self.daily_annualization)
            for m, v in daily.items()
            if m != "n"
        }

    def daily_returns(self, key: str = ACCOUNT) -> tuple[list[dt.date], np.ndarray]:
        """Sessions and their close-to-close returns."""
        track = self._track(key, create=False)
        return list(track.sessions), track.daily.returns().copy()

    def curve(self, key: str = ACCOUNT, daily: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Full-resolution growth (1.0 = start) and drawdown after each return of ``key``."""
        track = self._track(key, create=False)
        metrics = track.daily if daily else track.intraday
        return metrics.equity().copy(), metrics.drawdowns()

    def view(self) -> list[RiskRow]:
        """Risk table rows for every key: live daily metric, backtest, difference, flag.

        Flags come from :func:`livedesk.backend.risk.divergence.compare` (Sharpe band once two daily
        returns exist; bootstrapped drawdown once one does) and are cached until the key's
        daily series or its reference changes. Keys without a reference show NaN backtests.
        """
        rows: list[RiskRow] = []
        for key in self.keys():
            rows += self._view_rows(key)
        return rows

    def _view_rows(self, key: str) -> list[RiskRow]:
        track = self._track(key)
        token = (track.daily.n, self._ref_version)
        cached = self._rows.get(key)
        if cached is not None and cached[0] == token:
            return cached[1]
        live = track.daily.snapshot()
        ref = self._refs.get(key)
        if ref is None:
            out = [RiskRow(key, m, float(live[m]), _NAN, _NAN, None) for m in COMPARED_METRICS]
        else:
            returns = track.daily.returns()
            out = [
                RiskRow(key, r.metric, r.live, r.backtest, r.diff, r.flag)
                for r in compare(
                    live,
                    ref.metrics,
                    live_returns=returns if returns.size >= 2 else None,
                    backtest_returns=ref.returns if ref.returns.size else None,
                    periods=self.daily_annualization,
                )
            ]
        self._rows[key] = (token, out)
        return out

    def equity(self, key: str = ACCOUNT, width: int = 60) -> tuple[list[float], list[float]]:
        """Sparkline points of the intraday curve: growth (bucket highs), drawdown (lows).

        At most ``width`` points each; one incremental downsampler per key, rebuilt only
        when ``width`` changes. Growth starts at 1.0; drawdowns are negative fractions.
        """
        track = self._track(key, create=False)
        if track.spark is None or track.spark.equity.width != width:
            track.spark = _Sparkline(width)
        track.spark.catch_up(track.intraday.equity())
        return track.spark.equity.buckets()[1], track.spark.drawdown.buckets()[0]


def _side_ok(side: object) -> bool:
    return isinstance(side, str) and side[:1].upper() in ("B", "S")


def _finite(x: object) -> bool:
    """A real, finite number (journal rows are checked before use)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
