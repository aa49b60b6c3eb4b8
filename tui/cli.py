"""The ``livedesk`` command and its sub-commands.

Heavy modules (Textual, zipline, empyrical, the simulated market) are imported only by the
sub-command that needs them, so ``livedesk --help`` and ``--version`` stay instant.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from importlib.metadata import PackageNotFoundError, version

from livedesk.backend.bundles.command import add_bundle_parser
from livedesk.backend.demo.command import add_demo_parser
from livedesk.backend.demo.headless import add_demo_run_args
from livedesk.backend.sim.control.faults import COMMANDS
from livedesk.backend.strategies.command import COMMANDS as STRATEGY_COMMANDS
from livedesk.backend.strategies.command import add_strategy_parsers


def _version() -> str:
    try:
        return version("livedesk")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    p = argparse.ArgumentParser(
        prog="livedesk",
        description="LiveDesk: run trading strategies live on Interactive Brokers from the terminal. "
        "With no sub-command, starts the demo on the embedded simulated gateway.",
    )
    p.add_argument("--version", action="version", version=f"livedesk {_version()}")
    p.add_argument("--config", help="settings file (default: config.toml in the user config dir)")
    add_console_args(p, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    add_console_args(
        sub.add_parser("console", help="the console (the default command)"), argparse.SUPPRESS
    )

    g = sub.add_parser("sim-gateway", help="run the simulated IB gateway (TWS API on loopback)")
    g.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    g.add_argument("--port", type=int, default=4002, help="port (0 picks a free one; default 4002)")
    g.add_argument("--seed", type=int, default=None, help="market seed (default from settings: 7)")
    g.add_argument("--account", default=None, help="account id (default DU0000001, a paper id)")
    g.add_argument(
        "--speed", type=float, default=None, help="simulated seconds per real second (0 = frozen)"
    )
    g.add_argument(
        "--start",
        metavar="YYYY-MM-DD[THH:MM]",
        help="first simulated instant, New York time (a date alone: that session's open; "
        "default: the open of the latest session)",
    )
    g.add_argument(
        "--state", metavar="FILE", help="persist positions, cash, orders and fills in FILE"
    )
    g.add_argument("--read-only", action="store_true", help="reject orders like a read-only API")
    g.add_argument(
        "--allow-remote", action="store_true", help="allow binding to a non-loopback address"
    )
    g.add_argument(
        "--tick-interval", type=float, default=0.1, help="seconds between streaming passes (0.1)"
    )
    g.add_argument(
        "--no-control",
        action="store_true",
        help="refuse sim-control fault commands (drop, silent, error, partial, ...)",
    )

    c = sub.add_parser("sim-control", help="send a fault/control command to a running sim gateway")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=4002)
    c.add_argument("action", choices=COMMANDS, help="what to do")
    c.add_argument(
        "args",
        nargs="*",
        help="arguments (error: CODE [MESSAGE]; reject-next: REASON; partial: N; "
        "impact: BPS of extra slippage on every fill; latency: MS of fill delay; "
        "speed: X simulated seconds per real second, 0 = paused)",
    )

    r = sub.add_parser("report", help="live metrics, equity/drawdown and slippage from the journal")
    r.add_argument("--since", help="only data since this date (YYYY-MM-DD)")
    r.add_argument("--strategy", help="one strategy only")
    r.add_argument("--csv", metavar="DIR", help="also export the tables and series as CSV into DIR")
    r.add_argument(
        "--journal",
        help="journal file (default: the configured account's, the demo account's without one)",
    )
    r.add_argument(
        "--min-sessions",
        type=int,
        metavar="N",
        help="daily returns needed before annualised figures show (default: [risk] "
        "min_sessions, 20)",
    )
    r.add_argument(
        "--attribution",
        action="store_true",
        help="explain live vs backtest: spread and impact, delay, commission, missed fills, "
        "residual and model/regime, with a waterfall and the top trades",
    )
    r.add_argument(
        "--nlv",
        type=float,
        help="with --attribution: the NetLiquidation to scale by, for a journal without one",
    )
    add_bundle_parser(sub)
    add_demo_run_args(add_demo_parser(sub))
    add_strategy_parsers(sub)
    return p


def add_console_args(p: argparse.ArgumentParser, default) -> None:
    """The console's connection flags (on the bare command and on ``console``)."""
    p.add_argument("--host", default=default, help="TWS / IB Gateway host (default: the demo)")
    p.add_argument(
        "--port", type=int, default=default, help="API port (7497/7496 TWS, 4002/4001 IBG)"
    )
    p.add_argument("--client-id", type=int, default=default, help="API client id (default 1)")
    p.add_argument(
        "--read-only", action="store_true", default=default, help="never send orders or cancels"
    )
    p.add_argument(
        "--live",
        action="store_true",
        default=default,
        help="allow orders on a live (non-DU) account, after typing its id in the console",
    )
    p.add_argument(
        "--sim", action="store_true", default=default, help="use the embedded demo gateway"
    )
    p.add_argument(
        "--speed",
        type=float,
        default=default,
        metavar="X",
        help="demo only: simulated seconds per real second (0 = paused; keys > and < change it)",
    )


def check_args(args: argparse.Namespace) -> None:
    """Flags argparse cannot check by type alone; ConfigError names the flag."""
    from livedesk.backend.config import ConfigError, check_client_id, check_number, check_port

    command = args.command
    port = getattr(args, "port", None)
    if port is not None and port is not argparse.SUPPRESS:
        check_port(port, "--port", allow_zero=command == "sim-gateway")
    client_id = getattr(args, "client_id", None)
    if client_id is not None and client_id is not argparse.SUPPRESS:
        check_client_id(client_id, "--client-id")
    if command in (None, "console"):
        speed = getattr(args, "speed", None)
        if speed is not None and speed is not argparse.SUPPRESS:
            check_number(speed, "--speed", strict=False)
    if command == "sim-gateway":
        check_number(args.tick_interval, "--tick-interval")
        if args.speed is not None:
            check_number(args.speed, "--speed", strict=False)
        if args.state:
            from pathlib import Path

            parent = Path(args.state).parent
            if not parent.is_dir():
                raise ConfigError(
                    f"--state {args.state}: directory {parent} does not exist "
                    "(it is not created for you: check the path, or mkdir it)"
                )
    if command == "run" and args.if_due and not args.once:
        raise ConfigError("--if-due only applies to a single run: add --once (for cron)")
    if command == "backtest":
        if args.days is not None and args.days < 1:
            raise ConfigError(f"--days {args.days} must be at least 1 session")
        check_number(args.cost_bps, "--cost-bps", strict=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``livedesk`` script.

    Every bad setting — a flag, the config file, a ``LIVEDESK_*`` variable, a
    ``[strategies.NAME]`` table — stops here with a message naming it and exit status 2,
    before anything is written (no log, no journal, no state file).
    """
    args = build_parser().parse_args(argv)
    from pathlib import Path

    from livedesk.backend.config import ConfigError, load_settings, setup_logging
    from livedesk.backend.errors import JournalUnreadable

    try:
        check_args(args)
        settings = load_settings(
            Path(args.config) if args.config else None, required=bool(args.config)
        )
        if args.command in (None, "console", *STRATEGY_COMMANDS):
            from livedesk.backend.strategies.registry import check_strategy_tables, strategy_class

            check_strategy_tables(settings)
            if (
                args.command in ("run", "backtest")
                and args.name
                and not getattr(args, "algo", None)
            ):
                strategy_class(args.name)
        if args.command in (None, "console") and getattr(args, "speed", None) is not None:
            from livedesk.tui.console import console_target

            if not console_target(settings, **_target_flags(args)).sim:
                raise ConfigError(
                    "--speed applies only to the demo (the embedded simulated gateway), "
                    "not to a real broker"
                )
    except ConfigError as exc:
        print(f"livedesk: invalid settings: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        return _dispatch(args, settings)
    except JournalUnreadable as exc:
        print(f"livedesk: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, settings) -> int:
    if args.command == "sim-gateway":
        return _sim_gateway(args, settings)
    if args.command == "sim-control":
        return _sim_control(args)
    if args.command == "demo":
        from livedesk.backend.demo.command import run_demo_command

        return run_demo_command(args, settings)
    if args.command == "bundle":
        from livedesk.backend.bundles.command import run_bundle_command

        return run_bundle_command(args, settings)
    if args.command in STRATEGY_COMMANDS:
        from livedesk.backend.strategies.command import run_strategy_command

        return run_strategy_command(args, settings)
    if args.command == "report":
        from livedesk.backend.report.metrics import run_report
        from livedesk.backend.strategies.registry import current_params

        return run_report(
            since=args.since,
            strategy=args.strategy,
            csv_dir=args.csv,
            journal=args.journal or _demo_journal(settings),
            attribution=args.attribution,
            nlv=args.nlv,
            account=settings.broker.account,
            params=current_params(settings),
            min_sessions=(
                settings.risk.min_sessions if args.min_sessions is None else args.min_sessions
            ),
            risk=settings.risk,
        )
    return _console(args, settings)


def _demo_journal(settings) -> str | None:
    """The demo account's journal when no broker account is configured."""
    if settings.broker.account:
        return None
    from livedesk.backend.demo.account import demo_journal_path

    return str(demo_journal_path(settings))


def _console(args: argparse.Namespace, settings) -> int:
    """Bare ``livedesk`` / ``livedesk console``: the Textual console."""
    from livedesk.tui.console import run_console

    return run_console(settings, speed=getattr(args, "speed", None), **_target_flags(args))


def _target_flags(args: argparse.Namespace) -> dict:
    return dict(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        client_id=getattr(args, "client_id", None),
        read_only=getattr(args, "read_only", False),
        live=getattr(args, "live", False),
        sim=getattr(args, "sim", False),
    )


def _sim_gateway(args: argparse.Namespace, settings) -> int:
    from livedesk.backend.sim.gateway import SimGateway

    async def run() -> None:
        try:
            gw = SimGateway(
                args.host,
                args.port,
                seed=args.seed if args.seed is not None else settings.sim.seed,
                account=args.account or settings.sim.account,
                speed=args.speed if args.speed is not None else settings.sim.speed,
                state_file=args.state or settings.sim.state_file or None,
                read_only=args.read_only,
                allow_remote=args.allow_remote,
                tick_interval=args.tick_interval,
                control=not args.no_control,
                start=args.start,
            )
        except ValueError as exc:
            print(f"livedesk sim-gateway: {exc}", file=sys.stderr)
            raise SystemExit(2) from exc
        try:
            await gw.start()
        except OSError as exc:
            print(
                f"livedesk sim-gateway: cannot listen on {args.host}:{args.port}: {exc.strerror}",
                file=sys.stderr,
            )
            raise SystemExit(1) from exc
        print(f"listening on {gw.host}:{gw.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await gw.stop()

    try:
        asyncio.run(run())
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _sim_control(args: argparse.Namespace) -> int:
    from livedesk.backend.sim.control.client import send_control

    try:
        ok, text = asyncio.run(send_control(args.host, args.port, args.action, args.args))
    except OSError as exc:
        print(f"livedesk sim-control: cannot reach {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 0 if ok else 2


if __name__ == "__main__":
    raise SystemExit(main())
