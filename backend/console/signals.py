"""A strategy's signal over time, from its journaled decisions (pure; the detail view draws it).

:func:`signal_chart` reads the decision rows (``{"t", "kind", "detail": {"values": …}}``) and
recognises the signal by the values each strategy records:

- crack-spread: ``z`` with its thresholds (long entry at −threshold, short entry at
  +threshold, exit when z crosses 0);
- options-combo: ``forecast`` vs ``implied`` volatility (annualised, as fractions);
- monthly-factor: the scores of the picks (``score SYMBOL``): the range of the long picks'
  scores and of the short picks' (longs are the positive scores, shorts the negative ones).

Anything else (e.g. a plugin without these values) has no chart: ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

NAN = math.nan


@dataclass(frozen=True)
class SignalLine:
    """One drawn series: per decision a low and a high (equal for a plain line)."""

    name: str
    lo: tuple[float, ...]
    hi: tuple[float, ...]


@dataclass(frozen=True)
class SignalChart:
    """What the detail view draws: lines over the decisions' times, and level lines."""

    title: str
    unit: str  # "z", "vol" (fractions shown as %), "score"
    times: tuple[float, ...]
    lines: tuple[SignalLine, ...]
    levels: tuple[tuple[str, float], ...] = ()

    def span(self) -> tuple[float, float]:
        """The lowest and highest value drawn (lines and levels)."""
        values = [v for ln in self.lines for v in (*ln.lo, *ln.hi) if math.isfinite(v)]
        values += [v for _, v in self.levels]
        return (min(values), max(values)) if values else (NAN, NAN)


def _values(row: Mapping) -> dict[str, float]:
    detail = row.get("detail") or {}
    values = detail.get("values") or {}
    out = {}
    for k, v in values.items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[k] = float(v)
        elif v is None:
            out[k] = NAN
    return out


def _decisions(rows: Sequence[Mapping]) -> list[tuple[float, dict[str, float]]]:
    """(time, values) of the decisions taken, oldest first."""
    out = []
    for row in rows:
        if row.get("kind") != "decision":
            continue
        t = row.get("t")
        if not isinstance(t, int | float):
            continue
        values = _values(row)
        if values:
            out.append((float(t), values))
    out.sort(key=lambda x: x[0])
    return out


def _line(name: str, values: Sequence[float]) -> SignalLine:
    return SignalLine(name, tuple(values), tuple(values))


def signal_chart(rows: Sequence[Mapping], params: Mapping | None = None) -> SignalChart | None:
    """The chart of the signal in ``rows`` (journal decision rows), or None without one."""
    params = params or {}
    taken = _decisions(rows)
    if not taken:
        return None
    times = tuple(t for t, _ in taken)
    if any("z" in v for _, v in taken):
        threshold = float(params.get("threshold", 2.0))
        z = [v.get("z", NAN) for _, v in taken]
        return SignalChart(
            "crack-spread z",
            "z",
            times,
            (_line("z", z),),
            (
                (f"short entry +{threshold:g}", threshold),
                ("exit 0", 0.0),
                (f"long entry -{threshold:g}", -threshold),
            ),
        )
    if any("forecast" in v and "implied" in v for _, v in taken):
        return SignalChart(
            "forecast vs implied volatility",
            "vol",
            times,
            (
                _line("forecast", [v.get("forecast", NAN) for _, v in taken]),
                _line("implied", [v.get("implied", NAN) for _, v in taken]),
            ),
        )
    scored = [(t, {k[6:]: s for k, s in v.items() if k.startswith("score ")}) for t, v in taken]
    scored = [(t, s) for t, s in scored if s]
    if scored:
        lines = []
        for name, keep in (("long picks", lambda s: s > 0), ("short picks", lambda s: s < 0)):
            lo, hi = [], []
            for _, scores in scored:
                picked = [s for s in scores.values() if math.isfinite(s) and keep(s)]
                lo.append(min(picked) if picked else NAN)
                hi.append(max(picked) if picked else NAN)
            lines.append(SignalLine(name, tuple(lo), tuple(hi)))
        return SignalChart(
            "monthly-factor scores of the picks",
            "score",
            tuple(t for t, _ in scored),
            tuple(lines),
            (("0", 0.0),),
        )
    return None


def latest_scores(rows: Sequence[Mapping]) -> list[tuple[str, float]]:
    """The last decision's ``score SYMBOL`` values, highest first (monthly-factor picks)."""
    for _, values in reversed(_decisions(rows)):
        scores = [(k[6:], s) for k, s in values.items() if k.startswith("score ")]
        if scores:
            return sorted(scores, key=lambda x: -x[1] if math.isfinite(x[1]) else math.inf)
    return []
