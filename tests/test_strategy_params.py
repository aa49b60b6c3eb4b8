"""Strategy parameters: defaults, config.toml overrides, and ConfigError naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from livedesk.backend.config import ConfigError, load_settings
from livedesk.backend.strategies import available_strategies, create_strategy
from livedesk.backend.strategies.registry import is_enabled, strategy_settings


def test_builtins_are_registered_with_kebab_case_names() -> None:
    names = available_strategies()
    assert {"crack-spread", "options-combo"} <= set(names)
    for name, cls in names.items():
        assert cls.name == name


def test_defaults_are_the_issue_defaults() -> None:
    crack = create_strategy("crack-spread")
    assert (crack.params.threshold, crack.params.weight, crack.params.interval) == (2.0, 0.10, 60.0)
    assert crack.schedule.interval == 60.0
    opts = create_strategy("options-combo")
    p = opts.params
    assert (p.underlying, p.ewma_lambda, p.short_delta, p.risk_fraction) == (
        "SPY",
        0.94,
        0.16,
        0.02,
    )
    assert (p.min_dte, p.max_dte, p.profit_target, p.condor_stop, p.straddle_stop) == (
        20,
        45,
        0.5,
        1.0,
        0.5,
    )


def test_overrides_and_int_to_float_coercion() -> None:
    s = create_strategy("crack-spread", {"threshold": 3, "interval": 300, "enabled": False})
    assert s.params.threshold == 3.0 and isinstance(s.params.threshold, float)
    assert s.schedule.interval == 300


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"threshold": -1}, ["[strategies.crack-spread]", "threshold", "> 0"]),
        ({"threshold": "high"}, ["threshold", "not a number"]),
        ({"weight": 2}, ["weight", "(0, 1]"]),
        ({"window": 2.5}, ["window", "not an integer"]),
        ({"history": "1 M"}, ["history"]),
        ({"thresold": 1.0}, ["unknown parameter 'thresold'", "threshold"]),
    ],
)
def test_bad_values_name_the_key(overrides: dict, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        create_strategy("crack-spread", overrides)
    for w in words:
        assert w in str(info.value)


def test_unknown_strategy_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="crack-spread"):
        create_strategy("crack_spread")


def test_settings_file_tables(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[strategies.options-combo]\nunderlying = "XOM"\nenabled = false\n'
        "[strategies.crack-spread]\nthreshold = 2.5\n",
        encoding="utf-8",
    )
    settings = load_settings(path, env={})
    assert strategy_settings(settings, "options-combo")["underlying"] == "XOM"
    assert not is_enabled(settings, "options-combo") and is_enabled(settings, "crack-spread")
    assert (
        create_strategy(
            "options-combo", strategy_settings(settings, "options-combo")
        ).params.underlying
        == "XOM"
    )
    path.write_text("[strategies]\ncrack-spread = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[strategies.NAME\]"):
        load_settings(path, env={})
    path.write_text('[strategies.crack-spread]\nenabled = "yes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="enabled"):
        is_enabled(load_settings(path, env={}), "crack-spread")
