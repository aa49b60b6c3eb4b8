"""zipline's ``run_algorithm`` on a LiveDesk bundle, fully offline.

No benchmark (zero returns), LiveDesk's own ``ZIPLINE_ROOT``, daily data, the bundle
registered first. Used by the monthly factor's backtest reference and by
``livedesk backtest --algo``. zipline is imported only when called.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from livedesk.backend.bundles.paths import zipline_root_env
from livedesk.backend.bundles.store import ensure_registered


def run_offline(
    bundle: str, start: pd.Timestamp, end: pd.Timestamp, capital: float, **hooks: Any
) -> tuple[pd.DataFrame, pd.Series]:
    """The performance frame and its daily returns (indexed by naive session dates)."""
    from zipline import run_algorithm

    with warnings.catch_warnings(), zipline_root_env() as env:
        warnings.simplefilter("ignore")
        ensure_registered(bundle)
        perf = run_algorithm(
            start=start,
            end=end,
            capital_base=capital,
            data_frequency="daily",
            bundle=bundle,
            benchmark_returns=None,
            environ=env,
            default_extension=False,
            **hooks,
        )
    returns = perf["returns"].astype(float)
    returns.index = pd.DatetimeIndex(returns.index).tz_localize(None).normalize()
    return perf, returns
