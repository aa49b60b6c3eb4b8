"""The connection-failure screen: what was tried, why it failed, how to fix it, retry."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

FIX = """How to fix it:
  • Start TWS or IB Gateway and log in.
  • Enable the API: Configure → API → Settings → "Enable ActiveX and Socket Clients";
    add 127.0.0.1 to the trusted IPs; untick "Read-Only API" unless you run --read-only.
  • Use the right port:      paper   live
        TWS                  7497    7496
        IB Gateway           4002    4001
  • Another program may hold the client id: pass --client-id N with a free one.
  • Without --host/--port (and no [broker] in config.toml) LiveDesk runs the demo on
    its embedded simulated gateway."""


class ConnectFailedScreen(Screen[bool]):
    """Shown instead of a traceback; ``r`` retries (dismiss True), ``q`` quits."""

    BINDINGS = [
        Binding("r", "retry", "Retry", id="connect.retry", priority=True),
        Binding("q", "quit_app", "Quit", id="connect.quit", priority=True),
    ]

    def __init__(self, tried: str, reason: str, attempt: int = 1) -> None:
        super().__init__(id="connect-failed")
        self.tried, self.reason, self.attempt = tried, reason, attempt

    def compose(self) -> ComposeResult:
        with Vertical(classes="failure"):
            yield Static("Cannot connect to the IB API", classes="failure-title")
            yield Static(f"Tried: {self.tried}  (attempt {self.attempt})", id="tried")
            yield Static(f"Error: {self.reason}", id="reason", classes="failure-reason")
            yield Static(FIX, id="fix", markup=False)
            yield Static("Press r to retry, q to quit.", classes="failure-keys")
        yield Footer()

    def action_retry(self) -> None:
        self.dismiss(True)

    def action_quit_app(self) -> None:
        self.dismiss(False)
