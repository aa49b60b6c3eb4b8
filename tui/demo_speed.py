"""The console's demo speed: the ``>`` / ``<`` keys (actions ``demo_speed`` and
``demo_slower``) and the palette's "Demo speed: …" entries (pause, 1×, 10×, 60×, 600×, 3600×)."""

from __future__ import annotations

from functools import partial

from livedesk.backend.demo.speed import SPEEDS, speed_label
from livedesk.tui.commands import EntriesProvider


class DemoSpeedActions:
    """A mixin of the console app: change the demo's speed, shown in the header."""

    async def action_demo_speed(self, step: int = 1) -> None:
        """One step faster (``step`` > 0) or slower."""
        await self._speed(self.session.step_demo_speed(step > 0))

    async def set_demo_speed(self, speed: float) -> None:
        """Set the demo's speed (0 = pause)."""
        await self._speed(self.session.set_demo_speed(speed))

    async def _speed(self, change) -> None:
        try:
            text = await change
        except (ValueError, ConnectionError) as exc:
            self.notify(str(exc), severity="warning")
            return
        self.tick(force=True)
        self.notify(text, timeout=3)


def _entries(app) -> list[tuple[str, str, object]]:
    return [
        (
            f"Demo speed: {'pause' if s == 0 else speed_label(s)}",
            "demo: run the simulated clock at this speed (strategies, schedules and panes follow)",
            partial(app.set_demo_speed, s),
        )
        for s in SPEEDS
    ]


class DemoSpeedCommands(EntriesProvider):
    """Palette entries: the demo's speed steps."""

    def entries(self) -> list:
        return _entries(self.app)
