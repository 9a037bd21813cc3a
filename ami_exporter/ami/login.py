"""Logging in to AMI: the MD5 challenge or a plain secret, and what ``ListCommands`` permits."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from .errors import AMIError, AuthenticationError
from .protocol import Message

if TYPE_CHECKING:
    from .client import Session

log = logging.getLogger(__name__)

# ``--ami.auth``: MD5 challenge only, MD5 then plain when the server refuses the challenge, plain.
AUTH_MODES = ("md5", "auto", "plain")

# Only the event classes the model folds. Never dialplan (VarSet/Newexten: half the stream)
# nor reporting (RTCP). No spaces: Asterisk's class-list parser is whitespace-sensitive.
DEFAULT_EVENT_MASK = "system,call,agent,cdr,security"


async def log_in(
    session: Session,
    username: str,
    secret: str,
    *,
    auth: str = "auto",
    events: str = DEFAULT_EVENT_MASK,
    timeout: float = 10.0,
) -> str:
    """Log in; returns the method used (``md5`` or ``plain``).

    ``auth`` is one of :data:`AUTH_MODES`: ``md5`` uses the challenge only (the secret never
    crosses the wire) and a refused ``Challenge`` is an :class:`AuthenticationError`;
    ``auto`` tries the challenge and falls back to a plain login when it is refused (the
    caller learns it from the returned method); ``plain`` sends the secret.
    """
    if auth not in AUTH_MODES:
        raise ValueError(f"unknown AMI login method {auth!r} (expected one of {', '.join(AUTH_MODES)})")
    fields: dict[str, str] = {"Username": username}
    method = "plain"
    if auth != "plain":
        try:
            challenge = await session.action("Challenge", {"AuthType": "MD5"}, timeout=timeout)
        except AMIError as error:
            if auth == "md5":
                raise AuthenticationError(
                    f"the server refused the MD5 challenge ({error.message or 'no reason given'}) and "
                    "--ami.auth is md5; use --ami.auth auto or plain to allow a plaintext login"
                ) from None
            log.debug("the AMI server refused the MD5 challenge (%s); logging in with plain", error.message)
        else:
            # The bytes Asterisk hashes: its challenge, then the secret exactly as configured.
            key = (challenge.fields.get("Challenge", "") + secret).encode("utf-8", "surrogateescape")
            fields.update({"AuthType": "MD5", "Key": hashlib.md5(key).hexdigest()})
            method = "md5"
    if method == "plain":
        fields["Secret"] = secret
    fields["Events"] = events
    session.login_method = method
    try:
        await session.action("Login", fields, timeout=timeout)
    except AMIError as error:
        raise AuthenticationError(error.message or "Authentication failed") from None
    return method


def listed_actions(reply: Message) -> frozenset[str]:
    """The action names of a ``ListCommands`` reply (one ``Name: synopsis (Priv: ...)`` line each)."""
    return frozenset(key for key, _ in reply.headers if key not in {"Response", "ActionID", "Message", ""})
