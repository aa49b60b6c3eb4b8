"""A zipline algorithm file as a LiveDesk strategy (``livedesk run --algo`` / ``algo = "..."``).

:func:`algo_strategy_class` makes a :class:`~livedesk.backend.strategies.base.Strategy`
subclass named after the file (or its ``[strategies.NAME]`` table), so the algorithm runs
under the :class:`StrategyController` like any strategy: orders tagged with its name
(``orderRef``), through the guard and pacing, decisions in the journal, listed by
``livedesk strategies``. zipline is imported only when it runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from livedesk.backend.strategies.base import Decision, Strategy, require
from livedesk.backend.strategies.schedules import NEW_YORK, Intraday, sessions

FREQUENCIES = ("daily", "minute")


@dataclass(frozen=True)
class DailyAt:
    """Once per XNYS session, ``offset_minutes`` after the close (negative: before it)."""

    offset_minutes: float = 5.0
    calendar: str = "XNYS"

    def describe(self) -> str:
        return f"daily, {self.offset_minutes:+g} min from the close ({self.calendar})"

    def next_run(self, after: dt.datetime) -> dt.datetime | None:
        s = sessions(self.calendar)
        t = after.timestamp()
        i = max(0, s.index_at_or_after(t) - 1)
        while i < len(s.closes):
            run = float(s.closes[i]) + self.offset_minutes * 60
            if run > t:
                return dt.datetime.fromtimestamp(run, NEW_YORK)
            i += 1
        return None


@dataclass(frozen=True)
class AlgoParams:
    """``[strategies.NAME]`` of an algorithm: the file, the bundle and the bar frequency."""

    algo: str = ""
    bundle: str = "demo"
    frequency: str = "daily"
    daily_offset_minutes: float = 5.0
    """Daily mode: the decision is made this many minutes after the close (zipline's daily
    ``handle_data`` sees the session's final bar; its orders fill at the next open)."""
    refresh_demo: bool = True
    capital_base: float = 0.0
    """Backtest capital (0: the account's NetLiquidation when the backtest runs)."""

    def __post_init__(self) -> None:
        from livedesk.backend.bundles.paths import BundleError, check_name

        require(bool(self.algo), "algo", "the path of the algorithm file is required")
        require(
            self.frequency in FREQUENCIES,
            "frequency",
            f"must be one of {', '.join(FREQUENCIES)}, got {self.frequency!r}",
        )
        require(
            -390 <= self.daily_offset_minutes <= 480,
            "daily_offset_minutes",
            f"must be -390..480, got {self.daily_offset_minutes}",
        )
        require(self.capital_base >= 0, "capital_base", "must be >= 0")
        try:
            check_name(self.bundle)
        except BundleError as exc:
            require(False, "bundle", str(exc))


class AlgoStrategy(Strategy):
    """Runs one zipline algorithm file (subclassed per file by :func:`algo_strategy_class`)."""

    name: ClassVar[str] = "zipline-algo"
    Params: ClassVar[type] = AlgoParams
    description: ClassVar[str] = "an unmodified zipline-reloaded algorithm"
    backtest_days: ClassVar[int] = 20

    def __init__(self, params=None) -> None:
        super().__init__(params)
        self.runtime = None

    def make_schedule(self):
        if self.params.frequency == "minute":
            return Intraday(60.0, flatten_before_close_min=0.0)
        return DailyAt(self.params.daily_offset_minutes)

    @property
    def path(self) -> Path:
        """The algorithm file (a relative ``algo`` is from the config dir)."""
        path = Path(self.params.algo).expanduser()
        if not path.is_absolute():
            from livedesk.backend.config import config_dir

            path = config_dir() / path
        return path.resolve()

    def _runtime(self):
        if self.runtime is None:
            from livedesk.backend.algo.runtime import AlgoRuntime

            p = self.params
            self.runtime = AlgoRuntime(self.path, p.bundle, p.frequency, p.refresh_demo)
        return self.runtime

    async def run_once(self, ctx) -> Decision:
        return await self._runtime().step(ctx)

    async def on_stop(self, ctx) -> None:
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None

    async def backtest(self, ctx, days: int, cost_bps: float, progress=None):
        """zipline ``run_algorithm`` on the same file (see :mod:`livedesk.backend.algo.backtest`)."""
        import asyncio

        from livedesk.backend.algo.backtest import backtest_reference

        options = dict(ctx.state.get("backtest_options") or {})
        if self.params.frequency != "daily":
            raise ValueError(
                f"{self.name}: backtests run on daily bars (LiveDesk bundles hold daily bars); "
                'set frequency = "daily" to backtest this algorithm'
            )
        capital = self.params.capital_base or ctx.app.net_liquidation_or_none() or 1_000_000.0
        live = None
        if options.get("parity"):
            from livedesk.backend.algo.parity import live_orders

            if ctx.journal is None:
                raise ValueError("--parity needs the journal of the live runs")
            live = live_orders(ctx.journal, self.name)
        return await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: backtest_reference(
                self.name,
                self.param_values(),
                self.path,
                self.params.bundle,
                options,
                days,
                capital,
                cost_bps,
                live,
            ),
        )


def algo_strategy_class(name: str, path: str | Path, **defaults) -> type[AlgoStrategy]:
    """A strategy class ``name`` running the algorithm at ``path`` (checked now: an
    unsupported call raises :class:`~livedesk.backend.algo.loader.AlgoError` with its line)."""
    from livedesk.backend.algo.loader import check_file

    path = Path(path).expanduser().resolve()
    check_file(path)
    fields = {"algo": str(path), **defaults}
    params = dataclass(frozen=True)(
        type(
            "Params",
            (AlgoParams,),
            {
                "__annotations__": {k: type(v) for k, v in fields.items()},
                **fields,
                "__module__": __name__,
            },
        )
    )
    return type(
        f"Algo_{name.replace('-', '_')}",
        (AlgoStrategy,),
        {
            "name": name,
            "Params": params,
            "__module__": __name__,
            "description": f"zipline algorithm {path.name}",
        },
    )
