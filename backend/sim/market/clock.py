"""Simulated wall clock of the demo gateway."""

from __future__ import annotations

import time
from collections.abc import Callable


class SimClock:
    """Simulated wall clock: starts at `start` (epoch seconds), runs at `speed`× real time, or is
    stepped by hand when speed == 0 (manual).

    The clock keeps an anchor pair (real time, simulated time) and extrapolates from it, so
    changing the speed or stepping never makes simulated time jump backwards.
    """

    def __init__(
        self, start: float, speed: float = 1.0, time_fn: Callable[[], float] = time.time
    ) -> None:
        _check_speed(speed)
        self._time_fn = time_fn
        self._speed = float(speed)
        self._real_anchor = time_fn()
        self._sim_anchor = float(start)

    @property
    def speed(self) -> float:
        """Simulated seconds per real second (0 = manual)."""
        return self._speed

    @property
    def manual(self) -> bool:
        """True when the clock only moves through :meth:`advance`."""
        return self._speed == 0.0

    def now(self) -> float:
        """Current simulated time in epoch seconds."""
        return self._sim_anchor + (self._time_fn() - self._real_anchor) * self._speed

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` (in both manual and running modes)."""
        if seconds < 0:
            raise ValueError("the clock cannot go backwards")
        self._sim_anchor += seconds

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on; simulated time is continuous across the change."""
        _check_speed(speed)
        real = self._time_fn()
        self._sim_anchor += (real - self._real_anchor) * self._speed
        self._real_anchor = real
        self._speed = float(speed)


def _check_speed(speed: float) -> None:
    if not speed >= 0:
        raise ValueError(f"speed must be >= 0, got {speed}")
