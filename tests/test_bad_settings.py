"""Every bad setting refused: config file, ``LIVEDESK_*`` variables and flags go through
the real ``livedesk`` entry point (``main(argv)``, and a few as a real subprocess). Each
case exits 2 with a message naming the key or flag, prints no traceback and writes
nothing (no config, state or data directory appears; a corrupt journal is not touched)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from livedesk.tui.cli import main

ROOT = Path(__file__).resolve().parents[1]

CONFIG = "config"  # the case writes its text to a config file passed with --config
ENV = "env"  # the case sets LIVEDESK_* variables
FLAGS = "flags"

# (id, kind, payload, argv, what the message must name)
CASES = [
    # ---- the config file ---------------------------------------------------------------
    ("typo-strategy-table", CONFIG, "[strategies.crack-sprad]\nweight = 0.5\n", ["strategies"],
     "did you mean [strategies.crack-spread]"),
    ("unknown-strategy-table", CONFIG, "[strategies.nope]\n", ["run", "x", "--once"],
     "[strategies.nope]"),
    ("bad-strategy-value", CONFIG, "[strategies.crack-spread]\nwindow = 2\n", ["strategies"],
     "[strategies.crack-spread] window"),
    ("bad-enabled", CONFIG, '[strategies.crack-spread]\nenabled = "yes"\n', ["strategies"],
     "[strategies.crack-spread] enabled"),
    ("log-level-basic-format", CONFIG, 'log_level = "basic_format"\n', ["strategies"],
     "log_level"),
    ("log-level-number", CONFIG, "log_level = 10\n", ["strategies"], "log_level"),
    ("theme-not-string", CONFIG, "theme = 5\n", ["strategies"], "theme"),
    ("broker-not-a-table", CONFIG, "broker = 5\n", ["strategies"], "[broker] must be a table"),
    ("sim-not-a-table", CONFIG, 'sim = "fast"\n', ["strategies"], "[sim] must be a table"),
    ("rebalance-not-a-table", CONFIG, "rebalance = 1\n", ["strategies"], "[rebalance]"),
    ("config-port-range", CONFIG, "[broker]\nport = 70000\n", ["strategies"], "[broker] port"),
    ("config-client-id-0", CONFIG, "[broker]\nclient_id = 0\n", ["strategies"],
     "[broker] client_id"),
    ("config-client-id-text", CONFIG, '[broker]\nclient_id = "one"\n', ["strategies"],
     "[broker] client_id"),
    ("timeout-inf", CONFIG, "[broker]\ntimeout = inf\n", ["strategies"], "[broker] timeout"),
    ("timeout-nan", CONFIG, "[broker]\ntimeout = nan\n", ["strategies"], "[broker] timeout"),
    ("speed-inf", CONFIG, "[sim]\nspeed = inf\n", ["strategies"], "[sim] speed"),
    ("speed-negative", CONFIG, "[sim]\nspeed = -1\n", ["strategies"], "[sim] speed"),
    ("guard-unknown-key", CONFIG, "[guard]\nmax_notional = 1\n", ["strategies"],
     "[guard] max_notional"),
    ("band-negative", CONFIG, "[rebalance]\nband_percent = -1\n", ["strategies"],
     "[rebalance] band_percent"),
    ("unknown-top-level", CONFIG, "colour = 1\n", ["strategies"], "colour"),
    ("broken-toml", CONFIG, "[broker\nport = 1\n", ["strategies"], "config.toml"),
    ("not-utf8", CONFIG, b"theme = \"\xff\xfe\"\n", ["strategies"], "not UTF-8"),
    ("missing-config", FLAGS, None, ["--config", "{tmp}/nope.toml", "strategies"],
     "--config"),
    ("config-is-a-dir", FLAGS, None, ["--config", "{tmp}", "strategies"], "is a directory"),
    # ---- the environment ---------------------------------------------------------------
    ("env-port-text", ENV, {"LIVEDESK_PORT": "abc"}, ["strategies"], "LIVEDESK_PORT"),
    ("env-port-range", ENV, {"LIVEDESK_PORT": "70000"}, ["strategies"], "LIVEDESK_PORT"),
    ("env-client-id", ENV, {"LIVEDESK_CLIENT_ID": "-3"}, ["strategies"], "LIVEDESK_CLIENT_ID"),
    ("env-seed", ENV, {"LIVEDESK_SEED": "seven"}, ["strategies"], "LIVEDESK_SEED"),
    # ---- flags -------------------------------------------------------------------------
    ("run-port-range", FLAGS, None, ["run", "crack-spread", "--once", "--port", "70000"],
     "--port"),
    ("run-port-zero", FLAGS, None, ["run", "crack-spread", "--once", "--port", "0"], "--port"),
    ("run-port-text", FLAGS, None, ["run", "crack-spread", "--port", "x"], "--port"),
    ("run-client-id-0", FLAGS, None, ["run", "crack-spread", "--once", "--client-id", "0"],
     "--client-id"),
    ("run-client-id-negative", FLAGS, None,
     ["run", "crack-spread", "--once", "--client-id=-4"], "--client-id"),
    ("run-if-due-without-once", FLAGS, None, ["run", "monthly-factor", "--if-due"],
     "--if-due"),
    ("run-unknown-strategy", FLAGS, None, ["run", "crack-sprad", "--once", "--port", "4002"],
     "did you mean crack-spread"),
    ("console-port", FLAGS, None, ["--port", "70000"], "--port"),
    ("console-client-id", FLAGS, None, ["console", "--client-id", "0"], "--client-id"),
    ("sim-gateway-port", FLAGS, None, ["sim-gateway", "--port", "70000"], "--port"),
    ("sim-gateway-port-negative", FLAGS, None, ["sim-gateway", "--port=-1"], "--port"),
    ("tick-interval-zero", FLAGS, None, ["sim-gateway", "--tick-interval", "0"],
     "--tick-interval"),
    ("tick-interval-negative", FLAGS, None, ["sim-gateway", "--tick-interval=-0.5"],
     "--tick-interval"),
    ("tick-interval-nan", FLAGS, None, ["sim-gateway", "--tick-interval", "nan"],
     "--tick-interval"),
    ("sim-speed-inf", FLAGS, None, ["sim-gateway", "--speed", "inf"], "--speed"),
    ("sim-state-missing-dir", FLAGS, None,
     ["sim-gateway", "--state", "{tmp}/no/such/dir/state.db"], "--state"),
    ("sim-control-port", FLAGS, None, ["sim-control", "--port", "70000", "status"], "--port"),
    ("backtest-days-zero", FLAGS, None, ["backtest", "crack-spread", "--days", "0"], "--days"),
    ("backtest-cost-nan", FLAGS, None, ["backtest", "crack-spread", "--cost-bps", "nan"],
     "--cost-bps"),
]  # fmt: skip


def isolated_env(monkeypatch, tmp_path: Path) -> dict[str, Path]:
    dirs = {k: tmp_path / k for k in ("cfg", "state", "data")}
    for key in list(os.environ):
        if key.startswith("LIVEDESK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LIVEDESK_CONFIG_DIR", str(dirs["cfg"]))
    monkeypatch.setenv("LIVEDESK_STATE_DIR", str(dirs["state"]))
    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(dirs["data"]))
    return dirs


def run_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own refusals (a flag of the wrong type)
        return int(exc.code or 0)


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("kind", "payload", "argv", "named"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_setting_exits_2_naming_it(
    kind, payload, argv, named, tmp_path, monkeypatch, capsys
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    dirs = isolated_env(monkeypatch, tmp_path)
    argv = [a.replace("{tmp}", str(inputs)) for a in argv]
    if kind == CONFIG:
        path = inputs / "config.toml"
        path.write_bytes(payload if isinstance(payload, bytes) else payload.encode())
        argv = ["--config", str(path), *argv]
    elif kind == ENV:
        for k, v in payload.items():
            monkeypatch.setenv(k, v)
    before = sorted(p.name for p in inputs.rglob("*"))
    rc = run_main(argv)
    captured = capsys.readouterr()
    err = captured.err + captured.out  # `livedesk run` reports on stdout (one line for cron)
    assert rc == 2, err
    assert named in err, err
    assert "Traceback" not in err
    assert not any(d.exists() for d in dirs.values()), "something was written"
    assert sorted(p.name for p in inputs.rglob("*")) == before


@pytest.mark.parametrize("command", ["strategies", "run"])
def test_corrupt_journal_is_refused_with_its_path_and_never_modified(
    command, tmp_path, monkeypatch, capsys
) -> None:
    isolated_env(monkeypatch, tmp_path)
    journal = tmp_path / "journal.sqlite3"
    content = b"this is not a database\n" * 100
    journal.write_bytes(content)
    journal.chmod(0o600)
    argv = ["strategies", "--journal", str(journal)]
    if command == "run":
        argv = ["run", "crack-spread", "--once", "--port", "4002", "--journal", str(journal)]
    rc = run_main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert str(journal) in err and "mv " in err and "not modified" in err
    assert "Traceback" not in err
    assert journal.read_bytes() == content
    assert sorted(p.name for p in tmp_path.glob("journal*")) == ["journal.sqlite3"]


@pytest.mark.parametrize(
    "argv",
    [["sim-gateway", "--port", "70000"], ["run", "crack-spread", "--if-due"]],
    ids=["sim-gateway-port", "if-due"],
)
def test_the_installed_command_refuses_too(argv, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEDESK_")}
    env.update(LIVEDESK_CONFIG_DIR=str(tmp_path / "c"), LIVEDESK_STATE_DIR=str(tmp_path / "s"))
    env["LIVEDESK_DATA_DIR"] = str(tmp_path / "d")
    p = subprocess.run(
        [sys.executable, "-m", "livedesk.tui.cli", *argv],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert argv[-2] in p.stderr or argv[-1] in p.stderr
    assert "Traceback" not in p.stderr
    assert not any((tmp_path / d).exists() for d in "csd")
