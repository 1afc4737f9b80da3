"""serve_artifact / serve_md5sum through Django's test client, byte for byte.

The URLconf serves software the way the DDI artifact view does (tests/software/download_urls.py).
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.utils.http import http_date

from software.downloads import BOUNDARY
from software.models import Software
from tests.factories import make_remote_software, make_software
from tests.software.multipart import parse_byteranges

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.software.download_urls")]

SIZE = 5000


@pytest.fixture
def content() -> bytes:
    return os.urandom(SIZE)


@pytest.fixture
def software(content) -> Software:
    return make_software("1.0", content=content, filename="update-1.0.swu")


def url(software: Software) -> str:
    return f"/artifact/{software.pk}"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def expected_headers(software: Software, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": "attachment;filename=update-1.0.swu",
        "ETag": f'"{software.package.sha1}"',
        "Last-Modified": http_date(software.created.timestamp()),
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        **extra,
    }


def status_of(response) -> int:
    """For tests that only look at the status: drain the body so the test client closes the file.

    (Calling response.close() directly would fire request_finished and close the DB connection.)
    """
    body(response)
    return response.status_code


def headers_of(response, names) -> dict[str, str]:
    return {name: response.headers[name] for name in names if name in response.headers}


def assert_headers(response, expected: dict[str, str]) -> None:
    assert headers_of(response, [*expected, "Content-Range"]) == expected


# --- full downloads --------------------------------------------------------------------------


def test_a_get_returns_the_whole_file_with_all_headers(client, software, content):
    response = client.get(url(software))

    assert response.status_code == 200
    assert_headers(response, expected_headers(software, **{"Content-Length": str(SIZE)}))
    assert body(response) == content


def test_a_head_returns_the_headers_and_no_body(client, software):
    response = client.head(url(software))

    assert response.status_code == 200
    assert_headers(response, expected_headers(software, **{"Content-Length": str(SIZE)}))
    assert response.content == b""


def test_a_head_ignores_range(client, software):
    response = client.head(url(software), headers={"Range": "bytes=0-9"})

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(SIZE)


def test_other_methods_are_not_allowed(client, software):
    response = client.post(url(software))

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_large_files_are_streamed_in_bounded_chunks(client, settings):
    content = os.urandom(1_500_000)
    software = make_software("2.0", content=content)

    full = client.get(url(software))
    ranged = client.get(url(software), headers={"Range": "bytes=100-1400000"})

    assert (full.status_code, ranged.status_code) == (200, 206)
    assert full.streaming and ranged.streaming
    full_chunks = list(full.streaming_content)
    ranged_chunks = list(ranged.streaming_content)
    assert max(len(chunk) for chunk in full_chunks + ranged_chunks) <= 64 * 1024
    assert b"".join(full_chunks) == content
    assert b"".join(ranged_chunks) == content[100:1400001]


def test_a_file_missing_from_storage_is_a_404(client, software):
    software.package.file.storage.delete(software.package.file.name)

    response = client.get(url(software))

    assert response.status_code == 404
    assert response.content == b"the artifact file is missing from the storage\n"


# --- single ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=0-0", 0, 0),
        ("bytes=100-", 100, SIZE - 1),
        ("bytes=-10", SIZE - 10, SIZE - 1),
        ("bytes=-100000", 0, SIZE - 1),
        (f"bytes={SIZE - 1}-", SIZE - 1, SIZE - 1),
        (f"bytes=4000-{SIZE * 2}", 4000, SIZE - 1),
    ],
)
def test_a_single_range_is_a_206_with_exactly_those_bytes(client, software, content, header, first, last):
    response = client.get(url(software), headers={"Range": header})

    assert response.status_code == 206
    assert_headers(
        response,
        expected_headers(
            software,
            **{"Content-Length": str(last - first + 1), "Content-Range": f"bytes {first}-{last}/{SIZE}"},
        ),
    )
    assert body(response) == content[first : last + 1]


@pytest.mark.parametrize(
    "header",
    [
        f"bytes={SIZE}-",  # RAUC resuming a file it already has completely
        f"bytes={SIZE}-{SIZE + 10}",
        "bytes=100-10",
        "bytes=-0",
        "bytes=abc",
        "bytes=0-9,5-15",
        "bytes=20-29,0-9",
        "pages=1-2",
        "garbage",
    ],
)
def test_an_unsatisfiable_or_malformed_range_is_a_416(client, software, header):
    response = client.get(url(software), headers={"Range": header})

    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"
    assert response.headers["Content-Length"] == str(len(response.content))


def test_fifty_single_range_requests_reassemble_the_file(client, software, content):
    pieces = []
    for index in range(50):
        first = index * 100
        response = client.get(url(software), headers={"Range": f"bytes={first}-{first + 99}"})
        assert response.status_code == 206
        pieces.append(body(response))

    assert b"".join(pieces) == content


# --- several ranges --------------------------------------------------------------------------


def test_several_ranges_are_a_multipart_byteranges_response(client, software, content):
    response = client.get(url(software), headers={"Range": "bytes=0-9,100-199,-5"})

    assert response.status_code == 206
    assert response.headers["Content-Type"] == f"multipart/byteranges; boundary={BOUNDARY}"
    assert "Content-Range" not in response.headers
    raw = body(response)
    assert response.headers["Content-Length"] == str(len(raw))
    parts = parse_byteranges(raw)
    assert [(headers["Content-Type"], span, data) for headers, span, data in parts] == [
        ("application/octet-stream", (0, 9, SIZE), content[0:10]),
        ("application/octet-stream", (100, 199, SIZE), content[100:200]),
        ("application/octet-stream", (SIZE - 5, SIZE - 1, SIZE), content[-5:]),
    ]


def test_fifty_consecutive_ranges_in_one_request_reassemble_the_file(client, software, content):
    header = "bytes=" + ",".join(f"{i * 100}-{i * 100 + 99}" for i in range(50))

    response = client.get(url(software), headers={"Range": header})

    assert response.status_code == 206
    raw = body(response)
    assert response.headers["Content-Length"] == str(len(raw))
    parts = parse_byteranges(raw)
    assert [span for _, span, _ in parts] == [(i * 100, i * 100 + 99, SIZE) for i in range(50)]
    assert b"".join(data for _, _, data in parts) == content


# --- If-Range --------------------------------------------------------------------------------


@pytest.mark.parametrize("if_range", ["etag", "bare-sha1", "date"])
def test_a_matching_if_range_keeps_the_range(client, software, content, if_range):
    value = {
        "etag": f'"{software.package.sha1}"',
        "bare-sha1": software.package.sha1,
        "date": http_date(software.created.timestamp()),
    }[if_range]

    response = client.get(url(software), headers={"Range": "bytes=10-19", "If-Range": value})

    assert response.status_code == 206
    assert body(response) == content[10:20]


@pytest.mark.parametrize(
    "value",
    [
        '"0000000000000000000000000000000000000000"',
        'W/"{sha1}"',
        "yesterday",
        "Mon, 01 Jan 2001 00:00:00 GMT",
    ],
)
def test_a_mismatching_if_range_sends_the_whole_file(client, software, content, value):
    response = client.get(
        url(software), headers={"Range": "bytes=10-19", "If-Range": value.format(sha1=software.package.sha1)}
    )

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(SIZE)
    assert body(response) == content


def test_a_mismatching_if_range_also_overrides_an_unsatisfiable_range(client, software, content):
    response = client.get(url(software), headers={"Range": f"bytes={SIZE}-", "If-Range": '"other"'})

    assert response.status_code == 200
    assert body(response) == content


# --- If-Match / If-None-Match / dates --------------------------------------------------------


@pytest.mark.parametrize("form", ["quoted", "unquoted", "list", "star"])
def test_a_matching_if_match_serves_the_file(client, software, content, form):
    value = {
        "quoted": f'"{software.package.sha1}"',
        "unquoted": software.package.sha1,
        "list": f'"abc", {software.package.sha1}',
        "star": "*",
    }[form]

    response = client.get(url(software), headers={"If-Match": value})

    assert response.status_code == 200
    assert body(response) == content


@pytest.mark.parametrize("value", ['"abc"', "abc, def", f'W/"{"0" * 40}"', '"unterminated'])
def test_a_failing_if_match_is_a_412(client, software, value):
    response = client.get(url(software), headers={"If-Match": value})

    assert response.status_code == 412
    assert response.headers["ETag"] == f'"{software.package.sha1}"'
    assert response.content == b""


def test_if_match_is_checked_for_head_and_range_requests_too(client, software):
    head = client.head(url(software), headers={"If-Match": '"abc"'})
    ranged = client.get(url(software), headers={"If-Match": '"abc"', "Range": "bytes=0-1"})

    assert (head.status_code, ranged.status_code) == (412, 412)


@pytest.mark.parametrize("form", ["quoted", "unquoted", "weak", "star", "list"])
def test_a_matching_if_none_match_is_a_304(client, software, form):
    value = {
        "quoted": f'"{software.package.sha1}"',
        "unquoted": software.package.sha1,
        "weak": f'W/"{software.package.sha1}"',
        "star": "*",
        "list": f'"abc", "{software.package.sha1}"',
    }[form]

    response = client.get(url(software), headers={"If-None-Match": value})

    assert response.status_code == 304
    assert headers_of(response, ["ETag", "Last-Modified", "Content-Length"]) == {
        "ETag": f'"{software.package.sha1}"',
        "Last-Modified": http_date(software.created.timestamp()),
        "Content-Length": str(SIZE),
    }
    assert response.content == b""


def test_a_mismatching_if_none_match_serves_the_file(client, software, content):
    response = client.get(url(software), headers={"If-None-Match": '"abc"'})

    assert response.status_code == 200
    assert body(response) == content


def test_if_modified_since_gives_a_304_when_nothing_changed(client, software):
    later = http_date((software.created + dt.timedelta(seconds=5)).timestamp())
    earlier = http_date((software.created - dt.timedelta(days=1)).timestamp())

    assert status_of(client.get(url(software), headers={"If-Modified-Since": later})) == 304
    assert status_of(client.get(url(software), headers={"If-Modified-Since": earlier})) == 200


def test_if_none_match_takes_precedence_over_if_modified_since(client, software):
    later = http_date((software.created + dt.timedelta(days=1)).timestamp())

    response = client.get(url(software), headers={"If-None-Match": '"abc"', "If-Modified-Since": later})

    assert status_of(response) == 200


def test_if_unmodified_since_before_the_upload_is_a_412(client, software):
    earlier = http_date((software.created - dt.timedelta(days=1)).timestamp())

    assert client.get(url(software), headers={"If-Unmodified-Since": earlier}).status_code == 412


# --- remote software and nginx ---------------------------------------------------------------


@pytest.fixture
def remote_software() -> Software:
    return make_remote_software("https://user:pw@cdn.example.com/u.swu")


def test_remote_software_redirects_to_its_url(client, remote_software):
    response = client.get(f"/artifact/{remote_software.pk}")

    assert response.status_code == 302
    assert response.headers["Location"] == "https://user:pw@cdn.example.com/u.swu"


def test_a_head_for_remote_software_is_answered_here(client, remote_software):
    response = client.head(f"/artifact/{remote_software.pk}")

    assert response.status_code == 200
    assert headers_of(response, ["Content-Length", "ETag", "Content-Disposition"]) == {
        "Content-Length": "1234",
        "ETag": f'"{"a" * 40}"',
        "Content-Disposition": "attachment;filename=u.swu",
    }


def test_x_accel_mode_hands_the_file_to_nginx(client, software, settings):
    settings.GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX = "/protected-artifacts/"

    response = client.get(url(software), headers={"Range": "bytes=0-9"})

    assert response.status_code == 200
    assert_headers(
        response,
        expected_headers(
            software,
            **{
                "X-Accel-Redirect": f"/protected-artifacts/{software.package.file.name}",
                "Content-Length": "0",
            },
        ),
    )
    assert response.content == b""


def test_x_accel_mode_still_answers_bad_ranges_and_preconditions_itself(client, software, settings):
    settings.GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX = "/protected-artifacts/"

    bad_range = client.get(url(software), headers={"Range": f"bytes={SIZE}-"})
    not_modified = client.get(url(software), headers={"If-None-Match": f'"{software.package.sha1}"'})

    assert (bad_range.status_code, not_modified.status_code) == (416, 304)
    assert "X-Accel-Redirect" not in bad_range.headers


# --- .MD5SUM ---------------------------------------------------------------------------------


def test_the_md5sum_file_is_in_md5sum_check_format(client, software, content):
    import hashlib

    response = client.get(f"/artifact/{software.pk}.MD5SUM")

    assert response.status_code == 200
    expected = f"{hashlib.md5(content).hexdigest()}  update-1.0.swu".encode()
    assert response.content == expected
    assert headers_of(response, ["Content-Type", "Content-Disposition", "Content-Length"]) == {
        "Content-Type": "text/plain",
        "Content-Disposition": "attachment;filename=update-1.0.swu.MD5SUM",
        "Content-Length": str(len(expected)),
    }


def test_a_head_for_the_md5sum_has_its_length_and_no_body(client, software):
    response = client.head(f"/artifact/{software.pk}.MD5SUM")

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(f"{software.package.md5}  update-1.0.swu"))
    assert response.content == b""


def test_the_md5sum_refuses_other_methods(client, software):
    assert client.delete(f"/artifact/{software.pk}.MD5SUM").status_code == 405
