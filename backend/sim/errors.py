"""The exception the simulated gateway answers with an IB error code."""

from __future__ import annotations


class OrderReject(Exception):
    """An order or request refused with an IB error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


NO_DEFINITION = 200
REJECTED = 201


def no_definition() -> OrderReject:
    """Error 200, IB's answer for a contract it does not list."""
    return OrderReject(NO_DEFINITION, "No security definition has been found for the request")


def rejected(reason: str) -> OrderReject:
    """Error 201 "Order rejected - reason:..." (ib_async cancels the trade)."""
    return OrderReject(REJECTED, f"Order rejected - reason:{reason}")
