"""The address a request came from, for devices (last IP) and for login throttling alike."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any


def request_address(meta: Mapping[str, Any], *, behind_proxy: bool) -> str | None:
    """The caller's IP address, or None when it is not one.

    Behind our proxy it is the entry that proxy appended last to X-Forwarded-For: earlier entries
    are whatever the client claimed and cannot be trusted.
    """
    raw = str(meta.get("REMOTE_ADDR", ""))
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR", ""))
    if behind_proxy and forwarded:
        raw = forwarded.split(",")[-1]
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        return None
