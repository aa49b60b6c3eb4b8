"""Build and run the console from settings and flags (what bare ``livedesk`` does)."""

from __future__ import annotations

from livedesk.backend.console.session import ConsoleSession, Target


def console_target(
    settings,
    *,
    host: str | None = None,
    port: int | None = None,
    client_id: int | None = None,
    read_only: bool = False,
    live: bool = False,
    sim: bool = False,
    speed: float | None = None,
) -> Target:
    """The sim gateway unless a broker is configured or ``--host`` / ``--port`` is given."""
    b = settings.broker
    use_broker = not sim and (host is not None or port is not None or settings.broker_configured)
    return Target(
        host=(host or b.host) if use_broker else None,
        port=(port or b.port) if use_broker else 0,
        client_id=client_id if client_id is not None else b.client_id,
        readonly=read_only,
        live=live,
        account=b.account,
        timeout=b.timeout,
        speed=speed,
    )


def build_app(settings, target: Target, **kw):
    """The :class:`~livedesk.tui.app.LiveDeskApp` for ``target`` (an app factory for tests)."""
    from livedesk.backend.config import config_dir, state_dir
    from livedesk.tui.app import LiveDeskApp

    session = kw.pop("session", None) or ConsoleSession(settings, target)
    return LiveDeskApp(
        session,
        keymap=settings.keys,
        theme_name=settings.theme,
        theme_state=kw.pop("theme_state", state_dir() / "console.json"),
        theme_dirs=kw.pop("theme_dirs", [config_dir() / "themes"]),
        **kw,
    )


def run_console(settings, **flags) -> int:
    """Run the console until it quits; returns the exit status."""
    app = build_app(settings, console_target(settings, **flags))
    code = app.run()
    return int(code or 0)
