"""Where the demo account lives: its gateway state file and its journal.

``livedesk`` (the console), ``livedesk run``, ``livedesk report`` and ``livedesk demo`` all
use these two paths, so they see one demo account: the same positions, cash, orders, fills,
simulated clock and journal.
"""

from __future__ import annotations

from pathlib import Path

from livedesk.backend.config import data_dir
from livedesk.backend.journal import account_journal_path


def demo_state_path(settings) -> Path:
    """The demo gateway's state file: ``[sim] state_file`` when set, else
    ``demo/gateway-ACCOUNT.json`` in the user data directory."""
    if settings.sim.state_file:
        return Path(settings.sim.state_file)
    return data_dir() / "demo" / f"gateway-{settings.sim.account}.json"


def demo_journal_path(settings) -> Path:
    """The demo account's journal (``journal-ACCOUNT.sqlite3`` in the user data dir)."""
    return account_journal_path(settings.sim.account)
