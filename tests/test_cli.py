"""The `livedesk` command as a user runs it: real subprocesses, real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from ib_async import IB, MarketOrder, Stock

from livedesk.backend.config import ConfigError, load_settings
from tests.conftest import until

ROOT = Path(__file__).resolve().parents[1]


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LIVEDESK_CONFIG_DIR=str(tmp_path / "cfg"),
        LIVEDESK_STATE_DIR=str(tmp_path / "state"),
        LIVEDESK_DATA_DIR=str(tmp_path / "data"),
    )
    return env


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "livedesk.tui.cli", *args],
        cwd=ROOT,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version_and_help(tmp_path: Path) -> None:
    v = run_cli(tmp_path, "--version")
    assert v.returncode == 0 and v.stdout.startswith("livedesk ")
    h = run_cli(tmp_path, "--help")
    assert h.returncode == 0
    for word in ("sim-gateway", "sim-control", "report"):
        assert word in h.stdout
    g = run_cli(tmp_path, "sim-gateway", "--help")
    for flag in (
        "--host",
        "--port",
        "--seed",
        "--account",
        "--speed",
        "--state",
        "--read-only",
        "--allow-remote",
    ):
        assert flag in g.stdout


def test_remote_bind_refused_without_flag(tmp_path: Path) -> None:
    r = run_cli(tmp_path, "sim-gateway", "--host", "0.0.0.0", "--port", "0")
    assert r.returncode == 2 and "non-loopback" in r.stderr


def test_invalid_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.toml").write_text("[broker]\nport = 'four'\n")
    r = run_cli(tmp_path, "--version")
    assert r.returncode == 0  # --version never reads settings
    r = run_cli(tmp_path, "report")
    assert r.returncode == 2 and "port" in r.stderr
    with pytest.raises(ConfigError, match="unknown setting"):
        (cfg / "config.toml").write_text("[broker]\nprot = 1\n")
        load_settings(cfg / "config.toml", env={})


def test_settings_layers(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[broker]\nport = 7497\nclient_id = 3\n[sim]\nseed = 11\n")
    s = load_settings(path, env={"LIVEDESK_PORT": "4001"})
    assert (s.broker.port, s.broker.client_id, s.sim.seed) == (4001, 3, 11)


async def test_sim_gateway_process_trades_controls_and_stops_cleanly(
    tmp_path: Path, ib_log_guard
) -> None:
    state = tmp_path / "state.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livedesk.tui.cli",
        "sim-gateway",
        "--port",
        "0",
        "--seed",
        "3",
        "--speed",
        "0",
        "--state",
        str(state),
        cwd=ROOT,
        env=cli_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        assert line.startswith("listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        ib = IB()
        await ib.connectAsync("127.0.0.1", port, clientId=1)
        [c] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        codes = []
        ib.errorEvent += lambda req_id, code, msg, con: codes.append(code)
        ctl = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "livedesk.tui.cli",
            "sim-control",
            "--port",
            str(port),
            "error",
            "1100",
            cwd=ROOT,
            env=cli_env(tmp_path),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await ctl.communicate()
        assert ctl.returncode == 0 and out.decode().startswith("ok error")
        await until(lambda: 1100 in codes)
        ctl = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "livedesk.tui.cli",
            "sim-control",
            "--port",
            str(port),
            "reject-next",
            "desk",
            "limit",
            cwd=ROOT,
            env=cli_env(tmp_path),
            stdout=asyncio.subprocess.PIPE,
        )
        await ctl.communicate()
        rejected = ib.placeOrder(c, MarketOrder("BUY", 5))
        await until(lambda: rejected.isDone())
        assert rejected.orderStatus.status == "Cancelled" and 201 in codes
        trade = ib.placeOrder(c, MarketOrder("BUY", 5))
        await until(lambda: trade.isDone())
        assert trade.orderStatus.status == "Filled"
        ib.disconnect()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        db = sqlite3.connect(state)  # the state file is a SQLite journal
        [(holding,)] = db.execute("SELECT data FROM holdings").fetchall()
        db.close()
        assert json.loads(holding)["qty"] == 5.0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
