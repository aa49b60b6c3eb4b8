"""``livedesk bundle ingest``: build a bundle from the demo market or from the user's CSV.

Both entry points are plain functions taking a ``progress(phase, done, total)`` callback,
so the CLI shows a progress bar and the console can run them in a worker thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from livedesk.backend.bundles.csvsource import CleanData, default_name, read_source
from livedesk.backend.bundles.demo import demo_frames, demo_market
from livedesk.backend.bundles.paths import DEMO_BUNDLE, BundleError, check_name
from livedesk.backend.bundles.writer import AssetSpec, IngestSummary, utc_now_text, write_bundle

Progress = Callable[[str, int, int], None]
MAX_LISTED = 20


def ingest_demo(
    seed: int = 7,
    session: dt.date | None = None,
    name: str = DEMO_BUNDLE,
    progress: Progress | None = None,
    market=None,
    include_current: bool = False,
) -> IngestSummary:
    """Bundle the simulated market's daily history for ``seed`` (the gateway's session by default).

    ``market``: an existing ``MarketModel`` for that seed and session (its cached paths are
    reused) instead of building one. ``include_current``: add the current session's full
    bar (for a gateway whose clock is past that session's close).
    """
    check_name(name)
    if progress:
        progress("generating", 0, 1)
    if market is None:
        market = demo_market(seed, session)
    elif market.seed != seed or (session is not None and market.session != session):
        raise BundleError("the market given is not the one of this seed and session")
    frames, specs = demo_frames(market, include_current)
    if progress:
        progress("generating", 1, 1)
    summary = IngestSummary(
        name=name,
        kind="demo",
        source=f"simulated market, seed {seed}, session {market.session:%Y-%m-%d}",
        ingestion="",
        assets=0,
        sessions=0,
        first_session="",
        last_session="",
        rows_read=sum(len(f) for f in frames.values()),
        extra={
            "seed": seed,
            "session": f"{market.session:%Y-%m-%d}",
            "current_included": include_current,
            "created": utc_now_text(),
        },
    )
    return write_bundle(name, frames, specs, summary, progress=progress)


def issue_lines(data: CleanData, limit: int = MAX_LISTED) -> list[str]:
    """The bad rows (file:line, problem, action), the first ``limit`` of them, then a count."""
    lines = [str(i) for i in data.issues[:limit]]
    if len(data.issues) > limit:
        lines.append(f"... and {len(data.issues) - limit} more (all in the ingest report)")
    return lines


def report_lines(data: CleanData) -> list[str]:
    """Every issue, gap and warning of a CSV ingest (the ingest report file)."""
    out = [str(i) for i in data.issues]
    out += [f"gap: {s} {n} session(s) filled" for s, n in sorted(data.gaps.items())]
    out += [f"warning: {w}" for w in data.warnings]
    out += [f"no valid row: {s}" for s in data.empty_symbols]
    return out


def ingest_csv(
    path: str | Path,
    name: str | None = None,
    *,
    strict: bool = False,
    progress: Progress | None = None,
) -> tuple[IngestSummary, CleanData]:
    """Validate ``path`` (file or per-symbol directory) and bundle it as ``name``.

    With ``strict`` any bad row (repaired or refused) refuses the whole ingest: nothing is
    written and BundleError lists the rows.
    """
    path = Path(path).expanduser()
    name = check_name(name or default_name(path))
    data = read_source(path, progress)
    if not data.frames:
        raise BundleError(
            f"{path}: no valid row in {data.rows_read} rows; nothing written\n"
            + "\n".join(issue_lines(data))
        )
    if strict and data.issues:
        raise BundleError(
            f"{path}: {len(data.issues)} bad row(s) and --strict; nothing written\n"
            + "\n".join(issue_lines(data))
        )
    specs = {s: AssetSpec(sid, s, "NYSE", s) for sid, s in enumerate(sorted(data.frames))}
    summary = IngestSummary(
        name=name,
        kind="csv",
        source=str(path.resolve()),
        ingestion="",
        assets=0,
        sessions=0,
        first_session="",
        last_session="",
        rows_read=data.rows_read,
        rows_repaired=data.rows_repaired,
        rows_refused=data.rows_refused,
        gap_sessions=data.gap_sessions,
        symbols_with_gaps=len(data.gaps),
        extra={
            "created": utc_now_text(),
            "warnings": len(data.warnings),
            "symbols_without_rows": data.empty_symbols,
            "splits": len(data.splits),
            "dividends": len(data.dividends),
        },
    )
    summary = write_bundle(
        name,
        data.frames,
        specs,
        summary,
        splits=data.splits,
        dividends=data.dividends,
        report=report_lines(data),
        progress=progress,
    )
    return summary, data
