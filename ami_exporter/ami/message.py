"""One AMI message as the decoder hands it out (see :mod:`ami_exporter.ami.protocol`).

A decoded message keeps its frame's text and splits it into headers only when asked: the fold
reads a few fields of each event through :attr:`Message.view`, straight from the text.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping

__all__ = ["FieldView", "Kind", "Message"]

# One header line of a frame whose line ends are all "\n" (CRs of CRLF removed): the key up to
# the first colon, one optional space, the value. Lines without a colon do not match, so a frame
# where every line matched is parsed exactly as the line-by-line loop would parse it.
_HEADER = re.compile(r"^([^:\n]*):(?: )?(.*)$", re.MULTILINE)


class Kind(enum.Enum):
    """What the first line of a frame says the message is."""

    BANNER = "banner"
    RESPONSE = "response"
    EVENT = "event"


class Message:
    """One AMI message.

    ``headers`` keeps every line in wire order, repeated keys included. ``fields`` maps each key
    to its *first* value (what Asterisk's own ``astman_get_header`` returns). ``wire`` holds the
    exact bytes of an irregular frame (see the module docstring), None for a regular one.

    A decoded message keeps its frame's text and builds ``headers`` and ``fields`` only when
    they are first asked for: the model's handlers read a handful of fields of each event
    through :attr:`view`, straight from the text, and most events never need the header list
    (building it is most of the cost of decoding a wanted event).
    """

    __slots__ = ("_fields", "_headers", "_text", "kind", "name", "wire")

    def __init__(
        self,
        kind: Kind,
        name: str,
        headers: list[tuple[str, str]] | None = None,
        wire: bytes | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self._headers: list[tuple[str, str]] | None = [] if headers is None else headers
        self._fields: dict[str, str] | None = None
        # "\n" + the frame's lines, each ending in "\n", when the headers are still to be split.
        self._text: str | None = None
        self.wire = wire

    @classmethod
    def _lazy(cls, kind: Kind, name: str, text: str) -> Message:
        """A message whose headers are split from ``text`` on first use; ``text`` is the frame's
        lines with ``\n`` line ends, the first preceded by a ``\n`` too, and none longer than
        the decoder's line limit (so that splitting cannot fail)."""
        message = cls(kind, name)
        message._headers = None
        message._text = text
        return message

    @property
    def headers(self) -> list[tuple[str, str]]:
        headers = self._headers
        if headers is None:
            headers = self._headers = _split_headers(self._text or "")
        return headers

    @headers.setter
    def headers(self, headers: list[tuple[str, str]]) -> None:
        self._headers = headers
        self._fields = None
        self._text = None

    @property
    def fields(self) -> dict[str, str]:
        fields = self._fields
        if fields is None:
            headers = self.headers
            fields = dict(headers)
            if len(fields) != len(headers):  # a repeated key: keep its first value, not its last
                fields = {}
                for key, value in headers:
                    if key not in fields:
                        fields[key] = value
            self._fields = fields
        return fields

    @property
    def view(self) -> Mapping[str, str]:
        """The fields as a read-only mapping, equal to :attr:`fields`, that answers ``get()`` and
        ``[]`` from the frame's text without splitting it when it can (what the fold uses)."""
        if self._text is None:
            return self.fields
        return FieldView(self)

    def get(self, key: str, default: str | None = None) -> str | None:
        """First value of ``key``; exact spelling first, then case-insensitively (the wire mixes
        ``Uniqueid``/``UniqueID`` and ``Holdtime``/``HoldTime``)."""
        fields = self.fields
        value = fields.get(key)
        if value is not None:
            return value
        folded = key.casefold()
        for name, candidate in fields.items():
            if name.casefold() == folded:
                return candidate
        return default

    def get_all(self, key: str) -> list[str]:
        folded = key.casefold()
        return [value for name, value in self.headers if name.casefold() == folded]

    @property
    def action_id(self) -> str | None:
        return self.view.get("ActionID")  # from the text when it can: no header split

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Message)
        return (self.kind, self.name, self.headers) == (other.kind, other.name, other.headers)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"Message(kind={self.kind!r}, name={self.name!r}, headers={self.headers!r})"


# FieldView.get's search string ("\nKey:") per key. The fold asks for a few dozen distinct keys;
# the bound only matters if some caller asked for endlessly many.
_NEEDLES: dict[str, str] = {}
_MAX_NEEDLES = 1024


class FieldView(Mapping[str, str]):
    """:attr:`Message.view` of a message that still holds its text: ``get(key)`` finds the first
    line that starts with ``key:`` (exactly what the first value of ``key`` in ``fields`` is, for
    a key with no colon or line break), with two string searches instead of splitting every
    line. Anything else (iteration, ``len``, odd keys) asks the message for its ``fields``."""

    __slots__ = ("_message", "_text")

    def __init__(self, message: Message) -> None:
        self._message = message
        self._text = message._text or ""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        # The fold calls this a few times per event: the search string of a key is made (and
        # the key checked) once per key, not once per call.
        needle = _NEEDLES.get(key)
        if needle is None:
            if not key or ":" in key or "\n" in key:
                return self._message.fields.get(key, default)
            needle = "\n" + key + ":"
            if len(_NEEDLES) < _MAX_NEEDLES:
                _NEEDLES[key] = needle
        text = self._text
        at = text.find(needle)
        if at < 0:
            return default
        # The text ends in "\n" and the needle in ":", so text[at] is the value's first
        # character or the "\n" that ends an empty value.
        at += len(needle)
        if text[at] == " ":
            at += 1
        return text[at : text.find("\n", at)]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._message.fields)

    def __len__(self) -> int:
        return len(self._message.fields)


def _split_headers(text: str) -> list[tuple[str, str]]:
    """The header lines of ``text`` (``Message._lazy``'s form): one regex pass when every line is
    ``Key: value``, else the line loop that keeps colon-less lines with an empty key."""
    headers: list[tuple[str, str]] = _HEADER.findall(text)
    lines = text.split("\n")[1:-1]
    if len(headers) == len(lines):
        return headers
    headers = []
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            headers.append(("", line))
        else:
            headers.append((key, value[1:] if value[:1] == " " else value))
    return headers
