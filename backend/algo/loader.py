"""Load a zipline algorithm file: refuse unsupported API calls (an AST scan) before running it.

The scan reads the file without executing it. It finds every name imported from
``zipline.api`` (``from zipline.api import order`` or ``zipline.api.order`` /
``api.order`` through an imported module) and every method called on a parameter named
``context`` or ``data``, and refuses, naming the call and its line, whatever the live
adapter does not implement (``fetch_csv``, ``continuous_future``, ``set_max_leverage`` ...).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from livedesk.backend.config import ConfigError

SUPPORTED_API = frozenset(
    {
        "attach_pipeline",
        "cancel_order",
        "date_rules",
        "get_datetime",
        "get_environment",
        "get_open_orders",
        "get_order",
        "order",
        "order_percent",
        "order_target",
        "order_target_percent",
        "order_target_value",
        "order_value",
        "pipeline_output",
        "record",
        "schedule_function",
        "set_benchmark",
        "set_commission",
        "set_slippage",
        "sid",
        "symbol",
        "symbols",
        "time_rules",
        "calendars",
    }
)
"""``zipline.api`` names the live adapter implements."""
BACKTEST_ONLY = frozenset({"set_commission", "set_slippage", "set_benchmark"})
"""Accepted and noted: costs and the benchmark are the broker's live."""
CONTEXT_ATTRIBUTES = frozenset({"portfolio", "account", "recorded_vars"})
DATA_METHODS = frozenset({"current", "history", "can_trade", "is_stale"})
ENTRY_POINTS = ("initialize", "handle_data", "before_trading_start")


@dataclass(frozen=True)
class Unsupported:
    """One refused call: its name and line."""

    name: str
    line: int

    def __str__(self) -> str:
        return f"line {self.line}: {self.name} is not supported live"


class AlgoError(ConfigError):
    """An algorithm file cannot run live; the message names the file, line and call."""


def _api_names() -> frozenset[str]:
    """Every ``TradingAlgorithm`` API method name (known without importing zipline)."""
    return SUPPORTED_API | {
        "batch_market_order",
        "continuous_future",
        "fetch_csv",
        "future_symbol",
        "history",
        "set_asset_restrictions",
        "set_cancel_policy",
        "set_do_not_order_list",
        "set_long_only",
        "set_max_leverage",
        "set_max_order_count",
        "set_max_order_size",
        "set_max_position_size",
        "set_min_leverage",
        "set_symbol_lookup_date",
        "get_environment",
    }


class _Scan(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[Unsupported] = []
        self.api_aliases: dict[str, str] = {}  # local name -> zipline.api name
        self.api_modules: set[str] = set()  # local names bound to the zipline.api module
        self.star_line: int | None = None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "zipline.api":
            for a in node.names:
                if a.name == "*":
                    self.star_line = node.lineno
                    continue
                self.api_aliases[a.asname or a.name] = a.name
                if a.name not in SUPPORTED_API:
                    self.found.append(Unsupported(a.name, node.lineno))
        elif node.module == "zipline":
            for a in node.names:
                if a.name == "api":
                    self.api_modules.add(a.asname or "api")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name == "zipline.api" and a.asname:
                self.api_modules.add(a.asname)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Attribute):
            owner = f.value
            if isinstance(owner, ast.Name) and owner.id in self.api_modules:
                self._api(f.attr, node.lineno)
            elif (
                isinstance(owner, ast.Attribute)
                and owner.attr == "api"
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "zipline"
            ):
                self._api(f.attr, node.lineno)
            elif isinstance(owner, ast.Name) and owner.id == "context":
                if f.attr in _api_names() and f.attr not in SUPPORTED_API:
                    self.found.append(Unsupported(f"context.{f.attr}", node.lineno))
            elif isinstance(owner, ast.Name) and owner.id == "data":
                if f.attr not in DATA_METHODS:
                    self.found.append(Unsupported(f"data.{f.attr}", node.lineno))
        elif isinstance(f, ast.Name) and f.id in self.api_aliases:
            self._api(self.api_aliases[f.id], node.lineno)
        elif isinstance(f, ast.Name) and self.star_line is not None and f.id in _api_names():
            self._api(f.id, node.lineno)
        self.generic_visit(node)

    def _api(self, name: str, line: int) -> None:
        if name not in SUPPORTED_API:
            self.found.append(Unsupported(name, line))


def scan_source(source: str, filename: str = "<algorithm>") -> list[Unsupported]:
    """Every unsupported zipline call in ``source`` (SyntaxError propagates)."""
    tree = ast.parse(source, filename)
    scan = _Scan()
    scan.visit(tree)
    return sorted(set(scan.found), key=lambda u: (u.line, u.name))


def check_file(path: Path) -> str:
    """The file's source; :class:`AlgoError` (``file:line: ...``) when it cannot run live."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AlgoError(f"{path}: cannot read the algorithm: {exc.strerror or exc}") from exc
    try:
        found = scan_source(source, str(path))
    except SyntaxError as exc:
        raise AlgoError(f"{path}:{exc.lineno}: SyntaxError: {exc.msg}") from exc
    if found:
        lines = [f"{path}:{u.line}: {u.name} is not supported live" for u in found]
        raise AlgoError("\n".join(lines))
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if "initialize" not in defined:
        raise AlgoError(f"{path}: defines no initialize(context)")
    return source


def load_algorithm(path: str | Path) -> ModuleType:
    """Check then import the algorithm file (a fresh module each call)."""
    from livedesk.backend.strategies.plugins import error_location, import_file

    path = Path(path).expanduser().resolve()
    check_file(path)
    try:
        return import_file(path)
    except Exception as exc:
        line = error_location(exc, path)
        where = f"{path}:{line}" if line else str(path)
        raise AlgoError(f"{where}: {type(exc).__name__}: {exc}") from exc


def algo_name(path: str | Path) -> str:
    """The kebab-case strategy name of an algorithm file (``buy_and_hold.py`` -> ``buy-and-hold``)."""
    stem = Path(path).stem.lower()
    out = "".join(c if c.isalnum() else "-" for c in stem).strip("-")
    while "--" in out:
        out = out.replace("--", "-")
    if not out or not out[0].isalpha():
        out = f"algo-{out}".rstrip("-")
    return out
