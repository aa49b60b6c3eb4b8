"""Write validated daily bars as a zipline bundle (zipline is imported inside the functions).

Assets are written with ``country_code="US"`` exchanges so ``USEquityPricing`` finds them.
An asset whose last bar is the bundle's last session is *live*: its asset-db end date is a
year in the future, so a pipeline run on the session after the last bar (the monthly run
date) still sees it. An asset whose bars stop earlier (it left the index, was delisted)
ends on its last bar and drops out of later pipeline rows — and so out of the book.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from livedesk.backend.bundles.paths import (
    META_FILE,
    REPORT_FILE,
    BundleError,
    bundle_dir,
    check_name,
    zipline_root_env,
)

# zipline's asset writer warns about a pandas deprecation on every ingest (the monthly
# factor's own rebuild of the demo bundle printed it in a cron job's output)
warnings.filterwarnings("ignore", category=FutureWarning, module="zipline")

LIVE_END_DAYS = 366
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AssetSpec:
    """One asset of a bundle: its sid, symbol and listing exchange."""

    sid: int
    symbol: str
    exchange: str = "NYSE"
    asset_name: str = ""


@dataclass
class IngestSummary:
    """What an ingestion wrote (also stored as ``livedesk-bundle.json`` beside the data)."""

    name: str
    kind: str
    source: str
    ingestion: str
    assets: int
    sessions: int
    first_session: str
    last_session: str
    rows_read: int = 0
    rows_repaired: int = 0
    rows_refused: int = 0
    gap_sessions: int = 0
    symbols_with_gaps: int = 0
    bytes: int = 0
    seconds: float = 0.0
    left_before_end: int = 0
    extra: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The end-of-ingest summary, one fact a line."""
        out = [
            f"bundle {self.name!r} ({self.kind}) ingested from {self.source}",
            f"  assets: {self.assets} ({self.left_before_end} end before the last session)",
            f"  sessions: {self.sessions}, {self.first_session} .. {self.last_session} (XNYS)",
            f"  rows read: {self.rows_read}, repaired: {self.rows_repaired}, "
            f"refused: {self.rows_refused}",
            f"  gap sessions filled: {self.gap_sessions} in {self.symbols_with_gaps} symbols "
            "(previous close, zero volume)",
            f"  size: {self.bytes / 2**20:.1f} MiB ({self.bytes} bytes), written in "
            f"{self.seconds:.1f} s",
            f"  ingestion: {self.ingestion}",
        ]
        return out


def dir_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _register(name: str, ingest_fn, first: pd.Timestamp, last: pd.Timestamp) -> None:
    from zipline.data import bundles

    if name in bundles.bundles:
        bundles.unregister(name)
    bundles.register(name, ingest_fn, calendar_name="XNYS", start_session=first, end_session=last)


def write_bundle(
    name: str,
    frames: Mapping[str, pd.DataFrame],
    assets: Mapping[str, AssetSpec],
    summary: IngestSummary,
    *,
    splits: pd.DataFrame | None = None,
    dividends: pd.DataFrame | None = None,
    report: list[str] | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Ingest ``frames`` (per symbol, indexed by XNYS sessions) as bundle ``name``.

    ``summary`` carries the source facts; the asset/session counts, the ingestion folder,
    its size and the time taken are filled in here. Returns the completed summary.
    """
    check_name(name)
    if not frames:
        raise BundleError(f"bundle {name!r}: no symbol has a valid row; nothing written")
    t0 = time.perf_counter()
    first = min(f.index[0] for f in frames.values())
    last = max(f.index[-1] for f in frames.values())
    symbols = sorted(frames)
    by_symbol = {s: assets[s] for s in symbols}
    live_end = last + pd.Timedelta(days=LIVE_END_DAYS)
    rows = []
    for s in symbols:
        f, a = frames[s], by_symbol[s]
        end = live_end if f.index[-1] == last else f.index[-1]
        rows.append(
            {
                "sid": a.sid,
                "symbol": a.symbol,
                "asset_name": a.asset_name or a.symbol,
                "start_date": f.index[0],
                "end_date": end,
                "first_traded": f.index[0],
                "auto_close_date": end + pd.Timedelta(days=1),
                "exchange": a.exchange,
            }
        )
    equities = pd.DataFrame(rows).set_index("sid")
    exchanges = pd.DataFrame(
        {"exchange": sorted(set(equities["exchange"])), "country_code": "US"}
    ).assign(canonical_name=lambda d: d["exchange"])
    sid_of = {s: by_symbol[s].sid for s in symbols}

    def bars():
        for i, s in enumerate(symbols):
            yield sid_of[s], _ctable(frames[s])
            if progress and (i % 10 == 0 or i == len(symbols) - 1):
                progress("writing", i + 1, len(symbols))

    def ingest(environ, asset_db_writer, minute_bar_writer, daily_bar_writer, adjustment_writer,
               calendar, start_session, end_session, cache, show_progress, output_dir):  # fmt: skip
        asset_db_writer.write(equities=equities, exchanges=exchanges)
        daily_bar_writer.write(bars(), assets=set(sid_of.values()), invalid_data_behavior="ignore")
        adjustment_writer.write(
            splits=_splits(splits, sid_of), dividends=_dividends(dividends, sid_of)
        )

    from zipline.data.bundles.core import to_bundle_ingest_dirname

    stamp = pd.Timestamp.now(tz="UTC").floor("s")
    # Ingestions are named by the second: a second ingest within the same second must not
    # overwrite the first, so take the next free second.
    while (
        bundle_dir(name) / to_bundle_ingest_dirname(stamp.tz_convert("UTC").tz_localize(None))
    ).exists():
        stamp += pd.Timedelta(seconds=1)

    with zipline_root_env() as env:
        from zipline.data import bundles

        _register(name, ingest, first, last)
        try:
            bundles.ingest(name, env, timestamp=stamp, show_progress=False)
        finally:
            _register(name, not_ingestible, first, last)
    folder = bundle_dir(name) / to_bundle_ingest_dirname(stamp.tz_convert("UTC").tz_localize(None))
    if not folder.is_dir():
        raise BundleError(f"bundle {name!r}: zipline wrote no ingestion folder at {folder}")
    summary.ingestion = folder.name
    summary.assets = len(symbols)
    summary.sessions = len(np.unique(np.concatenate([f.index.values for f in frames.values()])))
    summary.first_session = f"{first:%Y-%m-%d}"
    summary.last_session = f"{last:%Y-%m-%d}"
    summary.left_before_end = sum(1 for s in symbols if frames[s].index[-1] != last)
    if report:
        (folder / REPORT_FILE).write_text("\n".join(report) + "\n", encoding="utf-8")
    summary.seconds = round(time.perf_counter() - t0, 2)
    summary.bytes = dir_bytes(folder)
    (folder / META_FILE).write_text(json.dumps(asdict(summary), indent=2), encoding="utf-8")
    summary.bytes = dir_bytes(folder)
    return summary


def _ctable(frame: pd.DataFrame):
    """One asset's bars as the uint32 bcolz table zipline stores (prices x 1000, rounded).

    zipline's own conversion first scans every value for uint32 overflow, one DataFrame at
    a time (most of an ingest's time); the frames here are already validated (prices below
    the limit, volumes clipped, no NaN), so the table is built directly.
    """
    from bcolz import ctable

    prices = frame[["open", "high", "low", "close"]].to_numpy(dtype=float)
    if not np.isfinite(prices).all():
        raise BundleError("internal: a frame with a missing price reached the writer")
    ohlc = np.rint(prices * 1000.0).astype(np.uint32)
    day = frame.index.values.astype("datetime64[s]").astype(np.int64).astype(np.uint32)
    volume = np.minimum(frame["volume"].to_numpy(dtype=float), 4_294_967_295).astype(np.uint32)
    return ctable(
        columns=[ohlc[:, 0], ohlc[:, 1], ohlc[:, 2], ohlc[:, 3], day, volume],
        names=["open", "high", "low", "close", "day", "volume"],
    )


def not_ingestible(*_args, **_kwargs):
    raise BundleError("use `livedesk bundle ingest` to (re)build a LiveDesk bundle")


def _splits(splits: pd.DataFrame | None, sid_of: Mapping[str, int]) -> pd.DataFrame | None:
    if splits is None or splits.empty:
        return None
    return pd.DataFrame(
        {
            "sid": splits["symbol"].map(sid_of).astype("int64"),
            "ratio": splits["ratio"].astype(float),
            "effective_date": pd.to_datetime(splits["date"]),
        }
    )


def _dividends(dividends: pd.DataFrame | None, sid_of: Mapping[str, int]) -> pd.DataFrame | None:
    if dividends is None or dividends.empty:
        return None
    day = pd.to_datetime(dividends["date"])
    return pd.DataFrame(
        {
            "sid": dividends["symbol"].map(sid_of).astype("int64"),
            "amount": dividends["amount"].astype(float),
            "ex_date": day,
            "record_date": day,
            "declared_date": day,
            "pay_date": day,
        }
    )


def remove_tree(path: Path) -> int:
    """Delete ``path`` recursively; returns the bytes freed."""
    freed = dir_bytes(path)
    shutil.rmtree(path)
    return freed


def utc_now_text() -> str:
    """Now in UTC, ISO text to the second."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
