"""What ``livedesk run NAME --once`` records with each run for attribution: the account's
NetLiquidation and positions (with their marks), on the broker's clock."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from livedesk.backend.journal import Journal
from livedesk.backend.risk.attribution_times import valid_time

SNAPSHOT_NLV = "snapshot:account"
"""Sample series of the NetLiquidation a ``livedesk run NAME --once`` records with each run."""
SNAPSHOT_POSITIONS = "positions:"
"""State-name prefix of the positions (and their marks) recorded with each ``--once`` run."""


def record_run_snapshot(
    journal: Journal,
    strategy: str,
    t: float,
    nlv: float | None,
    positions: Mapping[int, float],
    marks: Mapping[int, float],
    multipliers: Mapping[int, float],
) -> None:
    """Journal the account's NetLiquidation and positions at ``t`` (the broker's clock), so a
    journal of cron runs (whose fills may arrive after the process exited) can be attributed."""
    if not valid_time(t):
        raise ValueError(f"snapshot time must be a positive epoch, got {t!r}")
    if nlv is not None and math.isfinite(nlv) and nlv > 0:
        journal.record_sample(t, math.nan, float(nlv), math.nan, key=SNAPSHOT_NLV)
    journal.save_state(
        f"{SNAPSHOT_POSITIONS}{strategy}:{t:017.3f}",
        {
            "t": t,
            "positions": {str(c): float(q) for c, q in positions.items() if q},
            "marks": {str(c): float(m) for c, m in marks.items() if math.isfinite(m)},
            "multipliers": {str(c): float(k) for c, k in multipliers.items()},
        },
    )


def snapshot_at(journal: Journal, strategy: str, t: float) -> dict[str, Any] | None:
    """The latest positions snapshot of ``strategy``'s runs at or before ``t`` (None if none)."""
    best = None
    for snap in journal.states(f"{SNAPSHOT_POSITIONS}{strategy}:"):
        if snap.get("t", math.inf) <= t and (best is None or snap["t"] >= best["t"]):
            best = snap
    return best
