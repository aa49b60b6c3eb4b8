"""``attach_pipeline`` / ``pipeline_output`` live: zipline's engine on the configured bundle.

The row for session D sees bars through D-1 (zipline's rule), so the bundle must hold the
session before the broker's current one: a demo bundle made for another session is rebuilt
first (``refresh_demo``), with the latest closes the gateway serves. One output per
pipeline and session is computed and cached. Imports zipline: import lazily.
"""

from __future__ import annotations

import pandas as pd
from zipline.pipeline import SimplePipelineEngine
from zipline.pipeline.domain import US_EQUITIES
from zipline.pipeline.loaders import USEquityPricingLoader

from livedesk.backend.bundles.store import bundle_info, load_bundle


class PipelineError(LookupError):
    """A pipeline that cannot run for this session (the message says why)."""


class LivePipelines:
    """Runs attached pipelines on a bundle, one session at a time."""

    def __init__(self, bundle: str, bundle_data=None) -> None:
        from livedesk.backend.momentum.pipeline import whole_table_reader

        self.bundle = bundle
        data = bundle_data if bundle_data is not None else load_bundle(bundle)
        data = whole_table_reader(data, bundle, bundle_info(bundle).latest)
        loader = USEquityPricingLoader.without_fx(
            data.equity_daily_bar_reader, data.adjustment_reader
        )
        self.reader = data.equity_daily_bar_reader
        self.engine = SimplePipelineEngine(
            get_loader=lambda column: loader,
            asset_finder=data.asset_finder,
            default_domain=US_EQUITIES,
        )
        self._cache: dict[tuple[str, pd.Timestamp], pd.DataFrame] = {}

    def output(self, name: str, pipeline, session: pd.Timestamp | None) -> pd.DataFrame:
        """The pipeline's rows for ``session`` (index: assets)."""
        if session is None:
            raise PipelineError("no current session")
        day = pd.Timestamp(session).tz_localize(None).normalize()
        key = (name, day)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        last = pd.Timestamp(self.reader.last_available_dt).tz_localize(None).normalize()
        sessions = self.reader.sessions
        later = sessions[sessions > last]
        if day > last and (len(later) == 0 or day > later[0]) and day != last:
            # the day after the last bar is allowed (it sees bars through the last one)
            from livedesk.backend.algo.scheduling import calendar

            nxt = calendar().next_session(last)
            if day != pd.Timestamp(nxt).tz_localize(None):
                raise PipelineError(
                    f"bundle {self.bundle!r} ends {last:%Y-%m-%d}: too old for a pipeline "
                    f"on {day:%Y-%m-%d} (ingest it again)"
                )
        try:
            frame = self.engine.run_pipeline(pipeline, day, day)
        except Exception as exc:
            raise PipelineError(f"pipeline {name!r} on {day:%Y-%m-%d}: {exc}") from exc
        out = frame.xs(day, level=0) if isinstance(frame.index, pd.MultiIndex) else frame
        if isinstance(out.index, pd.MultiIndex):
            out = out.droplevel(0)
        self._cache = {k: v for k, v in self._cache.items() if k[1] == day}
        self._cache[key] = out
        return out
