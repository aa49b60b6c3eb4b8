"""``livedesk demo reset``: start the demo account over.

Removed: the demo gateway's state (positions, orders, fills, cash and the simulated clock)
and the demo journal's runs, decisions, fills, equity and risk samples. Kept: the backtest
references in the journal (they describe the strategies, not the account, and take minutes
to rebuild). Refused, with nothing changed, while a process serves the demo gateway.
"""

from __future__ import annotations

from typing import TextIO

from livedesk.backend.demo.account import demo_journal_path, demo_state_path
from livedesk.backend.demo.host import DemoLock, lock_path, port_path, served_by
from livedesk.backend.demo.journal import replace_journal

EXIT_OK, EXIT_REFUSED = 0, 1


def reset_command(settings, *, yes: bool, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """Ask (unless ``yes``), then reset; 1 when refused or not confirmed."""
    lock = DemoLock(lock_path(settings))
    if not lock.acquire():
        pid = served_by(settings)
        who = f"process {pid}" if pid else "another process"
        print(
            f"livedesk demo reset: refused: {who} is serving the demo gateway (an open console "
            "or a running `livedesk run`); quit it first. Nothing was changed.",
            file=err,
        )
        return EXIT_REFUSED
    try:
        state, journal = demo_state_path(settings), demo_journal_path(settings)
        if not state.exists() and not journal.exists():
            print("the demo account is new already: nothing to reset", file=out)
            return EXIT_OK
        print(
            f"This starts the demo account over: its positions, orders, cash and clock "
            f"({state}) and its journal's runs, fills and equity ({journal}) are removed; the "
            "backtest references are kept.",
            file=out,
        )
        if not yes:
            print("Reset the demo account? Type y to confirm [y/N]: ", end="", file=out, flush=True)
            answer = stdin.readline().strip().lower()
            if answer not in ("y", "yes"):
                print("not reset: nothing was changed", file=out)
                return EXIT_REFUSED
        reset(settings)
        print("the demo account starts over: $1,000,000 cash, no positions", file=out)
        return EXIT_OK
    finally:
        lock.release()


def reset(settings) -> None:
    """Remove the demo state and empty the demo journal but for its backtest references
    (the caller holds the demo lock)."""
    state = demo_state_path(settings)
    for p in (state, state.with_name(state.name + "-wal"), state.with_name(state.name + "-shm")):
        p.unlink(missing_ok=True)
    port_path(settings).unlink(missing_ok=True)
    journal = demo_journal_path(settings)
    if journal.exists():
        replace_journal(journal)
