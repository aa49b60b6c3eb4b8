"""Algorithm files are checked when they load: an unsupported call is refused with its line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from livedesk.backend.algo.loader import AlgoError, algo_name, check_file, scan_source
from livedesk.backend.algo.state import decode, encode, snapshot

BAD = """\
from zipline.api import order, symbol, set_max_leverage


def initialize(context):
    context.asset = symbol("AAPL")
    set_max_leverage(2.0)
    context.fetch_csv("http://example.com/x.csv")


def handle_data(context, data):
    order(context.asset, 1)
    data.fetcher_assets
    data.current_chain(context.asset)
"""


def test_unsupported_calls_are_named_with_their_line(tmp_path: Path) -> None:
    found = [(u.name, u.line) for u in scan_source(BAD)]
    assert found == [
        ("set_max_leverage", 1),
        ("set_max_leverage", 6),
        ("context.fetch_csv", 7),
        ("data.current_chain", 13),
    ]
    path = tmp_path / "bad_algo.py"
    path.write_text(BAD)
    with pytest.raises(AlgoError) as err:
        check_file(path)
    text = str(err.value)
    assert f"{path}:6: set_max_leverage is not supported live" in text
    assert f"{path}:13: data.current_chain is not supported live" in text


def test_zipline_api_module_calls_are_checked_too() -> None:
    src = "import zipline.api as z\nfrom zipline import api\n\ndef initialize(c):\n"
    src += "    z.continuous_future('CL')\n    api.order_target(1, 2)\n    zipline.api.fetch_csv('x')\n"
    assert [(u.name, u.line) for u in scan_source(src)] == [
        ("continuous_future", 5),
        ("fetch_csv", 7),
    ]


def test_a_file_without_initialize_or_with_a_syntax_error_is_refused(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("def handle_data(context, data):\n    pass\n")
    with pytest.raises(AlgoError, match="defines no initialize"):
        check_file(a)
    b = tmp_path / "b.py"
    b.write_text("def initialize(context):\n    x = (\n")
    with pytest.raises(AlgoError, match=rf"{b}:\d+: SyntaxError"):
        check_file(b)


def test_the_shipped_examples_pass_the_check() -> None:
    import zipline.examples

    folder = Path(zipline.examples.__file__).parent
    for name in ("buyapple.py", "buy_and_hold.py", "dual_moving_average.py"):
        check_file(folder / name)


def test_registry_lists_a_refused_algorithm_with_its_line(tmp_path, monkeypatch) -> None:
    from livedesk.backend.config import Settings
    from livedesk.backend.strategies import registry

    monkeypatch.setenv("LIVEDESK_CONFIG_DIR", str(tmp_path))
    path = tmp_path / "bad_algo.py"
    path.write_text(BAD)
    registry.forget_plugins()
    try:
        registry.load_plugins_for(Settings(strategies={"bad-algo": {"algo": "bad_algo.py"}}))
        errors = [str(e) for e in registry.plugin_errors()]
        assert any(e.startswith(f"{path.resolve()}:1: set_max_leverage") for e in errors), errors
        assert "bad-algo" not in registry.available_strategies()
    finally:
        registry.forget_plugins()


def test_names_and_state_round_trip() -> None:
    assert algo_name("buy_and_hold.py") == "buy-and-hold"
    assert algo_name("/x/2fast.py") == "algo-2fast"

    class Asset:
        def __init__(self, sid):
            self.sid, self.symbol, self.exchange = sid, f"S{sid}", "NYSE"

    attrs = {
        "has_ordered": True,
        "i": 299,
        "stocks": ["AAPL", "MSFT"],
        "asset": Asset(265598),
        "when": dt.date(2026, 11, 16),
        "weights": {"a": 0.5},
        "pair": (1, 2.5),
        "handle": open,  # code: not state
        "lock": object(),
    }
    kept, dropped = snapshot(attrs)
    assert dropped == ["lock"] and "handle" not in kept
    back = {k: decode(v, Asset) for k, v in kept.items()}
    assert back["has_ordered"] is True and back["i"] == 299 and back["pair"] == (1, 2.5)
    assert back["asset"].sid == 265598 and back["when"] == dt.date(2026, 11, 16)
    assert back["stocks"] == ["AAPL", "MSFT"] and back["weights"] == {"a": 0.5}
    assert encode(float("nan")) == {"__float__": "nan"}


def test_a_config_algorithm_is_a_strategy_with_its_schedule(tmp_path, monkeypatch) -> None:
    import zipline.examples

    from livedesk.backend.config import Settings
    from livedesk.backend.strategies import registry

    monkeypatch.setenv("LIVEDESK_CONFIG_DIR", str(tmp_path))
    path = Path(zipline.examples.__file__).parent / "buy_and_hold.py"
    registry.forget_plugins()
    try:
        s = Settings(strategies={"hold": {"algo": str(path), "daily_offset_minutes": -10}})
        registry.load_plugins_for(s)
        strategy = registry.create_strategy("hold", registry.strategy_settings(s, "hold"))
        assert strategy.params.algo == str(path.resolve())
        assert strategy.schedule.describe() == "daily, -10 min from the close (XNYS)"
        # Friday 20 November 2026 at noon -> 15:50 that day; after it -> Monday's 15:50
        ny = ZoneInfo("America/New_York")
        noon = dt.datetime(2026, 11, 20, 12, 0, tzinfo=ny)
        assert strategy.schedule.next_run(noon) == dt.datetime(2026, 11, 20, 15, 50, tzinfo=ny)
        late = dt.datetime(2026, 11, 20, 15, 51, tzinfo=ny)
        assert strategy.schedule.next_run(late) == dt.datetime(2026, 11, 23, 15, 50, tzinfo=ny)
        with pytest.raises(Exception, match="frequency"):
            registry.create_strategy("hold", {"frequency": "hourly"})
    finally:
        registry.forget_plugins()


def test_cli_refuses_an_unsupported_algorithm_before_connecting(tmp_path) -> None:
    import os
    import subprocess
    import sys

    path = tmp_path / "bad_algo.py"
    path.write_text(BAD)
    env = {**os.environ, "LIVEDESK_CONFIG_DIR": str(tmp_path / "c")}
    done = subprocess.run(
        [sys.executable, "-m", "livedesk", "run", "--algo", str(path), "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2, done
    assert f"{path}:6: set_max_leverage is not supported live" in done.stderr
    assert "connected" not in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "livedesk", "backtest", "monthly-factor", "--parity"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2 and "--parity needs --algo" in done.stderr


def test_parity_report_explains_every_difference() -> None:
    from livedesk.backend.algo.parity import REASONS, OrderRow, compare

    d1, d2, d3, d4 = (dt.date(2026, 11, d) for d in (16, 17, 18, 19))
    backtest = [
        OrderRow(d1, "AAPL", 10),
        OrderRow(d2, "AAPL", 10),
        OrderRow(d2, "MSFT", -5),
        OrderRow(d3, "AAPL", 20),
        OrderRow(d4, "KO", 1),
    ]
    live = [OrderRow(d1, "AAPL", 10), OrderRow(d2, "AAPL", 7), OrderRow(d3, "IBM", 3)]
    report = compare(backtest, live, [d1, d2, d3], [d1, d2, d3, d4])
    assert report.matched == [OrderRow(d1, "AAPL", 10)]
    assert report.differences == [
        ("2026-11-17 AAPL: backtest +10, live +7", REASONS["quantity"]),
        ("backtest 2026-11-17 MSFT -5", REASONS["missing_live"]),
        ("backtest 2026-11-18 AAPL +20", REASONS["missing_live"]),
        ("live 2026-11-18 IBM +3", REASONS["missing_backtest"]),
        ("2026-11-19 KO +1", REASONS["not_live"]),
    ]
    assert not report.ok
    assert report.lines()[0] == (
        "parity over 3 sessions (2026-11-16 .. 2026-11-18): 1 orders match, 5 differences"
    )
