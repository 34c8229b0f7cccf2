"""Errors raised by the data-plane state, carrying a canonical gRPC status code.

The device layer knows nothing about gRPC, but every rejected write must reach the
client with the code the P4Runtime specification prescribes (ALREADY_EXISTS for a
duplicate entry, RESOURCE_EXHAUSTED for a full table, ...). The codes are the
google.rpc canonical codes, so the server can put them into ``p4.v1.Error`` as they are.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """google.rpc canonical status codes used by P4Runtime."""

    OK = 0
    UNKNOWN = 2
    DEADLINE_EXCEEDED = 4
    INVALID_ARGUMENT = 3
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14


class DeviceError(Exception):
    """A request the device refuses; ``code`` tells the client why in canonical terms."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def invalid(message: str) -> DeviceError:
    """Shorthand for the most common refusal."""
    return DeviceError(Code.INVALID_ARGUMENT, message)
