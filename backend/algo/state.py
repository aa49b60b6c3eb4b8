"""The algorithm's ``context`` attributes, kept in the journal between runs.

Attributes are encoded as JSON: numbers, strings, booleans, None, lists, tuples, dicts with
string keys, zipline assets (by sid), dates and timestamps. An attribute that cannot be
encoded (an open file, a model object) is not persisted and is listed by name, so a cron
``--once`` tomorrow continues where today's stopped (a ``has_ordered`` flag stays set).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

STATE_KEY = "algo"


class NotEncodable(TypeError):
    """A value that the journal cannot keep."""


def encode(value: Any) -> Any:
    """``value`` as JSON-safe data (:class:`NotEncodable` when it has no form)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    sid = getattr(value, "sid", None)
    if sid is not None and hasattr(value, "symbol") and hasattr(value, "exchange"):
        return {"__asset__": int(sid)}
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():  # numpy scalar
        return encode(value.item())
    if isinstance(value, dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    if isinstance(value, list | tuple):
        items = [encode(v) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NotEncodable("dict keys must be strings")
        return {"__dict__": {k: encode(v) for k, v in value.items()}}
    if isinstance(value, set | frozenset):
        return {"__set__": [encode(v) for v in value]}
    raise NotEncodable(type(value).__name__)


def decode(value: Any, asset: Callable[[int], Any]) -> Any:
    """The inverse of :func:`encode`; ``asset(sid)`` rebuilds an asset."""
    if isinstance(value, list):
        return [decode(v, asset) for v in value]
    if not isinstance(value, dict):
        return value
    if "__asset__" in value:
        return asset(int(value["__asset__"]))
    if "__float__" in value:
        return float(value["__float__"])
    if "__datetime__" in value:
        import pandas as pd

        return pd.Timestamp(value["__datetime__"])
    if "__date__" in value:
        return dt.date.fromisoformat(value["__date__"])
    if "__tuple__" in value:
        return tuple(decode(v, asset) for v in value["__tuple__"])
    if "__set__" in value:
        return {decode(v, asset) for v in value["__set__"]}
    if "__dict__" in value:
        return {k: decode(v, asset) for k, v in value["__dict__"].items()}
    return value


def snapshot(attributes: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(encoded attributes, names that could not be kept)."""
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in sorted(attributes.items()):
        if callable(value) and not hasattr(value, "sid"):
            continue  # functions and classes are code, not state
        try:
            kept[name] = encode(value)
        except NotEncodable:
            dropped.append(name)
    return kept, dropped
