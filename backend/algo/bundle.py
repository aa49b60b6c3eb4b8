"""The algorithm's bundle kept in step with the demo gateway (its latest closes)."""

from __future__ import annotations

import datetime as dt

from livedesk.backend.bundles.paths import BundleError


def refresh_demo(bundle: str, session: dt.date, after_close: bool) -> str | None:
    """Rebuild a demo bundle made for another session than the gateway's (with its seed);
    past the close, with that session's closed bar. A note when rebuilt, else None."""
    from livedesk.backend.bundles.ingest import ingest_demo
    from livedesk.backend.bundles.store import bundle_info

    try:
        meta = bundle_info(bundle).meta
    except BundleError:
        return None
    extra = meta.get("extra") or {}
    if meta.get("kind") != "demo":
        return None
    if extra.get("session") == f"{session:%Y-%m-%d}" and (
        extra.get("current_included") or not after_close
    ):
        return None
    seed = int(extra.get("seed", 7))
    ingest_demo(seed, session, name=bundle, include_current=after_close)
    return f"demo bundle {bundle!r} rebuilt for session {session:%Y-%m-%d} (seed {seed})"
