"""Tolerant conversions of AMI field values: the wire is text and may carry anything."""

from __future__ import annotations

from collections.abc import Mapping

# Larger values are nonsense on the wire; clamping keeps float conversions and sums finite.
MAX_VALUE = 2**53


def to_int(value: str | None, default: int = 0) -> int:
    """Parse a non-negative integer; bad or missing input gives ``default``, never an exception."""
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        try:
            number = int(float(value))
        except (ValueError, OverflowError):
            return default
    if number < 0:
        return 0
    return min(number, MAX_VALUE)


def to_float(value: str | None, default: float = 0.0) -> float:
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        return default
    if number != number or number < 0:  # NaN or negative
        return 0.0
    return min(number, float(MAX_VALUE))


def flag(value: str | None) -> bool:
    """AMI booleans: ``1``/``0``, ``True``/``False``, ``yes``/``no``."""
    return bool(value) and value.strip().lower() in {"1", "true", "yes", "on"}  # type: ignore[union-attr]


def clean_text(value: str) -> str:
    """Make decoder text safe for a label: surrogate-escaped bytes (invalid UTF-8 from the wire)
    become U+FFFD, so exposition never fails to encode."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def first(fields: Mapping[str, str], *keys: str) -> str | None:
    """The first present key's value: AMI spells one field several ways across events."""
    for key in keys:
        value = fields.get(key)
        if value is not None:
            return value
    return None
