"""The strategy contract: status, decision, validated parameters and the `Strategy` base class.

A strategy is a kebab-case ``name`` (used in every order's ``orderRef``, the journal and
the CLI), a frozen ``Params`` dataclass with defaults, a schedule, and an async
``run_once(ctx)`` that reads data through the :class:`StrategyContext` and trades only
through the ``TradingApp`` primitives the context wraps (tagged with the name). Signal code
lives in pure functions (DataFrame in, numbers out) shared with the backtest.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from livedesk.backend.config import ConfigError

if TYPE_CHECKING:
    from livedesk.backend.strategies.backtest import BacktestResult
    from livedesk.backend.strategies.context import StrategyContext
    from livedesk.backend.strategies.schedules import Schedule

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


BENIGN_SKIPS = ("market closed",)
"""Skip reasons that are not failures: ``livedesk run --once`` exits 0, and they do not
count toward the controller's could-not-decide alert."""


class StrategyStatus(StrEnum):
    """Where a strategy is in its life."""

    STOPPED = "stopped"
    WAITING = "waiting"
    RUNNING = "running"
    ERROR = "error"
    HALTED = "halted"


class ParamError(ConfigError):
    """A strategy parameter is invalid; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


def require(condition: bool, key: str, message: str) -> None:
    """Raise :class:`ParamError` for ``key`` unless ``condition`` holds (for ``__post_init__``)."""
    if not condition:
        raise ParamError(key, message)


@dataclass(frozen=True)
class Decision:
    """One decision of a strategy: a short sentence plus the numbers behind it.

    ``values`` are the signal inputs and outputs, ``targets`` the target weights or
    quantities by instrument, ``orders`` one dict per planned or sent order (action,
    quantity, contract, order_type, limit, sent, message), ``data_time`` the last bar's
    timestamp the decision was computed from. ``skipped_reason`` is set when no decision
    could be taken (stale data, a roll, closed market...). ``replay`` is what the
    attribution's replay needs (:func:`livedesk.backend.risk.attribution_source.replay_record`:
    the signal's inputs, conId targets and mids), journalled under ``detail["replay"]``.
    """

    t: dt.datetime
    summary: str
    values: dict[str, float] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    skipped_reason: str | None = None
    data_time: dt.datetime | None = None
    replay: dict[str, Any] | None = None

    @property
    def skipped(self) -> bool:
        """True when no decision was taken."""
        return self.skipped_reason is not None

    def record(self) -> dict[str, Any]:
        """JSON-safe dict for the journal (NaN/inf become None)."""

        def num(x: float) -> float | None:
            x = float(x)
            return x if math.isfinite(x) else None

        return {
            "t": self.t.isoformat(),
            "summary": self.summary,
            "values": {k: num(v) for k, v in self.values.items()},
            "targets": {k: num(v) for k, v in self.targets.items()},
            "orders": [dict(o) for o in self.orders],
            "skipped_reason": self.skipped_reason,
            "data_time": None if self.data_time is None else self.data_time.isoformat(),
            **({} if self.replay is None else {"replay": self.replay}),
        }


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _coerce(key: str, typ: Any, value: Any) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None:
            return None
        typ = args[0]
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise ParamError(key, f"{value!r} is not true/false")
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise ParamError(key, f"{value!r} is not an integer")
        return int(value)
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamError(key, f"{value!r} is not a number")
        if not math.isfinite(value):
            raise ParamError(key, f"{value!r} is not a finite number")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            raise ParamError(key, f"{value!r} is not a string")
        return value
    if typing.get_origin(typ) is tuple:
        if not isinstance(value, list | tuple):
            raise ParamError(key, f"{value!r} is not a list")
        (inner, *_rest) = typing.get_args(typ) or (str,)
        return tuple(_coerce(key, inner, v) for v in value)
    return value


def build_params(params_cls: type, overrides: Mapping[str, Any], section: str = "") -> Any:
    """``params_cls`` with ``overrides`` applied: unknown keys, wrong types and failed checks
    raise :class:`ConfigError` naming ``[section] key``."""
    prefix = f"[{section}] " if section else ""
    types_ = _field_types(params_cls)
    values = {}
    for key, value in overrides.items():
        if key not in types_:
            raise ConfigError(
                f"{prefix}unknown parameter {key!r}; known: {', '.join(sorted(types_))}"
            )
        try:
            values[key] = _coerce(key, types_[key], value)
        except ParamError as exc:
            raise ConfigError(f"{prefix}{exc}") from exc
    try:
        return params_cls(**values)
    except ParamError as exc:
        raise ConfigError(f"{prefix}{exc}") from exc


def param_defaults(params_cls: type) -> dict[str, Any]:
    """Each parameter's default value."""
    out = {}
    for f in fields(params_cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


class Strategy(ABC):
    """Base class of every strategy. Subclasses set ``name``, ``Params`` and ``schedule``."""

    name: ClassVar[str]
    """Kebab-case name: the orderRef, the journal key and the CLI name."""
    Params: ClassVar[type]
    """A frozen dataclass of parameters, every field with a default, checked in ``__post_init__``."""
    description: ClassVar[str] = ""
    backtest_days: ClassVar[int] = 20
    """Default ``livedesk backtest --days``."""

    def __init__(self, params: Any | None = None) -> None:
        self.params = params if params is not None else self.Params()
        if not is_dataclass(self.params):
            raise TypeError(f"{type(self).__name__}.Params must be a dataclass")
        self.schedule: Schedule = self.make_schedule()

    @abstractmethod
    def make_schedule(self) -> Schedule:
        """The schedule built from the parameters."""

    @abstractmethod
    async def run_once(self, ctx: StrategyContext) -> Decision:
        """Read data, decide and act (through ``ctx``); return the decision."""

    async def on_start(self, ctx: StrategyContext) -> None:  # noqa: B027 - optional hook
        """Called once when the controller starts the strategy (warm-up)."""

    async def on_stop(self, ctx: StrategyContext) -> None:  # noqa: B027 - optional hook
        """Called when the strategy stops (release subscriptions)."""

    async def flatten(self, ctx: StrategyContext) -> list[dict[str, Any]]:
        """Close this strategy's positions; default: target 0 % of each held instrument."""
        return await ctx.flatten_positions()

    async def backtest(
        self, ctx: StrategyContext, days: int, cost_bps: float, progress=None
    ) -> BacktestResult:
        """Replay ``days`` of gateway history through the same signal code (optional)."""
        raise NotImplementedError(f"{self.name} has no backtest replay")

    def param_values(self) -> dict[str, Any]:
        """The parameters as a plain dict."""
        return asdict(self.params)
