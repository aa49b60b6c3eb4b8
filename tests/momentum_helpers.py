"""Helpers of the monthly-factor / bundle tests: where the shared data is, small CSV files."""

from __future__ import annotations

from pathlib import Path

import pytest

SP500_FILE = "sp500_daily_2013_2018.csv.gz"


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the repository (CI) or ``/work/shared/data``; None if absent."""
    for base in (Path(__file__).parents[1] / ".." / "shared", Path("/work/shared")):
        candidate = base / "data"
        if (candidate / SP500_FILE).is_file():
            return candidate.resolve()
    return None


def sp500_file() -> Path:
    """The real S&P 500 daily file, or skip the test with the reason."""
    found = shared_data_dir()
    if found is None:
        pytest.skip(f"{SP500_FILE} not found in ../shared/data or /work/shared/data")
    return found / SP500_FILE


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    """Write a CSV file: ``header`` then one line per row (line 2 is ``rows[0]``)."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path
