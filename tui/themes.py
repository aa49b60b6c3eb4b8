"""Themes as data files (``themes/*.toml``), validated at load, and the remembered choice.

A theme file names a Textual theme's colours plus LiveDesk's own variables
(:data:`VARIABLES`). A file that does not parse, misses a key, names an unknown key or
gives a colour Textual cannot parse is skipped with a clear message; the console then falls
back to the default theme. Users may add files in ``<config dir>/themes/``.
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "livedesk-dark"
LIVEDESK_THEMES = ("livedesk-dark", "livedesk-light", "livedesk-high-contrast")
COLOURS = (
    "primary", "secondary", "warning", "error", "success", "accent",
    "foreground", "background", "surface", "panel", "boost",
)  # fmt: skip
VARIABLES = {
    "pnl-up": "#22c55e",
    "pnl-down": "#ef4444",
    "risk-breach": "#f87171",
    "badge-sim": "#0ea5e9",
    "badge-paper": "#22c55e",
    "badge-live": "#dc2626",
    "live-border": "#dc2626",
}
"""LiveDesk's theme variables and their defaults (used by built-in Textual themes too)."""


class ThemeError(ValueError):
    """A theme file is invalid."""


def parse_theme(data: dict, source: str) -> Theme:
    """A :class:`Theme` from a decoded theme file, or :class:`ThemeError` saying what is wrong."""
    known = {"name", "dark", "variables", *COLOURS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ThemeError(f"{source}: unknown key(s) {', '.join(unknown)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{source}: 'name' must be a non-empty string")
    if "primary" not in data:
        raise ThemeError(f"{source}: 'primary' colour is required")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{source}: 'dark' must be true or false")
    colours = {}
    for key in COLOURS:
        if key in data:
            colours[key] = _colour(data[key], f"{source}: {key}")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeError(f"{source}: [variables] must be a table")
    bad = sorted(set(variables) - set(VARIABLES))
    if bad:
        raise ThemeError(
            f"{source}: unknown variable(s) {', '.join(bad)}; known: {', '.join(VARIABLES)}"
        )
    values = {k: _colour(v, f"{source}: variables.{k}") for k, v in variables.items()}
    return Theme(name=name.strip(), dark=dark, variables=values, **colours)


def _colour(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ThemeError(f"{where} must be a colour string, got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise ThemeError(f"{where}: {value!r} is not a colour") from exc
    return value


def load_theme_file(path: Path | str, text: str | None = None) -> Theme:
    """Read and validate one theme file."""
    source = str(path)
    try:
        data = tomllib.loads(text if text is not None else Path(path).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ThemeError(f"{source}: {exc}") from exc
    return parse_theme(data, source)


def load_themes(extra_dirs: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """The packaged themes plus any in ``extra_dirs``; returns (themes, error messages)."""
    themes: list[Theme] = []
    errors: list[str] = []
    packaged = resources.files("livedesk.themes")
    sources: list[tuple[str, str | None, Path | None]] = []
    for entry in sorted(packaged.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            sources.append((f"themes/{entry.name}", entry.read_text("utf-8"), None))
    for d in extra_dirs or []:
        if d.is_dir():
            sources += [(str(p), None, p) for p in sorted(d.glob("*.toml"))]
    for name, text, path in sources:
        try:
            themes.append(load_theme_file(path or name, text))
        except ThemeError as exc:
            errors.append(str(exc))
    return themes, errors


def remembered_theme(state_file: Path) -> str | None:
    """The theme chosen last time (None when never chosen or unreadable)."""
    try:
        value = json.loads(state_file.read_text("utf-8")).get("theme")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def remember_theme(state_file: Path, name: str) -> None:
    """Remember ``name`` for the next start (atomic write)."""
    try:
        data = json.loads(state_file.read_text("utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data["theme"] = name
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), "utf-8")
    tmp.replace(state_file)
