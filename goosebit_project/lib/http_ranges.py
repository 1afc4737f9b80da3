"""HTTP Range and entity-tag parsing for artifact downloads (RFC 9110 §13, §14).

Devices resume and stream packages with Range requests: rauc-hawkbit-updater appends to a partial
file and expects 416 (never a full 200) when it asks for a range that starts at the end of the
file. The rules follow hawkBit's artifact endpoint (ddi.md §1.9), which is stricter than the RFC:
a malformed Range header is answered with 416 instead of being ignored, and several ranges must
be in ascending order without overlap (adjacent ranges are fine).
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_RANGES",
    "RangeNotSatisfiable",
    "etag_in_list",
    "parse_etag_list",
    "parse_range_header",
]

# A client asking for more pieces than this is not streaming a bundle, it is probing the server.
MAX_RANGES = 256

# ASCII digits only (RFC 9110 DIGIT): \d would also accept "٣", which int() reads.
_RANGE_SET = re.compile(
    r"^bytes\s*=\s*([0-9]*-[0-9]*(?:\s*,\s*[0-9]*-[0-9]*)*)\s*$", re.IGNORECASE | re.ASCII
)
# Any position with more digits than this is past the end of every file we can store, and is
# never given to int() (which refuses more than 4,300 digits).
_MAX_POSITION_DIGITS = 18
_BEYOND_ANY_FILE = 10**_MAX_POSITION_DIGITS
_ETAG = re.compile(r'\s*(W/)?("[^"]*"|[^",\s]+)\s*(?:,|$)')


class RangeNotSatisfiable(ValueError):
    """The Range header is malformed or names no byte of the representation: answer 416."""


def _position(digits: str) -> int:
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= _MAX_POSITION_DIGITS else _BEYOND_ANY_FILE


def parse_range_header(header: str, size: int) -> list[tuple[int, int]]:
    """Return the requested ranges as inclusive (first, last) byte positions.

    ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (the last n bytes) are understood; ``b`` past the
    end is clamped to the last byte. Raises RangeNotSatisfiable for a syntax error, ``a > b``, a
    start at or past ``size``, an empty suffix, unordered or overlapping ranges, or more than
    MAX_RANGES ranges.
    """
    match = _RANGE_SET.match(header)
    if not match:
        raise RangeNotSatisfiable(f"malformed Range header {header!r}")
    specs = [spec.strip() for spec in match.group(1).split(",")]
    if len(specs) > MAX_RANGES:
        raise RangeNotSatisfiable(f"more than {MAX_RANGES} ranges requested")
    ranges: list[tuple[int, int]] = []
    for spec in specs:
        first_text, last_text = spec.split("-")
        if not first_text and not last_text:
            raise RangeNotSatisfiable(f"range {spec!r} names neither a start nor a length")
        if not first_text:
            suffix = _position(last_text)
            if suffix == 0 or size == 0:
                raise RangeNotSatisfiable(f"range {spec!r} selects no byte")
            first, last = max(0, size - suffix), size - 1
        else:
            first = _position(first_text)
            last = _position(last_text) if last_text else size - 1
            if first > last:
                raise RangeNotSatisfiable(f"range {spec!r} ends before it starts")
            if first >= size:
                raise RangeNotSatisfiable(f"range {spec!r} starts at or past the end ({size} bytes)")
            last = min(last, size - 1)
        if ranges and first <= ranges[-1][1]:
            raise RangeNotSatisfiable("ranges overlap or are not in ascending order")
        ranges.append((first, last))
    return ranges


def parse_etag_list(header: str) -> list[tuple[str, bool]] | None:
    """Parse If-Match / If-None-Match into (opaque tag without quotes, is_weak) pairs.

    ``*`` is returned as ``[("*", False)]``. Unquoted tags are accepted because hawkBit's own
    clients send the bare sha1 in If-Match. Returns None when the header cannot be parsed.
    """
    text = header.strip()
    if text == "*":
        return [("*", False)]
    tags: list[tuple[str, bool]] = []
    position = 0
    while position < len(text):
        match = _ETAG.match(text, position)
        if not match or match.end() == position:
            return None
        weak, tag = match.groups()
        tags.append((tag.strip('"'), bool(weak)))
        position = match.end()
    return tags or None


def etag_in_list(header: str, opaque_tag: str, *, weak: bool) -> bool:
    """Does ``header`` (an If-Match / If-None-Match value) match our tag?

    Strong comparison (If-Match, If-Range) never matches a weak tag; weak comparison
    (If-None-Match) ignores the W/ prefix. An unparseable header matches nothing.
    """
    tags = parse_etag_list(header)
    if tags is None:
        return False
    for tag, is_weak in tags:
        if tag == "*" and not is_weak:
            return True
        if tag == opaque_tag and (weak or not is_weak):
            return True
    return False
