"""``python -m livedesk``: the same as the ``livedesk`` command."""

from livedesk.tui.cli import main

raise SystemExit(main())
