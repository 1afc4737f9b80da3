"""A strict reader for multipart/byteranges bodies: every byte must be where RFC 9110 puts it."""

from __future__ import annotations

import re

from software.downloads import BOUNDARY

_CONTENT_RANGE = re.compile(rb"^bytes (\d+)-(\d+)/(\d+)$")


def parse_byteranges(body: bytes) -> list[tuple[dict[str, str], tuple[int, int, int], bytes]]:
    """Return (headers, (first, last, size), data) per part; fail on any deviation."""
    delimiter = b"\r\n--" + BOUNDARY.encode()
    parts: list[tuple[dict[str, str], tuple[int, int, int], bytes]] = []
    position = 0
    while True:
        assert body[position : position + len(delimiter)] == delimiter, f"no delimiter at {position}"
        position += len(delimiter)
        if body[position : position + 4] == b"--\r\n":
            assert position + 4 == len(body), "bytes after the closing delimiter"
            return parts
        assert body[position : position + 2] == b"\r\n"
        position += 2
        header_end = body.index(b"\r\n\r\n", position)
        headers = dict(line.decode().split(": ", 1) for line in body[position:header_end].split(b"\r\n"))
        position = header_end + 4
        match = _CONTENT_RANGE.match(headers["Content-Range"].encode())
        assert match, headers
        first, last, size = (int(value) for value in match.groups())
        data = body[position : position + last - first + 1]
        position += last - first + 1
        parts.append((headers, (first, last, size), data))
