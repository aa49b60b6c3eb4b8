"""Strategy runtime: the framework, schedules, the controller and the built-in strategies.

Import from here: ``from livedesk.backend.strategies import StrategyController, Strategy, ...``.
Names resolve lazily (PEP 562), so importing a sub-module (e.g. the CLI's ``command``) does
not load pandas, ib_async or exchange_calendars; scipy and zipline load only in the
strategies that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Decision": "base",
    "ParamError": "base",
    "Strategy": "base",
    "StrategyStatus": "base",
    "build_params": "base",
    "require": "base",
    "GatewayClock": "clock",
    "StrategyContext": "context",
    "StrategyController": "controller",
    "StrategyInfo": "controller",
    "available_strategies": "registry",
    "create_strategy": "registry",
    "import_errors": "registry",
    "register": "registry",
    "Event": "schedules",
    "Intraday": "schedules",
    "Monthly": "schedules",
    "Schedule": "schedules",
}

__all__ = [
    "Decision",
    "Event",
    "GatewayClock",
    "Intraday",
    "Monthly",
    "ParamError",
    "Schedule",
    "Strategy",
    "StrategyContext",
    "StrategyController",
    "StrategyInfo",
    "StrategyStatus",
    "available_strategies",
    "build_params",
    "create_strategy",
    "import_errors",
    "register",
    "require",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from livedesk.backend.strategies.base import (
        Decision,
        ParamError,
        Strategy,
        StrategyStatus,
        build_params,
        require,
    )
    from livedesk.backend.strategies.clock import GatewayClock
    from livedesk.backend.strategies.context import StrategyContext
    from livedesk.backend.strategies.controller import StrategyController, StrategyInfo
    from livedesk.backend.strategies.registry import (
        available_strategies,
        create_strategy,
        import_errors,
        register,
    )
    from livedesk.backend.strategies.schedules import Event, Intraday, Monthly, Schedule
