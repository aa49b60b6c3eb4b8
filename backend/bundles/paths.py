"""Where bundles live and how zipline is pointed there (``ZIPLINE_ROOT``, never ``~/.zipline``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from livedesk.backend.config import data_dir

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEMO_BUNDLE = "demo"
META_FILE = "livedesk-bundle.json"
REPORT_FILE = "ingest-report.txt"


class BundleError(ValueError):
    """A bundle operation failed with a message for the user; nothing was changed."""


def zipline_root() -> Path:
    """``<LiveDesk data dir>/zipline``: the ``ZIPLINE_ROOT`` of every zipline call we make."""
    return data_dir() / "zipline"


def bundle_dir(name: str) -> Path:
    """The folder holding every ingestion of bundle ``name``."""
    return zipline_root() / "data" / check_name(name)


def check_name(name: str) -> str:
    """``name`` if it is a valid bundle name (letters, digits, ``_ . -``), else BundleError."""
    if not NAME_RE.match(name or ""):
        raise BundleError(
            f"invalid bundle name {name!r}: use letters, digits, '_', '.', '-' (max 64)"
        )
    return name


def zipline_environ() -> dict[str, str]:
    """An environment mapping for zipline calls with ``ZIPLINE_ROOT`` set to ours."""
    env = dict(os.environ)
    env["ZIPLINE_ROOT"] = str(zipline_root())
    return env


@contextmanager
def zipline_root_env() -> Iterator[dict[str, str]]:
    """Set ``ZIPLINE_ROOT`` in ``os.environ`` for the duration (for zipline code reading it)."""
    old = os.environ.get("ZIPLINE_ROOT")
    os.environ["ZIPLINE_ROOT"] = str(zipline_root())
    try:
        yield zipline_environ()
    finally:
        if old is None:
            os.environ.pop("ZIPLINE_ROOT", None)
        else:
            os.environ["ZIPLINE_ROOT"] = old
