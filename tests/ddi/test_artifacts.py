"""Artifact list and downloads: access rule, HEAD, ranges, conditional requests, MD5SUM."""

from __future__ import annotations

import re

import pytest
from django.utils.http import parse_http_date

from rollouts.models import Action, ActionStatus
from tests.ddi.helpers import (
    artifact_json,
    content_of,
    ddi_url,
    feedback_body,
    install,
    known_device,
    media_type,
    post_feedback,
    send_json,
    start_action,
)
from tests.factories import make_software

pytestmark = pytest.mark.django_db

CONTENT = bytes(range(256)) * 4  # 1024 distinct-enough bytes
SIZE = len(CONTENT)
OCTETS = {"HTTP_ACCEPT": "application/octet-stream"}


@pytest.fixture
def device():
    return known_device("dev-1")


@pytest.fixture
def software():
    return make_software("2.0.0", content=CONTENT, filename="image-2.0.0.swu")


@pytest.fixture
def action(device, software):
    return start_action(device, software)


def _list_url(software, cid="dev-1"):
    return ddi_url(cid, "softwaremodules", software.package.module_id, "artifacts")


def _file_url(software, cid="dev-1", suffix=""):
    return ddi_url(
        cid, "softwaremodules", software.package.module_id, "artifacts", software.package.filename + suffix
    )


def _downloads(action):
    return action.statuses.filter(
        execution=ActionStatus.Execution.DOWNLOAD, source=ActionStatus.Source.SERVER
    )


# --- the artifact list ---------------------------------------------------------------------


def test_the_artifact_list_of_assigned_software_describes_its_artifact(ddi_client, software, action):
    response = ddi_client.get(_list_url(software), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert response.json() == [artifact_json("dev-1", software)]


def test_the_artifact_list_of_installed_software_stays_available(ddi_client, device, software):
    install(device, software)

    response = ddi_client.get(_list_url(software))

    assert response.status_code == 200
    assert response.json() == [artifact_json("dev-1", software)]


def test_the_artifact_list_of_software_neither_assigned_nor_installed_answers_404(
    ddi_client, device, software
):
    response = ddi_client.get(_list_url(software))

    assert response.status_code == 404


def test_the_artifact_list_of_software_installed_before_the_current_one_answers_404(
    ddi_client, device, software
):
    install(device, software)
    install(device, make_software("3.0.0"))

    assert ddi_client.get(_list_url(software)).status_code == 404


def test_the_artifact_list_of_unknown_software_answers_404(ddi_client, device):
    assert ddi_client.get(ddi_url("dev-1", "softwaremodules", 999999, "artifacts")).status_code == 404


def test_the_artifact_list_of_another_devices_software_answers_404(ddi_client, software, action):
    known_device("dev-2")

    assert ddi_client.get(_list_url(software, cid="dev-2")).status_code == 404


# --- access --------------------------------------------------------------------------------


def test_a_download_before_assignment_answers_404(ddi_client, device, software):
    response = ddi_client.get(_file_url(software), **OCTETS)

    assert response.status_code == 404


def test_a_range_download_before_assignment_answers_404(ddi_client, device, software):
    response = ddi_client.get(_file_url(software), HTTP_RANGE="bytes=0-9", **OCTETS)

    assert response.status_code == 404


def test_an_md5sum_before_assignment_answers_404(ddi_client, device, software):
    assert ddi_client.get(_file_url(software, suffix=".MD5SUM")).status_code == 404


def test_a_download_of_an_unknown_filename_answers_404(ddi_client, software, action):
    url = ddi_url("dev-1", "softwaremodules", software.package.module_id, "artifacts", "other.swu")

    assert ddi_client.get(url, **OCTETS).status_code == 404
    assert ddi_client.get(url + ".MD5SUM").status_code == 404


def test_a_download_of_unknown_software_answers_404(ddi_client, action):
    url = ddi_url("dev-1", "softwaremodules", 999999, "artifacts", "image-2.0.0.swu")

    assert ddi_client.get(url, **OCTETS).status_code == 404


def test_a_download_of_installed_software_is_allowed(ddi_client, device, software):
    install(device, software)

    response = ddi_client.get(_file_url(software), **OCTETS)

    assert response.status_code == 200
    assert content_of(response) == CONTENT


# --- full downloads ------------------------------------------------------------------------


def test_a_download_after_assignment_serves_the_exact_bytes_with_download_headers(
    ddi_client, software, action
):
    response = ddi_client.get(_file_url(software), **OCTETS)

    assert response.status_code == 200
    assert content_of(response) == CONTENT
    assert media_type(response) == "application/octet-stream"
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{software.package.sha1}"'
    assert response["Content-Disposition"] == "attachment;filename=image-2.0.0.swu"
    # The artifact's creation time; the stored file's mtime may differ by the second it took.
    assert abs(parse_http_date(response["Last-Modified"]) - software.created.timestamp()) < 2


def test_a_head_request_announces_the_size_without_a_body(ddi_client, software, action):
    response = ddi_client.head(_file_url(software), **OCTETS)

    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE)
    assert response["ETag"] == f'"{software.package.sha1}"'
    assert response["Accept-Ranges"] == "bytes"
    assert content_of(response) == b""


def test_a_full_download_records_one_download_status(ddi_client, software, action):
    content_of(ddi_client.get(_file_url(software), **OCTETS))

    assert _downloads(action).count() == 1


def test_range_downloads_record_nothing(ddi_client, software, action):
    for start in range(0, SIZE, 100):
        content_of(ddi_client.get(_file_url(software), HTTP_RANGE=f"bytes={start}-{start + 99}", **OCTETS))

    assert not _downloads(action).exists()


def test_downloading_does_not_change_the_action_status(ddi_client, software, action):
    content_of(ddi_client.get(_file_url(software), **OCTETS))

    action.refresh_from_db()
    assert action.status == Action.Status.PENDING


# --- ranges --------------------------------------------------------------------------------


def test_a_single_range_answers_206_with_content_range(ddi_client, software, action):
    response = ddi_client.get(_file_url(software), HTTP_RANGE="bytes=10-19", **OCTETS)

    assert response.status_code == 206
    assert content_of(response) == CONTENT[10:20]
    assert response["Content-Range"] == f"bytes 10-19/{SIZE}"
    assert response["Content-Length"] == "10"
    assert response["ETag"] == f'"{software.package.sha1}"'


def test_a_suffix_range_answers_the_last_bytes(ddi_client, software, action):
    response = ddi_client.get(_file_url(software), HTTP_RANGE="bytes=-100", **OCTETS)

    assert response.status_code == 206
    assert content_of(response) == CONTENT[-100:]
    assert response["Content-Range"] == f"bytes {SIZE - 100}-{SIZE - 1}/{SIZE}"


def test_an_open_range_answers_the_rest_of_the_file_as_rauc_resumes(ddi_client, software, action):
    response = ddi_client.get(_file_url(software), HTTP_RANGE="bytes=1000-", **OCTETS)

    assert response.status_code == 206
    assert content_of(response) == CONTENT[1000:]
    assert response["Content-Range"] == f"bytes 1000-{SIZE - 1}/{SIZE}"


def test_a_range_ending_past_the_file_is_clipped(ddi_client, software, action):
    response = ddi_client.get(_file_url(software), HTTP_RANGE=f"bytes=1000-{SIZE + 500}", **OCTETS)

    assert response.status_code == 206
    assert content_of(response) == CONTENT[1000:]
    assert response["Content-Range"] == f"bytes 1000-{SIZE - 1}/{SIZE}"


def test_consecutive_ranges_reassemble_the_file(ddi_client, software, action):
    parts = [
        content_of(ddi_client.get(_file_url(software), HTTP_RANGE=f"bytes={start}-{start + 49}", **OCTETS))
        for start in range(0, SIZE, 50)
    ]

    assert b"".join(parts) == CONTENT


def test_several_ranges_answer_a_multipart_byteranges_body(ddi_client, software, action):
    response = ddi_client.get(_file_url(software), HTTP_RANGE="bytes=0-9,20-29", **OCTETS)

    assert response.status_code == 206
    content_type = response["Content-Type"]
    match = re.fullmatch(r'multipart/byteranges;\s*boundary="?([^";]+)"?', content_type)
    assert match, content_type
    boundary = match.group(1).encode()
    body = content_of(response)
    parts = [part for part in body.split(b"--" + boundary) if part.strip() not in (b"", b"--")]
    assert len(parts) == 2
    for part, (start, end) in zip(parts, [(0, 9), (20, 29)], strict=True):
        head, _, payload = part.partition(b"\r\n\r\n")
        assert f"Content-Range: bytes {start}-{end}/{SIZE}".encode() in head
        assert payload.removesuffix(b"\r\n") == CONTENT[start : end + 1]


@pytest.mark.parametrize(
    "header",
    [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=100-10", "bytes=1-10,garbage"],
    ids=["start-at-size", "start-past-size", "start-after-end", "garbage"],
)
def test_an_unsatisfiable_range_answers_416_with_the_size(ddi_client, software, action, header):
    response = ddi_client.get(_file_url(software), HTTP_RANGE=header, **OCTETS)

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    content_of(response)


def test_if_range_with_the_current_etag_honours_the_range(ddi_client, software, action):
    response = ddi_client.get(
        _file_url(software), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{software.package.sha1}"', **OCTETS
    )

    assert response.status_code == 206
    assert content_of(response) == CONTENT[:10]


def test_if_range_with_a_stale_etag_sends_the_whole_file(ddi_client, software, action):
    response = ddi_client.get(_file_url(software), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"stale"', **OCTETS)

    assert response.status_code == 200
    assert content_of(response) == CONTENT


# --- If-Match ------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["quoted", "unquoted", "list", "star"])
def test_a_matching_if_match_serves_the_file(ddi_client, software, action, form):
    value = {
        "quoted": f'"{software.package.sha1}"',
        "unquoted": software.package.sha1,
        "list": f'"0000", "{software.package.sha1}"',
        "star": "*",
    }[form]

    response = ddi_client.get(_file_url(software), HTTP_IF_MATCH=value, **OCTETS)

    assert response.status_code == 200
    assert content_of(response) == CONTENT


def test_a_mismatching_if_match_answers_412(ddi_client, software, action):
    response = ddi_client.get(
        _file_url(software), HTTP_IF_MATCH='"0000000000000000000000000000000000000000"', **OCTETS
    )

    assert response.status_code == 412
    content_of(response)


# --- MD5SUM --------------------------------------------------------------------------------


def test_the_md5sum_file_is_in_md5sum_check_format(ddi_client, software, action):
    response = ddi_client.get(_file_url(software, suffix=".MD5SUM"))

    assert response.status_code == 200
    assert media_type(response) == "text/plain"
    assert content_of(response) == f"{software.package.md5}  image-2.0.0.swu".encode()
    assert response["Content-Disposition"] == "attachment;filename=image-2.0.0.swu.MD5SUM"


def test_a_head_of_the_md5sum_file_is_answered(ddi_client, software, action):
    response = ddi_client.head(_file_url(software, suffix=".MD5SUM"))

    assert response.status_code == 200
    assert content_of(response) == b""


@pytest.mark.parametrize("suffix", ["", ".MD5SUM"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_artifact_urls_refuse_writes_with_405(ddi_client, software, action, suffix, method):
    response = send_json(ddi_client, method, _file_url(software, suffix=suffix), {})

    assert response.status_code == 405


# --- after the deployment ------------------------------------------------------------------


def test_artifacts_stay_downloadable_after_a_successful_install(ddi_client, software, action):
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success"))

    listing = ddi_client.get(_list_url(software))
    download = ddi_client.get(_file_url(software), **OCTETS)

    assert listing.status_code == 200
    assert download.status_code == 200
    assert content_of(download) == CONTENT


def test_artifacts_of_a_failed_action_are_no_longer_served(ddi_client, software, action):
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "failure"))

    assert ddi_client.get(_list_url(software)).status_code == 404
    assert ddi_client.get(_file_url(software), **OCTETS).status_code == 404
