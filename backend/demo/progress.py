"""A progress bar on a stream: redrawn on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from typing import TextIO


class ProgressBar:
    """``[#####.....] 12/60 session 2026-10-02`` redrawn on a terminal, plain lines otherwise."""

    def __init__(self, out: TextIO, width: int = 30) -> None:
        self.out = out
        self.tty = out.isatty()
        self.width = width
        self.started = time.monotonic()
        self._open = False

    def __call__(self, done: int, total: int, what: str) -> None:
        fill = int(self.width * done / max(total, 1))
        secs = time.monotonic() - self.started
        text = f"[{'#' * fill}{'.' * (self.width - fill)}] {done}/{total} {what} ({secs:.0f} s)"
        if self.tty:
            print(f"\r\033[K{text}", end="", file=self.out, flush=True)
            self._open = True
        else:
            print(text, file=self.out, flush=True)

    def finish(self) -> None:
        """End the redrawn line."""
        if self._open:
            print(file=self.out, flush=True)
            self._open = False
