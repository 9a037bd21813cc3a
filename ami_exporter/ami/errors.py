"""How an AMI session or one of its actions can fail."""

from __future__ import annotations

import enum


class DisconnectReason(enum.Enum):
    EOF = "eof"
    SHUTDOWN = "shutdown"
    PING_TIMEOUT = "ping_timeout"
    ERROR = "error"


class AMIError(Exception):
    """The server answered an action with ``Response: Error``."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message


class AuthenticationError(Exception):
    """Login refused: wrong secret, unknown user, or an address outside ``permit=``."""


class ConnectionLostError(Exception):
    """The session ended while an action waited for its reply."""
