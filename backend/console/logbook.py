"""The Log pane's lines and the toasts: alerts, events and the program's own warnings."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LogEntry:
    """One line of the Log pane."""

    t: float
    level: str  # info | warning | error
    source: str
    message: str
    code: int = 0


class Logbook:
    """The newest ``limit`` lines, stamped with ``clock`` (exchange time), and pending toasts."""

    def __init__(self, clock: Callable[[], float] = time.time, limit: int = 2000) -> None:
        self.clock = clock
        self.lines: collections.deque[LogEntry] = collections.deque(maxlen=limit)
        self.toasts: collections.deque[LogEntry] = collections.deque(maxlen=50)
        self.seq = 0
        self.folds = 0
        """How many lines were folded into the newest one (changes the view without a line)."""
        self._fold: tuple[str, str, str, int] | None = None
        self.handler = _LogHandler(self)

    def add(
        self,
        level: str,
        source: str,
        message: str,
        code: int = 0,
        toast: bool = False,
        fold: bool = False,
    ):
        """Add a line; warnings and errors also become toasts when ``toast``.

        With ``fold``, a line repeating the newest one (same level, source and message)
        replaces it with a count instead: ``alpha: hold (×12)``.
        """
        last = self._fold
        if fold and last is not None and last[:3] == (level, source, message) and self.lines:
            n = last[3] + 1
            self._fold = (level, source, message, n)
            entry = LogEntry(self.clock(), level, source, f"{message} (×{n})", code)
            self.lines[-1] = entry
            self.folds += 1
            return entry
        self._fold = (level, source, message, 1) if fold else None
        entry = LogEntry(self.clock(), level, source, message, code)
        self.lines.append(entry)
        self.seq += 1
        if toast and level in ("warning", "error"):
            self.toasts.append(entry)
        return entry

    def attach(self) -> None:
        """Also take the program's warnings and errors (root logger)."""
        logging.getLogger().addHandler(self.handler)

    def detach(self) -> None:
        """Stop taking log records."""
        logging.getLogger().removeHandler(self.handler)


class _LogHandler(logging.Handler):
    """Python log records of warning level and above also reach the Log pane."""

    def __init__(self, book: Logbook) -> None:
        super().__init__(level=logging.WARNING)
        self.book = book

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("ib_async"):
            return  # IB messages arrive through errorEvent with their code
        level = "error" if record.levelno >= logging.ERROR else "warning"
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        self.book.add(level, record.name, text)
