"""The strategy registry: ``register``, ``available_strategies``, ``create_strategy``.

Built-in strategy modules are imported lazily the first time the registry is read; a
module that fails to import (e.g. zipline missing for ``monthly-factor``) is skipped and
its error kept in :func:`import_errors`, so ``livedesk strategies`` always works.
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from livedesk.backend.config import ConfigError
from livedesk.backend.strategies.base import NAME_RE, Strategy, build_params

log = logging.getLogger("livedesk.strategies")
S = TypeVar("S", bound=type[Strategy])

BUILTIN_MODULES = (
    "livedesk.backend.strategies.crack_spread",
    "livedesk.backend.strategies.options_combo",
    "livedesk.backend.strategies.monthly_factor",
)
"""Modules that register strategies when imported (missing or failing ones are skipped)."""

RESERVED_KEYS = frozenset({"enabled"})
"""Keys of ``[strategies.NAME]`` read by the controller, not passed to the parameters."""

_REGISTRY: dict[str, type[Strategy]] = {}
_ERRORS: dict[str, str] = {}
_loaded = False


def register(cls: S) -> S:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"strategy name must be kebab-case, got {name!r}")
    if not hasattr(cls, "Params"):
        raise ValueError(f"strategy {name} has no Params dataclass")
    existing = _REGISTRY.get(name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"strategy name {name!r} already registered by {existing.__qualname__}")
    _REGISTRY[name] = cls
    return cls


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue  # not written (yet): nothing to report
            _ERRORS[module] = f"{type(exc).__name__}: {exc}"
            log.warning("strategy module %s not loaded: %s", module, exc)
        except Exception as exc:  # a broken optional strategy must not break the others
            _ERRORS[module] = f"{type(exc).__name__}: {exc}"
            log.warning("strategy module %s not loaded: %s", module, exc)


def available_strategies() -> dict[str, type[Strategy]]:
    """Every registered strategy class by name, sorted."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def import_errors() -> dict[str, str]:
    """Strategy modules that failed to import, with the error."""
    _load_builtins()
    return dict(_ERRORS)


def strategy_class(name: str) -> type[Strategy]:
    """The class registered as ``name``; ConfigError listing the known names otherwise."""
    known = available_strategies()
    cls = known.get(name)
    if cls is None:
        raise ConfigError(
            f"unknown strategy {name!r}{_did_you_mean(name, known, '{}')}; "
            f"known: {', '.join(known) or 'none'}"
        )
    return cls


def _did_you_mean(name: str, known, template: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {template.format(close[0])}?" if close else ""


def check_strategy_tables(settings: Any) -> None:
    """Every ``[strategies.NAME]`` table names a known strategy and holds valid values.

    A typo'd table would otherwise be ignored and the strategy run with its defaults:
    ConfigError with "did you mean [strategies.crack-spread]?".
    """
    known = available_strategies()
    for name, table in (getattr(settings, "strategies", None) or {}).items():
        if name not in known:
            hint = _did_you_mean(name, known, "[strategies.{}]")
            raise ConfigError(
                f"unknown strategy table [strategies.{name}]{hint} "
                f"(known strategies: {', '.join(known) or 'none'})"
            )
        create_strategy(name, table)
        is_enabled(settings, name)


def create_strategy(name: str, overrides: Mapping[str, Any] | None = None) -> Strategy:
    """A strategy with its defaults overridden by ``overrides`` (``[strategies.NAME]``).

    Bad values raise :class:`ConfigError` naming ``[strategies.NAME] key``; ``enabled`` is
    ignored here (the controller reads it).
    """
    cls = strategy_class(name)
    values = {k: v for k, v in (overrides or {}).items() if k not in RESERVED_KEYS}
    params = build_params(cls.Params, values, section=f"strategies.{name}")
    try:
        return cls(params)
    except ValueError as exc:
        raise ConfigError(f"[strategies.{name}] {exc}") from exc


def strategy_settings(settings: Any, name: str) -> dict[str, Any]:
    """The ``[strategies.NAME]`` table of ``settings`` (empty when absent)."""
    table = getattr(settings, "strategies", None) or {}
    section = table.get(name, {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"[strategies.{name}] must be a table")
    return dict(section)


def is_enabled(settings: Any, name: str) -> bool:
    """``[strategies.NAME] enabled`` (default true)."""
    value = strategy_settings(settings, name).get("enabled", True)
    if not isinstance(value, bool):
        raise ConfigError(f"[strategies.{name}] enabled = {value!r} is not true/false")
    return value
