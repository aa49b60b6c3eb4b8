"""Textual ``Binding`` objects built from the backend's action registry (ids, keys, help)."""

from __future__ import annotations

from textual.binding import Binding

from livedesk.backend.console.actions import ActionSpec, actions_in

KEY_DISPLAY = {
    "question_mark": "?",
    "slash": "/",
    "colon": ":",
    "space": "space",
    "enter": "⏎",
    "plus": "+",
    "greater_than_sign": ">",
    "less_than_sign": "<",
}


def key_display(spec: ActionSpec) -> str | None:
    """How the footer shows the default key (``?`` rather than ``question_mark``)."""
    first = spec.key.split(",")[0]
    return KEY_DISPLAY.get(first)


def bindings(scope: str) -> list[Binding]:
    """Bindings of every action in ``scope``, each with its registry id."""
    return [
        Binding(
            a.key,
            a.action,
            a.description,
            show=a.show,
            key_display=key_display(a),
            tooltip=a.help,
            id=a.id,
        )
        for a in actions_in(scope)
    ]
