"""The execution divergence test: live cost per trade against the backtest's modelled cost.

A steady 6 bps a trade on a year of monthly rebalances is ~1.5 % a year: inside the Sharpe
band of 250 daily returns (the slippage scenario measured z = −1.82). The execution test
looks at the cost itself. Expected figures are computed by hand or with the ``statistics``
module, never with the code under test.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass

import pytest

from livedesk.backend.config import ConfigError, RiskSettings
from livedesk.backend.console.risk_view import RiskTable
from livedesk.backend.journal import Journal
from livedesk.backend.risk.divergence import execution_divergence, trade_costs_bps
from livedesk.backend.risk.engine import RiskEngine
from tests.conftest import until
from tests.console_helpers import connected, make_app, make_session

T0 = 1_790_000_000.0


def test_a_steady_cost_above_the_model_is_raised_with_its_numbers() -> None:
    # 40 trades alternating 7 and 5 bps: mean 6, sample sd sqrt(40/39), se sqrt(40/39)/sqrt(40)
    # = 1/sqrt(39); against 1 bps modelled t = 5 * sqrt(39) = 31.22
    test = execution_divergence([7.0, 5.0] * 20, 1.0)
    assert test.live_bps == pytest.approx(6.0)
    assert test.se_bps == pytest.approx(1 / math.sqrt(39))
    assert test.t_stat == pytest.approx(5 * math.sqrt(39))
    assert test.trades == 40 and test.flag is True
    assert test.text() == (
        "execution test: live 6.0 vs modelled 1.0 bps/trade, 40 trades, t=31.2 > 3"
    )


def test_noise_around_the_model_is_not_raised() -> None:
    # ±30 bps around the modelled 1 bps: mean 1, t = 0
    test = execution_divergence([31.0, -29.0] * 200, 1.0)
    assert test.t_stat == pytest.approx(0.0) and test.flag is False
    assert test.text().endswith("400 trades, t=0.0")


def test_significant_but_not_material_is_not_raised() -> None:
    # 2.5 ± 0.1 bps vs 1 bps modelled: t = 1.5 / (0.1 * sqrt(40/39) / sqrt(40)) ≈ 93.7, but
    # 1.5 bps a trade is below the 2 bps margin
    test = execution_divergence([2.6, 2.4] * 20, 1.0, min_bps=2.0)
    assert test.t_stat == pytest.approx(1.5 / (0.1 / math.sqrt(39)))
    assert test.flag is False
    assert "+1.5 bps, below the 2 bps margin" in test.text()


def test_too_few_trades_make_no_test() -> None:
    test = execution_divergence([50.0] * 19, 1.0, min_trades=20)
    assert test.flag is None
    assert test.text() == "execution test from 20 trades (19 so far)"


@dataclass(frozen=True)
class Fill:
    side: str
    qty: float
    price: float
    fill_mid: float | None
    arrival_mid: float | None
    order_key: str | None
    multiplier: float = 1.0


def test_trade_costs_join_an_orders_fills_against_the_mid_at_each_fill() -> None:
    fills = [
        Fill("BOT", 100, 50.05, 50.00, 50.02, "o1"),  # 100 × 0.05 = $5 against the fill mid
        Fill("BOT", 100, 50.10, None, 50.02, "o1"),  # no fill mid: 100 × 0.08 = $8 vs arrival
        Fill("SLD", 10, 99.90, 100.0, 99.0, "o2"),  # a sell 0.10 below the mid: 10 bps
        Fill("SLD", 10, 99.90, None, None, "o3"),  # no mid at all: left out
    ]
    costs = trade_costs_bps(fills)
    assert costs == pytest.approx([13 / (100 * 50.00 + 100 * 50.02) * 1e4, 10.0])


def gaussian_costs(mean: float, sd: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, sd) for _ in range(n)]


def record(journal: Journal, costs_bps: list[float]) -> None:
    """``alpha``: one order per cost, 100 shares of a $50 stock, filled ``cost`` bps above
    the mid at the fill (buys) or below it (sells); its reference models 1 bps a fill."""
    journal.set_backtest_reference(
        "alpha", [0.001, -0.0005, 0.0008] * 9, {"sharpe_ratio": 1.0, "cost_bps": 1.0}
    )
    journal.record_sample(T0, 0.0, 1_000_000.0, 0.0)
    for i, cost in enumerate(costs_bps):
        side = 1 if i % 2 == 0 else -1
        mid = 50.0 + 0.01 * (i % 7)
        journal.record_order(
            i + 1, action="BUY" if side > 0 else "SELL", qty=100, order_type="MKT",
            strategy="alpha", symbol="ALPHA", con_id=1, bid=mid - 0.01, ask=mid + 0.01,
            t=T0 + 60 * i,
        )  # fmt: skip
        journal.record_fill(
            f"e{i}", side="BOT" if side > 0 else "SLD", qty=100,
            price=mid * (1 + side * cost * 1e-4), t=T0 + 60 * i + 1, order_id=i + 1,
            strategy="alpha", symbol="ALPHA", con_id=1, fill_mid=mid,
        )  # fmt: skip


def expected_t(costs: list[float], modelled: float) -> float:
    return (statistics.fmean(costs) - modelled) / (statistics.stdev(costs) / math.sqrt(len(costs)))


@pytest.mark.parametrize(
    ("live_mean", "raised"),
    [(7.0, True), (1.0, False)],  # 6 bps above the model / at the model, both with noise
)
def test_the_risk_table_raises_the_flag_on_a_systematic_cost_only(
    tmp_path, live_mean, raised
) -> None:
    costs = gaussian_costs(live_mean, 15.0, 240, seed=3)  # a year of ~20 trades a month
    t = expected_t(costs, 1.0)
    assert (t > 3 and statistics.fmean(costs) - 1.0 >= 2) is raised  # the sample is as meant
    with Journal(tmp_path / "j.sqlite3") as j:
        record(j, costs)
        engine = RiskEngine(j)
        engine.restore()
        block = RiskTable(engine, n_boot=50).block("alpha")
    assert block.execution.flag is raised
    assert f"live {statistics.fmean(costs):.1f} vs modelled 1.0 bps/trade" in (
        block.execution.detail
    )
    assert f"240 trades, t={t:.1f}" in block.execution.detail
    flag, why = block.divergence()
    assert flag is raised
    assert (why == block.execution.detail) is raised


def test_thresholds_come_from_the_risk_settings(tmp_path) -> None:
    costs = [7.0, 5.0] * 20  # mean 6: 5 bps above the 1 modelled, t = 31.2
    with Journal(tmp_path / "j.sqlite3") as j:
        record(j, costs)
        engine = RiskEngine(j)
        engine.restore()
        assert RiskTable(engine, n_boot=50).block("alpha").execution.flag is True
        strict = RiskSettings(execution_min_bps=6.0)
        assert RiskTable(engine, n_boot=50, risk=strict).block("alpha").execution.flag is False
        many = RiskSettings(execution_min_trades=41)
        assert RiskTable(engine, n_boot=50, risk=many).block("alpha").execution.flag is None
    for bad in ({"execution_z": 0.0}, {"execution_min_bps": -1.0}, {"execution_min_trades": 1}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            RiskSettings(**bad)


async def test_the_risk_pane_shows_the_raised_execution_flag(market, tmp_path) -> None:
    from livedesk.tui.widgets.risk import RiskPane

    session, gw = make_session(market, tmp_path)
    record(session.journal, [7.0, 5.0] * 20)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        await until(lambda: session.engine is not None and "alpha" in session.engine.keys(), 10)
        await pilot.press("4")
        app.tick(force=True)
        pane = app.query_one(RiskPane)
        await until(lambda: ("alpha", "execution") in [r.key for r in pane.table.rows], 10)
        cells = pane.table.cells(("alpha", "execution"))
        assert cells[4] == ("DIVERG", "bad")
        text, style = cells[5]
        assert style == "bad"
        assert text == (
            "40 fills, + = cost; execution test: live 6.0 vs modelled 1.0 bps/trade, "
            "40 trades, t=31.2 > 3"
        )
    await gw.stop()


def test_livedesk_report_prints_the_execution_test(tmp_path) -> None:
    import io

    from livedesk.backend.report.metrics import run_report

    with Journal(tmp_path / "j.sqlite3") as j:
        record(j, [7.0, 5.0] * 20)
    out = io.StringIO()
    assert run_report(journal=str(tmp_path / "j.sqlite3"), out=out, strategy="alpha") == 0
    line = "execution test: live 6.0 vs modelled 1.0 bps/trade, 40 trades, t=31.2 > 3  DIVERGES"
    assert line in out.getvalue().splitlines()
    out = io.StringIO()  # the [risk] thresholds apply: 5 bps a trade is below a 6 bps margin
    run_report(
        journal=str(tmp_path / "j.sqlite3"), out=out, strategy="alpha",
        risk=RiskSettings(execution_min_bps=6.0),
    )  # fmt: skip
    assert "t=31.2: +5.0 bps, below the 6 bps margin  ok" in out.getvalue()
