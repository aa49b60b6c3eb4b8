"""List, describe, clean and load the bundles under the LiveDesk data dir."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from livedesk.backend.bundles.paths import (
    META_FILE,
    BundleError,
    bundle_dir,
    check_name,
    zipline_root,
    zipline_root_env,
)
from livedesk.backend.bundles.writer import dir_bytes, remove_tree


@dataclass(frozen=True)
class BundleInfo:
    """One bundle: its newest ingestion's metadata and how many ingestions are kept."""

    name: str
    ingestions: tuple[str, ...]
    meta: dict
    bytes: int

    @property
    def latest(self) -> str:
        return self.ingestions[-1]


def _ingestions(name: str) -> list[str]:
    folder = bundle_dir(name)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_meta(name: str, ingestion: str) -> dict:
    """The LiveDesk metadata of one ingestion ({} when zipline wrote it without us)."""
    path = bundle_dir(name) / ingestion / META_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def bundle_info(name: str) -> BundleInfo:
    """The bundle ``name``; BundleError naming the fix when it has never been ingested."""
    check_name(name)
    found = _ingestions(name)
    if not found:
        hint = (
            "livedesk bundle ingest --demo"
            if name == "demo"
            else (f"livedesk bundle ingest --csv PATH --name {name}")
        )
        raise BundleError(f"no bundle named {name!r} under {zipline_root()}; run `{hint}`")
    return BundleInfo(name, tuple(found), read_meta(name, found[-1]), dir_bytes(bundle_dir(name)))


def list_bundles() -> list[BundleInfo]:
    """Every bundle with at least one ingestion, by name."""
    root = zipline_root() / "data"
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if p.is_dir() and not p.name.startswith(".") and _ingestions(p.name):
            out.append(bundle_info(p.name))
    return out


def clean_bundle(name: str, keep_last: int = 1) -> tuple[list[str], int]:
    """Remove all but the newest ``keep_last`` ingestions (0: the whole bundle).

    Returns the removed ingestion folders and the bytes freed.
    """
    info = bundle_info(name)
    if keep_last < 0:
        raise BundleError("keep_last must be >= 0")
    doomed = (
        list(info.ingestions[: len(info.ingestions) - keep_last])
        if keep_last
        else list(info.ingestions)
    )
    freed = 0
    for ingestion in doomed:
        freed += remove_tree(bundle_dir(name) / ingestion)
    if not keep_last:
        folder: Path = bundle_dir(name)
        if folder.is_dir():
            freed += remove_tree(folder)
    return doomed, freed


def load_bundle(name: str):
    """zipline ``BundleData`` of the newest ingestion of ``name`` (registers it for reading)."""
    info = bundle_info(name)
    with zipline_root_env() as env:
        from zipline.data import bundles

        ensure_registered(name)
        try:
            return bundles.load(name, env)
        except (ValueError, OSError) as exc:
            raise BundleError(f"bundle {name!r} ({info.latest}) cannot be read: {exc}") from exc


def ensure_registered(name: str) -> None:
    """Register ``name`` with zipline for loading (bundle registration is per process)."""
    from zipline.data import bundles

    from livedesk.backend.bundles.writer import not_ingestible

    if name not in bundles.bundles:
        bundles.register(name, not_ingestible, calendar_name="XNYS")
