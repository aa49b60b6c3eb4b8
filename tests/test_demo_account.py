"""The persistent demo account: one embedded demo gateway per data dir, shared by the
console, ``livedesk run`` and ``livedesk report``; its clock never rewinds; ``demo reset``."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ib_async import IB

from livedesk.backend.config import Settings
from livedesk.backend.demo.account import demo_journal_path, demo_state_path
from livedesk.backend.demo.host import DemoHost, port_path, served_by
from livedesk.backend.journal import Journal
from livedesk.backend.sim.broker.state import StateStore
from livedesk.backend.strategies import runner
from livedesk.tui.cli import main
from tests.conftest import until

ROOT = Path(__file__).resolve().parents[1]
TRADING = {"crack-spread": {"threshold": 0.001, "weight": 0.01}}
"""crack-spread settings that trade at once (a tiny z threshold)."""


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A data dir of this test's own: the demo account starts new."""
    d = tmp_path / "data"
    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(d))
    return d


def dead_pid() -> int:
    """The pid of a process that has exited."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


async def positions_at(port: int, client_id: int = 77) -> dict[str, float]:
    """The account's positions as a fresh ib_async client sees them."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=5)
    try:
        return {p.contract.symbol: float(p.position) for p in await ib.reqPositionsAsync()}
    finally:
        ib.disconnect()


# ---- livedesk run --once twice, then livedesk report --------------------------------------
async def test_two_run_once_share_the_account_and_journal(data_dir, capsys) -> None:
    settings = Settings(strategies=TRADING)
    out1 = io.StringIO()
    assert await runner.run_strategy("crack-spread", settings, once=True, out=out1) == 0
    assert "SENT" in out1.getvalue(), out1.getvalue()
    state = demo_state_path(settings)
    saved1 = StateStore.saved_clock(state)
    assert state.is_file() and saved1 is not None
    assert not port_path(settings).exists()  # the owner left: its port file with it
    with Journal(demo_journal_path(settings)) as j:
        held = j.net_fills()
    assert held and all(q != 0 for q in held.values())

    out2 = io.StringIO()
    rc = await runner.run_strategy("crack-spread", settings, once=True, out=out2)
    text = out2.getvalue()
    assert rc == 0, text  # no "positions do not match the journal"
    assert "do not match" not in text
    assert StateStore.saved_clock(state) >= saved1  # the clock went on from where it stopped

    async with DemoHost(settings) as host:  # the position bought in run 1 is still held
        held_now = await positions_at(host.port)
    with Journal(demo_journal_path(settings)) as j:
        net = j.net_fills()
        assert len(j.runs("crack-spread")) == 2
    symbols = {s for s, q in held_now.items() if q}
    assert symbols and len(net) == len(symbols)
    assert sorted(held_now[s] for s in symbols) == sorted(net.values())
    capsys.readouterr()
    assert main(["report"]) == 0  # no --journal: the demo account's
    report = capsys.readouterr().out
    assert "crack-spread" in report and "no journal" not in report, report
    assert main(["strategies"]) == 0  # its LAST RUN column: the demo journal's
    row = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("crack-spread"))
    assert row.split()[-1] != "-" and "crack" in row.split("EST")[-1], row
    assert main(["report", "--attribution"]) == 0
    attribution = capsys.readouterr().out
    assert f"journal: {demo_journal_path(settings)}" in attribution
    assert "== Strategy crack-spread ==" in attribution


# ---- two processes, takeover, stale port file --------------------------------------------
async def test_a_second_host_connects_to_the_first_and_takes_over(data_dir) -> None:
    settings = Settings()
    first = await DemoHost(settings, speed=0.0).open()
    second = None
    try:
        assert first.serving and served_by(settings) == os.getpid()
        info = json.loads(port_path(settings).read_text())
        assert info == {"pid": os.getpid(), "port": first.port}
        second = await DemoHost(settings).open()
        assert not second.serving and second.port == first.port
        assert await second.speed() == 0.0  # asked over the wire, from the first's gateway
        third = await DemoHost(settings, speed=60.0).open()  # --speed of a joining process
        assert not third.serving and first.gateway.clock.speed == 60.0
        await third.close()
        assert first.serving and first.gateway.clock.speed == 60.0  # a client leaving: no-op
        await second.set_speed(0.0)
        assert first.gateway.clock.speed == 0.0
        gw = first.gateway
        spy = next(i for i in gw.market.registry if i.symbol == "SPY")
        ib = IB()
        await ib.connectAsync("127.0.0.1", second.port, clientId=5, timeout=5)
        from ib_async import MarketOrder, Stock

        [c] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        assert c.conId == spy.con_id
        trade = ib.placeOrder(c, MarketOrder("BUY", 3))
        await until(lambda: trade.orderStatus.status == "Filled", 10)
        ib.disconnect()
        stopped_at = gw.now()
        await first.close()  # the owner leaves: the second serves the saved state, same port
        await until(lambda: second.serving, 5)
        assert second.port == first.port
        assert second.gateway.now() >= stopped_at
        assert (await positions_at(second.port))["SPY"] == 3.0
        assert json.loads(port_path(settings).read_text())["port"] == second.port
    finally:
        await first.close()
        if second is not None:
            await second.close()


async def test_a_stale_port_file_is_ignored(data_dir) -> None:
    settings = Settings()
    path = port_path(settings)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": dead_pid(), "port": 1}))
    assert served_by(settings) is None  # nobody holds the lock
    async with DemoHost(settings, speed=0.0) as host:
        assert host.serving and host.port != 1
        assert json.loads(path.read_text()) == {"pid": os.getpid(), "port": host.port}
        assert await positions_at(host.port) == {}
    assert not path.exists()


async def test_a_run_in_another_process_uses_the_served_gateway(data_dir, tmp_path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[strategies.crack-spread]\nthreshold = 0.001\nweight = 0.01\n")
    cfg.chmod(0o600)
    settings = Settings()
    async with DemoHost(settings, speed=1.0, start_after_open=1800) as host:
        env = dict(os.environ, LIVEDESK_CONFIG_DIR=str(tmp_path / "cfg"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "livedesk", "--config", str(cfg), "run", "crack-spread",
            "--once", cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        text = out.decode()
        assert proc.returncode == 0, text
        assert f"embedded demo gateway of pid {os.getpid()}" in text, text
        assert host.serving  # still ours
        held = {s: q for s, q in (await positions_at(host.port)).items() if q}
        with Journal(demo_journal_path(settings)) as j:
            net = j.net_fills()
            assert [r["strategy"] for r in j.runs()] == ["crack-spread"]
        assert net and sorted(net.values()) == sorted(held.values())


# ---- the clock never rewinds --------------------------------------------------------------
async def test_the_clock_resumes_where_it_stopped(data_dir) -> None:
    settings = Settings()
    async with DemoHost(settings, speed=600.0) as host:
        start = host.gateway.now()
        await asyncio.sleep(0.3)
    saved = StateStore.saved_clock(demo_state_path(settings))
    assert saved >= start + 0.3 * 600 * 0.8  # it ran at 600x and was saved on exit
    async with DemoHost(settings, speed=0.0) as host:
        assert host.gateway.now() >= saved
    with pytest.raises(ValueError, match="never goes back"):
        from livedesk.backend.sim.gateway import SimGateway

        SimGateway(state_file=demo_state_path(settings), start_time=saved - 3600)


# ---- livedesk demo reset ----------------------------------------------------------------
def make_demo_account(settings) -> None:
    """A demo account with a position and a journal holding a fill and a backtest reference."""

    async def trade() -> None:
        async with DemoHost(settings, speed=0.0, start_after_open=3600) as host:
            ib = IB()
            await ib.connectAsync("127.0.0.1", host.port, clientId=9, timeout=5)
            from ib_async import MarketOrder, Stock

            [c] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
            trade = ib.placeOrder(c, MarketOrder("BUY", 2))
            await until(lambda: trade.orderStatus.status == "Filled", 10)
            ib.disconnect()

    asyncio.run(trade())
    with Journal(demo_journal_path(settings)) as j:
        j.record_fill("x1", side="BOT", qty=2, price=500.0, t=1.7e9, con_id=1, symbol="SPY")
        j.set_backtest_reference("crack-spread", [0.01, -0.02, 0.015], {"sharpe_ratio": 1.2})


def reset_argv(*extra: str) -> list[str]:
    return ["demo", "reset", *extra]


def test_demo_reset_asks_then_starts_over_keeping_references(data_dir, monkeypatch, capsys):
    settings = Settings()
    make_demo_account(settings)
    state = demo_state_path(settings)
    before = state.read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(reset_argv()) == 1
    out = capsys.readouterr().out
    assert "Type y to confirm" in out and "nothing was changed" in out
    assert state.read_bytes() == before  # declined: untouched
    with Journal(demo_journal_path(settings)) as j:
        assert j.fills()

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(reset_argv()) == 0
    assert not state.exists()
    with Journal(demo_journal_path(settings)) as j:
        assert j.fills() == [] and j.runs() == []
        assert j.backtest_strategies() == ["crack-spread"]  # the references stay

    async def fresh() -> dict:
        async with DemoHost(settings, speed=0.0) as host:
            return await positions_at(host.port)

    assert asyncio.run(fresh()) == {}


def test_demo_reset_yes_does_not_ask(data_dir, monkeypatch, capsys):
    settings = Settings()
    make_demo_account(settings)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script: nothing to read
    assert main(reset_argv("--yes")) == 0
    assert "Type y" not in capsys.readouterr().out
    assert not demo_state_path(settings).exists()


def test_demo_reset_is_refused_while_the_gateway_is_served(data_dir, capsys):
    settings = Settings()
    make_demo_account(settings)
    state, journal = demo_state_path(settings), demo_journal_path(settings)

    async def while_served() -> None:
        async with DemoHost(settings, speed=0.0) as host:
            before = state.read_bytes()
            assert main(reset_argv("--yes")) == 1
            assert host.serving and state.read_bytes() == before

    asyncio.run(while_served())
    err = capsys.readouterr().err
    assert f"process {os.getpid()} is serving the demo gateway" in err
    assert "Nothing was changed" in err
    with Journal(journal) as j:
        assert j.fills()  # the journal kept its trades


def test_demo_reset_ignores_a_stale_port_file(data_dir, capsys):
    settings = Settings()
    make_demo_account(settings)
    port_path(settings).write_text(json.dumps({"pid": dead_pid(), "port": 4002}))
    assert main(reset_argv("--yes")) == 0
    assert not demo_state_path(settings).exists() and not port_path(settings).exists()


def test_demo_without_action_prints_usage(data_dir, capsys):
    assert main(["demo"]) == 2
    assert "livedesk demo reset" in capsys.readouterr().err


# ---- --speed ------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "-1", "inf", "-inf"])
@pytest.mark.parametrize("command", [[], ["console"]])
def test_bad_speed_exits_2(command, value, data_dir, capsys):
    assert main([*command, f"--speed={value}"]) == 2
    err = capsys.readouterr().err
    assert "--speed" in err and "must be a finite number >= 0" in err
    assert not data_dir.exists()  # nothing written


def test_speed_on_a_real_broker_exits_2(data_dir, capsys):
    assert main(["--speed", "60", "--port", "4002"]) == 2
    assert "--speed applies only to the demo" in capsys.readouterr().err


async def test_sim_control_speed_is_continuous_and_checked(gw) -> None:
    from livedesk.backend.sim.control.client import send_control

    gw.clock.set_speed(0.0)
    t0 = gw.now()
    ok, text = await send_control("127.0.0.1", gw.port, "speed", ["600"])
    assert ok and "speed=600" in text
    assert gw.now() >= t0 and gw.now() - t0 < 600 * 2  # no jump at the change
    r0, s0 = time.monotonic(), gw.now()
    await asyncio.sleep(0.3)
    assert (gw.now() - s0) / (time.monotonic() - r0) == pytest.approx(600.0, rel=0.05)
    for bad in (["nan"], ["-1"], ["1e9"], [], ["1", "2"]):
        ok, text = await send_control("127.0.0.1", gw.port, "speed", bad)
        assert not ok and "speed" in text, (bad, text)
    assert gw.clock.speed == 600.0  # refused commands changed nothing
    gw.clock.set_speed(0.0)


async def test_a_new_account_moves_an_old_demo_journal_aside(data_dir) -> None:
    """A journal from a demo account that is gone (e.g. the old non-persistent demo) would
    fail reconciliation against the new account: it is kept aside, its references copied."""
    settings = Settings()
    journal = demo_journal_path(settings)
    journal.parent.mkdir(parents=True)
    with Journal(journal) as j:
        j.record_fill("old1", side="BOT", qty=5, price=100.0, t=1.7e9, con_id=1, symbol="SPY")
        j.set_backtest_reference("crack-spread", [0.01, 0.02], {"sharpe_ratio": 1.0})
    async with DemoHost(settings, speed=0.0):
        pass
    with Journal(journal) as j:
        assert j.fills() == [] and j.backtest_strategies() == ["crack-spread"]
    with Journal(journal.with_name("journal-DU0000001.previous.sqlite3")) as old:
        assert [f["exec_id"] for f in old.fills()] == ["old1"]
    assert demo_state_path(settings).is_file()
    with Journal(journal) as j:
        j.record_fill("new1", side="BOT", qty=1, price=100.0, t=1.7e9, con_id=1, symbol="SPY")
    async with DemoHost(settings, speed=0.0):  # an existing account: its journal stays
        pass
    with Journal(journal) as j:
        assert [f["exec_id"] for f in j.fills()] == ["new1"]
