"""The strategy registry: ``register``, ``available_strategies``, ``create_strategy``.

Built-in strategy modules are imported lazily the first time the registry is read; a
module that fails to import (e.g. zipline missing for ``monthly-factor``) is skipped and
its error kept in :func:`import_errors`, so ``livedesk strategies`` always works.
:func:`load_plugins` adds the user's own strategies (:mod:`.plugins`) once per process; a
broken plugin is kept in :func:`plugin_errors` and never hides the others.
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from livedesk.backend.config import ConfigError
from livedesk.backend.strategies import plugins
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
_SOURCES: dict[str, str] = {}  # plugin strategy name -> its file or entry point
_PLUGIN_ERRORS: dict[str, list[plugins.PluginError]] = {}  # source -> its errors
_plugin_folders: list[Path] | None = None


def register(cls: S) -> S:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"strategy name must be kebab-case, got {name!r}")
    if not hasattr(cls, "Params"):
        raise ValueError(f"strategy {name} has no Params dataclass")
    existing = _REGISTRY.get(name)
    same = existing is not None and (existing.__module__, existing.__qualname__) == (
        cls.__module__,
        cls.__qualname__,
    )
    if existing is not None and not same:
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


def load_plugins(
    paths: Sequence[str | Path] = (),
    *,
    base: Path | None = None,
    entry_points: bool = True,
) -> list[plugins.PluginError]:
    """Discover and register the user's strategies (once per process for the same folders).

    ``paths`` are the ``[strategies] paths`` folders; ``base`` the config dir. Returns every
    plugin error (``file:line: message``); the loaded strategies join :func:`available_strategies`.
    """
    global _plugin_folders
    _load_builtins()
    folders = plugins.plugin_folders(paths, base)
    if _plugin_folders == folders:
        return plugin_errors()
    _plugin_folders = folders
    for path in plugins.plugin_files(folders):
        if str(path) not in _PLUGIN_ERRORS and str(path) not in _SOURCES.values():
            _adopt(str(path), *plugins.load_file(path))
    if entry_points:
        for ep in plugins.plugin_entry_points():
            source = f"entry point {ep.name} ({ep.value})"
            if source not in _PLUGIN_ERRORS and source not in _SOURCES.values():
                _adopt(source, *plugins.load_entry_point(ep))
    return plugin_errors()


def load_plugins_for(settings: Any) -> list[plugins.PluginError]:
    """:func:`load_plugins` with ``settings``' ``[strategies] paths`` (from the config dir),
    plus every ``[strategies.NAME] algo = "file.py"`` zipline algorithm."""
    errors = load_plugins(tuple(getattr(settings, "strategy_paths", ()) or ()))
    table = getattr(settings, "strategies", None) or {}
    for name, section in table.items():
        if isinstance(section, Mapping) and "algo" in section:
            register_algo(name, section["algo"])
    return plugin_errors() if table else errors


def register_algo(name: str, path: str | Path) -> str:
    """Register the zipline algorithm file ``path`` as strategy ``name`` (checked at load:
    an unsupported call is kept as a plugin error naming its line). Returns the name."""
    from livedesk.backend.algo.strategy import algo_strategy_class
    from livedesk.backend.config import config_dir

    file = Path(path).expanduser()
    if not file.is_absolute():
        file = config_dir() / file
    source = str(file.resolve())
    if not NAME_RE.match(name):
        _PLUGIN_ERRORS[source] = [plugins.PluginError(source, None, f"{name!r} is not kebab-case")]
        return name
    if _SOURCES.get(name) == source:
        return name
    _PLUGIN_ERRORS.pop(source, None)
    try:
        cls = algo_strategy_class(name, file)
    except ConfigError as exc:
        message, line = str(exc), None
        if message.startswith(f"{source}:"):
            number, _, rest = message[len(source) + 1 :].partition(":")
            if number.isdigit():
                message, line = rest.strip(), int(number)
            else:
                message = message[len(source) + 1 :].strip()
        _PLUGIN_ERRORS[source] = [plugins.PluginError(source, line, message)]
        log.warning("zipline algorithm not loaded: %s", exc)
        return name
    _adopt(source, plugins.LoadedPlugin(source, (cls,)), [])
    return name


def reload_plugin(name: str) -> list[plugins.PluginError]:
    """Load the file of plugin strategy ``name`` again (its code changed); ConfigError if
    ``name`` is not a plugin loaded from a file. Returns that file's errors (empty: reloaded)."""
    source = _SOURCES.get(name)
    if source is None or source.startswith("entry point"):
        raise ConfigError(f"{name!r} is not a strategy loaded from a plugin file")
    before = {n: _REGISTRY[n] for n, s in _SOURCES.items() if s == source}
    for other in before:
        _SOURCES.pop(other)
        _REGISTRY.pop(other, None)
    _PLUGIN_ERRORS.pop(source, None)
    _adopt(source, *plugins.load_file(Path(source)))
    errors = list(_PLUGIN_ERRORS.get(source, []))
    if errors or name not in _REGISTRY:
        for other in [n for n, s in _SOURCES.items() if s == source]:  # keep the old code
            _SOURCES.pop(other)
            _REGISTRY.pop(other, None)
        _REGISTRY.update(before)
        _SOURCES.update(dict.fromkeys(before, source))
        if not errors:
            errors = [plugins.PluginError(source, None, f"no longer defines strategy {name!r}")]
    return errors


def _adopt(
    source: str, loaded: plugins.LoadedPlugin | None, errors: list[plugins.PluginError]
) -> None:
    """Register a plugin's valid strategies; a name already taken is an error of its own."""
    errors = list(errors)
    for cls in loaded.classes if loaded is not None else ():
        existing = _REGISTRY.get(cls.name)
        if existing is not None and existing is not cls and _SOURCES.get(cls.name) != source:
            owner = _SOURCES.get(cls.name, existing.__module__)
            errors.append(
                plugins.PluginError(
                    source,
                    plugins.class_line(cls),
                    f"strategy name {cls.name!r} is taken by {owner}",
                )
            )
            continue
        _REGISTRY[cls.name] = cls
        _SOURCES[cls.name] = source
    # a class that registered itself at import (@register) but failed validation leaves again
    for name, cls in list(_REGISTRY.items()):
        if cls.__module__.startswith(plugins.MODULE_PREFIX) and name not in _SOURCES:
            _REGISTRY.pop(name)
    if errors:
        _PLUGIN_ERRORS[source] = errors
        for e in errors:
            log.warning("strategy plugin not loaded: %s", e)


def forget_plugins() -> None:
    """Unregister every plugin strategy and forget their errors (the next load starts afresh)."""
    global _plugin_folders
    for name in list(_SOURCES):
        _REGISTRY.pop(name, None)
    _SOURCES.clear()
    _PLUGIN_ERRORS.clear()
    _plugin_folders = None


def plugin_errors() -> list[plugins.PluginError]:
    """Every plugin that failed to load or validate, in discovery order."""
    return [e for errs in _PLUGIN_ERRORS.values() for e in errs]


def plugin_source(name: str) -> str | None:
    """The file or entry point strategy ``name`` came from (None: built in)."""
    return _SOURCES.get(name)


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
    load_plugins_for(settings)  # the user's own strategies and zipline algorithms count too
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


def current_params(settings: Any) -> dict[str, dict[str, Any]]:
    """Every available strategy's parameters as configured now (those whose settings do not
    validate are left out)."""
    out = {}
    for name in available_strategies():
        try:
            out[name] = dict(
                create_strategy(name, strategy_settings(settings, name)).param_values()
            )
        except Exception:  # a bad setting is reported where the strategy is used
            continue
    return out
