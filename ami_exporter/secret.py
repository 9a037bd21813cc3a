"""The AMI secret: read from the environment or a file, never from argv, and never shown.

Both sources follow one rule: exactly one trailing line break (``\\n`` or ``\\r\\n``) is removed,
the one ``echo`` or an editor adds (and that ``docker run --env-file`` or a systemd
``Environment=`` line may keep). Any other CR or LF is an error, because the secret cannot be
sent on the line-based AMI (it would inject headers), and the error names the source, never the
value. The secret is kept as the bytes it was given (``surrogateescape``): an MD5 key or a plain
``Secret:`` header carries exactly those bytes, as Asterisk compares them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SECRET_ENV = "AMI_EXPORTER_SECRET"


class SecretError(Exception):
    """The AMI secret could not be read or cannot be used. The message never holds the secret."""


def strip_one_newline(text: str) -> str:
    """``text`` without one trailing ``\\r\\n`` or ``\\n`` (only one: more is not a typo)."""
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def check_secret(secret: str, source: str) -> str:
    """``secret`` if the AMI can carry it; otherwise :class:`SecretError` naming ``source`` only."""
    if "\r" in secret or "\n" in secret:
        raise SecretError(
            f"the AMI secret from {source} contains a line break (only one trailing newline is "
            "removed); the AMI cannot carry it"
        )
    try:
        secret.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise SecretError(f"the AMI secret from {source} holds characters that cannot be sent") from None
    return secret


@dataclass(frozen=True, slots=True)
class SecretSource:
    """Where the AMI secret comes from: an environment variable or a file, never argv.

    The file is re-read on every login attempt, so fixing it recovers without a restart.
    """

    file: Path | None = None
    env_var: str = SECRET_ENV
    value: str | None = None  # in-process use only (the demo's simulator); never from the CLI

    @property
    def origin(self) -> str:
        """Where the secret is read from, for messages (never the secret itself)."""
        if self.value is not None:
            return "the in-process value"
        if self.file is not None:
            return f"the file {self.file}"
        return self.env_var

    def read(self) -> str:
        if self.value is not None:
            return check_secret(self.value, self.origin)
        if self.file is not None:
            try:
                raw = self.file.read_bytes()
            except OSError as error:
                raise SecretError(f"cannot read the AMI secret file {self.file}: {error.strerror}") from None
            # The bytes as they are: no decoding error can quote a piece of the secret.
            text = raw.decode("utf-8", "surrogateescape")
        else:
            value = os.environ.get(self.env_var)
            if value is None:
                raise SecretError(f"no AMI secret: set {self.env_var} or pass --ami.secret-file")
            text = value
        return check_secret(strip_one_newline(text), self.origin)

    def __repr__(self) -> str:  # never show a secret, even by accident
        return f"SecretSource(file={self.file!r}, env_var={self.env_var!r}, value=<hidden>)"
