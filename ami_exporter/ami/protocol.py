"""Sans-I/O codec for the Asterisk Manager Interface: bytes in, messages out.

No sockets, no asyncio, no clocks. The decoder frames on *bytes* and decodes text only for
complete frames, so a UTF-8 character split across two reads is never lost (panoramisk decodes
every TCP chunk with ``errors='ignore'`` and drops it). The wire facts it follows come from
Asterisk's ``main/manager.c`` (the banner in ``session_do()``, line and frame parsing in
``get_input()``) and are checked against the recordings in ``tests/fixtures/ami-captures/``:

* a frame ends at an empty line; ``\\r\\n`` and a bare ``\\n`` are both line ends, so
  ``\\r\\n\\r\\n``, ``\\n\\n`` and ``\\r\\n\\n`` all end a frame;
* ``Key: value`` with one space after the colon, but ``Key:`` (no space) is accepted too and
  empty values are kept; keys may repeat (``Output``, ``Variable``, ``ChanVariable``);
* the server's first line is a banner (``Asterisk Call Manager/11.0.0``) with no blank line
  after it;
* a message is classified by its *first* line only, because real events carry ``Response:``
  headers (``OriginateResponse``) and other clients' ``ActionID`` headers;
* a value may end in a bare ``\\n`` that Asterisk then follows with its own ``\\r\\n``
  (``PJSIPShowContacts``: ``Message: No Contacts found\\n\\r\\n\\r\\n``): the frame ends at
  ``\\n\\r\\n`` and the ``\\r\\n`` left over is an empty line before the next frame. Empty lines
  between frames are not frames and not malformed; they travel with the next message.

Every byte is accounted for: a message whose bytes are not exactly what :func:`encode_message`
would write (a bare LF line end, a ``\\n\\n`` terminator, empty lines before it) keeps its
bytes in ``Message.wire``, and :func:`encode_wire` writes them back. The regular CRLF frame, all
of a real stream but a handful, keeps nothing. Only the space after a colon is normalised
(``Key:value`` comes back as ``Key: value``; Asterisk always writes the space).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from .message import FieldView, Kind, Message

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "Decoder",
    "FieldView",
    "Kind",
    "Message",
    "encode_action",
    "encode_message",
    "encode_wire",
]

DEFAULT_MAX_FRAME_BYTES = 1 << 20
# No real event has more than ~60 headers or a line near this long; a frame past either bound is
# garbage (or an attack) and is counted as malformed rather than folded.
DEFAULT_MAX_HEADERS = 4096
DEFAULT_MAX_LINE_CHARS = 32 * 1024

# A frame ends at the first empty line: "\n" followed by an optional "\r" and another "\n".
# One regex search finds the earliest of "\n\n" and "\n\r\n" in a single C-level scan.
_FRAME_END = re.compile(rb"\n\r?\n")
_BANNER_PREFIX = b"Asterisk Call Manager/"
# Distinct first lines ("Event: VarSet\r") remembered with their classification; a real stream
# has a few hundred at most, so the bound only matters against garbage.
_FIRST_LINE_CACHE_SIZE = 1024


class Decoder:
    """Incremental AMI decoder.

    ``feed()`` returns the messages completed by the new bytes. A frame larger than
    ``max_frame_bytes`` (complete or not) is discarded, counted in ``oversized_frames`` and the
    stream resynchronises at the next empty line; a frame whose first line is not a header
    (garbage), with more than ``max_headers`` lines or a line longer than ``max_line_chars`` is
    counted in ``malformed_frames``. ``wants(name)`` decides which events are parsed
    in full; the others are only counted by name in ``skipped`` (collect with
    :meth:`take_skipped`), without a message, a dict or a header list being built: the fast
    path, because most of a busy PBX's events are noise to the exporter.
    ``wants`` must answer the same for the same name: its answers are remembered per first line.
    """

    __slots__ = (
        "_buffer",
        "_discarding",
        "_expect_banner",
        "_first_lines",
        "_leading",
        "_scan_from",
        "_wants",
        "bytes_discarded",
        "bytes_framed",
        "malformed_frames",
        "max_frame_bytes",
        "max_headers",
        "max_line_chars",
        "oversized_frames",
        "skipped",
    )

    def __init__(
        self,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
        wants: Callable[[str], bool] | None = None,
        expect_banner: bool = True,
    ) -> None:
        if max_frame_bytes < 64:
            raise ValueError("max_frame_bytes must be at least 64")
        self.max_frame_bytes = max_frame_bytes
        self.max_headers = max_headers
        self.max_line_chars = max_line_chars
        self._wants = wants
        self._first_lines: dict[bytes, tuple[Kind, str, bool]] = {}
        self._buffer = bytearray()
        self._scan_from = 0
        self._discarding = False
        self._expect_banner = expect_banner
        self._leading = b""  # empty lines seen since the last frame, for the next message's wire
        self.malformed_frames = 0
        self.skipped: dict[str, int] = {}
        self.oversized_frames = 0
        self.bytes_framed = 0
        self.bytes_discarded = 0

    @property
    def wants(self) -> Callable[[str], bool] | None:
        return self._wants

    @wants.setter
    def wants(self, wants: Callable[[str], bool] | None) -> None:
        self._wants = wants
        self._first_lines.clear()  # remembered answers came from the old predicate

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame (bounded by ``max_frame_bytes``)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        buffer = self._buffer
        buffer += data
        messages: list[Message] = []
        if self._expect_banner and not self._take_banner(messages):
            return messages
        start = 0
        limit = self.max_frame_bytes
        # The terminator may straddle the previous chunk boundary: back up two bytes.
        scan = max(self._scan_from - 2, 0)
        for match in _FRAME_END.finditer(buffer, scan):
            end = match.start()
            if self._discarding:
                # Tail of an oversized frame: drop it, resume after its terminator.
                self._discarding = False
                self.bytes_discarded += match.end() - start
                self._leading = b""
            elif end - start > limit:
                self.oversized_frames += 1
                self.bytes_discarded += match.end() - start
                self._leading = b""
            else:
                frame_end = match.end()
                self.bytes_framed += frame_end - start
                message = self._parse(buffer, start, end, frame_end)
                if message is not None:
                    messages.append(message)
            start = match.end()
        if start:
            del buffer[:start]
        if len(buffer) > limit:
            # No terminator within the limit: drop what we hold and skip to the next empty line.
            if not self._discarding:
                self.oversized_frames += 1
                self._discarding = True
            self.bytes_discarded += len(buffer) - 2
            del buffer[:-2]  # keep two bytes: they may start the terminator
        self._scan_from = len(buffer)
        return messages

    def take_skipped(self) -> dict[str, int]:
        """The unwanted events counted since the last call, by name; the tally starts again."""
        skipped, self.skipped = self.skipped, {}
        return skipped

    def _take_banner(self, messages: list[Message]) -> bool:
        """Consume the banner line. Returns False while it is still incomplete."""
        buffer = self._buffer
        newline = buffer.find(b"\n")
        if newline < 0:
            if len(buffer) > self.max_frame_bytes:
                self._expect_banner = False  # not an AMI server; let framing count the garbage
                return True
            return False
        self._expect_banner = False
        raw = bytes(buffer[: newline + 1])
        line = raw[:-1].rstrip(b"\r")
        if line.startswith(_BANNER_PREFIX) or b":" not in line:
            self.bytes_framed += newline + 1
            del buffer[: newline + 1]
            banner = Message(Kind.BANNER, line.decode("utf-8", "replace"))
            if raw != line + b"\r\n":
                banner.wire = raw
            messages.append(banner)
        return True

    def _parse(self, buffer: bytearray, start: int, end: int, frame_end: int) -> Message | None:
        """Parse the frame ``buffer[start:frame_end]``; ``end`` is the ``\\n`` of its last line."""
        # Empty lines before a frame ("\r\n" left over after "...\n\r\n\r\n") belong to no frame;
        # they are kept for the wire bytes of the next message, never counted as malformed.
        leading = start
        while start < end and buffer[start] in b"\r\n":
            start += 1
        if start >= end:
            self._leading += buffer[leading:frame_end]
            return None
        first_end = buffer.find(b"\n", start, end)
        if first_end < 0:
            first_end = end
        first = bytes(buffer[start:first_end])
        known = self._first_lines.get(first)
        if known is None:
            known = self._classify(first)
            if known is None:
                self.malformed_frames += 1
                self._leading = b""
                return None
            if len(self._first_lines) < _FIRST_LINE_CACHE_SIZE:
                self._first_lines[first] = known
        kind, name, wanted = known
        if not wanted:
            skipped = self.skipped
            skipped[name] = skipped.get(name, 0) + 1
            self._leading = b""  # a skipped frame's bytes are counted, not kept
            return None
        # Up to and including the "\n" that ends the last line, so that every line ends alike.
        text = buffer[start : end + 1].decode("utf-8", "surrogateescape")
        size = len(text)
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        line_count = text.count("\n")
        if line_count > self.max_headers:
            self.malformed_frames += 1
            self._leading = b""
            return None
        # Regular: no empty line before it, every line ends in CRLF (one "\r" removed per line
        # and none left) and the terminator is "\n\r\n".
        regular = (
            start == leading
            and frame_end - end == 3
            and size - len(text) == line_count
            and not self._leading
            and "\r" not in text
        )
        message: Message | None
        if len(text) <= self.max_line_chars:
            # The fast path: no line can be too long, so the frame is a message whatever its lines
            # are; they are split when first asked for (most never are: see Message.view).
            message = Message._lazy(kind, name, "\n" + text)
        else:
            message = self._parse_lines(kind, name, text[:-1].split("\n"))
            if message is None:
                self._leading = b""
                return None
        if not regular:
            message.wire = self._leading + bytes(buffer[leading:frame_end])
            self._leading = b""
        return message

    def _classify(self, first: bytes) -> tuple[Kind, str, bool] | None:
        """Kind, name and whether it is parsed in full, from a frame's first line; None if it is
        neither an event nor a response (garbage)."""
        key, sep, value = first.rstrip(b"\r").partition(b":")
        if not sep:
            return None
        if value[:1] == b" ":
            value = value[1:]
        name = value.decode("utf-8", "surrogateescape")
        if key == b"Event":
            wants = self._wants
            return Kind.EVENT, name, wants is None or wants(name)
        if key == b"Response":
            return Kind.RESPONSE, name, True
        return None

    def _parse_lines(self, kind: Kind, name: str, lines: list[str]) -> Message | None:
        """The exact line-by-line parse, for frames with colon-less or very long lines."""
        max_line = self.max_line_chars
        headers: list[tuple[str, str]] = []
        append = headers.append
        for line in lines:
            key_s, sep_s, value_s = line.partition(":")
            if len(line) > max_line:
                self.malformed_frames += 1
                return None
            if not sep_s:
                # A stray line without a colon (e.g. raw text inside a value). Keep it with an
                # empty key so that nothing is lost and round trips stay exact.
                append(("", line))
                continue
            if value_s[:1] == " ":
                value_s = value_s[1:]
            append((key_s, value_s))
        return Message(kind, name, headers)


def _has_line_break(text: str) -> bool:
    return "\r" in text or "\n" in text


def encode_message(headers: Iterable[tuple[str, str]]) -> bytes:
    """Encode header pairs as one CRLF frame, exactly as Asterisk writes them.

    A value with CR or LF is refused: it would inject headers. The error names the header, never
    the value: a value may be the AMI secret (``Secret``), and errors end up in logs.
    """
    out: list[str] = []
    for key, value in headers:
        if not key:
            if _has_line_break(value):
                raise ValueError("an AMI line without a key must not contain CR or LF")
            out.append(f"{value}\r\n")  # a colon-less line as the decoder keeps it
            continue
        if _has_line_break(key) or ":" in key:
            raise ValueError(f"AMI key {key!r} must not contain CR, LF or ':'")
        if _has_line_break(value):
            raise ValueError(f"the value of AMI header {key} must not contain CR or LF")
        out.append(f"{key}: {value}\r\n")
    out.append("\r\n")
    return "".join(out).encode("utf-8", "surrogateescape")


def encode_wire(message: Message) -> bytes:
    """The bytes a message was decoded from: its ``wire`` when it was irregular, else the
    regular encoding (a banner is one CRLF line)."""
    if message.wire is not None:
        return message.wire
    if message.kind is Kind.BANNER:
        return message.name.encode("utf-8", "surrogateescape") + b"\r\n"
    return encode_message(message.headers)


def encode_action(name: str, fields: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> bytes:
    """Encode an action. Values with CR or LF are refused (see :func:`encode_message`)."""
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    return encode_message([("Action", name), *pairs])
