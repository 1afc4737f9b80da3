"""Resumed downloads against the real gunicorn server, the way rauc-hawkbit-updater resumes.

rauc-hawkbit-updater appends a resumed download to its partial file, so a Range request must get
exactly the missing bytes, and a Range starting at the end of the file must get 416 (which it
treats as "already complete"), never a full 200 body.
"""

from __future__ import annotations

import itertools
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.helpers import Server
from tests.packages import build_swu

pytestmark = pytest.mark.e2e

_versions = itertools.count(1)


@pytest.fixture
def artifact(e2e_server: Server, tmp_path: Path, controller_id: str) -> tuple[str, bytes]:
    """A device with a running action whose artifact it may download: (download URL, content)."""
    # A real package (uploads are parsed) made big and incompressible by a random payload; the
    # version is new per test because the repository refuses a version twice per hardware.
    version = f"4.0.{next(_versions)}"
    package = build_swu(
        tmp_path / "resume.swu", version=version, files={"rootfs.img": os.urandom(256 * 1024)}
    )
    content = package.read_bytes()
    software = e2e_server.call("create_software", path=str(package), version=version)
    e2e_server.call("create_device", controller_id=controller_id, update_mode="pinned")
    e2e_server.call("create_action", controller_id=controller_id, software_id=software["id"])
    url = e2e_server.ddi_url(
        controller_id, f"/softwaremodules/{software['module_id']}/artifacts/{software['filename']}"
    )
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
    size = len(content)
    middle = size // 2

    status, headers, body = get(url, {"Range": f"bytes={middle}-"})

    assert status == 206
    assert headers["Content-Range"] == f"bytes {middle}-{size - 1}/{size}"
    assert headers["Content-Length"] == str(size - middle)
    assert body == content[middle:]


def test_a_download_resumed_at_the_end_of_the_file_gets_416_with_the_size(artifact):
    url, content = artifact

    status, headers, _ = get(url, {"Range": f"bytes={len(content)}-"})

    assert status == 416
    assert headers["Content-Range"] == f"bytes */{len(content)}"


def test_a_whole_download_matches_the_stored_file(artifact):
    url, content = artifact

    status, headers, body = get(url, {})

    assert status == 200
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Length"] == str(len(content))
    assert body == content
