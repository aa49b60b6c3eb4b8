"""monthly-factor journals a replay record: the rebalance's conId targets, prices and picks."""

from __future__ import annotations

import pytest

from livedesk.backend.journal import Journal
from livedesk.backend.risk.attribution import replay
from livedesk.backend.risk.attribution_source import decision_record
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.monthly_factor import MonthlyFactor
from tests.test_monthly_factor_live import app, demo_env, demo_root  # noqa: F401


async def test_a_rebalance_decision_carries_its_replay_record(demo_env, app, tmp_path) -> None:  # noqa: F811
    journal = Journal(tmp_path / "journal.sqlite3", synchronous="NORMAL")
    strategy = MonthlyFactor()
    ctx = StrategyContext(app, strategy.name, journal=journal, dry_run=True)
    decision = await strategy.run_once(ctx)
    assert not decision.skipped, decision.skipped_reason
    rec = decision_record({"t": decision.t.timestamp(), "detail": decision.record()})
    assert rec is not None
    nlv = app.net_liquidation
    picked = {int(k): w for k, w in decision.replay["inputs"]["weights"].items()}
    assert set(picked) <= set(rec.targets) and len(picked) == 2 * strategy.params.n
    for con_id, w in picked.items():
        price = rec.mids[con_id]
        # whole shares worth the weight of NLV at the planned price (one share of rounding)
        assert rec.targets[con_id] * price / nlv == pytest.approx(w, abs=price / nlv + 1e-9)
    # Replayed from flat, the ideal path buys (or sells) exactly those targets at those prices.
    trades = replay(None, [rec])
    assert {t.con_id: t.qty for t in trades} == {c: q for c, q in rec.targets.items() if q}
    journal.close()
