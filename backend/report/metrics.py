"""``livedesk report``: live metrics versus backtest, equity, drawdown and slippage, from the journal.

The report rebuilds a :class:`~livedesk.backend.risk.engine.RiskEngine` from the journal (only data
from ``--since`` on when given: intraday samples and fills from that date at 00:00 UTC,
daily returns of sessions from that date) and prints, per key (the account and each
strategy, or the one ``--strategy``): the last session's figures (return since the open,
intraday drawdown, realised volatility — not annualised — and fills), the metric table (live
daily, backtest, difference, divergence flag; annualised and distribution figures only from
``--min-sessions`` daily returns, 20 by default, else "n/a: 3 of 20 sessions"; Sharpe with its
Lo (2002) standard error), execution quality (drag per year under the same rule), an equity and a drawdown chart and a
slippage histogram. Charts are drawn with plotext at a fixed size, without colours unless
the output is a terminal, so the text is deterministic. ``--csv DIR`` also writes
``metrics.csv``, ``equity.csv``, ``fills.csv`` and ``slippage.csv``. With ``--attribution`` the
report is the live-vs-backtest attribution instead (:mod:`livedesk.backend.report.attribution`).

Exit codes: 0 done (also for a journal with no data yet), 1 journal missing or unreadable,
2 bad arguments (date, strategy).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from livedesk.backend.journal import Journal, account_journal_path, default_journal_path
from livedesk.backend.risk.engine import ACCOUNT, RiskEngine, RiskRow, series_name, session_time
from livedesk.backend.risk.execution import distribution
from livedesk.backend.risk.figures import MIN_SESSIONS, Figure, SessionFigures, reference_figure

PERCENT_METRICS = frozenset(
    "cum_returns annual_return annual_volatility max_drawdown current_drawdown "
    "value_at_risk cvar".split()
)
HIST_BINS = 20
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ReportError(Exception):
    """A problem reported to the user with an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def parse_since(text: str | None) -> float | None:
    """Epoch seconds of ``YYYY-MM-DD`` at 00:00 UTC (None for None); ReportError otherwise."""
    if text is None:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        return session_time(dt.date.fromisoformat(text))
    except ValueError:
        raise ReportError(f"--since expects a date as YYYY-MM-DD, got {text!r}", 2) from None


def fmt(metric: str, value: float, signed: bool = False) -> str:
    """A metric for the table: percentages for returns and risks, two decimals for ratios."""
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    sign = "+" if signed else ""
    if metric in PERCENT_METRICS:
        return f"{value * 100:{sign}.2f}%"
    return f"{value:{sign}.2f}"


def _flag(flag: bool | None) -> str:
    return "" if flag is None else ("DIVERGES" if flag else "ok")


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")


def run_report(
    since: str | None = None,
    strategy: str | None = None,
    csv_dir: str | None = None,
    journal: str | None = None,
    out: TextIO | None = None,
    width: int = 100,
    attribution: bool = False,
    nlv: float | None = None,
    account: str | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    min_sessions: int = MIN_SESSIONS,
    risk=None,
) -> int:
    """Print the report (see the module docstring); returns the process exit code.

    ``risk`` (the ``[risk]`` settings; defaults when None) sets the execution test's
    thresholds.

    Without ``journal`` it reads the journal of ``account`` (the configured one), the demo
    account's when none is configured. ``params`` (strategy → its current parameters) marks
    a backtest reference built with other parameters as stale."""
    out = sys.stdout if out is None else out
    try:
        if not journal:
            try:
                journal = str(account_journal_path(account))
            except ValueError as exc:
                raise ReportError(f"[broker] account: {exc}", 2) from exc
        if nlv is not None and not attribution:
            raise ReportError("--nlv is only used with --attribution", 2)
        if min_sessions < 2:
            raise ReportError(f"--min-sessions must be at least 2, got {min_sessions}", 2)
        if attribution:
            return _attribution(since, strategy, csv_dir, journal, out, width, nlv)
        return _report(
            since, strategy, csv_dir, journal, out, width, params or {}, min_sessions, risk
        )
    except ReportError as exc:
        print(f"livedesk report: {exc}", file=sys.stderr)
        return exc.code


def _attribution(
    since: str | None,
    strategy: str | None,
    csv_dir: str | None,
    journal: str | None,
    out: TextIO,
    width: int,
    nlv: float | None = None,
) -> int:
    from livedesk.backend.report.attribution import AttributionError, attribution_report

    since_t = parse_since(since)
    with _open(journal) as j:
        try:
            return attribution_report(
                j, out, strategy=strategy, since=since_t, csv_dir=csv_dir, width=width, nlv=nlv
            )
        except AttributionError as exc:
            raise ReportError(str(exc), exc.code) from exc


def _open(journal: str | None) -> Journal:
    path = Path(journal) if journal else default_journal_path()
    if not path.is_file():
        raise ReportError(
            f"no journal at {path}; LiveDesk writes it while running "
            "(set LIVEDESK_DATA_DIR or pass --journal FILE)",
            1,
        )
    try:
        return Journal(path)
    except (sqlite3.DatabaseError, RuntimeError) as exc:
        raise ReportError(f"cannot read the journal {path}: {exc}", 1) from exc


def _report(
    since: str | None,
    strategy: str | None,
    csv_dir: str | None,
    journal: str | None,
    out: TextIO,
    width: int,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    min_sessions: int = MIN_SESSIONS,
    risk=None,
) -> int:
    since_t = parse_since(since)
    with _open(journal) as j:
        if not j.sample_keys() and not j.fills() and not j.backtest_strategies():
            print(f"No data yet in {j.path}: it fills in as LiveDesk trades.", file=out)
            return 0
        engine = RiskEngine(j, min_sessions=min_sessions)
        engine.restore(since=since_t)
        known = engine.keys()[1:]
        if strategy is not None and strategy not in known:
            listed = ", ".join(known) if known else "none recorded"
            raise ReportError(f"unknown strategy {strategy!r}; known: {listed}", 2)
        keys = [strategy] if strategy is not None else engine.keys()
        if not any(_has_data(engine, k, since is None) for k in keys):
            print(f"No data since {since} in {j.path}.", file=out)
            return 0
        print(f"LiveDesk report  journal: {j.path}", file=out)
        if since is not None:
            print(f"since {since} (00:00 UTC)", file=out)
        color = bool(getattr(out, "isatty", lambda: False)())
        for key in keys:
            _print_key(engine, key, out, width, color)
            test = execution_test_line(engine, key, risk)
            if test:
                print(test, file=out)
            note = reference_note(j, key, (params or {}).get(key))
            if note:
                print(note, file=out)
            why = divergence_why(j, engine, key, since_t)
            if why:
                print(f"why: {why}", file=out)
        if csv_dir is not None:
            written = export_csv(engine, j, keys, Path(csv_dir), since_t)
            print(f"\nWrote {', '.join(p.name for p in written)} to {csv_dir}", file=out)
    return 0


def execution_test_line(engine: RiskEngine, key: str, risk=None) -> str:
    """The execution divergence test of a strategy, as the Risk pane shows it ("" when its
    reference models no cost): ``execution test: live … vs modelled … bps/trade, … DIVERG``."""
    from livedesk.backend.console.risk_view import RiskTable

    if key == ACCOUNT or engine.backtest_reference(key) is None:
        return ""
    ex = RiskTable(engine, n_boot=200, risk=risk).block(key).execution
    if not ex.detail:
        return ""
    return f"{ex.detail}  {_flag(ex.flag)}".rstrip()


def divergence_why(journal: Journal, engine: RiskEngine, key: str, since: float | None) -> str:
    """The one-line reason of a strategy's raised divergence flag ("" when none is raised)."""
    from livedesk.backend.risk.attribution_source import attribute_journal
    from livedesk.backend.risk.divergence import divergence_reason

    rows = [r for r in engine.view() if r.key == key and engine.figure(key, r.metric).shown]
    if key == ACCOUNT or not any(r.flag for r in rows):
        return ""
    try:
        per, _ = attribute_journal(journal, [key], since=since)
    except ValueError:
        per = {}
    return divergence_reason(rows, per.get(key)) or ""


def _has_data(engine: RiskEngine, key: str, references: bool = True) -> bool:
    """Live samples or fills of ``key`` (or, with ``references``, a backtest reference)."""
    snap = engine.snapshot(key)
    return bool(
        snap["intraday"]["n"]
        or snap["daily"]["n"]
        or engine.fills(_strategy(key))
        or (references and key != ACCOUNT and engine.backtest_reference(key) is not None)
    )


def _strategy(key: str) -> str | None:
    return None if key == ACCOUNT else key


def reference_note(journal: Journal, key: str, params: Mapping[str, Any] | None) -> str:
    """ "backtest reference: …" with its span and, when built with other parameters than the
    current ones, STALE and what changed ("" without a reference)."""
    from livedesk.backend.strategies.backtest import stale_reason

    record = journal.state(f"backtest:{key}")
    if record is None or journal.backtest_reference(key) is None:
        return ""
    span = f"{record.get('span_start', '?')[:10]} .. {record.get('span_end', '?')[:10]}"
    why = stale_reason(record, params) if params is not None else None
    return f"backtest reference {span}" + (f": STALE ({why})" if why else ": current parameters")


def _print_key(engine: RiskEngine, key: str, out: TextIO, width: int, color: bool) -> None:
    snap = engine.snapshot(key)
    intraday, daily = snap["intraday"], snap["daily"]
    title = "Account" if key == ACCOUNT else f"Strategy {key}"
    print(f"\n== {title} ==", file=out)
    nlv = snap["nlv"]
    print(
        f"intraday samples: {intraday['n']}   daily returns: {daily['n']}   "
        f"last NLV: {'n/a' if math.isnan(nlv) else f'{nlv:,.2f}'}",
        file=out,
    )
    print(session_line(engine.session_figures(key)), file=out)
    rows = [r for r in engine.view() if r.key == key]
    print(metric_table(rows, engine.figures(key), reference_figures(engine, key)), file=out)
    ex = engine.execution(_strategy(key))
    if ex.fills:
        s, c = ex.slippage, ex.commission
        drag = ex.drag_reason or f"{ex.drag_bps_per_year:.1f} bps/year"
        print(
            f"execution: {ex.fills} fills, notional {ex.notional:,.0f}; slippage bps "
            f"mean {s.mean:.2f} median {s.median:.2f} p95 {s.p95:.2f} (n={s.count}); "
            f"commission mean {c.mean:.2f} bps; drag {drag}",
            file=out,
        )
    growth, drawdown = engine.curve(key)
    if growth.size >= 2:
        eq, dd = engine.equity(key, max(2, width - 12))
        print(
            _chart(
                "line", [(g - 1) * 100 for g in eq], f"{title}: equity (% return)", width, 14, color
            ),
            file=out,
        )
        print(
            _chart("line", [d * 100 for d in dd], f"{title}: drawdown (%)", width, 10, color),
            file=out,
        )
    slips = [c.slippage_bps for c in engine.costs(_strategy(key))]
    slips = [x for x in slips if not math.isnan(x)]
    if slips:
        print(
            _chart(
                "hist",
                slips,
                f"{title}: slippage per fill (bps, + = cost; a combo: per order)",
                width,
                12,
                color,
            ),
            file=out,
        )


def session_line(s: SessionFigures) -> str:
    """The last session's figures: nothing annualised."""
    if not s.samples:
        return f"session: no intraday sample; {s.fills} fills"
    return (
        f"session {s.session}: since open {s.return_since_open * 100:+.2f}%, intraday "
        f"drawdown {s.drawdown * 100:.2f}% (deepest {s.max_drawdown * 100:.2f}%), realised "
        f"vol {s.realised_vol * 100:.2f}% (not annualised), {s.fills} fills"
    )


def live_cell(metric: str, figure: Figure) -> str:
    """The live daily figure, ``1.23±0.45`` for Sharpe, or why it is not shown."""
    if not figure.shown:
        return figure.reason
    if metric == "sharpe_ratio" and math.isfinite(figure.se) and math.isfinite(figure.value):
        return f"{figure.value:.2f}±{figure.se:.2f}"
    return fmt(metric, figure.value)


def reference_figures(engine: RiskEngine, key: str) -> dict[str, Figure]:
    """The backtest reference's figures as shown: gated like live, on its own number of
    daily returns (empty without a reference)."""
    ref = engine.backtest_reference(key)
    if ref is None:
        return {}
    return {
        metric: reference_figure(
            metric,
            float(value),
            int(ref.returns.size),
            engine.min_sessions,
            engine.daily_annualization,
        )
        for metric, value in ref.metrics.items()
    }


def metric_table(
    rows: list[RiskRow], figures: dict[str, Figure], references: dict[str, Figure] | None = None
) -> str:
    """The live-versus-backtest table as fixed-width text (live and backtest figures as
    shown: each only when its own sample supports it)."""
    head = ("metric", "live daily", "backtest", "difference", "flag")
    lines = [f"{head[0]:<18}{head[1]:>22}{head[2]:>24}{head[3]:>12}  {head[4]}"]
    references = references or {}
    for r in rows:
        fig = figures[r.metric]
        ref = references.get(r.metric)
        both = fig.shown and (ref is None or ref.shown)
        diff = fmt(r.metric, r.diff, True) if both else ""
        flag = _flag(r.flag) if both else ""
        backtest = ref.reason if ref is not None and not ref.shown else fmt(r.metric, r.backtest)
        lines.append(
            f"{r.metric:<18}{live_cell(r.metric, fig):>22}{backtest:>24}{diff:>12}  {flag}".rstrip()
        )
    return "\n".join(lines)


def _chart(kind: str, values: list[float], title: str, width: int, height: int, color: bool) -> str:
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    if not color:
        plt.theme("clear")
    if kind == "hist":
        plt.hist(values, bins=HIST_BINS)
        plt.xlabel("bps")
    else:
        plt.plot(values)
        plt.xticks([])
    plt.title(title)
    text = plt.build()
    plt.clear_figure()
    return text if color else plt.uncolorize(text)


def export_csv(
    engine: RiskEngine, journal: Journal, keys: list[str], directory: Path, since: float | None
) -> list[Path]:
    """Write metrics, equity, fills and slippage CSV files into ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / n for n in ("metrics.csv", "equity.csv", "fills.csv", "slippage.csv")]
    with paths[0].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["key", "metric", "live_daily", "se", "backtest", "difference", "flag", "note"])
        for key in keys:
            for r in (r for r in engine.view() if r.key == key):
                f = engine.figure(key, r.metric)
                w.writerow(
                    [
                        key,
                        r.metric,
                        f.value,
                        f.se,
                        r.backtest,
                        r.diff if f.shown else math.nan,
                        _flag(r.flag) if f.shown else "",
                        f.reason,
                    ]
                )
    with paths[1].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["key", "series", "t", "time_utc", "total_pnl", "nlv", "return", "equity", "drawdown"]
        )
        for key in keys:
            for daily in (False, True):
                s = journal.samples(series_name(key, daily), since=since)
                growth, dd = engine.curve(key, daily)
                label = "daily" if daily else "intraday"
                for i in range(s.t.size):
                    w.writerow(
                        [
                            key,
                            label,
                            s.t[i],
                            _iso(s.t[i]),
                            s.total_pnl[i],
                            s.nlv[i],
                            s.ret[i],
                            growth[i],
                            dd[i],
                        ]
                    )
    wanted = None if ACCOUNT in keys else set(keys)
    fills = [f for f in engine.fills() if wanted is None or f.strategy in wanted]
    with paths[2].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "exec_id",
                "time_utc",
                "strategy",
                "side",
                "qty",
                "price",
                "arrival_mid",
                "commission",
                "multiplier",
                "notional",
                "slippage_bps",
                "commission_bps",
            ]
        )
        for f in fills:
            c = f.cost()
            w.writerow(
                [
                    f.exec_id,
                    _iso(f.t),
                    f.strategy or "",
                    f.side,
                    f.qty,
                    f.price,
                    f.arrival_mid,
                    f.commission,
                    f.multiplier,
                    c.notional,
                    c.slippage_bps,
                    c.commission_bps,
                ]
            )
    with paths[3].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["key", "bin_low_bps", "bin_high_bps", "count"])
        for key in keys:
            d = distribution((c.slippage_bps for c in engine.costs(_strategy(key))), HIST_BINS)
            for lo, hi, n in zip(d.hist_edges, d.hist_edges[1:], d.hist_counts, strict=False):
                w.writerow([key, lo, hi, n])
    return paths
