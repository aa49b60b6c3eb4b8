"""The console's action registry: every key binding's id, default key and description.

The TUI builds its ``Binding`` objects from :data:`ACTIONS`, so the footer, the command
palette, the help screen and the ``[keys]`` overrides in ``config.toml`` all name the same
ids. This module has no Textual import so that settings can validate ``[keys]`` at load.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    """One console action.

    ``scope`` says where the binding lives: ``app`` (anywhere), ``table`` (every table pane),
    or a pane name (``positions``, ``orders``, ``equity``, ``strategies``).
    """

    id: str
    key: str
    action: str
    description: str
    scope: str = "app"
    show: bool = True
    help: str = ""


PANES = ("positions", "orders", "equity", "risk", "strategies", "log", "watchlist")
"""Pane ids in display order; pane N (1-7) is ``PANES[N - 1]``."""

PANE_TITLES = {
    "positions": "Positions",
    "orders": "Orders",
    "equity": "Equity",
    "risk": "Risk",
    "strategies": "Strategies",
    "log": "Log",
    "watchlist": "Watchlist",
}

ACTIONS: tuple[ActionSpec, ...] = (
    *(
        ActionSpec(
            f"pane.{name}",
            str(i),
            f"show_pane('{name}')",
            PANE_TITLES[name],
            show=False,
            help=f"jump to the {PANE_TITLES[name]} pane",
        )
        for i, name in enumerate(PANES, start=1)
    ),
    ActionSpec("help", "question_mark,f1", "help", "Help", help="help for the focused pane"),
    ActionSpec(
        "kill_switch",
        "ctrl+k",
        "kill_switch",
        "Kill",
        help="cancel every order and halt every strategy (typed confirmation)",
    ),
    ActionSpec(
        "command_line",
        "colon",
        "command_line",
        "Command",
        show=False,
        help="command line: buy AAPL 100 lmt 180, close AAPL, cancel all",
    ),
    ActionSpec(
        "order_ticket",
        "o",
        "order_ticket",
        "Ticket",
        show=False,
        help="order ticket (on the selected position's contract): preview, then shift+b sends",
    ),
    ActionSpec(
        "fast_forward",
        "f",
        "fast_forward",
        "Fast-forward the demo",
        show=False,
        help="run the strategies over 22 demo sessions at top speed (demo only)",
    ),
    ActionSpec("freeze", "Z", "freeze", "Freeze", help="freeze / resume screen updates"),
    ActionSpec("follow", "F", "follow", "Follow", help="keep the cursor on the newest row"),
    ActionSpec("combo", "c", "combo_builder", "Combo", help="open the option combo builder"),
    ActionSpec("theme", "t", "next_theme", "Theme", show=False, help="cycle the LiveDesk themes"),
    ActionSpec(
        "quit", "q", "quit_console", "Quit", help="quit (asks while strategies or orders run)"
    ),
    ActionSpec(
        "demo_speed",
        "greater_than_sign",
        "demo_speed(1)",
        "Faster",
        show=False,
        help="demo: the simulated clock one step faster (pause 1× 10× 60× 600× 3600×)",
    ),
    ActionSpec(
        "demo_slower",
        "less_than_sign",
        "demo_speed(-1)",
        "Slower",
        show=False,
        help="demo: the simulated clock one step slower (down to pause)",
    ),
    ActionSpec("sort", "s", "sort", "Sort", scope="table", help="cycle the sort column"),
    ActionSpec("filter", "slash", "filter", "Filter", scope="table", help="filter rows by text"),
    ActionSpec("cursor_up", "up,k", "cursor(-1)", "Up", scope="table", show=False),
    ActionSpec("cursor_down", "down,j", "cursor(1)", "Down", scope="table", show=False),
    ActionSpec("page_up", "pageup", "page(-1)", "Page up", scope="table", show=False),
    ActionSpec("page_down", "pagedown", "page(1)", "Page down", scope="table", show=False),
    ActionSpec("first_row", "home,g", "edge(0)", "First row", scope="table", show=False),
    ActionSpec("last_row", "end,G", "edge(1)", "Last row", scope="table", show=False),
    ActionSpec(
        "cancel_order",
        "x",
        "cancel_order",
        "Cancel",
        scope="orders",
        help="cancel the selected order",
    ),
    ActionSpec(
        "cancel_all",
        "C",
        "cancel_all",
        "Cancel all",
        scope="orders",
        help="cancel every working order (typed confirmation)",
    ),
    ActionSpec(
        "modify_order",
        "m",
        "modify_order",
        "Modify",
        scope="orders",
        help="modify the selected working order's price and/or quantity (previewed)",
    ),
    ActionSpec(
        "close_position",
        "X",
        "close_position",
        "Close",
        scope="positions",
        help="close the selected position at market (a combo as its BAG), previewed",
    ),
    ActionSpec(
        "flatten_strategy",
        "X",
        "flatten_strategy",
        "Flatten",
        scope="strategies",
        help="close every position of the selected strategy and stop it (type FLATTEN)",
    ),
    ActionSpec(
        "window", "w", "cycle_window", "Window", scope="equity", help="session / week / all history"
    ),
    ActionSpec(
        "subject",
        "a",
        "cycle_subject",
        "Account/strategy",
        scope="equity",
        help="show the account or one strategy",
    ),
    ActionSpec(
        "attribution",
        "a",
        "attribution",
        "Attribution",
        scope="risk",
        help="why live differs from the backtest: waterfall and top trades per strategy",
    ),
    ActionSpec(
        "toggle_strategy",
        "space",
        "toggle_strategy",
        "Start/stop",
        scope="strategies",
        help="start or stop the selected strategy",
    ),
    ActionSpec(
        "run_now",
        "r",
        "run_now",
        "Run now",
        scope="strategies",
        help="run the selected strategy now",
    ),
    ActionSpec(
        "reload",
        "ctrl+r",
        "reload_strategy",
        "Reload code",
        scope="strategies",
        show=False,
        help="load a stopped plugin strategy's code again, without restarting",
    ),
    ActionSpec(
        "detail",
        "enter",
        "detail",
        "Detail",
        scope="strategies",
        help="parameters, recent decisions, errors and risk of the selected strategy",
    ),
    ActionSpec(
        "executions",
        "e",
        "toggle_executions",
        "Executions",
        scope="orders",
        help="switch between the orders and the executions (every fill, with the journal's)",
    ),
    ActionSpec(
        "watchlist_add",
        "plus",
        "add_symbol",
        "Add",
        scope="watchlist",
        help="add a symbol to the watchlist (AAPL, CL F27, SPY 31DEC26 528 C)",
    ),
    ActionSpec(
        "watchlist_remove",
        "d",
        "remove_symbol",
        "Remove",
        scope="watchlist",
        help="remove the selected symbol (its market data is cancelled)",
    ),
    ActionSpec(
        "watchlist_ticket",
        "enter",
        "open_ticket",
        "Ticket",
        scope="watchlist",
        help="open an order on the selected symbol",
    ),
    ActionSpec(
        "log_line",
        "enter",
        "show_line",
        "Full line",
        scope="log",
        help="show the whole selected Log line",
    ),
)

ACTION_IDS = frozenset(a.id for a in ACTIONS)

_KEY = re.compile(r"^(?:(?:ctrl|alt|shift|meta|super|hyper)\+)*[A-Za-z0-9_]+$|^[^\s,]$")


def actions_in(scope: str) -> list[ActionSpec]:
    """Actions bound in ``scope``."""
    return [a for a in ACTIONS if a.scope == scope]


def validate_keymap(keymap: Mapping[str, object]) -> dict[str, str]:
    """Check ``[keys]`` overrides (binding id → key or comma-separated keys).

    Raises ``ValueError`` naming the bad entry: an unknown id, an empty or malformed key, or
    one key given to two actions of the same scope.
    """
    out: dict[str, str] = {}
    for action_id, keys in keymap.items():
        if action_id not in ACTION_IDS:
            raise ValueError(
                f"unknown key binding id {action_id!r}; known: {', '.join(sorted(ACTION_IDS))}"
            )
        if not isinstance(keys, str) or not keys.strip():
            raise ValueError(f"[keys] {action_id} must be a non-empty string, got {keys!r}")
        parts = [k.strip() for k in keys.split(",")]
        bad = [k for k in parts if not _KEY.match(k)]
        if bad:
            raise ValueError(f"[keys] {action_id} = {keys!r}: {bad[0]!r} is not a key name")
        out[action_id] = ",".join(parts)
    effective = [(a.id, a.scope, out.get(a.id, a.key).split(",")) for a in ACTIONS]
    for i, (id_a, scope_a, keys_a) in enumerate(effective):
        for id_b, scope_b, keys_b in effective[i + 1 :]:
            if id_a not in out and id_b not in out:
                continue
            if scope_a != scope_b and "app" not in (scope_a, scope_b):
                continue
            common = set(keys_a) & set(keys_b)
            if common:
                raise ValueError(
                    f"[keys] key {sorted(common)[0]!r} is given to both {id_a!r} and {id_b!r}"
                )
    return out
