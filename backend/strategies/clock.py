"""The gateway clock, as schedules see it: re-exported from :mod:`livedesk.backend.broker.clock`."""

from livedesk.backend.broker.clock import NEW_YORK, GatewayClock

__all__ = ["NEW_YORK", "GatewayClock"]
