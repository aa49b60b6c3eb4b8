"""Reports from the journal: ``livedesk report`` and ``livedesk report --attribution``."""
