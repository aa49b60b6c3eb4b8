"""``livedesk strategy new NAME``: a working strategy plugin and its test, written as files.

The strategy holds one stock at a target weight while its close is above its moving average,
flat otherwise: small, but it reads bars, sizes through an order primitive, records its
signal and has a pure signal function its test checks by hand. ``livedesk run NAME --once
--dry-run`` runs it as written.
"""

from __future__ import annotations

from pathlib import Path

from livedesk.backend.config import ConfigError, config_dir
from livedesk.backend.files import private_dir
from livedesk.backend.strategies.base import NAME_RE

STRATEGY = '''"""{name}: hold {symbol} at a target weight while it closes above its moving average.

A LiveDesk strategy plugin (see the README's "Your own strategies"). Edit it, then:

    livedesk run {name} --once --dry-run     # one decision now, nothing sent
    livedesk backtest {name}                 # its backtest reference (daily approximation)
    pytest {test_file}                       # the signal's test
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from livedesk.backend.contracts import stock
from livedesk.backend.strategies import Decision, Intraday, Strategy, StrategyContext, require
from livedesk.backend.strategies.backtest import BacktestResult
from livedesk.backend.strategies.replay import summary_metrics


def target_weight(closes: list[float], lookback: int, weight: float) -> float:
    """``weight`` when the last close is above the mean of the last ``lookback`` closes."""
    if len(closes) < lookback:
        return 0.0
    average = sum(closes[-lookback:]) / lookback
    return weight if closes[-1] > average else 0.0


def daily_returns(closes: list[float], lookback: int, weight: float, cost_bps: float) -> list[float]:
    """The rule over daily closes: the weight decided at close t earns day t+1's return; a
    change of weight costs ``cost_bps`` of the traded weight (a daily approximation of the
    hourly live rule)."""
    out, held = [], 0.0
    for t in range(len(closes) - 1):
        w = target_weight(closes[: t + 1], lookback, weight)
        cost = abs(w - held) * cost_bps * 1e-4
        out.append(w * (closes[t + 1] / closes[t] - 1.0) - cost)
        held = w
    return out


@dataclass(frozen=True)
class Params:
    symbol: str = "{symbol}"
    lookback: int = 20
    """Sessions in the moving average."""
    weight: float = 0.05
    """Target weight (fraction of NetLiquidation) while the trend is up."""
    interval: float = 3600.0
    """Seconds between two decisions in regular hours."""

    def __post_init__(self) -> None:
        require(self.lookback >= 2, "lookback", "must be at least 2 sessions")
        require(0.0 <= self.weight <= 1.0, "weight", "must be between 0 and 1")
        require(self.interval >= 60, "interval", "must be at least 60 seconds")


class {cls}(Strategy):
    name: ClassVar[str] = "{name}"
    Params: ClassVar[type] = Params
    description: ClassVar[str] = "{symbol} above its moving average: long, else flat"
    params: Params

    def make_schedule(self) -> Intraday:
        return Intraday(self.params.interval, flatten_before_close_min=0.0)

    async def run_once(self, ctx: StrategyContext) -> Decision:
        p = self.params
        contract = await ctx.resolve(stock(p.symbol))
        bars = await ctx.bars(contract, f"{{p.lookback + 5}} D", "1 day")
        closes = [float(b.close) for b in bars]
        weight = target_weight(closes, p.lookback, p.weight)
        ctx.record(close=closes[-1] if closes else float("nan"), target_weight=weight)
        await ctx.order_target_percent(contract, weight)
        return Decision(
            await ctx.now(),
            f"{{p.symbol}} target {{weight:.1%}}",
            targets={{p.symbol: weight}},
        )

    async def backtest(
        self, ctx: StrategyContext, days: int, cost_bps: float, progress=None
    ) -> BacktestResult:
        """``livedesk backtest {name}``: the rule over the gateway's daily history."""
        p = self.params
        contract = await ctx.resolve(stock(p.symbol))
        bars = await ctx.bars(contract, f"{{days + p.lookback + 1}} D", "1 day")
        closes = [float(b.close) for b in bars]
        dates = [b.date if isinstance(b.date, dt.date) else b.date.date() for b in bars]
        daily = np.asarray(daily_returns(closes, p.lookback, p.weight, cost_bps)[-days:])
        used = dates[-len(daily):]
        weights = [target_weight(closes[: t + 1], p.lookback, p.weight) for t in range(len(closes))]
        trades = sum(1 for a, b in zip(weights, weights[1:], strict=False) if a != b)

        def at_close(d: dt.date) -> dt.datetime:
            return dt.datetime.combine(d, dt.time(16), dt.timezone.utc)

        return BacktestResult(
            strategy=self.name,
            dates=used,
            daily_returns=daily,
            metrics=summary_metrics(daily),
            params=self.param_values(),
            span_start=at_close(used[0]),
            span_end=at_close(used[-1]),
            cost_bps=cost_bps,
            bars=len(daily),
            trades=trades,
        )
'''

TEST = '''"""Tests of {module}.py's signal, with expectations computed by hand."""

from pytest import approx

from {module} import {cls}, daily_returns, target_weight


def test_long_above_the_average_and_flat_below() -> None:
    # mean of the last 3 closes (10, 11, 12) is 11: 12 > 11 -> the weight
    assert target_weight([9.0, 10.0, 11.0, 12.0], 3, 0.05) == 0.05
    # mean of (12, 11, 10) is 11: 10 < 11 -> flat
    assert target_weight([13.0, 12.0, 11.0, 10.0], 3, 0.05) == 0.0


def test_flat_without_enough_history() -> None:
    assert target_weight([10.0, 11.0], 3, 0.05) == 0.0


def test_the_backtest_rule_by_hand() -> None:
    # closes 10, 11, 12, 11 with a 2-close average and weight 0.5:
    # close 10: too little history -> 0; close 11 > 10.5 -> 0.5 earns 12/11 - 1 (cost 0.5 x
    # 10 bps on the change); close 12 > 11.5 -> 0.5 earns 11/12 - 1
    got = daily_returns([10.0, 11.0, 12.0, 11.0], 2, 0.5, 10.0)
    assert got == approx([0.0, 0.5 * (12 / 11 - 1) - 0.0005, 0.5 * (11 / 12 - 1)])


def test_the_defaults_build() -> None:
    strategy = {cls}()
    assert strategy.name == "{name}"
    assert strategy.schedule.describe()
'''


def class_name(name: str) -> str:
    """``my-strategy`` → ``MyStrategy``."""
    return "".join(part.capitalize() for part in name.split("-"))


def module_name(name: str) -> str:
    """``my-strategy`` → ``my_strategy`` (an importable module name)."""
    return name.replace("-", "_")


def write_skeleton(
    name: str, folder: Path | None = None, *, symbol: str = "SPY", force: bool = False
) -> tuple[Path, Path]:
    """Write ``<folder>/<module>.py`` and ``test_<module>.py``; ConfigError before writing
    anything when the name is not kebab-case or a file exists (unless ``force``)."""
    if not NAME_RE.match(name):
        raise ConfigError(f"strategy name must be kebab-case (e.g. my-strategy), got {name!r}")
    folder = folder or config_dir() / "strategies"
    module = module_name(name)
    strategy_file, test_file = folder / f"{module}.py", folder / f"test_{module}.py"
    existing = [p for p in (strategy_file, test_file) if p.exists()]
    if existing and not force:
        raise ConfigError(f"{existing[0]} exists; pass --force to overwrite it")
    fields = {
        "name": name,
        "cls": class_name(name),
        "module": module,
        "symbol": symbol,
        "test_file": test_file.name,
    }
    private_dir(folder)
    strategy_file.write_text(STRATEGY.format(**fields), encoding="utf-8")
    test_file.write_text(TEST.format(**fields), encoding="utf-8")
    return strategy_file, test_file
