"""LiveDesk: a keyboard-driven terminal console for trading strategies live on Interactive Brokers.

The public API for notebooks lives here::

    from livedesk import TradingApp, stock, option, combo_leg, spread, market, limit

The names are resolved lazily, so ``import livedesk`` (and ``livedesk --help``) stays cheap:
nothing from ``ib_async`` is imported until one of them is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from livedesk.backend.contracts import combo_leg, future, option, spread, stock
    from livedesk.backend.trading.app import TradingApp
    from livedesk.backend.trading.orders import limit, market

_PUBLIC = {
    "TradingApp": "livedesk.backend.trading.app",
    "stock": "livedesk.backend.contracts",
    "future": "livedesk.backend.contracts",
    "option": "livedesk.backend.contracts",
    "combo_leg": "livedesk.backend.contracts",
    "spread": "livedesk.backend.contracts",
    "market": "livedesk.backend.trading.orders",
    "limit": "livedesk.backend.trading.orders",
}

__all__ = [
    "TradingApp",
    "combo_leg",
    "future",
    "limit",
    "market",
    "option",
    "spread",
    "stock",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'livedesk' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
