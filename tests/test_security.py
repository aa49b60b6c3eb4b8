"""Security: user-only files, validated settings, no stored credentials, loopback-only sim,
live-port guard."""

from __future__ import annotations

import logging
import stat

import pytest

from livedesk.backend.broker.session import SessionConfig
from livedesk.backend.config import ConfigError, load_settings, setup_logging, write_config
from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.guard import AccountGuard


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_journal_files_are_user_only(tmp_path) -> None:
    path = tmp_path / "new-dir" / "journal.sqlite3"
    with Journal(path) as j:
        j.record_alert("info", "x")
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
        for extra in path.parent.glob("journal.sqlite3-*"):  # WAL and shared memory
            assert mode(extra) == 0o600, extra


def test_existing_shared_parent_is_not_tightened(tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with Journal(shared / "j.sqlite3"):
        pass
    assert mode(shared) == 0o755 and mode(shared / "j.sqlite3") == 0o600


def test_log_file_is_user_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LIVEDESK_STATE_DIR", str(tmp_path / "state"))
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        path = setup_logging("INFO")
        logging.getLogger("livedesk.test").info("hello")
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
    finally:
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)
                h.close()
        root.setLevel(level)


def test_write_config_is_user_only_and_validated(tmp_path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    write_config("[broker]\nport = 4002\nclient_id = 3\n", path)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert load_settings(path, env={}).broker.client_id == 3
    with pytest.raises(ConfigError, match="port"):
        write_config("[broker]\nport = 0\n", path)
    assert load_settings(path, env={}).broker.client_id == 3  # the old file is untouched
    assert not path.with_name("config.toml.tmp").exists()


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        ("[broker]\nport = 70000\n", "port = 70000"),
        ("[broker]\nport = true\n", "port = True"),
        ("[broker]\nclient_id = 0\n", "client_id = 0 must be a positive"),
        ("[broker]\nclient_id = 11\n", "fallback_client_id = 11 must differ"),
        ("[broker]\ntimeout = 0\n", "timeout"),
        ('[broker]\nhost = " "\n', "host is empty"),
        ("[sim]\nspeed = -1\n", "speed"),
        ("[broker]\nport = 1.5\n", "port = 1.5"),
    ],
)
def test_bad_settings_get_clear_errors(tmp_path, toml: str, match: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=match):
        load_settings(path, env={})


@pytest.mark.parametrize("where", ["[broker]\n", "[sim]\n", ""])
def test_credentials_are_never_stored(tmp_path, where: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'{where}password = "hunter2"\n')
    with pytest.raises(ConfigError, match="never stores credentials") as err:
        load_settings(path, env={})
    assert "hunter2" not in str(err.value)  # nor echoed in the error
    with pytest.raises(ConfigError):
        write_config('[broker]\npassword = "hunter2"\n', tmp_path / "c2.toml")
    assert not (tmp_path / "c2.toml").exists()


def test_session_settings_validated() -> None:
    with pytest.raises(ValueError, match="client id 0"):
        SessionConfig(client_id=0)
    with pytest.raises(ValueError, match="port 0"):
        SessionConfig(port=0)
    with pytest.raises(ValueError, match="jitter"):
        SessionConfig(jitter=1.5)
    with pytest.raises(ValueError, match="heartbeat_timeout"):
        SessionConfig(heartbeat_timeout=0)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    import random

    cfg = SessionConfig(backoff_initial=0.5, backoff_factor=2.0, backoff_max=4.0, jitter=0.2)
    rng = random.Random(1)
    delays = [cfg.backoff(n, rng) for n in range(8)]
    bases = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    for d, b in zip(delays, bases, strict=True):
        assert b * 0.8 <= d <= b * 1.2
    assert len({round(d, 6) for d in delays[3:]}) == 5  # jittered: no two retries in lockstep


def test_sim_refuses_non_loopback_without_its_flag() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        SimGateway(host="0.0.0.0")
    assert SimGateway(host="0.0.0.0", allow_remote=True).host == "0.0.0.0"  # not started
    assert SimGateway(host="::1").host == "::1"


@pytest.mark.parametrize("port", [7496, 4001])
def test_live_ports_count_as_live_even_for_a_paper_id(port: int) -> None:
    refused = AccountGuard("DU0000001", port=port).check()
    assert refused and "live" in refused[0]
    ok = AccountGuard("DU0000001", port=port, live=True, confirmed_account="DU0000001")
    assert ok.check() == []
    assert AccountGuard("DU0000001", port=4002).check() == []
