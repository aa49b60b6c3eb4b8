"""A bare host for the combo builder on the embedded simulated gateway.

``python -m livedesk.tui.screens.combo_demo`` opens the builder on its own (the console
opens it with ``c``); tests and the benchmark build :class:`ComboDemoApp` directly.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable

from textual.app import App

from livedesk.backend.trading.app import TradingApp


class ComboDemoApp(App):
    """Starts ``SimGateway(port=0, seed, speed)`` in-process, connects, pushes the builder."""

    def __init__(
        self,
        *,
        seed: int = 7,
        speed: float = 0.0,
        template: str | None = None,
        clock: Callable[[], float] | None = None,
        readonly: bool = False,
        session: dt.date | None = None,
        tick_interval: float = 0.05,
    ) -> None:
        super().__init__()
        self.seed, self.speed, self.template = seed, speed, template
        self.clock, self.readonly, self.session = clock, readonly, session
        self.tick_interval = tick_interval
        self.gateway = None
        self.trading: TradingApp | None = None
        self.builder = None

    async def on_mount(self) -> None:
        from livedesk.backend.sim.gateway import SimGateway
        from livedesk.backend.sim.market.model import MarketModel
        from livedesk.tui.screens.combo_builder import ComboBuilderScreen

        market = MarketModel(seed=self.seed, session=self.session) if self.session else None
        start = market.session_open() + 3600 if market is not None else None
        self.gateway = SimGateway(
            port=0,
            seed=self.seed,
            speed=self.speed,
            market=market,
            start_time=start,
            tick_interval=self.tick_interval,
        )
        await self.gateway.start()
        self.trading = await TradingApp.connect(
            "127.0.0.1", self.gateway.port, client_id=11, readonly=self.readonly
        )
        session = self.gateway.market.session
        self.trading.today = lambda: session
        self.builder = ComboBuilderScreen(self.trading, clock=self.clock, template=self.template)
        await self.push_screen(self.builder)

    async def on_unmount(self) -> None:
        if self.trading is not None:
            self.trading.disconnect()
        if self.gateway is not None:
            await self.gateway.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the demo host (``--template "iron condor"`` to start with one)."""
    args = list(sys.argv[1:] if argv is None else argv)
    template = args[args.index("--template") + 1] if "--template" in args else None
    ComboDemoApp(speed=1.0, template=template).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
