"""Version ordering shared by the package parsers and the update policy.

Devices report versions the way their build system writes them. Two schemes are common:

* SWUpdate's "default numbering": up to four dot-separated integers, each at most 65535
  (``1.2``, ``2023.12.1.4``). Fields past the fourth are ignored, as SWUpdate does.
* Semantic versioning, with minor and patch optional (``1`` == ``1.0.0``, ``2.0.0-rc1``).

Comparison: both numeric → compare the numbers; both semver → semver precedence (build metadata
ignored); otherwise the raw strings. "Already installed" means *equal by this ordering*, so a
device reporting ``1.0.0`` is not offered software labelled ``1.0`` again.
"""

from __future__ import annotations

import functools
import re

import semver

_NUMERIC = re.compile(r"^\d+(\.\d+)*$")
_MAX_FIELD = 65535


def _numeric_key(text: str) -> tuple[int, int, int, int] | None:
    if not _NUMERIC.match(text):
        return None
    fields = [int(part) for part in text.split(".")][:4]
    if any(field > _MAX_FIELD for field in fields):
        return None
    fields += [0] * (4 - len(fields))
    return (fields[0], fields[1], fields[2], fields[3])


def _semver(text: str) -> semver.Version | None:
    try:
        return semver.Version.parse(text, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


@functools.total_ordering
class Version:
    """A comparable version; never raises for odd strings (they compare lexically)."""

    __slots__ = ("text", "_numeric", "_semver")

    def __init__(self, text: str) -> None:
        self.text = (text or "").strip()
        self._numeric = _numeric_key(self.text)
        self._semver = None if self._numeric is not None else _semver(self.text)

    @property
    def is_recognised(self) -> bool:
        return self._numeric is not None or self._semver is not None

    def _cmp(self, other: Version) -> int:
        if self._numeric is not None and other._numeric is not None:
            return (self._numeric > other._numeric) - (self._numeric < other._numeric)
        mine = self._semver or (_semver(self.text) if self._numeric is not None else None)
        theirs = other._semver or (_semver(other.text) if other._numeric is not None else None)
        if mine is not None and theirs is not None:
            return mine.compare(theirs)
        return (self.text > other.text) - (self.text < other.text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._cmp(other) == 0

    def __lt__(self, other: Version) -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:
        return hash(self._numeric or (str(self._semver.replace(build=None)) if self._semver else self.text))

    def __repr__(self) -> str:
        return f"Version({self.text!r})"

    def __str__(self) -> str:
        return self.text


def versions_equal(left: str | None, right: str | None) -> bool:
    if not left or not right:
        return False
    return Version(left) == Version(right)


def version_older(reported: str | None, installed: str | None) -> bool:
    """True when ``reported`` is a lower version than ``installed``: a rollback.

    Both must follow a recognised scheme (numeric or semver): an odd string such as a build
    hash compares only lexically, and calling that a rollback would be a guess.
    """
    if not reported or not installed:
        return False
    older, newer = Version(reported), Version(installed)
    return older.is_recognised and newer.is_recognised and older < newer
