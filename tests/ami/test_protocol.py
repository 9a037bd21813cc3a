"""The sans-I/O codec: captures byte for byte, framing rules, limits, and hypothesis properties."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami_exporter.ami.protocol import Decoder, Kind, Message, encode_action, encode_message, encode_wire

from ..support.captures import CAPTURES

RX_FILES = sorted(CAPTURES.rglob("*.rx.raw"))


def feed_in_chunks(decoder: Decoder, data: bytes, cuts: list[int]) -> list[Message]:
    messages: list[Message] = []
    start = 0
    for cut in sorted(set(cuts)):
        messages += decoder.feed(data[start:cut])
        start = cut
    messages += decoder.feed(data[start:])
    return messages


def reencode(messages: list[Message]) -> bytes:
    return b"".join(encode_wire(message) for message in messages)


def test_there_are_captures() -> None:
    assert len(RX_FILES) == 23


@pytest.mark.parametrize("path", RX_FILES, ids=lambda p: str(p.relative_to(CAPTURES)))
def test_every_capture_byte_is_accounted_for(path: object) -> None:
    raw = path.read_bytes()  # type: ignore[attr-defined]
    decoder = Decoder()
    messages = feed_in_chunks(decoder, raw, list(range(997, len(raw), 997)))
    assert reencode(messages) == raw
    assert decoder.buffered == 0
    assert decoder.bytes_framed == len(raw)
    assert decoder.malformed_frames == decoder.oversized_frames == decoder.bytes_discarded == 0
    assert messages[0].kind is Kind.BANNER


def test_banner_then_login_reply_without_blank_line() -> None:
    decoder = Decoder()
    messages = decoder.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: a-1\r\n\r\n")
    assert [(m.kind, m.name) for m in messages] == [
        (Kind.BANNER, "Asterisk Call Manager/11.0.0"),
        (Kind.RESPONSE, "Success"),
    ]
    assert messages[1].action_id == "a-1"


def test_bare_lf_and_mixed_terminators() -> None:
    decoder = Decoder(expect_banner=False)
    data = b"Event: A\nX: 1\n\nEvent: B\r\nY: 2\r\n\nEvent: C\r\nZ:\r\n\r\n"
    messages = decoder.feed(data)
    assert [m.name for m in messages] == ["A", "B", "C"]
    assert messages[0].fields == {"Event": "A", "X": "1"}
    assert messages[2].fields["Z"] == ""


def test_repeated_keys_and_empty_values_are_kept() -> None:
    decoder = Decoder(expect_banner=False)
    (message,) = decoder.feed(
        b"Response: Success\r\nOutput: line 1\r\nOutput: line 2\r\nAccountCode: \r\nEmpty:\r\n\r\n"
    )
    assert message.get_all("Output") == ["line 1", "line 2"]
    assert message.fields["Output"] == "line 1"  # the first, like astman_get_header
    assert message.fields["AccountCode"] == ""
    assert message.fields["Empty"] == ""


def test_classified_by_first_line_only() -> None:
    # OriginateResponse carries a Response header and someone else's ActionID.
    decoder = Decoder(expect_banner=False)
    (message,) = decoder.feed(b"Event: OriginateResponse\r\nActionID: admin-6\r\nResponse: Success\r\n\r\n")
    assert message.kind is Kind.EVENT
    assert message.name == "OriginateResponse"


def test_case_insensitive_lookup_keeps_spelling() -> None:
    decoder = Decoder(expect_banner=False)
    (message,) = decoder.feed(b"Event: Cdr\r\nUniqueID: 1.2\r\n\r\n")
    assert message.get("Uniqueid") == "1.2"
    assert message.headers[1] == ("UniqueID", "1.2")


def test_utf8_split_across_reads_is_not_lost() -> None:
    data = "Event: QueueEntry\r\nCallerIDName: José Müller 电话\r\n\r\n".encode()
    for cut in range(1, len(data)):
        decoder = Decoder(expect_banner=False)
        messages = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert messages[0].fields["CallerIDName"] == "José Müller 电话"


def test_invalid_utf8_never_raises_nor_drops_the_rest() -> None:
    decoder = Decoder(expect_banner=False)
    (message,) = decoder.feed(b"Event: Newchannel\r\nCallerIDName: \xff\xfe\xe9t\xe9\r\nUniqueid: 42\r\n\r\n")
    assert message.fields["Uniqueid"] == "42"
    assert (
        encode_message(message.headers)
        == b"Event: Newchannel\r\nCallerIDName: \xff\xfe\xe9t\xe9\r\nUniqueid: 42\r\n\r\n"
    )


def test_garbage_is_counted_and_skipped() -> None:
    decoder = Decoder(expect_banner=False)
    messages = decoder.feed(b"\x00\x01 garbage without colon\r\n\r\nEvent: Reload\r\nModule: All\r\n\r\n")
    assert [m.name for m in messages] == ["Reload"]
    assert decoder.malformed_frames == 1


def test_oversized_frame_is_discarded_and_decoder_resyncs() -> None:
    decoder = Decoder(expect_banner=False, max_frame_bytes=1024)
    big = b"Event: Huge\r\n" + b"X: " + b"a" * 5000 + b"\r\n\r\n"
    messages = decoder.feed(big + b"Event: After\r\n\r\n")
    assert [m.name for m in messages] == ["After"]
    assert decoder.oversized_frames == 1


def test_unterminated_flood_keeps_memory_bounded() -> None:
    decoder = Decoder(expect_banner=False, max_frame_bytes=64 * 1024)
    chunk = b"y" * 65536
    for _ in range(64):  # 4 MiB with no blank line
        assert decoder.feed(chunk) == []
        assert decoder.buffered <= 64 * 1024 + len(chunk)
    assert decoder.oversized_frames == 1
    assert [m.name for m in decoder.feed(b"\r\n\r\nEvent: Later\r\n\r\n")] == ["Later"]


def test_too_many_headers_and_too_long_lines_are_malformed() -> None:
    decoder = Decoder(expect_banner=False)
    many = b"Event: Many\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(10_000)) + b"\r\n"
    long_line = b"Event: Long\r\nX: " + b"z" * 100_000 + b"\r\n\r\n"
    messages = decoder.feed(many + long_line + b"Event: Fine\r\n\r\n")
    assert [m.name for m in messages] == ["Fine"]
    assert decoder.malformed_frames == 2


def test_fast_path_skips_unwanted_events() -> None:
    decoder = Decoder(expect_banner=False, wants=lambda name: name == "Hangup")
    data = b"Event: VarSet\r\nVariable: X\r\n\r\nEvent: Hangup\r\nCause: 16\r\n\r\n"
    messages = decoder.feed(data + b"Event: VarSet\r\n\r\nResponse: Success\r\n\r\n")
    assert [(m.kind, m.name) for m in messages] == [(Kind.EVENT, "Hangup"), (Kind.RESPONSE, "Success")]
    assert messages[0].fields["Cause"] == "16"
    assert decoder.take_skipped() == {"VarSet": 2}
    assert decoder.take_skipped() == {}
    assert decoder.bytes_framed == len(data) + len(b"Event: VarSet\r\n\r\nResponse: Success\r\n\r\n")


def test_value_ending_in_a_bare_lf_then_an_extra_empty_line() -> None:
    # f-pjsip/admin.rx.raw: astman_send_error(s, m, "No Contacts found\n") on a 22.10.1.
    irregular = b"Response: Error\r\nActionID: admin-12\r\nMessage: No Contacts found\n\r\n"
    following = b"\r\nResponse: Success\r\nActionID: admin-13\r\nEventList: start\r\n\r\n"
    regular = b"Event: EndpointDetailComplete\r\nActionID: admin-13\r\n\r\n"
    data = irregular + following + regular
    for cut in range(1, len(data)):
        decoder = Decoder(expect_banner=False)
        messages = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert [(m.name, m.action_id) for m in messages] == [
            ("Error", "admin-12"),
            ("Success", "admin-13"),
            ("EndpointDetailComplete", "admin-13"),
        ]
        assert messages[0].fields["Message"] == "No Contacts found"
        assert messages[1].fields == {"Response": "Success", "ActionID": "admin-13", "EventList": "start"}
        assert decoder.malformed_frames == 0
        assert decoder.bytes_framed == len(data)
        # The empty line travels with the message after it; regular frames keep no bytes.
        assert (messages[0].wire, messages[1].wire, messages[2].wire) == (irregular, following, None)
        assert b"".join(encode_wire(m) for m in messages) == data


def test_empty_lines_before_a_skipped_or_garbage_frame_are_counted_not_kept() -> None:
    decoder = Decoder(expect_banner=False, wants=lambda name: name == "Kept")
    data = b"\r\n\r\n\nEvent: Skipped\r\n\r\n\r\n\x00garbage\r\n\r\nEvent: Kept\r\n\r\n"
    (message,) = decoder.feed(data)
    assert message.name == "Kept" and message.wire is None
    assert decoder.bytes_framed == len(data)
    assert decoder.malformed_frames == 1  # the garbage; never the empty lines
    assert decoder.take_skipped() == {"Skipped": 1}


def test_encode_action_refuses_header_injection() -> None:
    assert encode_action("Ping", {"ActionID": "x-1"}) == b"Action: Ping\r\nActionID: x-1\r\n\r\n"
    with pytest.raises(ValueError, match="CR or LF"):
        encode_action("Login", {"Secret": "s\r\nAction: QueueReset"})


@pytest.mark.parametrize("bad", ["top-secret-value\n", "top-secret-value\r\nAction: QueueReset"])
def test_a_refused_value_is_named_by_its_header_never_quoted(bad: str) -> None:
    # The value may be the AMI secret, and exceptions end up in logs (issue 11, item 4).
    with pytest.raises(ValueError, match="CR or LF") as raised:
        encode_action("Login", {"Username": "exporter", "Secret": bad})
    message = str(raised.value)
    assert "Secret" in message
    assert "top-secret-value" not in message and "QueueReset" not in message
    with pytest.raises(ValueError, match="CR or LF") as raised:
        encode_action("Login", [("", bad)])
    assert "top-secret-value" not in str(raised.value)


# -- properties -------------------------------------------------------------------------------

_key = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=20,
)
_value = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=60)
_message = st.tuples(
    st.sampled_from(["Event", "Response"]),
    _key,
    st.lists(st.tuples(_key, _value), max_size=8),
)


def _stream(
    messages: list[tuple[str, str, list[tuple[str, str]]]],
) -> tuple[bytes, list[list[tuple[str, str]]]]:
    frames = [[(kind, name.strip() or "X"), *headers] for kind, name, headers in messages]
    return b"".join(encode_message(frame) for frame in frames), frames


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_message, min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
)
def test_any_split_gives_the_same_messages(
    messages: list[tuple[str, str, list[tuple[str, str]]]], cuts: list[int]
) -> None:
    data, _frames = _stream(messages)
    whole = Decoder(expect_banner=False).feed(data)
    split = feed_in_chunks(Decoder(expect_banner=False), data, [c for c in cuts if c < len(data)])
    assert [(m.kind, m.name, m.headers) for m in split] == [(m.kind, m.name, m.headers) for m in whole]


@settings(max_examples=200)
@given(st.lists(_message, min_size=1, max_size=6))
def test_encode_decode_round_trip(messages: list[tuple[str, str, list[tuple[str, str]]]]) -> None:
    data, frames = _stream(messages)
    decoded = Decoder(expect_banner=False).feed(data)
    assert [m.headers for m in decoded] == frames


_line_end = st.sampled_from([b"\r\n", b"\n"])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.lists(_line_end, max_size=3),  # empty lines before the frame
            _message,
            st.lists(_line_end, min_size=9, max_size=9),  # each line's end
            _line_end,  # the terminating empty line
        ),
        min_size=1,
        max_size=5,
    ),
    st.lists(st.integers(min_value=0, max_value=3000), max_size=8),
)
def test_any_mix_of_line_ends_and_empty_lines_round_trips_byte_for_byte(
    frames: list[tuple[list[bytes], tuple[str, str, list[tuple[str, str]]], list[bytes], bytes]],
    cuts: list[int],
) -> None:
    data = b""
    expected: list[list[tuple[str, str]]] = []
    for blanks, (kind, name, headers), ends, terminator in frames:
        lines = [(kind, name.strip() or "X"), *headers]
        expected.append(lines)
        body = b"".join(
            f"{key}: {value}".encode("utf-8", "surrogateescape") + end
            for (key, value), end in zip(lines, ends, strict=False)
        )
        data += b"".join(blanks) + body + terminator
    decoder = Decoder(expect_banner=False)
    messages = feed_in_chunks(decoder, data, [c for c in cuts if c < len(data)])
    assert [m.headers for m in messages] == expected
    assert b"".join(encode_wire(m) for m in messages) == data
    assert decoder.bytes_framed == len(data)
    assert decoder.malformed_frames == 0


@settings(max_examples=300)
@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0, max_value=3000), max_size=8))
def test_arbitrary_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    decoder = Decoder(max_frame_bytes=512)
    for message in feed_in_chunks(decoder, data, [c for c in cuts if c < len(data)]):
        assert message.kind in {Kind.BANNER, Kind.EVENT, Kind.RESPONSE}
        _ = message.fields
    assert decoder.buffered <= 512 + len(data)


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=1, max_size=256))
def test_memory_stays_bounded_under_endless_input(pattern: bytes) -> None:
    decoder = Decoder(max_frame_bytes=16 * 1024)
    chunk = (pattern * (4096 // len(pattern) + 1))[:4096]
    tracemalloc.start()
    try:
        for _ in range(200):  # 800 KiB
            decoder.feed(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoder.buffered <= 16 * 1024 + 4096
    assert peak < 2 * 1024 * 1024
