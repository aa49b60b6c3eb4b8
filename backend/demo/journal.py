"""The demo journal's life cycle: a new demo account starts a new journal, and ``demo
reset`` empties it; both keep the backtest references (they describe the strategies, not
the account, and take minutes to rebuild)."""

from __future__ import annotations

import os
from pathlib import Path

from livedesk.backend.demo.account import demo_journal_path


def fresh_journal(settings) -> Path | None:
    """A brand-new demo account starts a new demo journal: an existing one with trades in it
    (from an account that is gone) is moved aside, its backtest references copied into the
    new one. Returns where the old journal went (None when there was nothing to move)."""
    from livedesk.backend.journal import Journal

    path = demo_journal_path(settings)
    if not path.is_file():
        return None
    with Journal(path) as old:
        if not old.fills() and not old.runs():
            return None
    return replace_journal(path, keep="previous")


def replace_journal(path: Path, keep: str | None = None) -> Path | None:
    """Replace the journal at ``path`` by an empty one holding only its backtest references.

    ``keep``: move the old file to ``<name>.<keep>.sqlite3`` (returned) instead of deleting it.
    """
    from livedesk.backend.journal import Journal

    tmp = path.with_name(path.name + ".new")
    for p in _sqlite_files(tmp):
        p.unlink(missing_ok=True)
    with Journal(path) as old, Journal(tmp) as new:
        new.import_references(old)
    kept = None
    if keep:
        kept = path.with_name(f"{path.stem}.{keep}{path.suffix}")
        for p in _sqlite_files(kept):
            p.unlink(missing_ok=True)
        os.replace(path, kept)
    for p in _sqlite_files(path):
        p.unlink(missing_ok=True)
    os.replace(tmp, path)
    return kept


def _sqlite_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
