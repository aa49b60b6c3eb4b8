"""Strategy runtime: the framework, schedules, the controller and the built-in strategies.

Import from here: ``from livedesk.backend.strategies import StrategyController, Strategy, ...``.
Heavy dependencies (scipy, zipline) are imported only inside the strategies that need them.
"""

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
