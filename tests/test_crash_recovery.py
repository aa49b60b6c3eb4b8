"""Crash mid-rebalance: a real process is killed (SIGKILL) after 2 of its 5 orders; a new
process reconciles the journal with the gateway before any new order, and re-running the
same rebalance sends only the missing deltas — nothing lost, nothing sent twice."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from livedesk.backend.broker.session import DISCONNECTED
from livedesk.backend.contracts import stock
from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.orders import RebalanceBand
from livedesk.backend.trading.orders import market as market_order
from tests.conftest import until
from tests.reliability_helpers import FAST, assert_books, connect

SYMBOLS = ("AAPL", "MSFT", "XOM", "JPM", "KO")
WEIGHT = 0.02
CLIENT_ID = 5

CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from livedesk.backend.contracts import stock
    from livedesk.backend.events import OrderSent
    from livedesk.backend.journal import Journal
    from livedesk.backend.trading.app import TradingApp

    port, path, kill_after = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    symbols, weight, options = sys.argv[4].split(","), float(sys.argv[5]), eval(sys.argv[6])

    async def main():
        journal = Journal(path)
        app = await TradingApp.connect(
            "127.0.0.1", port, {cid}, journal=journal, session_options=options
        )
        sent = []

        def on(ev):
            if isinstance(ev, OrderSent):
                sent.append(ev.symbol)
                print("SENT", ev.symbol, flush=True)
                if len(sent) == kill_after:
                    os.kill(os.getpid(), signal.SIGKILL)  # a crash: no cleanup at all

        app.bus.subscribe(on)
        targets = {{}}
        for s in symbols:
            targets[await app.resolve_contract(stock(s))] = weight
        await app.rebalance(targets, strategy="rebal")
        print("DONE", flush=True)

    asyncio.run(main())
    """
).format(cid=CLIENT_ID)


async def run_child(tmp_path, gw: SimGateway, journal_path, kill_after: int) -> tuple[int, list]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        str(gw.port),
        str(journal_path),
        str(kill_after),
        ",".join(SYMBOLS),
        str(WEIGHT),
        repr(FAST),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = out.decode().split()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    return proc.returncode, [w for w in lines if w != "SENT"]


@pytest.mark.slow
@pytest.mark.parametrize("market_open", [True, False], ids=["filled", "resting"])
async def test_crash_mid_rebalance_then_rerun_sends_only_missing_deltas(
    market, tmp_path, market_open: bool
) -> None:
    open_ = market.session_open()
    gw = SimGateway(
        port=0,
        market=market,
        speed=0,
        start_time=open_ + 3600 if market_open else open_ - 1800,
        tick_interval=0.02,
    )
    await gw.start()
    path = tmp_path / "journal.sqlite3"
    try:
        _, sent = await run_child(tmp_path, gw, path, kill_after=2)
        assert len(sent) == 2
        await until(lambda: len(gw.broker.orders) == 2)
        before = {so.contract.symbol: so for so in gw.broker.orders.values()}
        assert set(before) == set(sent)
        with Journal(path) as j:  # written ahead: both orders are in the journal
            assert sorted(r["symbol"] for r in j.orders()) == sorted(sent)
        journal = Journal(path)
        app = await connect(gw, journal, client_id=CLIENT_ID)
        try:
            # reconciled before any new order: the crashed process's orders are settled
            assert app.session.ready
            report = app.session.last_report
            assert report is not None and len(report.settled) == 2
            statuses = {t.status for t in report.settled}
            assert statuses == ({"Filled"} if market_open else {"PreSubmitted"})
            if market_open:  # fills the dead process never journaled are recorded now
                assert {f["exec_id"] for f in journal.fills()} == {
                    fe.execution.execId for fe in gw.broker.executions
                }
            targets = {await app.resolve_contract(stock(s)): WEIGHT for s in SYMBOLS}
            result = await app.rebalance(targets, strategy="rebal")
            assert result.complete
            fresh = [r for r in result.results if r.sent]
            assert len(fresh) == 3  # only the missing deltas
            await until(lambda: len(gw.broker.orders) == 5)
            symbols = sorted(so.contract.symbol for so in gw.broker.orders.values())
            assert symbols == sorted(SYMBOLS)  # each name ordered once
            if market_open:
                for _ in range(30):  # large orders fill over several simulated seconds
                    if all(not so.is_working for so in gw.broker.orders.values()):
                        break
                    gw.advance(1)
                    await asyncio.sleep(0.02)
                await until(lambda: len(app.positions) == 5)
            again = await app.rebalance(targets, strategy="rebal")
            assert not [r for r in again.results if r.sent]  # a third run has nothing to do
            await app.ib.reqCurrentTimeAsync()
            assert_books(app, gw, journal, orders=5)
        finally:
            app.disconnect()
            journal.close()
    finally:
        await gw.stop()


async def start_cli_gateway(port: int, state) -> asyncio.subprocess.Process:
    exe = Path(sys.executable).with_name("livedesk")
    proc = await asyncio.create_subprocess_exec(
        str(exe), "sim-gateway", "--port", str(port), "--state", str(state), "--speed", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert b"listening on" in line, (line, await proc.stderr.read())
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
async def test_app_survives_a_restart_of_the_cli_gateway(tmp_path) -> None:
    """As a new user would try it: restart ``livedesk sim-gateway --state FILE`` on the same
    port; the app reconnects by itself, keeps its position and trades again."""
    port, state = free_port(), tmp_path / "sim-state.json"
    gw = await start_cli_gateway(port, state)
    journal = Journal(tmp_path / "journal.sqlite3")
    app = None
    try:
        app = await TradingApp.connect(
            "127.0.0.1", port, 1, journal=journal, session_options={**FAST, "backoff_max": 0.5}
        )
        c = await app.resolve_contract(stock("AAPL"))
        first = await app.order_target_quantity(c, market_order, 10)
        await until(lambda: first.trade.isDone(), timeout=10)
        gw.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(gw.wait(), 20) == 0
        await until(lambda: app.session.state == DISCONNECTED, timeout=5)
        gw = await start_cli_gateway(port, state)
        await until(lambda: app.session.ready, timeout=15)
        assert app.ib.isConnected() and app.positions[c.conId].position == 10
        more = await app.order_target_quantity(c, market_order, 15)
        assert more.order.totalQuantity == 5
        await until(lambda: more.trade.isDone(), timeout=10)
        await until(lambda: app.positions[c.conId].position == 15, timeout=5)
        fills = {f["exec_id"] for f in journal.fills()}
        assert len(fills) >= 2 and journal.net_fills() == {c.conId: 15.0}
    finally:
        if app is not None:
            app.disconnect()
        journal.close()
        if gw.returncode is None:
            gw.send_signal(signal.SIGTERM)
            await asyncio.wait_for(gw.wait(), 20)


async def hold_client_id(gw: SimGateway, client_id: int):
    """Another program (the console, say) holding ``client_id`` at the gateway."""
    from ib_async import IB

    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=client_id, timeout=5)
    return ib


@pytest.mark.slow
@pytest.mark.parametrize("restart", ["other-id", "326-fallback"])
async def test_restart_under_another_client_id_adopts_working_orders(
    market, tmp_path, restart: str
) -> None:
    """SIGKILL under client id 5 with 2 of 5 orders resting at the gateway; restart under
    id 6 (configured, or the fallback after 326 because id 5 is held by another program):
    the 2 orders are adopted — the rebalance sends the 3 missing names only — and when the
    market opens the adopted orders' fills reach the journal. Asserted at the gateway."""
    open_ = market.session_open()
    gw = SimGateway(port=0, market=market, speed=0, start_time=open_ - 1800, tick_interval=0.02)
    await gw.start()
    path = tmp_path / "journal.sqlite3"
    holder = None
    try:
        _, sent = await run_child(tmp_path, gw, path, kill_after=2)
        await until(lambda: len(gw.broker.orders) == 2)
        assert {so.client_id for so in gw.broker.orders.values()} == {CLIENT_ID}
        options = {**FAST, "adopted_poll_interval": 0.05}
        journal = Journal(path)
        if restart == "other-id":
            app = await connect(gw, journal, client_id=6, session_options=options)
        else:
            await until(lambda: CLIENT_ID not in gw.sessions)  # the dead process's socket
            holder = await hold_client_id(gw, CLIENT_ID)
            app = await connect(
                gw, journal, client_id=CLIENT_ID, fallback_client_ids=(6,),
                session_options=options,
            )  # fmt: skip
        try:
            assert app.session.client_id == 6 and app.session.ready
            report = app.session.last_report
            assert report is not None
            adopted = sorted(t.order_ref for t in report.adopted)
            at_gateway = sorted(so.order.orderRef for so in gw.broker.orders.values())
            assert adopted == at_gateway and len(adopted) == 2
            assert {t.client_id for t in report.adopted} == {CLIENT_ID}
            assert {t.status for t in report.settled} == {"PreSubmitted"}
            targets = {await app.resolve_contract(stock(s)): WEIGHT for s in SYMBOLS}
            result = await app.rebalance(targets, strategy="rebal")
            assert result.complete
            fresh = sorted(r.trade.contract.symbol for r in result.results if r.sent)
            assert fresh == sorted(set(SYMBOLS) - set(sent))  # only the missing names
            await until(lambda: len(gw.broker.orders) == 5)
            per_name = Counter(so.contract.symbol for so in gw.broker.orders.values())
            assert per_name == Counter(SYMBOLS)  # at the gateway: each name once, none doubled
            owners = Counter(so.client_id for so in gw.broker.orders.values())
            assert owners == {CLIENT_ID: 2, 6: 3}
            again = await app.rebalance(targets, strategy="rebal")  # still working: nothing
            assert not [r for r in again.results if r.sent]
            gw.advance(1800 + 60)  # the market opens: every order fills
            for _ in range(60):
                if all(not so.is_working for so in gw.broker.orders.values()):
                    break
                gw.advance(1)
                await asyncio.sleep(0.02)
            assert all(not so.is_working for so in gw.broker.orders.values())
            await until(lambda: not app.session.tracker.adopted(6), timeout=10)
            await until(lambda: len(journal.fills()) == len(gw.broker.executions), timeout=10)
            await until(lambda: len(app.positions) == 5)
            # prices moved overnight: a 5 % band (of each target) keeps a rerun quiet
            band = RebalanceBand(shares=1, percent=5)
            third = await app.rebalance(targets, strategy="rebal", band=band)
            assert not [r for r in third.results if r.sent], [r.message for r in third.results]
            await app.ib.reqCurrentTimeAsync()
            assert_books(app, gw, journal, orders=5)
            statuses = {r["order_ref"]: r["status"] for r in journal.orders()}
            assert set(statuses.values()) == {"Filled"}, statuses
        finally:
            app.disconnect()
            journal.close()
    finally:
        if holder is not None:
            holder.disconnect()
        await gw.stop()
