"""One process at a time on the demo account: an exclusive lock next to its state file."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from livedesk.backend.demo.account import demo_state_path


class DemoBusy(RuntimeError):
    """Another process holds the demo account (serves its gateway or fast-forwards it)."""


def demo_lock_path(settings) -> Path:
    """The lock file of the demo account: the one the process serving its gateway holds
    (:func:`livedesk.backend.demo.host.lock_path`), so a fast-forward and a console serving
    the demo exclude each other."""
    state = demo_state_path(settings)
    return state.with_name(state.name + ".lock")


@contextlib.contextmanager
def demo_lock(settings) -> Iterator[Path]:
    """Hold the demo account's lock for the block; :class:`DemoBusy` when another process
    holds it. The lock goes with the process (``flock``): a crash never leaves it taken."""
    path = demo_lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DemoBusy(
                f"the demo account is in use by another process (lock {path}): "
                "quit the console or the other `livedesk demo` first, or fast-forward "
                "from inside the console (ctrl+p, Fast-forward the demo)"
            ) from None
        yield path
    finally:
        os.close(fd)
