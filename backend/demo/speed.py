"""The demo's speed steps: pause, 1×, 10×, 60×, 600×, 3600× (simulated seconds per real second)."""

from __future__ import annotations

SPEEDS = (0.0, 1.0, 10.0, 60.0, 600.0, 3600.0)
"""The console's speed steps, slowest first (0 = paused)."""


def speed_label(speed: float) -> str:
    """``PAUSED``, ``1×``, ``60×``, ``2.5×``."""
    return "PAUSED" if speed == 0 else f"{speed:g}×"


def faster(speed: float) -> float:
    """The next step above ``speed`` (the top step stays)."""
    return next((s for s in SPEEDS if s > speed), SPEEDS[-1])


def slower(speed: float) -> float:
    """The next step below ``speed`` (pause stays)."""
    return next((s for s in reversed(SPEEDS) if s < speed), SPEEDS[0])
