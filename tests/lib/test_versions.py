from __future__ import annotations

import pytest

from goosebit_project.lib.versions import Version, versions_equal


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0", "1.1"),
        ("1.2.3", "1.2.10"),
        ("2023.12", "2024.1"),
        ("1.0.0-rc1", "1.0.0"),
        ("1.0.0-alpha2", "1.0.0-rc1"),
        ("1.0.0-rc.2", "1.0.0-rc.12"),
        ("0.12.0", "1.0.0"),
        ("1.0.1", "10.0.0"),
    ],
)
def test_ordering(lower, higher):
    assert Version(lower) < Version(higher)
    assert Version(higher) > Version(lower)


def test_swupdate_numbering_ignores_fields_past_the_fourth():
    assert Version("1.2.3.4") == Version("1.2.3.4.5")


def test_equal_versions_written_differently():
    assert versions_equal("1.0", "1.0.0")
    assert versions_equal("1", "1.0.0")
    assert versions_equal("1.0.0+build20", "1.0.0")
    assert not versions_equal("1.0.0", "1.0.1")
    assert not versions_equal("", "1.0")


def test_unrecognised_versions_compare_as_text():
    assert Version("abc") < Version("abd")
    assert not Version("weird").is_recognised
    assert sorted([Version("2.0"), Version("1.0-beta"), Version("1.0")])[-1] == Version("2.0")
