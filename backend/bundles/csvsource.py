"""Read and validate daily OHLCV CSV files for a bundle (pure pandas, no zipline).

Two layouts are accepted:

* one file with a symbol column — ``date,open,high,low,close,volume,Name`` (the layout of
  the S&P 500 2013-2018 file; ``symbol`` or ``ticker`` also name the column), plain or
  ``.gz``;
* a directory of one file per symbol, as zipline's ``csvdir`` bundle reads it
  (``SYMBOL.csv`` with ``date,open,high,low,close,volume[,dividend,split]``, directly in the
  directory or in its ``daily/`` sub-folder); the file name is the symbol.

Column names are case-insensitive. Every bad row is reported with ``file:line`` and is
either repaired by the rule below or refused (left out of the bundle, and counted) — no
row is dropped silently:

===============================================  ==========================================
problem                                          action
===============================================  ==========================================
empty line, missing or unparseable date          refused
date that is not an XNYS session                 refused
missing symbol (one-file layout)                 refused
missing close, or close not a number             refused
a price that is not a number, is <= 0, or is      refused
above $4,294,967 (zipline's uint32 price limit)
volume not a number or negative                  refused
dividend / split not a number, negative, split 0  refused
a second row for the same symbol and date        refused (the first one is kept)
missing open / high / low (close present)        repaired: open = close, high = max(open,
                                                 close), low = min(open, close)
high < low, or open / close outside [low, high]  repaired: high = max(O, H, L, C), low =
                                                 min(O, H, L, C)
missing volume                                   repaired: 0
volume above 4,294,967,295 (uint32)              repaired: clipped to 4,294,967,295
===============================================  ==========================================

A refused row's session becomes a gap. Gaps — XNYS sessions between a symbol's first and
last valid row without a row — are filled with the previous close as open, high, low and
close and zero volume, and counted per symbol.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from livedesk.backend.bundles.paths import BundleError

PRICE_LIMIT = 4_294_967.295
VOLUME_LIMIT = 4_294_967_295
REQUIRED = ("date", "open", "high", "low", "close", "volume")
SYMBOL_COLUMNS = ("name", "symbol", "ticker")
OHLC = ("open", "high", "low", "close")
JUMP_RATIO = 2.0  # a one-day move beyond x2 or /2 without a split row: warn (unadjusted split?)

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``."""


@dataclass(frozen=True)
class RowIssue:
    """One bad row: where it is, what was wrong and what was done."""

    file: str
    line: int
    symbol: str
    problem: str
    action: str  # "refused" or "repaired: ..."

    @property
    def refused(self) -> bool:
        return self.action == "refused"

    def __str__(self) -> str:
        who = f" {self.symbol}" if self.symbol else ""
        return f"{self.file}:{self.line}:{who} {self.problem} -> {self.action}"


@dataclass
class CleanData:
    """Validated daily bars per symbol, reindexed to XNYS sessions, plus what was done."""

    frames: dict[str, pd.DataFrame]
    """Per symbol: open, high, low, close, volume indexed by naive session dates."""
    gaps: dict[str, int]
    issues: list[RowIssue]
    rows_read: int
    splits: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["symbol", "date", "ratio"])
    )
    dividends: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["symbol", "date", "amount"])
    )
    warnings: list[str] = field(default_factory=list)
    empty_symbols: list[str] = field(default_factory=list)

    @property
    def rows_refused(self) -> int:
        return sum(1 for i in self.issues if i.refused)

    @property
    def rows_repaired(self) -> int:
        return sum(1 for i in self.issues if not i.refused)

    @property
    def gap_sessions(self) -> int:
        return sum(self.gaps.values())

    @property
    def sessions(self) -> pd.DatetimeIndex:
        """Every session covered by at least one symbol."""
        if not self.frames:
            return pd.DatetimeIndex([])
        first = min(f.index[0] for f in self.frames.values())
        last = max(f.index[-1] for f in self.frames.values())
        return xnys_sessions(first, last)


def xnys_sessions(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """XNYS sessions from ``first`` to ``last`` inclusive (naive dates)."""
    return _calendar().sessions_in_range(first, last)


def _calendar():
    # zipline's own XNYS starts in 1990 (its get_calendar wrapper); match it.
    from livedesk.backend.bundles.calendar import xnys_calendar

    return xnys_calendar()


# ---- reading ------------------------------------------------------------------------------
def read_source(path: Path, progress: Progress | None = None) -> CleanData:
    """Read ``path`` (a CSV file or a directory of per-symbol CSVs) and validate it."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BundleError(f"{path}: no such file or directory")
    if path.is_dir():
        raw = _read_directory(path, progress)
    else:
        raw = _read_file(path, symbol_from_name=False)
    return validate(raw, progress)


def _csv_files(directory: Path) -> list[Path]:
    base = directory / "daily" if (directory / "daily").is_dir() else directory
    files = sorted(
        p for p in base.iterdir() if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz"))
    )
    if not files:
        raise BundleError(f"{base}: no .csv or .csv.gz files (one file per symbol expected)")
    return files


def _symbol_of(path: Path) -> str:
    name = path.name
    for suffix in (".csv.gz", ".CSV.GZ", ".csv", ".CSV"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.strip().upper()


def _read_directory(directory: Path, progress: Progress | None) -> pd.DataFrame:
    files = _csv_files(directory)
    parts = []
    for i, f in enumerate(files):
        parts.append(_read_file(f, symbol_from_name=True))
        if progress:
            progress("reading", i + 1, len(files))
    return pd.concat(parts, ignore_index=True)


def _read_file(path: Path, symbol_from_name: bool) -> pd.DataFrame:
    """The file's rows as strings with ``file`` and ``line`` columns (line 1 is the header)."""
    try:
        df = pd.read_csv(path, skip_blank_lines=False, skipinitialspace=True, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise BundleError(f"{path}: cannot read as CSV: {exc}") from exc
    except pd.errors.EmptyDataError as exc:
        raise BundleError(f"{path}: empty file") from exc
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise BundleError(
            f"{path}: missing column(s) {', '.join(missing)}; expected "
            "date,open,high,low,close,volume and, in one file, Name (or symbol/ticker)"
        )
    sym_col = next((c for c in SYMBOL_COLUMNS if c in df.columns), None)
    if symbol_from_name or sym_col is None:
        df["symbol"] = _symbol_of(path)
    else:
        df["symbol"] = _by_unique(df[sym_col], lambda u: u.str.strip().str.upper())
    keep = [*REQUIRED, "symbol"] + [c for c in ("dividend", "split") if c in df.columns]
    df = df[keep].copy()
    df["file"] = path.name
    df["line"] = np.arange(2, len(df) + 2)
    return df


# ---- validation ---------------------------------------------------------------------------
def _numbers(col: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(values, missing, not-a-number) of a column as pandas read it."""
    if pd.api.types.is_numeric_dtype(col):
        values = col.astype(float)
        return values, values.isna(), pd.Series(False, index=col.index)
    text = col.astype("string").str.strip()
    missing = text.isna() | (text == "")
    values = pd.to_numeric(text.where(~missing), errors="coerce").astype(float)
    return values, missing, values.isna() & ~missing


def _text(col: pd.Series) -> Callable[[np.ndarray], list[str]]:
    """Lazy reason text: the raw values of ``col`` at some row positions."""
    return lambda idx: [str(v) for v in col.to_numpy()[idx]]


def _by_unique(col: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn`` applied to the distinct values of ``col`` only (symbols and dates repeat a lot)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    mapped = fn(pd.Series(uniques, dtype="string")).to_numpy(dtype=object)
    out = np.append(mapped, pd.NA)[np.where(codes < 0, len(mapped), codes)]
    return pd.Series(out, index=col.index, dtype="string")


def _parse_dates(col: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    parsed = _parse_date_values(pd.Series(uniques, dtype="string").str.strip())
    values = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))
    return pd.Series(values[np.where(codes < 0, len(parsed), codes)], index=col.index)


def _parse_date_values(text: pd.Series) -> pd.Series:
    dates = pd.to_datetime(text, format="ISO8601", errors="coerce")
    bad = dates.isna() & text.notna() & (text != "")
    if bad.any():
        dates[bad] = pd.to_datetime(text[bad], format="mixed", errors="coerce")
    dates = pd.to_datetime(dates, errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return dates.dt.normalize()


class _Issues:
    """Collects issues row by row (first refusal reason wins)."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.raw = raw
        self.refused = np.zeros(len(raw), dtype=bool)
        self.reason = np.full(len(raw), "", dtype=object)
        self.repairs: dict[int, list[str]] = {}

    def refuse(
        self,
        mask: pd.Series | np.ndarray,
        reason: str,
        detail: Callable[[np.ndarray], list[str]] | None = None,
    ) -> None:
        """Refuse the rows of ``mask`` not refused yet; ``detail(positions)`` adds values."""
        mask = np.asarray(mask, dtype=bool) & ~self.refused
        if not mask.any():
            return
        self.refused |= mask
        idx = np.flatnonzero(mask)
        if detail is None:
            self.reason[idx] = reason
        else:
            self.reason[idx] = [reason.replace("{}", d) for d in detail(idx)]

    def repair(self, mask: pd.Series | np.ndarray, what: str) -> None:
        mask = np.asarray(mask, dtype=bool) & ~self.refused
        for i in np.flatnonzero(mask):
            self.repairs.setdefault(int(i), []).append(what)

    def issues(self) -> list[RowIssue]:
        files, lines = self.raw["file"].to_numpy(), self.raw["line"].to_numpy()
        symbols = self.raw["symbol"].fillna("").to_numpy()
        out = [
            RowIssue(files[i], int(lines[i]), str(symbols[i]), str(self.reason[i]), "refused")
            for i in np.flatnonzero(self.refused)
        ]
        for i, whats in self.repairs.items():
            if not self.refused[i]:
                problems = "; ".join(w.split(" => ")[0] for w in whats)
                actions = "; ".join(w.split(" => ")[1] for w in whats)
                out.append(
                    RowIssue(
                        files[i], int(lines[i]), str(symbols[i]), problems, "repaired: " + actions
                    )
                )
        out.sort(key=lambda x: (x.file, x.line))
        return out


def validate(raw: pd.DataFrame, progress: Progress | None = None) -> CleanData:
    """Apply the rules of the module docstring to raw string rows."""
    raw = raw.reset_index(drop=True)
    iss = _Issues(raw)
    blank = raw[list(REQUIRED)].isna().all(axis=1)
    iss.refuse(blank, "empty line")
    dates = _parse_dates(raw["date"])
    iss.refuse(dates.isna(), "missing or unparseable date '{}'", _text(raw["date"]))
    cal = _calendar()
    known = dates.notna().to_numpy()
    is_session = np.zeros(len(raw), dtype=bool)
    is_session[known] = pd.DatetimeIndex(dates[known]).isin(cal.sessions)
    iss.refuse(~is_session, "date {} is not an XNYS session", _text(raw["date"]))
    symbol = _by_unique(raw["symbol"], lambda u: u.str.strip())
    iss.refuse(symbol.isna() | (symbol == ""), "missing symbol")

    values: dict[str, pd.Series] = {}
    missing: dict[str, pd.Series] = {}
    for col in (*OHLC, "volume"):
        values[col], missing[col], nan = _numbers(raw[col])
        if col == "close":
            iss.refuse(missing[col], "missing close")
        iss.refuse(nan, f"{col} is not a number: {{}}", _text(raw[col]))
    for col in OHLC:
        v = values[col]
        iss.refuse(v <= 0, f"{col} is not positive: {{}}", _text(raw[col]))
        iss.refuse(v > PRICE_LIMIT, f"{col} above zipline's price limit: {{}}", _text(raw[col]))
    iss.refuse(values["volume"] < 0, "negative volume {}", _text(raw["volume"]))
    adj: dict[str, pd.Series] = {}
    for col in ("dividend", "split"):
        if col in raw.columns:
            adj[col], miss, nan = _numbers(raw[col])
            iss.refuse(nan, f"{col} is not a number: {{}}", _text(raw[col]))
            iss.refuse(adj[col] < 0, f"negative {col}: {{}}", _text(raw[col]))
            if col == "split":
                iss.refuse(adj[col] == 0, "split of 0")
            adj[col] = adj[col].where(~miss, 0.0 if col == "dividend" else 1.0)

    key = pd.DataFrame({"s": symbol, "d": dates})
    ok = ~iss.refused
    dup = np.zeros(len(raw), dtype=bool)
    dup[ok] = key[ok].duplicated(keep="first").to_numpy()
    if dup.any():
        first_line = raw.loc[ok & ~dup, ["line"]].set_index(
            pd.MultiIndex.from_frame(key[ok & ~dup])
        )["line"]
        firsts = dict(
            zip(
                raw.index[dup],
                pd.MultiIndex.from_frame(key[dup]).map(first_line.to_dict().get),
                strict=True,
            )
        )
        iss.refuse(
            dup, "duplicate date (first row at line {})", lambda idx: [str(firsts[i]) for i in idx]
        )

    o, h, lo, c, vol = (values[k].copy() for k in (*OHLC, "volume"))
    fix = missing["open"]
    iss.repair(fix, "missing open => open = close")
    o[fix] = c[fix]
    fix = missing["high"]
    iss.repair(fix, "missing high => high = max(open, close)")
    h[fix] = np.maximum(o[fix], c[fix])
    fix = missing["low"]
    iss.repair(fix, "missing low => low = min(open, close)")
    lo[fix] = np.minimum(o[fix], c[fix])
    stacked = np.column_stack([o, h, lo, c])
    top, bottom = np.nanmax(stacked, axis=1), np.nanmin(stacked, axis=1)
    bad_range = (h < lo) | (top > h) | (bottom < lo)
    for i in np.flatnonzero(bad_range.to_numpy() & ~iss.refused):
        detail = "high < low" if h[i] < lo[i] else "open/close outside [low, high]"
        iss.repair(
            np.arange(len(raw)) == i,
            f"{detail} (O={o[i]:g} H={h[i]:g} L={lo[i]:g} C={c[i]:g}) => high = max(O,H,L,C), low = min(O,H,L,C)",
        )
    h = pd.Series(np.where(bad_range, top, h), index=raw.index)
    lo = pd.Series(np.where(bad_range, bottom, lo), index=raw.index)
    fix = missing["volume"]
    iss.repair(fix, "missing volume => volume = 0")
    vol[fix] = 0.0
    fix = vol > VOLUME_LIMIT
    iss.repair(fix, "volume above 4,294,967,295 => clipped to 4,294,967,295")
    vol[fix] = VOLUME_LIMIT

    good = ~iss.refused
    clean = pd.DataFrame(
        {
            "symbol": symbol[good].astype(str).to_numpy(),
            "date": dates[good].to_numpy(),
            "open": o[good].to_numpy(),
            "high": h[good].to_numpy(),
            "low": lo[good].to_numpy(),
            "close": c[good].to_numpy(),
            "volume": vol[good].to_numpy(),
        }
    )
    for col, series in adj.items():
        clean[col] = series[good].to_numpy()
    all_symbols = sorted(set(symbol.dropna().astype(str)) - {""})
    return _assemble(clean, all_symbols, iss.issues(), len(raw), progress)


def _assemble(
    clean: pd.DataFrame,
    all_symbols: list[str],
    issues: list[RowIssue],
    rows_read: int,
    progress: Progress | None,
) -> CleanData:
    frames: dict[str, pd.DataFrame] = {}
    gaps: dict[str, int] = {}
    splits, dividends, warnings = [], [], []
    groups = dict(tuple(clean.groupby("symbol", sort=True)))
    cal = _calendar()
    for k, (sym, g) in enumerate(groups.items()):
        g = g.sort_values("date").set_index("date")
        sessions = cal.sessions_in_range(g.index[0], g.index[-1])
        filled = g.reindex(sessions)
        n_gaps = int(filled["close"].isna().sum())
        if n_gaps:
            gaps[sym] = n_gaps
            close = filled["close"].ffill()
            hole = filled["open"].isna()
            for col in ("open", "high", "low"):
                filled.loc[hole, col] = close[hole]
            filled["close"] = close
            filled["volume"] = filled["volume"].fillna(0.0)
        frame = filled[["open", "high", "low", "close", "volume"]].astype(float)
        frames[sym] = frame
        if "split" in filled.columns:
            s = filled["split"].fillna(1.0)
            for d in s.index[s != 1.0]:
                splits.append((sym, d, 1.0 / float(s[d])))
        if "dividend" in filled.columns:
            dv = filled["dividend"].fillna(0.0)
            for d in dv.index[dv > 0]:
                dividends.append((sym, d, float(dv[d])))
        ratio = frame["close"] / frame["close"].shift(1)
        split_days = {d for s_, d, _ in splits if s_ == sym}
        jumps = [
            d
            for d in ratio.index[(ratio > JUMP_RATIO) | (ratio < 1 / JUMP_RATIO)]
            if d not in split_days
        ]
        for d in jumps:
            warnings.append(
                f"{sym} {d:%Y-%m-%d}: close moved x{ratio[d]:.3f} in one session with no split "
                "row (unadjusted split?); kept as is"
            )
        if progress and (k % 25 == 0 or k == len(groups) - 1):
            progress("validating", k + 1, len(groups))
    empty = [s for s in all_symbols if s not in frames]
    return CleanData(
        frames=frames,
        gaps=gaps,
        issues=issues,
        rows_read=rows_read,
        splits=pd.DataFrame(splits, columns=["symbol", "date", "ratio"]),
        dividends=pd.DataFrame(dividends, columns=["symbol", "date", "amount"]),
        warnings=warnings,
        empty_symbols=empty,
    )


def default_name(path: Path) -> str:
    """A bundle name from a file or folder name (``sp500_daily_2013_2018.csv.gz`` → ``sp500_daily_2013_2018``)."""
    stem = Path(path).name
    for suffix in (".gz", ".csv", ".CSV"):
        stem = stem.removesuffix(suffix)
    cleaned = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in stem).strip("._-")
    return cleaned[:64] or f"csv-{dt.date.today():%Y%m%d}"
