"""Message: the lazy view the fold reads, against the fields split from every line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami_exporter.ami.protocol import Decoder, Kind, Message

from .test_protocol import feed_in_chunks

_soup_line = st.text(alphabet=st.sampled_from("Ab:  \r\té-"), max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(_soup_line, max_size=8), min_size=1, max_size=4),
    st.lists(st.text(alphabet=st.sampled_from("Ab: -"), max_size=4), max_size=6),
    st.lists(st.integers(min_value=0, max_value=600), max_size=6),
)
def test_the_view_answers_exactly_what_the_fields_hold(
    frames: list[list[str]], probes: list[str], cuts: list[int]
) -> None:
    """``Message.view`` (what the fold reads, straight from the frame's text) against ``fields``
    (split from every line): colon-less lines, repeated keys, ``Key:`` with no space, values
    with colons, stray CRs, absent and odd keys (empty, with a colon)."""
    data = b"".join(
        "".join(f"{line}\r\n" for line in ["Event: X", *lines]).encode() + b"\r\n" for lines in frames
    )
    messages = feed_in_chunks(Decoder(expect_banner=False), data, [c for c in cuts if c < len(data)])
    for message in messages:
        view, fields = message.view, message.fields
        for key in [*fields, *probes, "Event", "", "Nope"]:
            assert view.get(key) == fields.get(key), key
            assert view.get(key, "default") == fields.get(key, "default"), key
            assert (key in view) == (key in fields), key
            if key in fields:
                assert view[key] == fields[key]
            else:
                with pytest.raises(KeyError):
                    view[key]
        assert dict(view) == fields and len(view) == len(fields)


def test_a_decoded_message_splits_its_headers_only_when_asked() -> None:
    frame = b"Event: Newchannel\r\nUniqueid: 1.2\r\nChannel: PJSIP/a\r\n\r\n"
    message = Decoder(expect_banner=False).feed(frame)[0]
    assert message.view.get("Uniqueid") == "1.2"
    assert message._headers is None  # the fold's read did not build the header list
    assert message.headers == [("Event", "Newchannel"), ("Uniqueid", "1.2"), ("Channel", "PJSIP/a")]
    assert message == Message(Kind.EVENT, "Newchannel", message.headers)
