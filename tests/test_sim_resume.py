"""A ``--state`` gateway's simulated clock resumes where it stopped and never goes back.

Inside regular hours it resumes exactly; outside them at the next open, on the session it
stopped in, so the close of that session still runs (DAY orders expire, GTC orders stay) and
the market rolls. Times are worked out by hand from the XNYS calendar of November 2026
(Thanksgiving Thursday 26th closed, Friday 27th closes at 13:00).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock

from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.sim.market.calendar import resume_point
from tests.conftest import until

NY = ZoneInfo("America/New_York")
ROOT = Path(__file__).resolve().parents[1]


def ny(day: int, hour: int, minute: int = 0, month: int = 11) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=NY).timestamp()


@pytest.mark.parametrize(
    ("saved", "session", "resumes"),
    [
        (ny(20, 11, 15), dt.date(2026, 11, 20), ny(20, 11, 15)),  # in hours: exactly there
        (ny(20, 8, 0), dt.date(2026, 11, 20), ny(20, 9, 30)),  # pre-open: that day's open
        (ny(20, 17, 0), dt.date(2026, 11, 20), ny(23, 9, 30)),  # Friday evening: Monday open
        (ny(22, 12, 0), dt.date(2026, 11, 20), ny(23, 9, 30)),  # Sunday: Monday open
        (ny(25, 16, 30), dt.date(2026, 11, 25), ny(27, 9, 30)),  # Thanksgiving skipped
        (ny(27, 13, 30), dt.date(2026, 11, 27), ny(30, 9, 30)),  # after the 13:00 early close
        (ny(27, 12, 59), dt.date(2026, 11, 27), ny(27, 12, 59)),  # before the early close
    ],
)
def test_resume_point_never_goes_back(saved: float, session: dt.date, resumes: float) -> None:
    assert resume_point(saved) == (session, resumes)


async def _connect(gw: SimGateway, client_id: int = 1) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=client_id, timeout=5)
    return ib


async def test_a_restart_resumes_the_clock_positions_and_orders(tmp_path) -> None:
    state = tmp_path / "demo.sqlite3"
    gw = SimGateway(
        port=0, speed=0.0, start="2026-11-20T10:30", state_file=state, tick_interval=0.02
    )
    await gw.start()
    ib = await _connect(gw)
    aapl = (await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD")))[0]
    bought = ib.placeOrder(aapl, MarketOrder("BUY", 10))
    await until(lambda: bought.isDone(), 5)
    assert bought.orderStatus.status == "Filled"
    bid = gw.market.quote(aapl.conId, gw.now()).bid
    far = LimitOrder("BUY", 5, round(bid * 0.9, 2))
    far.tif = "GTC"
    ib.placeOrder(aapl, far)  # far below the market: works until cancelled
    day = LimitOrder("BUY", 3, round(bid * 0.9, 2))  # DAY: expires at this session's close
    ib.placeOrder(aapl, day)
    await until(lambda: len(gw.broker.working()) == 2, 5)
    gw.advance(3600)  # 11:30
    stopped_at = gw.now()
    ib.disconnect()
    await gw.stop()
    assert stopped_at == pytest.approx(ny(20, 11, 30), abs=2)

    again = SimGateway(port=0, speed=0.0, state_file=state, tick_interval=0.02)
    assert again.now() == pytest.approx(stopped_at, abs=0.01)  # not the 09:30 open
    assert again.market.session == dt.date(2026, 11, 20)
    assert again.broker.account.holdings[aapl.conId].qty == 10
    assert len(again.broker.working()) == 2
    await again.start()
    again.advance(6 * 3600)  # past the 16:00 close
    await again.stop()

    third = SimGateway(port=0, speed=0.0, state_file=state, tick_interval=0.02)
    # stopped after Friday's close: resumes at Monday's open, after running Friday's close
    assert third.now() == pytest.approx(ny(23, 9, 30), abs=0.01)
    await third.start()
    await until(lambda: third.market.session == dt.date(2026, 11, 23), 5)
    working = third.broker.working()
    assert [(w.order.tif, w.order.totalQuantity) for w in working] == [("GTC", 5.0)]
    ib = await _connect(third, client_id=2)
    server = await ib.reqCurrentTimeAsync()
    assert server.timestamp() >= ny(23, 9, 30) - 1
    ib.disconnect()
    await third.stop()


async def test_an_earlier_start_than_the_saved_clock_is_refused(tmp_path) -> None:
    state = tmp_path / "demo.sqlite3"
    gw = SimGateway(port=0, speed=0.0, start="2026-11-20T14:00", state_file=state)
    await gw.start()
    await gw.stop()
    with pytest.raises(ValueError, match="never goes back"):
        SimGateway(port=0, speed=0.0, start="2026-11-20T10:00", state_file=state)
    later = SimGateway(port=0, speed=0.0, start="2026-11-20T15:00", state_file=state)
    assert later.now() == ny(20, 15, 0)
    r = subprocess.run(
        [sys.executable, "-m", "livedesk.tui.cli", "sim-gateway", "--port", "0", "--state",
         str(state), "--start", "2026-11-20T10:00"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2
    assert "never goes back" in r.stderr and "Traceback" not in r.stderr
