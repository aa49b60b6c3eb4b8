"""Settings: defaults, then ``config.toml`` in the user config dir, then ``LIVEDESK_*`` env vars, then flags.

Example ``~/.config/livedesk/config.toml``::

    [broker]
    host = "127.0.0.1"
    port = 4002
    client_id = 1

    [sim]
    seed = 7
    speed = 1.0

    [guard]
    max_order_notional = 250000
"""

from __future__ import annotations

import logging
import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from livedesk.backend.console.actions import validate_keymap

APP = "livedesk"


class ConfigError(ValueError):
    """The settings file or an override is invalid."""


@dataclass(frozen=True)
class BrokerSettings:
    """Where the IB API lives and who we are to it."""

    host: str = "127.0.0.1"
    """TWS / IB Gateway host. Naming a broker here (or by ``LIVEDESK_HOST`` /
    ``LIVEDESK_PORT``) makes bare ``livedesk`` connect to it instead of the demo."""
    port: int = 4002
    """API port: 7497 TWS paper, 7496 TWS live, 4002 IB Gateway paper, 4001 IB Gateway live."""
    client_id: int = 1
    """API client id (1..2³¹-1; 0 is TWS's own manual-order client)."""
    fallback_client_id: int = 11
    """The client id used when ``client_id`` is already in use (IB error 326)."""
    account: str = ""
    """The account id: names its journal (``journal-ACCOUNT.sqlite3``) before connecting."""
    timeout: float = 4.0
    """Seconds to wait for the API handshake."""

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise ConfigError("[broker] host is empty")
        if not 0 < self.port < 65536:
            raise ConfigError(f"[broker] port = {self.port} is not a TCP port (1..65535)")
        for name in ("client_id", "fallback_client_id"):
            value = getattr(self, name)
            if not 0 < value < 2**31:
                raise ConfigError(
                    f"[broker] {name} = {value} must be a positive integer "
                    "(0 is TWS's own manual-order client id)"
                )
        if self.fallback_client_id == self.client_id:
            raise ConfigError(
                f"[broker] fallback_client_id = {self.fallback_client_id} must differ from "
                f"client_id: it is used when client_id is already in use (error 326)"
            )
        if not 0 < self.timeout < math.inf:
            raise ConfigError(f"[broker] timeout = {self.timeout} must be a finite number > 0 s")


@dataclass(frozen=True)
class SimSettings:
    """The embedded simulated gateway."""

    seed: int = 7
    """Market seed: the same seed gives the same prices."""
    speed: float = 1.0
    """Simulated seconds per real second (0 freezes the clock)."""
    account: str = "DU0000001"
    """The demo account id (a paper ``DU`` id)."""
    state_file: str = ""
    """Where the demo gateway keeps positions, cash, orders, fills and its clock (default:
    ``demo/gateway-ACCOUNT.json`` in the user data directory)."""

    def __post_init__(self) -> None:
        if not 0 <= self.speed < math.inf:
            raise ConfigError(
                f"[sim] speed = {self.speed} must be a finite number >= 0 (0 = frozen clock)"
            )


@dataclass(frozen=True)
class RebalanceSettings:
    """``[rebalance]``: the tolerance band — a leg whose delta is at most ``band_shares``
    or ``band_percent`` % of its target quantity sends nothing (0 = exact)."""

    band_shares: float = 0.0
    """A leg whose delta is at most this many shares (or contracts) sends nothing."""
    band_percent: float = 0.0
    """A leg whose delta is at most this % of its target quantity sends nothing."""

    def __post_init__(self) -> None:
        for name in ("band_shares", "band_percent"):
            value = getattr(self, name)
            if not 0 <= value < float("inf"):
                raise ConfigError(f"[rebalance] {name} = {value} must be a finite number >= 0")


@dataclass(frozen=True)
class RiskSettings:
    """``[risk]``: when risk figures mean something."""

    min_sessions: int = 20
    """Daily returns needed before annualised figures (Sharpe, volatility, drag/yr…) show."""
    execution_z: float = 3.0
    """The execution divergence test (beside the Sharpe band): raised when a strategy's live
    cost per trade (spread and impact against the mid, bps) exceeds the cost its backtest
    reference models by more than this many standard errors of the live mean (one-sided)…"""
    execution_min_bps: float = 2.0
    """…and by at least this many bps a trade (a material margin, not only a significant one)."""
    execution_min_trades: int = 20
    """Trades (filled orders) a strategy needs before the execution test is made."""

    def __post_init__(self) -> None:
        if not self.min_sessions >= 2:
            raise ConfigError(f"[risk] min_sessions = {self.min_sessions} must be at least 2")
        if not (math.isfinite(self.execution_z) and self.execution_z > 0):
            raise ConfigError(f"[risk] execution_z = {self.execution_z} must be above 0")
        if not (math.isfinite(self.execution_min_bps) and self.execution_min_bps >= 0):
            raise ConfigError(
                f"[risk] execution_min_bps = {self.execution_min_bps} must be 0 or more"
            )
        if not self.execution_min_trades >= 2:
            raise ConfigError(
                f"[risk] execution_min_trades = {self.execution_min_trades} must be at least 2"
            )


@dataclass(frozen=True)
class WatchlistSettings:
    """``[watchlist]``: the symbols the Watchlist pane starts with."""

    symbols: tuple[str, ...] = ()
    """Contracts as the command line reads them (``["AAPL", "CL F27", "SPY 31DEC26 528 C"]``);
    ``+`` and ``d`` in the pane add and remove, remembered in ``watchlist.json``."""


@dataclass(frozen=True)
class Settings:
    """Every LiveDesk setting."""

    broker: BrokerSettings = field(default_factory=BrokerSettings)
    sim: SimSettings = field(default_factory=SimSettings)
    guard: dict[str, float] = field(default_factory=dict)
    theme: str = "livedesk-dark"
    """The console theme (``livedesk-dark``, ``livedesk-light``, ``livedesk-high-contrast`` or
    one of ``<config dir>/themes/*.toml``); the last one chosen in the console wins."""
    log_level: str = "INFO"
    """Level of ``livedesk.log`` in the user state directory: DEBUG, INFO, WARNING, ERROR or
    CRITICAL."""
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``[strategies.NAME]`` tables, checked by ``livedesk.backend.strategies.create_strategy``."""
    strategy_paths: tuple[str, ...] = ()
    """``[strategies] paths``: more folders of strategy plugins (relative: from the config dir)."""
    keys: dict[str, str] = field(default_factory=dict)
    """Console key overrides: binding id → key(s), from ``[keys]`` (validated at load)."""
    broker_configured: bool = False
    """True when ``[broker]`` or ``LIVEDESK_HOST`` / ``LIVEDESK_PORT`` names a broker."""
    risk: RiskSettings = field(default_factory=RiskSettings)
    rebalance: RebalanceSettings = field(default_factory=lambda: RebalanceSettings())
    watchlist: WatchlistSettings = field(default_factory=WatchlistSettings)

    def rebalance_band(self):
        """The ``[rebalance]`` tolerance band as a :class:`RebalanceBand`."""
        from livedesk.backend.trading.orders import RebalanceBand

        return RebalanceBand(self.rebalance.band_shares, self.rebalance.band_percent)

    def guard_limits(self):
        """The pre-trade limits of the ``[guard]`` section (defaults for missing keys)."""
        from livedesk.backend.trading.guard import GuardLimits

        return GuardLimits.from_mapping(self.guard)


def config_dir() -> Path:
    """The user config directory (``LIVEDESK_CONFIG_DIR`` overrides)."""
    return Path(os.environ.get("LIVEDESK_CONFIG_DIR") or platformdirs.user_config_dir(APP))


def state_dir() -> Path:
    """The user state directory for logs (``LIVEDESK_STATE_DIR`` overrides)."""
    return Path(os.environ.get("LIVEDESK_STATE_DIR") or platformdirs.user_state_dir(APP))


def data_dir() -> Path:
    """The user data directory for the journal (``LIVEDESK_DATA_DIR`` overrides)."""
    return Path(os.environ.get("LIVEDESK_DATA_DIR") or platformdirs.user_data_dir(APP))


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECTIONS = ("broker", "sim", "guard", "keys", "strategies", "rebalance", "risk", "watchlist")
TOP_LEVEL_KEYS = ("theme", "log_level")
"""Keys at the top of ``config.toml``, outside any table."""

BROKER_ENV = {
    "LIVEDESK_HOST": "host",
    "LIVEDESK_PORT": "port",
    "LIVEDESK_CLIENT_ID": "client_id",
    "LIVEDESK_ACCOUNT": "account",
}
"""Environment variables that override a ``[broker]`` key."""

ENVIRONMENT = {
    **{var: f"[broker] {key}" for var, key in BROKER_ENV.items()},
    "LIVEDESK_SEED": "[sim] seed",
    "LIVEDESK_CONFIG_DIR": "the user config directory (config.toml, themes/, strategies/)",
    "LIVEDESK_DATA_DIR": "the user data directory (journals, demo account, bundles)",
    "LIVEDESK_STATE_DIR": "the user state directory (livedesk.log, console.json, screenshots)",
}
"""Every ``LIVEDESK_*`` variable LiveDesk reads and what it sets."""


def check_port(value: object, name: str, *, allow_zero: bool = False) -> int:
    """A TCP port (``allow_zero``: 0 picks a free one); ConfigError naming ``name``."""
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 65535:
        raise ConfigError(f"{name} {value!r} is not a TCP port ({low}..65535)")
    return value


def check_client_id(value: object, name: str) -> int:
    """An API client id: 1..2³¹-1 (0 is TWS's own manual-order id)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ConfigError(
            f"{name} {value!r} must be a positive integer (0 is TWS's manual-order client id)"
        )
    return value


def check_number(value: object, name: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    """A finite number above ``minimum`` (or at least it when not ``strict``)."""
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > minimum if strict else value >= minimum)
    )
    if not ok:
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ConfigError(f"{name} {value!r} must be a finite number {bound}")
    return float(value)


def _table(raw: dict[str, Any], section: str) -> dict[str, Any]:
    value = raw.get(section, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{section}] must be a table, got {value!r}")
    return dict(value)


def read_config(path: Path) -> dict[str, Any]:
    """The TOML table in ``path``; ConfigError for a directory, unreadable, non-UTF-8 or
    invalid TOML file (nothing is written)."""
    if path.is_dir():
        raise ConfigError(f"--config {path} is a directory; give the config.toml file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


CREDENTIAL_KEYS = frozenset({"password", "passwd", "pin", "secret", "token", "username", "user"})
"""Keys refused anywhere in the settings: LiveDesk never stores a credential."""


def _coerce(section: str, cls: type, raw: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in raw.items():
        if key.lower() in CREDENTIAL_KEYS:
            raise ConfigError(
                f"[{section}] {key}: LiveDesk never stores credentials; log in to TWS or "
                "IB Gateway itself (the API needs no password)"
            )
        if key not in known:
            raise ConfigError(
                f"unknown setting [{section}] {key}; known: {', '.join(sorted(known))}"
            )
        typ = type(getattr(cls(), key))
        if isinstance(value, bool) or (typ is int and isinstance(value, float)):
            raise ConfigError(f"[{section}] {key} = {value!r} is not a valid {typ.__name__}")
        try:
            values[key] = typ(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"[{section}] {key} = {value!r} is not a valid {typ.__name__}"
            ) from exc
    return cls(**values)


def _guard_section(raw: object) -> dict[str, float]:
    """The ``[guard]`` table checked key by key: ConfigError names the first bad one."""
    from livedesk.backend.trading.guard import GuardLimits

    if not isinstance(raw, dict):
        raise ConfigError(f"[guard] must be a table of limits, got {raw!r}")
    known = {f.name for f in fields(GuardLimits)}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"unknown setting [guard] {key}; known: {', '.join(sorted(known))}")
        try:
            GuardLimits.from_mapping({key: value})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[guard] {key} = {value!r} is invalid: {exc}") from exc
    return dict(raw)


def _strategy_paths(raw: object) -> tuple[str, ...]:
    """``[strategies] paths``: a list of folder names."""
    if not isinstance(raw, list) or not all(isinstance(p, str) and p.strip() for p in raw):
        raise ConfigError(f"[strategies] paths must be a list of folders, got {raw!r}")
    return tuple(raw)


def _watchlist_section(raw: dict[str, Any]) -> WatchlistSettings:
    """``[watchlist]``: ``symbols``, each checked as the order ticket reads a contract."""
    table = _table(raw, "watchlist")
    unknown = sorted(set(table) - {"symbols"})
    if unknown:
        raise ConfigError(f"unknown setting [watchlist] {unknown[0]}; known: symbols")
    if "symbols" not in table:
        return WatchlistSettings()
    import datetime as dt

    from livedesk.backend.console.watchlist import check_symbols

    try:
        return WatchlistSettings(check_symbols(table["symbols"], dt.date.today()))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def load_settings(
    path: Path | None = None, env: dict[str, str] | None = None, *, required: bool = False
) -> Settings:
    """Settings from the TOML file (if present) and environment overrides.

    Every value is checked here, whatever its source (file or ``LIVEDESK_*`` variable):
    ConfigError names the key or the variable. ``required``: the file was named by the
    user (``--config``), so a missing one is an error.
    """
    named = path is not None
    path = path or config_dir() / "config.toml"
    env = dict(os.environ) if env is None else env
    raw: dict[str, Any] = {}
    if required and named and not path.exists():
        raise ConfigError(f"--config {path}: no such file")
    if path.exists():
        if path.is_file() and path.stat().st_mode & 0o077:
            logging.getLogger("livedesk.config").warning(
                "%s is readable by other users; run: chmod 600 %s", path, path
            )
        raw = read_config(path)
    broker = _table(raw, "broker")
    sim = _table(raw, "sim")
    from_env: dict[str, str] = {}
    for var, key in BROKER_ENV.items():
        if var in env:
            broker[key] = env[var].strip() if key in ("port", "client_id") else env[var]
            from_env[key] = var
    if "LIVEDESK_SEED" in env:
        sim["seed"] = env["LIVEDESK_SEED"].strip()
        from_env["seed"] = "LIVEDESK_SEED"
    guard = _guard_section(raw.get("guard", {}))
    keys = raw.get("keys", {})
    if not isinstance(keys, dict):
        raise ConfigError('[keys] must be a table of binding id = "key"')
    try:
        keys = validate_keymap(keys)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    strategies = raw.get("strategies", {})
    if not isinstance(strategies, dict):
        raise ConfigError("[strategies] takes one [strategies.NAME] table per strategy")
    strategies = dict(strategies)
    strategy_paths = _strategy_paths(strategies.pop("paths", []))
    if not all(isinstance(v, dict) for v in strategies.values()):
        raise ConfigError("[strategies] takes one [strategies.NAME] table per strategy")
    top = {k: v for k, v in raw.items() if k not in SECTIONS}
    try:
        settings = Settings(
            _coerce("broker", BrokerSettings, broker), _coerce("sim", SimSettings, sim), dict(guard)
        )
    except ConfigError as exc:
        names = [var for key, var in from_env.items() if key in str(exc)]
        if names:
            raise ConfigError(f"{exc} (set by the environment: {', '.join(names)})") from exc
        raise
    for key in TOP_LEVEL_KEYS:
        if key in top:
            value = top.pop(key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{key} = {value!r} must be a non-empty string")
            settings = replace(settings, **{key: value})
    if settings.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"log_level = {settings.log_level!r} is not a log level; use one of "
            + ", ".join(LOG_LEVELS)
        )
    for key in top:
        if key.lower() in CREDENTIAL_KEYS:
            raise ConfigError(f"{key}: LiveDesk never stores credentials")
    configured = bool(raw.get("broker")) or any(f"LIVEDESK_{k}" in env for k in ("HOST", "PORT"))
    rebalance = _coerce("rebalance", RebalanceSettings, _table(raw, "rebalance"))
    settings = replace(settings, keys=keys, broker_configured=configured, rebalance=rebalance)
    settings = replace(
        settings,
        strategies={k: dict(v) for k, v in strategies.items()},
        strategy_paths=strategy_paths,
    )
    settings = replace(settings, risk=_coerce("risk", RiskSettings, _table(raw, "risk")))
    settings = replace(settings, watchlist=_watchlist_section(raw))
    if top:
        raise ConfigError(
            f"unknown settings: {', '.join(sorted(top))}; known: "
            + ", ".join(sorted((*SECTIONS, "theme", "log_level")))
        )
    return settings


def write_config(text: str, path: Path | None = None) -> Path:
    """Write ``config.toml`` user-only (0600, in a 0700 dir), atomically; it is validated first."""
    from livedesk.backend.files import private_dir

    path = path or config_dir() / "config.toml"
    private_dir(path.parent, tighten=path.parent == config_dir())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    try:
        load_settings(tmp, env={})
    except ConfigError:
        tmp.unlink()
        raise
    os.replace(tmp, path)
    return path


def setup_logging(level: str = "INFO", filename: str = "livedesk.log") -> Path:
    """Log to a rotating file in the user state dir; returns its path."""
    from livedesk.backend.files import PrivateRotatingFileHandler, private_dir, private_file

    directory = private_dir(state_dir(), tighten=True)
    path = private_file(directory / filename)
    handler = PrivateRotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    return path
