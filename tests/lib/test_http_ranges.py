import pytest

from goosebit_project.lib.http_ranges import (
    MAX_RANGES,
    RangeNotSatisfiable,
    etag_in_list,
    parse_etag_list,
    parse_range_header,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", [(0, 0)]),
        ("bytes=0-99", [(0, 99)]),
        ("bytes=10-", [(10, 99)]),
        ("bytes=-10", [(90, 99)]),
        ("bytes=-1000", [(0, 99)]),
        ("bytes=50-1000", [(50, 99)]),
        ("bytes=99-99", [(99, 99)]),
        ("bytes=0-9,10-19", [(0, 9), (10, 19)]),
        ("bytes=0-9, 20-29 ,-5", [(0, 9), (20, 29), (95, 99)]),
        ("BYTES=1-2", [(1, 2)]),
    ],
)
def test_satisfiable_ranges_are_returned_as_inclusive_positions(header, expected):
    assert parse_range_header(header, 100) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=100-",  # starts at the end: RAUC's resume of a complete file
        "bytes=100-200",
        "bytes=100-10",
        "bytes=-0",
        "bytes=-",
        "bytes=",
        "bytes=a-b",
        "bytes=1-2-3",
        "items=0-1",
        "0-1",
        "bytes=0-9,5-20",  # overlapping
        "bytes=20-29,0-9",  # unordered
        "bytes=0-9,,20-29",
        "garbage",
    ],
)
def test_unsatisfiable_or_malformed_ranges_raise(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range_header(header, 100)


def test_any_range_of_an_empty_file_is_unsatisfiable():
    with pytest.raises(RangeNotSatisfiable):
        parse_range_header("bytes=-5", 0)


def test_too_many_ranges_are_refused():
    header = "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES + 1))

    with pytest.raises(RangeNotSatisfiable, match="more than"):
        parse_range_header(header, 10_000)


def test_the_maximum_number_of_adjacent_ranges_is_accepted():
    header = "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES))

    assert parse_range_header(header, 10_000) == [(i, i) for i in range(MAX_RANGES)]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("*", [("*", False)]),
        ('"abc"', [("abc", False)]),
        ("abc", [("abc", False)]),
        ('W/"abc"', [("abc", True)]),
        ('"a", W/"b" ,c', [("a", False), ("b", True), ("c", False)]),
        ('"a",', [("a", False)]),
    ],
)
def test_etag_lists_are_parsed(header, expected):
    assert parse_etag_list(header) == expected


@pytest.mark.parametrize("header", ['"unterminated', "", '"a" "b"'])
def test_unparseable_etag_lists_give_none(header):
    assert parse_etag_list(header) is None


def test_strong_comparison_ignores_weak_tags_and_weak_comparison_accepts_them():
    assert etag_in_list('W/"abc"', "abc", weak=True)
    assert not etag_in_list('W/"abc"', "abc", weak=False)
    assert etag_in_list('"x", abc', "abc", weak=False)
    assert etag_in_list("*", "abc", weak=False)
    assert not etag_in_list('"x"', "abc", weak=True)
    assert not etag_in_list('"unterminated', "abc", weak=True)


HUGE = "9" * 5000  # more digits than int() accepts (4,300)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"bytes=0-{HUGE}", [(0, 99)]),  # a last position past the end is clamped (RFC 9110)
        (f"bytes=-{HUGE}", [(0, 99)]),  # a suffix longer than the file is the whole file
        ("bytes=0000000000000000000000000000010-19", [(10, 19)]),  # leading zeros are no size
    ],
)
def test_positions_with_thousands_of_digits_are_read_without_int(header, expected):
    assert parse_range_header(header, 100) == expected


@pytest.mark.parametrize("header", [f"bytes={HUGE}-", f"bytes={HUGE}-{HUGE}", "bytes=٣-٥", "bytes=²-5"])
def test_huge_starts_and_non_ascii_digits_are_unsatisfiable(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range_header(header, 100)
