"""Strategy plugins: your own strategies, found and validated without editing LiveDesk.

A plugin is a Python module defining one or more :class:`~livedesk.backend.strategies.base.
Strategy` subclasses (``@register`` is optional: every concrete subclass defined in the module
is registered). LiveDesk looks, in this order, in

1. ``<config dir>/strategies/*.py``,
2. each folder of ``[strategies] paths = [...]`` (relative paths: from the config dir),
3. the entry-point group ``livedesk.strategies`` of installed packages (an entry point names a
   module or a ``Strategy`` class).

Files named ``test_*.py`` or starting with ``_`` are skipped (a strategy's tests live beside
it). Each source is loaded and validated once per process (:func:`reload_plugin` loads one
again); a broken one is kept as a :class:`PluginError` (``file:line: message``) and never stops
the others.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import logging
import sys
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, dataclass, fields, is_dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from livedesk.backend.config import ConfigError, config_dir
from livedesk.backend.strategies.base import NAME_RE, Strategy

log = logging.getLogger("livedesk.strategies")

ENTRY_POINT_GROUP = "livedesk.strategies"
MODULE_PREFIX = "livedesk_plugin_"
"""Plugin files are imported as ``livedesk_plugin_<stem>_<hash of the path>``."""


@dataclass(frozen=True)
class PluginError:
    """A plugin that could not be loaded or validated, located as ``file:line``."""

    source: str
    """The file (or ``entry point NAME``) the error belongs to."""
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class LoadedPlugin:
    """Strategies one plugin source defined."""

    source: str
    classes: tuple[type[Strategy], ...]


def plugin_folders(paths: Sequence[str | Path] = (), base: Path | None = None) -> list[Path]:
    """``<config dir>/strategies`` then each of ``paths`` (relative ones from ``base``)."""
    base = base or config_dir()
    folders = [base / "strategies"]
    for p in paths:
        folder = Path(p).expanduser()
        folders.append(folder if folder.is_absolute() else base / folder)
    out: list[Path] = []
    for f in folders:
        if f not in out:
            out.append(f)
    return out


def plugin_files(folders: Iterable[Path]) -> list[Path]:
    """The plugin modules of ``folders``, sorted by name (test and private files skipped)."""
    out = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith(("test_", "_")) or not path.is_file():
                continue
            out.append(path)
    return out


def module_name_for(path: Path) -> str:
    """The import name of a plugin file (unique per resolved path)."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"{MODULE_PREFIX}{stem}_{digest}"


def import_file(path: Path) -> ModuleType:
    """Execute ``path`` as a fresh module (replacing an earlier import of the same file)."""
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def error_location(exc: BaseException, path: Path | None) -> int | None:
    """The line of ``path`` where ``exc`` arose (a SyntaxError's own line first)."""
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        return exc.lineno
    if path is None:
        return None
    target = str(path.resolve())
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and str(Path(frame.filename).resolve()) == target:
            line = frame.lineno
    return line


def strategy_classes(module: ModuleType) -> list[type[Strategy]]:
    """Concrete ``Strategy`` subclasses defined in ``module`` (not merely imported)."""
    out = []
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if (
            obj.__module__ == module.__name__  # first: cheap, and skips imported classes
            and obj is not Strategy
            and Strategy in obj.__mro__  # not issubclass: the ABC check grows with every plugin
            and not inspect.isabstract(obj)
        ):
            out.append(obj)
    return sorted(out, key=lambda c: getattr(c, "name", c.__name__))


def class_line(cls: type) -> int | None:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None


def validate_class(cls: type[Strategy]) -> None:
    """Check ``cls`` is a usable strategy; ConfigError says what is wrong."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(
            f"{cls.__name__}.name must be a kebab-case string (e.g. 'my-strategy'), got {name!r}"
        )
    params = getattr(cls, "Params", None)
    if params is None or not is_dataclass(params) or not isinstance(params, type):
        raise ConfigError(f"{cls.__name__}.Params must be a dataclass (the strategy's parameters)")
    missing = [
        f.name for f in fields(params) if f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise ConfigError(f"{cls.__name__}.Params: every parameter needs a default: {missing}")
    if not inspect.iscoroutinefunction(cls.run_once):
        raise ConfigError(f"{cls.__name__}.run_once must be `async def run_once(self, ctx)`")
    strategy = cls()  # the defaults must build, and so must the schedule
    schedule = strategy.schedule
    if not callable(getattr(schedule, "next_run", None)):
        raise ConfigError(
            f"{cls.__name__}.make_schedule() must return a schedule (Intraday, Monthly, Event...)"
        )


def _check(cls: type[Strategy], source: str, path: Path | None) -> PluginError | None:
    try:
        validate_class(cls)
    except Exception as exc:
        line = error_location(exc, path)
        if line is None or isinstance(exc, ConfigError):
            line = class_line(cls)
        message = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
        return PluginError(source, line, message)
    return None


def _validated(
    classes: Sequence[type[Strategy]], source: str, path: Path | None
) -> tuple[LoadedPlugin | None, list[PluginError]]:
    checked = [(c, _check(c, source, path)) for c in classes]
    errors = [e for _, e in checked if e is not None]
    good = tuple(c for c, e in checked if e is None)
    return (LoadedPlugin(source, good) if good else None), errors


def load_file(path: Path) -> tuple[LoadedPlugin | None, list[PluginError]]:
    """Import and validate one plugin file; every failure becomes a :class:`PluginError`."""
    source = str(path)
    try:
        module = import_file(path)
    except Exception as exc:
        line = error_location(exc, path)
        return None, [PluginError(source, line, f"{type(exc).__name__}: {exc}")]
    classes = strategy_classes(module)
    if not classes:
        return None, [PluginError(source, None, "defines no Strategy subclass")]
    return _validated(classes, source, path)


def load_entry_point(ep: EntryPoint) -> tuple[LoadedPlugin | None, list[PluginError]]:
    """Load one ``livedesk.strategies`` entry point (a module or a Strategy class)."""
    source = f"entry point {ep.name} ({ep.value})"
    try:
        obj: Any = ep.load()
    except Exception as exc:
        path = _origin_of(ep)
        line = error_location(exc, path)
        where = str(path) if path is not None and line is not None else source
        return None, [PluginError(where, line, f"{type(exc).__name__}: {exc}")]
    if inspect.isclass(obj) and issubclass(obj, Strategy):
        classes = [obj]
    elif isinstance(obj, ModuleType):
        classes = strategy_classes(obj)
    else:
        return None, [PluginError(source, None, "is neither a module nor a Strategy subclass")]
    if not classes:
        return None, [PluginError(source, None, "defines no Strategy subclass")]
    return _validated(classes, source, _origin_of(ep))


def _origin_of(ep: EntryPoint) -> Path | None:
    try:
        spec = importlib.util.find_spec(ep.module)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def plugin_entry_points() -> list[EntryPoint]:
    """Installed packages' ``livedesk.strategies`` entry points, sorted by name."""
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
