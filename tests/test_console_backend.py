"""Unit tests of the console's backend glue (no Textual): keys, clock, health, row models,
equity series, themes, and the import boundary."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from livedesk.backend.config import ConfigError, load_settings
from livedesk.backend.console.actions import ACTION_IDS, validate_keymap
from livedesk.backend.console.equity import EquitySeries
from livedesk.backend.console.health import ConnectionHealth, alert_level
from livedesk.backend.console.market_clock import MarketClock, format_duration
from livedesk.backend.console.views import order_rows, position_rows

NY = ZoneInfo("America/New_York")


def ny(*args) -> float:
    return dt.datetime(*args, tzinfo=NY).timestamp()


# ---- [keys] ---------------------------------------------------------------------------
def test_keymap_validation_messages():
    assert validate_keymap({"quit": " ctrl+q ", "pane.orders": "y, F2"}) == {
        "quit": "ctrl+q",
        "pane.orders": "y,F2",
    }
    with pytest.raises(ValueError, match="'o' is given to both 'pane.orders' and 'order_ticket'"):
        validate_keymap({"pane.orders": "o"})  # o is the order ticket, everywhere
    with pytest.raises(ValueError, match="unknown key binding id 'qiut'"):
        validate_keymap({"qiut": "q"})
    with pytest.raises(ValueError, match="not a key name"):
        validate_keymap({"quit": "ctrl q"})
    with pytest.raises(ValueError, match="non-empty string"):
        validate_keymap({"quit": 5})
    with pytest.raises(ValueError, match="'r' is given to both 'quit' and 'run_now'"):
        validate_keymap({"quit": "r"})  # r is run_now in Strategies: app keys would clash
    assert validate_keymap({"sort": "y", "window": "y"})  # different panes may share a key


def test_keys_and_broker_in_settings(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keys]\nkill_switch = "ctrl+x"\n')
    s = load_settings(cfg, env={})
    assert s.keys == {"kill_switch": "ctrl+x"} and not s.broker_configured
    cfg.write_text('[keys]\nnope = "x"\n')
    with pytest.raises(ConfigError, match="unknown key binding id 'nope'"):
        load_settings(cfg, env={})
    cfg.write_text('keys = "q"\n')
    with pytest.raises(ConfigError, match=r"\[keys\] must be a table"):
        load_settings(cfg, env={})
    cfg.write_text("[broker]\nport = 7497\n")
    assert load_settings(cfg, env={}).broker_configured
    assert load_settings(tmp_path / "none.toml", env={"LIVEDESK_PORT": "4001"}).broker_configured
    assert "pane.positions" in ACTION_IDS and "kill_switch" in ACTION_IDS


# ---- exchange clock ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "when, status, seconds",
    [
        ((2026, 11, 20, 3, 0), "closed", 6.5 * 3600),  # before 04:00: closed, opens 09:30
        ((2026, 11, 20, 8, 0), "pre-open", 1.5 * 3600),
        ((2026, 11, 20, 10, 0), "open", 6 * 3600),  # closes at 16:00
        ((2026, 11, 20, 16, 30), "closed", (2 * 24 + 17) * 3600),  # Monday 09:30
        ((2026, 11, 26, 11, 0), "closed", (22 + 0.5) * 3600),  # Thanksgiving: Fri 09:30
        ((2026, 11, 27, 12, 0), "open", 1 * 3600),  # early close 13:00
    ],
)
def test_market_status(when, status, seconds):
    s = MarketClock().status(ny(*when))
    assert s.status == status
    assert s.next_change == pytest.approx(seconds)
    assert s.now.strftime("%H:%M") == f"{when[3]:02d}:{when[4]:02d}"


def test_market_label_and_durations():
    label = MarketClock().status(ny(2026, 11, 20, 10, 31, 7)).label()
    assert label == "10:31:07 ET open, closes in 5h28m"
    assert [format_duration(x) for x in (42, 725, 5 * 3600 + 29 * 60, 2 * 86400 + 3 * 3600)] == [
        "42s",
        "12m05s",
        "5h29m",
        "2d03h",
    ]
    assert MarketClock().session_start(ny(2026, 11, 20, 12, 0)) == ny(2026, 11, 20, 9, 30)


# ---- connection health ------------------------------------------------------------------
def test_health_transitions():
    h = ConnectionHealth()
    h.on_connected()
    assert h.state == "CONNECTED"
    assert h.on_code(2104, "Market data farm connection is OK:usfarm")
    assert h.state == "CONNECTED" and h.farms_label() == "farms ok"
    h.on_code(2103, "Market data farm connection is broken:usfarm")
    assert h.state == "DEGRADED" and h.farms_label() == "farms usfarm broken"
    h.on_code(2104, "Market data farm connection is OK:usfarm")
    h.on_code(1100, "Connectivity between IB and Trader Workstation has been lost.")
    assert (h.state, h.last_code) == ("DEGRADED", 1100)
    h.on_code(1102, "restored")
    assert h.state == "CONNECTED"
    assert not h.on_code(201, "Order rejected")  # not a health code
    h.on_disconnected("socket closed")
    assert h.state == "DISCONNECTED"
    h.on_code(2104, "Market data farm connection is OK:usfarm")
    assert h.state == "DISCONNECTED"  # only a reconnect clears a closed socket
    assert [alert_level(c) for c in (2104, 2103, 1100, 201, 10167)] == [
        "info",
        "warning",
        "error",
        "error",
        "warning",
    ]


# ---- row models -------------------------------------------------------------------------
def _item(con_id, sec, symbol, qty, price, avg, mult="", unreal=0.0, local=""):
    c = SimpleNamespace(
        conId=con_id,
        secType=sec,
        symbol=symbol,
        localSymbol=local,
        multiplier=mult,
        lastTradeDateOrContractMonth="202612" if sec == "FUT" else "",
        strike=0.0,
        right="",
    )
    m = float(mult) if mult else 1.0
    return SimpleNamespace(
        contract=c,
        position=qty,
        marketPrice=price,
        marketValue=qty * price * m,
        averageCost=avg,
        unrealizedPNL=unreal,
        realizedPNL=1.7976931348623157e308,  # IB's UNSET_DOUBLE
    )


def test_position_rows_units_weights_marks_attribution():
    items = [
        _item(1, "STK", "AAPL", 100, 150.0, 140.0, unreal=1000.0),
        _item(2, "FUT", "CL", 2, 75.0, 74_000.0, mult="1000"),  # IB avg cost includes x1000
        _item(3, "STK", "MSFT", 0, 300.0, 290.0),  # closed: not shown
    ]
    rows = position_rows(
        items,
        nlv=1_000_000.0,
        attribution={1: {"alpha": 60.0, "beta": 40.0}, 2: {"crack": 2.0, "gone": 0.0}},
        combos={2: "BAG CL: +1 CLZ6 -1 CLF7"},
        marks={1: 151.0},
    )
    assert [r.con_id for r in rows] == [1, 2]
    aapl, cl = rows
    assert aapl.market_price == 151.0 and aapl.market_value == pytest.approx(15_100.0)
    assert aapl.unrealized == pytest.approx((151.0 - 140.0) * 100)
    assert aapl.weight == pytest.approx(0.0151)
    assert aapl.strategy == "alpha,beta" and math.isnan(aapl.realized)
    assert cl.avg_cost == pytest.approx(74.0) and cl.market_value == pytest.approx(150_000.0)
    assert cl.strategy == "crack" and cl.group.startswith("BAG CL")


def _trade(oid, action, qty, status, filled, avg, order_type="MKT", lmt=0.0, ref=""):
    return SimpleNamespace(
        order=SimpleNamespace(
            orderId=oid,
            permId=oid + 1000,
            action=action,
            totalQuantity=qty,
            orderType=order_type,
            lmtPrice=lmt,
            orderRef=ref,
        ),
        orderStatus=SimpleNamespace(
            status=status, filled=filled, remaining=qty - filled, avgFillPrice=avg
        ),
        contract=SimpleNamespace(secType="STK", symbol="AAPL", conId=1),
        fills=[],
    )


def test_order_rows_slippage_is_a_cost_for_both_sides():
    rows = order_rows(
        [
            _trade(1, "BUY", 10, "Filled", 10, 101.0, ref="alpha"),
            _trade(2, "SELL", 10, "Filled", 10, 99.0),
            _trade(3, "BUY", 5, "Submitted", 0, 0.0, "LMT", 95.0),
        ],
        arrival={1: 100.0, 2: 100.0, 3: 100.0},
        first_seen={1: 10.0, 2: 20.0},
    )
    buy, sell, working = rows
    assert buy.slippage_bps == pytest.approx(100.0)  # paid 1 above the mid
    assert sell.slippage_bps == pytest.approx(100.0)  # sold 1 below the mid
    assert buy.strategy == "alpha" and buy.time == 10.0 and math.isnan(working.time)
    assert working.working and not buy.working
    assert working.limit == 95.0 and math.isnan(buy.limit) and math.isnan(working.avg_fill)


# ---- equity series ----------------------------------------------------------------------
def test_equity_window_and_the_trough_survives_downsampling():
    s = EquitySeries("account")
    day = ny(2026, 11, 20, 9, 30)
    values = [100.0, 110.0, 90.0, 120.0] + [120.0 + i * 0.01 for i in range(400)]
    for i, v in enumerate(values):
        assert s.add(day - 86_400 + i * 60 if i < 2 else day + i * 60, v)
    assert not s.add(day, 50.0)  # older than the last sample: ignored
    assert not s.add(day + 10**6, math.nan)
    all_ = s.view("all", 20, now=day + 30_000, session_start=day)
    assert len(all_.equity) == 20 and all_.samples == len(values)
    assert all_.max_dd == pytest.approx(90 / 110 - 1)  # -18.2 %, from the full history
    assert min(all_.drawdown) == pytest.approx(90 / 110 - 1)  # the trough is drawn
    assert all_.peak == pytest.approx(values[-1]) and all_.current_dd == 0.0
    session = s.view("session", 20, now=day + 30_000, session_start=day)
    assert session.samples == len(values) - 2  # the two samples of the day before are out
    assert session.max_dd == pytest.approx(0.0)  # 90 is the first value of the window
    with pytest.raises(ValueError, match="unknown window"):
        s.view("month", 20, now=day, session_start=day)


# ---- themes -----------------------------------------------------------------------------
def test_packaged_themes_are_valid_and_the_high_contrast_one_is_colour_blind_safe():
    from textual.color import Color

    from livedesk.tui.themes import LIVEDESK_THEMES, load_themes

    themes, errors = load_themes([])
    assert errors == []
    by_name = {t.name: t for t in themes}
    assert set(LIVEDESK_THEMES) <= set(by_name)
    hc = by_name["livedesk-high-contrast"]
    up, down = (Color.parse(hc.variables[k]) for k in ("pnl-up", "pnl-down"))
    # blue gains, orange losses: the hues sit far apart on the blue/orange axis
    assert up.b > up.r and down.r > down.b
    assert not by_name["livedesk-light"].dark


@pytest.mark.parametrize(
    "text, message",
    [
        ('name = "x"\nprimary = "#zzzzzz"\n', "not a colour"),
        ('primary = "#000000"\n', "'name' must be"),
        ('name = "x"\n', "'primary' colour is required"),
        ('name = "x"\nprimary = "#000000"\ncolour = "#fff"\n', "unknown key"),
        ('name = "x"\nprimary = "#000000"\n[variables]\npnl-upp = "#fff"\n', "unknown variable"),
        ("name = [\n", "themes/bad.toml"),
    ],
)
def test_bad_theme_files_are_refused_with_a_message(text, message):
    from livedesk.tui.themes import ThemeError, load_theme_file

    with pytest.raises(ThemeError, match=message):
        load_theme_file("themes/bad.toml", text)


def test_backend_console_imports_no_textual():
    code = (
        "import sys, livedesk.backend.console.session, livedesk.backend.console.risk_view;"
        "bad = [m for m in sys.modules if m.startswith(('textual', 'livedesk.tui'))];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_new_divergence_flag_reaches_the_log_and_the_toasts_once():
    from livedesk.backend.config import Settings
    from livedesk.backend.console.risk_view import ExecutionLine, RiskBlock, RiskLine
    from livedesk.backend.console.session import ConsoleSession, Target

    session = ConsoleSession(Settings(), Target())

    def block(flag):
        line = RiskLine("alpha", "sharpe_ratio", "Sharpe", -1.0, 1.5, -2.5, flag, "band 0.2..2.8")
        ex = ExecutionLine("alpha", 0, math.nan, math.nan, math.nan)
        return RiskBlock("alpha", "daily n=30", True, (line,), ex)

    class Table:
        flag = False

        def blocks(self):
            return [block(self.flag)]

    session.risk_table = Table()
    session.risk_blocks()
    assert not session.logs
    Table.flag = True
    session.risk_blocks()
    session.risk_blocks()  # still flagged: not repeated
    assert [e.message for e in session.logs] == [
        "alpha: live Sharpe diverges from the backtest (band 0.2..2.8)"
    ]
    assert session.toasts and session.toasts[0].level == "warning"
