"""First launch of the demo: what it still lacks (the demo bundle, backtest references) and
building it. The console runs :func:`missing` and then the builders in a background worker;
a second launch finds nothing missing and does nothing."""

from __future__ import annotations

import logging

log = logging.getLogger("livedesk.demo")

BUNDLE_STEP = "demo bundle"


def has_bundle(name: str = "demo") -> bool:
    """Whether the bundle ``name`` has been ingested."""
    from livedesk.backend.bundles.paths import BundleError
    from livedesk.backend.bundles.store import bundle_info

    try:
        bundle_info(name)
    except BundleError:
        return False
    return True


def ensure_bundle(settings, progress=None) -> bool:
    """Ingest the demo bundle (``livedesk bundle ingest --demo``) when missing; True when
    it was built. ``progress(phase, done, total)`` as the ingest reports it."""
    if has_bundle():
        return False
    import warnings

    from livedesk.backend.bundles.ingest import ingest_demo

    warnings.filterwarnings("ignore", category=FutureWarning, module="zipline")
    ingest_demo(settings.sim.seed, progress=progress)
    return True


def missing_references(journal, names) -> list[str]:
    """The strategies of ``names`` without a backtest reference in ``journal``."""
    return [n for n in names if journal.backtest_reference(n) is None]


def missing(journal, names) -> list[str]:
    """What the demo still lacks: ``"demo bundle"`` and/or the strategies without a
    reference (empty on a prepared demo)."""
    out = [] if has_bundle() else [BUNDLE_STEP]
    return out + missing_references(journal, names)
