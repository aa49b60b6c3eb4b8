"""The demo's own actions in the console: first-launch preparation and the fast-forward.

On the embedded demo gateway, once connected, a background worker builds what the demo
lacks (the demo bundle, the built-in strategies' backtest references; nothing on a second
launch) with its progress in the header, and the header's hint says what to press first:
``f`` fast-forwards the demo :data:`FF_SESSIONS` sessions (the same code as ``livedesk demo
--fast-forward``, on the console's own gateway, clock paused meanwhile), then ``4`` shows
the Risk pane and ``a`` its Attribution.
"""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger("livedesk.tui")

FF_SESSIONS = 22
"""Sessions the console's fast-forward runs (enough for 20 daily returns per strategy)."""
HINT = (
    f"new here? press f to fast-forward the demo {FF_SESSIONS} sessions, then 4 Risk, a Attribution"
)


class DemoActions:
    """Mixin of :class:`~livedesk.tui.app.LiveDeskApp`: demo preparation and fast-forward."""

    _demo_task: asyncio.Task | None = None
    _prep_stop: asyncio.Event | None = None
    _ff_running = False
    ff_sessions = FF_SESSIONS
    demo_prepare: bool | None = None
    """Prepare the demo and show the hint: None = on the console's own embedded demo
    gateway (not one a caller supplied, as tests do)."""

    def start_demo_prepare(self) -> None:
        """After connecting to the embedded demo: prepare it in the background and hint."""
        s = self.session
        auto = getattr(s, "gateway_factory", None) is None
        if getattr(s, "gw", None) is None or not (
            auto if self.demo_prepare is None else self.demo_prepare
        ):
            return
        self.status = HINT
        self.notify(HINT, title="demo", timeout=30)  # the header may be too narrow for it
        self._prep_stop = asyncio.Event()
        self._demo_task = asyncio.ensure_future(self._prepare_demo())

    async def _controller(self):
        for _ in range(600):
            if self.session.controller is not None:
                return self.session.controller
            await asyncio.sleep(0.1)
        return None

    async def _prepare_demo(self) -> None:
        from livedesk.backend.demo.fastforward import BUILTINS, store_references
        from livedesk.backend.demo.prepare import ensure_bundle, has_bundle, missing_references

        s = self.session
        ctl = await self._controller()
        if ctl is None:
            return
        names = [n for n in BUILTINS if n in ctl.names]
        refs = missing_references(s.journal, names)
        try:
            if not has_bundle():
                self.status = "preparing the demo: building the demo bundle…"
                await asyncio.to_thread(ensure_bundle, s.settings)
            if refs:
                await store_references(
                    ctl,
                    refs,
                    None,
                    journal=s.journal,
                    risk=s.engine,
                    report=self._prep_report,
                    stop=self._prep_stop,
                )
                self._save_references([n for n in refs if s.journal.backtest_reference(n)])
        except Exception as exc:  # the console goes on without them
            log.exception("demo preparation failed")
            self.notify(f"demo preparation failed: {exc}", severity="warning")
        if not self._ff_running:
            self.status = HINT

    def _prep_report(self, done: int, total: int, what: str) -> None:
        if not self._ff_running:
            self.status = f"preparing the demo: {what} ({done}/{total})…"

    def _save_references(self, names: list[str]) -> None:
        """References built into an in-memory journal also go to the demo account's own, so
        the next launch finds them."""
        from livedesk.backend.demo.account import demo_journal_path
        from livedesk.backend.journal import Journal

        journal = self.session.journal
        if journal.path.name != ":memory:":
            return
        with Journal(demo_journal_path(self.session.settings)) as disk:
            disk.import_references(journal)

    async def action_fast_forward(self) -> None:
        """Fast-forward the demo ``ff_sessions`` sessions (a worker; progress in the header)."""
        if getattr(self.session, "gw", None) is None:
            if getattr(self.session, "demo", None) is not None:  # another process serves it
                self.notify(
                    "another process serves the demo gateway: fast-forward there "
                    "(or quit it and press f again)",
                    severity="warning",
                )
            else:
                self.notify("fast-forward runs on the demo gateway only", severity="warning")
            return
        if self._ff_running:
            self.notify("a fast-forward is already running")
            return
        self._ff_running = True
        self.run_worker(self._fast_forward(self.ff_sessions), exclusive=False, group="demo")

    async def _fast_forward(self, sessions: int) -> None:
        from livedesk.backend.demo.fastforward import BUILTINS, step_sessions, store_references
        from livedesk.backend.strategies.base import StrategyStatus

        s = self.session
        gw = s.gw
        try:
            self.status = "fast-forward: waiting for the demo's preparation…"
            if self._demo_task is not None:  # the bundle is needed; the references the
                self._prep_stop.set()  # fast-forward stores over its own sessions are not
                await asyncio.gather(self._demo_task, return_exceptions=True)
            ctl = await self._controller()
            names = [n for n in BUILTINS if ctl is not None and n in ctl.names]
            running = [
                n
                for n in names
                if ctl.info(n).status in (StrategyStatus.WAITING, StrategyStatus.RUNNING)
            ]
            for n in running:
                await ctl.stop(n)
            speed = gw.clock.speed
            gw.clock.set_speed(0)
            s.app.guard.use_clock(gw.now)  # the order rate and the history pacing on
            pacing, gw.pacing_clock = gw.pacing_clock, gw.now  # the clock it runs at
            try:
                result = await step_sessions(gw, ctl, names, sessions, self._ff_report)
                await store_references(
                    ctl,
                    names,
                    max(result.sessions, 1),
                    journal=s.journal,
                    risk=s.engine,
                    report=self._ff_report,
                )
            finally:
                gw.clock.set_speed(speed)
                s.app.guard.use_clock(time.monotonic)
                gw.pacing_clock = pacing
            for n in running:
                await ctl.start(n)
            self.notify(f"fast-forward done: {result.summary()}", timeout=15)
            self.status = "fast-forward done: 4 Risk (live vs backtest), then a Attribution"
        except Exception as exc:
            log.exception("fast-forward failed")
            self.notify(f"fast-forward failed: {exc}", severity="error")
            self.status = ""
        finally:
            self._ff_running = False

    def _ff_report(self, done: int, total: int, what: str) -> None:
        self.status = f"fast-forward {done}/{total}: {what}"
