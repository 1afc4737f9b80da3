"""Resumed downloads against the real gunicorn server, the way rauc-hawkbit-updater resumes.

rauc-hawkbit-updater appends a resumed download to its partial file, so a Range request must get
exactly the missing bytes, and a Range starting at the end of the file must get 416 (which it
treats as "already complete"), never a full 200 body.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.helpers import Server

pytestmark = pytest.mark.e2e

SIZE = 256 * 1024 + 17


@pytest.fixture
def artifact(e2e_server: Server, tmp_path: Path, controller_id: str) -> tuple[str, bytes]:
    """A device with a running action whose artifact it may download: (download URL, content)."""
    content = os.urandom(SIZE)
    package = tmp_path / "resume.swu"
    package.write_bytes(content)
    software_id = e2e_server.call("create_software", path=str(package), version="4.0.0")
    e2e_server.call("create_device", controller_id=controller_id, update_mode="pinned")
    e2e_server.call("create_action", controller_id=controller_id, software_id=software_id)
    url = e2e_server.ddi_url(controller_id, f"/softwaremodules/{software_id}/artifacts/resume.swu")
    return url, content


def get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept": "application/octet-stream", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def test_a_download_resumed_from_the_middle_gets_exactly_the_missing_bytes(artifact):
    url, content = artifact
    middle = SIZE // 2

    status, headers, body = get(url, {"Range": f"bytes={middle}-"})

    assert status == 206
    assert headers["Content-Range"] == f"bytes {middle}-{SIZE - 1}/{SIZE}"
    assert headers["Content-Length"] == str(SIZE - middle)
    assert body == content[middle:]


def test_a_download_resumed_at_the_end_of_the_file_gets_416_with_the_size(artifact):
    url, _ = artifact

    status, headers, _ = get(url, {"Range": f"bytes={SIZE}-"})

    assert status == 416
    assert headers["Content-Range"] == f"bytes */{SIZE}"


def test_a_whole_download_matches_the_stored_file(artifact):
    url, content = artifact

    status, headers, body = get(url, {})

    assert status == 200
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Length"] == str(SIZE)
    assert body == content
