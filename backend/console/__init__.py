"""Console-side backend glue with no Textual in it: view models the console renders.

The console (``livedesk.tui``) adapts these into widgets; everything here is plain Python and
testable without a terminal.
"""
