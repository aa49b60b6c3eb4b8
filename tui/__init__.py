"""The Textual console (``livedesk``): widgets, screens and the app that drives the backend.

Textual draws at most ``TEXTUAL_FPS`` frames a second (read once, when Textual is first
imported). A keypress that lands just after a frame waits for the next frame slot: up to
16.7 ms at Textual's default of 60, a whole frame of the #21 latency budget. The console
asks for 120 (an 8.3 ms slot; measured at 160x50 with 500 rows ticking: pane switch max
23 → 13 ms); frames are still drawn only when something changed, so a still console
costs nothing more. A ``TEXTUAL_FPS`` set by the user wins.
"""

import os

os.environ.setdefault("TEXTUAL_FPS", "120")
