"""The S3 storage path against a real S3 HTTP endpoint: moto's server on 127.0.0.1.

Nothing in boto3 is mocked: django-storages talks HTTP to the moto server, and presigned URLs
are fetched over HTTP like a device would.
"""

from __future__ import annotations

import itertools
import os
import urllib.error
import urllib.request

import boto3
import pytest
from django.core.files.storage import default_storage

from software.downloads import BOUNDARY
from software.models import Software
from software.parsers import PackageError
from software.services import software_create_from_file, software_delete
from tests.packages import build_swu
from tests.software.multipart import parse_byteranges

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.software.download_urls")]

_buckets = itertools.count(1)
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch):
    """A fresh bucket per test, configured as the default storage the way settings.py does."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    name = f"artifacts-{next(_buckets)}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "region_name": "us-east-1",
                "endpoint_url": s3_endpoint,
                "access_key": "testing",
                "secret_key": "testing",
                "file_overwrite": False,
                "default_acl": None,
                "addressing_style": "path",
            },
        },
    }
    yield client, name
    client.close()


def keys(bucket) -> list[str]:
    client, name = bucket
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=name).get("Contents", []))


def object_bytes(bucket, key: str) -> bytes:
    client, name = bucket
    response = client.get_object(Bucket=name, Key=key)
    with response["Body"] as stream:
        return stream.read()


@pytest.fixture
def package(tmp_path) -> bytes:
    return build_swu(tmp_path / "u.swu", files={"rootfs.img": os.urandom(300_000)}).read_bytes()


@pytest.fixture
def stored(bucket, package, tmp_path) -> Software:
    path = tmp_path / "upload.swu"
    path.write_bytes(package)
    with path.open("rb") as handle:
        return software_create_from_file(file=handle, filename="update.swu")


def fetch(url: str, headers: dict[str, str] | None = None):
    """GET like a device: (status, case-insensitive headers, body)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_default_storage_is_s3(bucket):
    from storages.backends.s3 import S3Storage

    assert isinstance(default_storage, S3Storage)


def test_an_upload_is_stored_in_the_bucket_under_its_content_address(bucket, stored, package):
    assert stored.package.file.name == f"{stored.package.sha256}/update.swu"
    assert keys(bucket) == [f"{stored.package.sha256}/update.swu"]
    assert object_bytes(bucket, stored.package.file.name) == package


def test_a_failed_upload_leaves_nothing_in_the_bucket(bucket, tmp_path):
    path = tmp_path / "bad.swu"
    path.write_bytes(b"definitely not a package")

    with path.open("rb") as handle, pytest.raises(PackageError):
        software_create_from_file(file=handle, filename="bad.swu")

    assert keys(bucket) == []
    assert Software.objects.count() == 0


def test_a_download_redirects_to_a_presigned_url_that_serves_ranges(client, stored, package):
    response = client.get(f"/artifact/{stored.pk}")

    assert response.status_code == 302
    location = response.headers["Location"]
    assert "X-Amz-Signature=" in location or "Signature=" in location
    status, headers, data = fetch(location)
    assert (status, data) == (200, package)
    assert headers["Content-Disposition"] == "attachment;filename=update.swu"
    status, headers, data = fetch(location, {"Range": "bytes=1000-1999"})
    assert (status, headers["Content-Range"], data) == (
        206,
        f"bytes 1000-1999/{len(package)}",
        package[1000:2000],
    )


def test_a_head_is_answered_without_redirecting(client, stored, package):
    response = client.head(f"/artifact/{stored.pk}")

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(package))
    assert response.headers["ETag"] == f'"{stored.package.sha1}"'


def test_proxy_mode_streams_the_whole_object(client, stored, package, settings):
    settings.GOOSEBIT_S3_DOWNLOAD_MODE = "proxy"

    response = client.get(f"/artifact/{stored.pk}")

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(package))
    assert response.headers["Content-Disposition"] == "attachment;filename=update.swu"
    assert body(response) == package


def test_proxy_mode_passes_a_single_range_to_s3(client, stored, package, settings):
    settings.GOOSEBIT_S3_DOWNLOAD_MODE = "proxy"

    response = client.get(f"/artifact/{stored.pk}", headers={"Range": "bytes=-100"})

    assert response.status_code == 206
    assert (
        response.headers["Content-Range"] == f"bytes {len(package) - 100}-{len(package) - 1}/{len(package)}"
    )
    assert body(response) == package[-100:]


def test_proxy_mode_serves_several_ranges_as_multipart(client, stored, package, settings):
    settings.GOOSEBIT_S3_DOWNLOAD_MODE = "proxy"

    response = client.get(f"/artifact/{stored.pk}", headers={"Range": "bytes=0-99,70000-70999,200000-"})

    assert response.status_code == 206
    assert response.headers["Content-Type"] == f"multipart/byteranges; boundary={BOUNDARY}"
    raw = body(response)
    assert response.headers["Content-Length"] == str(len(raw))
    assert [(span, data) for _, span, data in parse_byteranges(raw)] == [
        ((0, 99, len(package)), package[:100]),
        ((70000, 70999, len(package)), package[70000:71000]),
        ((200000, len(package) - 1, len(package)), package[200000:]),
    ]


def test_proxy_mode_answers_a_range_past_the_end_with_416(client, stored, package, settings):
    settings.GOOSEBIT_S3_DOWNLOAD_MODE = "proxy"

    response = client.get(f"/artifact/{stored.pk}", headers={"Range": f"bytes={len(package)}-"})

    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(package)}"


def test_proxy_mode_reports_a_missing_object_as_404(client, stored, bucket, settings):
    settings.GOOSEBIT_S3_DOWNLOAD_MODE = "proxy"
    client_s3, name = bucket
    client_s3.delete_object(Bucket=name, Key=stored.package.file.name)

    response = client.get(f"/artifact/{stored.pk}")

    assert response.status_code == 404


def test_deleting_software_removes_the_object_after_commit(
    bucket, stored, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        software_delete(software=stored)

    assert keys(bucket) == []
    assert Software.objects.count() == 0
