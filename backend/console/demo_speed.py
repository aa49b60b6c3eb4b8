"""The console's demo speed control (pause, 1×, 10×, 60×, 600×, 3600×): a mixin of
:class:`~livedesk.backend.console.session.ConsoleSession`.

The speed is the simulated gateway's (its clock), so strategies, schedules and panes, which
all read the broker's clock, follow it. On a real broker it does not apply.
"""

from __future__ import annotations

from livedesk.backend.demo.speed import faster, slower, speed_label

NOT_SIMULATED = "the demo speed applies only to the simulated gateway, not to a real broker"


class DemoSpeed:
    """Speed commands over ``self.demo`` (the shared demo gateway) or ``self.gw``."""

    def speed_text(self) -> str:
        """The header's ``60×`` / ``PAUSED`` ("" while unknown or on a real broker)."""
        speed = getattr(self, "demo_speed", None)
        return "" if speed is None or not self.target.sim else speed_label(speed)

    async def set_demo_speed(self, speed: float) -> str:
        """Run the demo's clock at ``speed`` (0 = pause); the simulated time is continuous.

        Returns what to tell the user; ValueError when it does not apply or is refused.
        """
        if not self.target.sim:
            raise ValueError(NOT_SIMULATED)
        if self.demo is not None:
            self.demo_speed = await self.demo.set_speed(speed)
        elif self.gw is not None:
            self.gw.faults.set_speed(speed)
            self.demo_speed = self.gw.clock.speed
        else:
            raise ValueError("not connected yet")
        self._bump("account")
        text = f"demo speed {speed_label(self.demo_speed)}"
        self.add_log("info", "demo", text)
        return text

    async def step_demo_speed(self, up: bool = True) -> str:
        """One step faster (or slower) than the speed now."""
        if not self.target.sim:
            raise ValueError(NOT_SIMULATED)
        now = self.demo_speed
        if now is None:
            now = self.gw.clock.speed if self.gw is not None else 1.0
        return await self.set_demo_speed(faster(now) if up else slower(now))
