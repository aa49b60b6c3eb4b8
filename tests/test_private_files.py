"""Files LiveDesk writes are user-only; the live-account refusal names a real flag."""

from __future__ import annotations

import stat

import pytest

from livedesk.backend.journal import default_journal_path
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.guard import AccountGuard


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_sim_state_file_is_created_user_only(market, tmp_path) -> None:
    path = tmp_path / "sim-state.db"
    async with SimGateway(port=0, market=market, speed=0, state_file=path) as gw:
        gw.advance(1)
    assert mode(path) == 0o600


def test_sim_state_in_a_missing_directory_is_refused(market, tmp_path) -> None:
    path = tmp_path / "missing" / "sim-state.db"
    with pytest.raises(ValueError, match=r"--state .*does not exist"):
        SimGateway(port=0, market=market, speed=0, state_file=path)
    assert not (tmp_path / "missing").exists()


def test_a_loose_data_directory_is_tightened(tmp_path, monkeypatch) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(data))
    assert default_journal_path() == data / "journal.sqlite3"
    assert mode(data) == 0o700


def test_live_account_refusal_names_the_console_flag() -> None:
    [reason] = AccountGuard("U1234567", port=4002).check()
    assert "livedesk --live" in reason and "live=True" in reason
    assert "restart with live=True" not in reason
