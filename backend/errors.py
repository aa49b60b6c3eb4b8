"""Exceptions raised by the pure order, sizing and contract helpers.

Every message names what is missing or wrong, so the console can show it as is.
"""

from __future__ import annotations


class OrderInputError(ValueError):
    """An order factory was given an invalid action, quantity or price."""


class SizingError(ValueError):
    """An order could not be sized; nothing may be sent."""


class PriceUnavailable(SizingError):
    """No usable price (mid, last or close) to turn a value into a quantity."""


class AccountValueUnavailable(SizingError):
    """NetLiquidation is missing, not positive or stale."""


class JournalUnreadable(RuntimeError):
    """The journal file is not a readable LiveDesk journal (corrupt, or another file).

    The message names the path and what to do; the file is left exactly as it was."""
