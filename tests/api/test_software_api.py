"""/api/v1/software/: list, retrieve, create (file or URL), delete, download."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from rollouts.models import Action
from software.models import Software
from tests.factories import (
    make_action,
    make_device,
    make_hardware,
    make_remote_software,
    make_rollout,
    make_software,
)
from tests.packages import build_swu
from tests.software.http_server import PackageServer
from tests.software.multipart import parse_byteranges

pytestmark = pytest.mark.django_db

LIST = "/api/v1/software/"


@pytest.fixture
def api(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.create_superuser("operator", password="x"))
    return client


@pytest.fixture(autouse=True)
def upload_tmp(settings, tmp_path):
    directory = tmp_path / "upload-tmp"
    directory.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(directory)
    return directory


def detail(software: Software) -> str:
    return f"{LIST}{software.pk}/"


def _artifact(artifact) -> dict:
    return {
        "id": artifact.pk,
        "filename": artifact.filename,
        "size": artifact.size,
        "sha1": artifact.sha1,
        "md5": artifact.md5,
        "sha256": artifact.sha256,
        "image_format": artifact.image_format,
        "signed": artifact.signed,
        "remote": artifact.is_remote,
        "url": artifact.masked_url,
        "created": artifact.created.isoformat().replace("+00:00", "Z"),
    }


def expected(software: Software) -> dict:
    module = software.package.module
    return {
        "id": software.pk,
        "name": software.name,
        "version": software.version,
        "description": software.description,
        "image_format": software.package.image_format,
        "filename": software.package.filename,
        "size": software.package.size,
        "sha1": software.package.sha1,
        "md5": software.package.md5,
        "sha256": software.package.sha256,
        "signed": software.package.signed,
        "remote": software.package.is_remote,
        "url": software.package.masked_url,
        "compatibility": [
            {"id": h.pk, "model": h.model, "revision": h.revision}
            for h in software.compatibility.order_by("pk")
        ],
        "metadata": software.package.metadata,
        "modules": [
            {
                "id": module.pk,
                "type": "os",
                "name": module.name,
                "version": module.version,
                "vendor": "",
                "description": "",
                "encrypted": False,
                "artifacts": [_artifact(software.package)],
                "metadata": [],
                "created": module.created.isoformat().replace("+00:00", "Z"),
            }
        ],
        "tags": list(software.tags.order_by("name").values_list("name", flat=True)),
        "created": software.created.isoformat().replace("+00:00", "Z"),
        "download_url": f"http://testserver{LIST}{software.pk}/download/",
    }


def swu_upload(tmp_path, name="update.swu", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, build_swu(tmp_path / "build.swu", **kwargs).read_bytes())


# --- reading ---------------------------------------------------------------------------------


def test_the_list_is_paginated_newest_first(api):
    older = make_software("1.0")
    newer = make_software("2.0")

    response = api.get(LIST)

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [expected(newer), expected(older)],
    }


def test_the_list_filters_by_version_format_and_hardware(api):
    board1, board2 = make_hardware("board", "1"), make_hardware("other", "2")
    first = make_software("1.0", compatibility=[board1])
    second = make_software("2.0", compatibility=[board1, board2])
    third = make_software("3.0", compatibility=[board2], image_format=Software.ImageFormat.RAUC)

    def ids(query: str) -> list[int]:
        response = api.get(f"{LIST}?{query}")
        assert response.status_code == 200
        return [item["id"] for item in response.json()["results"]]

    assert ids("version=2.0") == [second.pk]
    assert ids("image_format=rauc") == [third.pk]
    assert ids(f"hardware={board1.pk}") == [second.pk, first.pk]
    assert ids("model=other") == [third.pk, second.pk]
    assert ids("model=other&revision=2&image_format=swu") == [second.pk]
    assert ids("remote=true") == []


def test_a_remote_software_shows_its_url_without_credentials(api):
    software = make_remote_software("https://ci:hunter2@builds.example.com/u.swu")

    response = api.get(detail(software))

    assert response.status_code == 200
    assert response.json()["url"] == "https://ci:***@builds.example.com/u.swu"
    assert response.json()["remote"] is True
    assert "hunter2" not in response.content.decode()


def test_an_unknown_software_is_a_404(api):
    response = api.get(f"{LIST}999/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No Software matches the given query."}


# --- creating --------------------------------------------------------------------------------


def test_uploading_a_file_creates_the_software(api, tmp_path):
    upload = swu_upload(tmp_path, version="1.4.0", board="board", revisions=["7"])
    content = upload.read()
    upload.seek(0)

    response = api.post(LIST, {"file": upload}, format="multipart")

    assert response.status_code == 201
    software = Software.objects.get()
    assert response.json() == expected(software)
    assert (software.version, software.package.filename, software.package.sha256) == (
        "1.4.0",
        "update.swu",
        hashlib.sha256(content).hexdigest(),
    )


def test_a_url_creates_remote_software(api, tmp_path):
    with PackageServer() as server:
        server.routes["/fw/u-9.swu"] = (200, {}, build_swu(tmp_path / "u.swu", version="9").read_bytes())

        response = api.post(LIST, {"url": f"{server.url}/fw/u-9.swu"}, format="json")

    assert response.status_code == 201
    software = Software.objects.get()
    assert response.json() == expected(software)
    assert (software.package.url, software.package.file.name, software.package.filename) == (
        f"{server.url}/fw/u-9.swu",
        "",
        "u-9.swu",
    )


def test_a_url_can_be_cached_through_the_api(api, tmp_path):
    with PackageServer() as server:
        server.routes["/u.swu"] = (200, {}, build_swu(tmp_path / "u.swu").read_bytes())

        response = api.post(LIST, {"url": f"{server.url}/u.swu", "cache": True}, format="json")

    assert response.status_code == 201
    assert response.json()["remote"] is False
    assert (Software.objects.get().package.file.name or "").endswith("/u.swu")


def test_a_file_that_is_not_a_package_is_a_400(api):
    response = api.post(LIST, {"file": SimpleUploadedFile("x.swu", b"hello")}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"detail": "not a .swu or .raucb file (unknown file format)"}
    assert Software.objects.count() == 0


def test_an_empty_file_is_a_400(api):
    response = api.post(LIST, {"file": SimpleUploadedFile("x.swu", b"")}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"detail": "the file is empty"}


def test_the_same_package_twice_is_a_409(api, tmp_path):
    content = build_swu(tmp_path / "u.swu").read_bytes()
    api.post(LIST, {"file": SimpleUploadedFile("u.swu", content)}, format="multipart")
    first = Software.objects.get()

    response = api.post(LIST, {"file": SimpleUploadedFile("u.swu", content)}, format="multipart")

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"this package is already stored as software {first.pk} (u.swu, version 1.0.0)"
    }
    assert Software.objects.count() == 1


def test_the_same_version_for_the_same_hardware_is_a_409(api, tmp_path):
    existing = make_software("1.0.0", compatibility=[make_hardware("board", "1")])

    response = api.post(LIST, {"file": swu_upload(tmp_path, version="1.0.0")}, format="multipart")

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Software 1.0.0 for board 1 exists already (software {existing.pk}, {existing.name})"
    }


def test_a_package_over_the_limit_is_a_413(api, tmp_path, settings):
    upload = swu_upload(tmp_path, files={"x": os.urandom(5000)})
    settings.GOOSEBIT_MAX_UPLOAD_SIZE = 4000

    response = api.post(LIST, {"file": upload}, format="multipart")

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"the package is {upload.size} bytes, larger than the limit of 4000 bytes"
    }


def test_a_request_body_far_over_the_limit_is_refused_before_reading(api, settings):
    settings.GOOSEBIT_MAX_UPLOAD_SIZE = 1000

    response = api.post(LIST, {"file": SimpleUploadedFile("x.swu", b"x" * 200_000)}, format="multipart")

    assert response.status_code == 413
    assert response.json() == {"detail": "the package is larger than the limit of 1000 bytes"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "send either a package as 'file' or its 'url', not both"),
        (
            {"url": "https://x/u.swu", "file": "FILE"},
            "send either a package as 'file' or its 'url', not both",
        ),
        ({"url": "ftp://x/u.swu"}, "software URLs must start with http:// or https://"),
        (
            {"file": "not a file"},
            "file: The submitted data was not a file. Check the encoding type on the form.",
        ),
    ],
)
def test_bad_create_requests_are_400_with_a_detail(api, data, message):
    if data.get("file") == "FILE":
        data["file"] = SimpleUploadedFile("u.swu", b"x")

    response = api.post(LIST, data, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"detail": message}


def test_an_unreachable_url_is_a_400(api):
    response = api.post(LIST, {"url": "http://127.0.0.1:9/u.swu"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("could not download http://127.0.0.1:9/u.swu: ")


def test_a_client_that_disconnects_mid_upload_gets_a_400_and_leaves_nothing(tmp_path, upload_tmp):
    from django.core.handlers.wsgi import LimitedStream
    from rest_framework.test import APIRequestFactory, force_authenticate

    from software.api.views import SoftwareViewSet

    factory = APIRequestFactory()
    upload = swu_upload(tmp_path, files={"big.img": os.urandom(3_000_000)})
    request = factory.post(LIST, {"file": upload}, format="multipart")
    body = request.read()

    class Disconnecting(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 1_000_000:
                raise OSError("client disconnected")
            return super().read(size)

    # Django's private request state: the stream a real server would hand over.
    request._stream = LimitedStream(Disconnecting(body), len(body))  # type: ignore[assignment]
    request._read_started = False  # type: ignore[attr-defined]
    force_authenticate(request, User.objects.create_superuser("root", password="x"))

    response = SoftwareViewSet.as_view({"post": "create"})(request)

    assert response.status_code == 400
    assert response.data == {"detail": "the upload broke off: client disconnected"}
    assert Software.objects.count() == 0
    assert not (tmp_path / "artifacts").exists()
    assert list(upload_tmp.iterdir()) == []


# --- deleting --------------------------------------------------------------------------------


def test_deleting_unused_software_is_a_204(api, django_capture_on_commit_callbacks):
    software = make_software("1.0")
    assert software.package is not None  # read before the release and its module are gone

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(detail(software))

    assert response.status_code == 204
    assert Software.objects.count() == 0
    assert software.package.file.name is not None
    assert not software.package.file.storage.exists(software.package.file.name)


def test_deleting_software_in_use_is_a_409_with_the_reason(api):
    software = make_software("1.0")
    make_rollout(software, name="r1")
    other = make_software("2.0")
    make_action(make_device(), other, status=Action.Status.RUNNING)

    in_rollout = api.delete(detail(software))
    being_installed = api.delete(detail(other))

    assert in_rollout.status_code == 409
    assert in_rollout.json() == {
        "detail": "update-1.0.swu (1.0) cannot be deleted: it is used by rollout 'r1'"
    }
    assert being_installed.status_code == 409
    assert being_installed.json() == {
        "detail": "update-2.0.swu (2.0) cannot be deleted: it is being installed on 1 device(s)"
    }
    assert Software.objects.count() == 2


# --- downloading -----------------------------------------------------------------------------


def test_the_download_action_serves_the_package_with_ranges(api):
    content = os.urandom(3000)
    software = make_software("1.0", content=content)

    full = api.get(f"{detail(software)}download/", HTTP_ACCEPT="application/octet-stream")
    ranged = api.get(f"{detail(software)}download/", HTTP_RANGE="bytes=0-9,-10")
    head = api.head(f"{detail(software)}download/")

    assert full.status_code == 200
    assert b"".join(full.streaming_content) == content
    assert full.headers["ETag"] == f'"{software.package.sha1}"'
    assert ranged.status_code == 206
    parts = parse_byteranges(b"".join(ranged.streaming_content))
    assert [data for _, _, data in parts] == [content[:10], content[-10:]]
    assert (head.status_code, head.headers["Content-Length"], head.content) == (200, "3000", b"")


def test_the_md5sum_action_serves_the_checksum_file(api):
    software = make_software("1.0", content=b"abc", filename="x.swu")

    response = api.get(f"{detail(software)}md5sum/")

    assert response.status_code == 200
    assert response.content == f"{hashlib.md5(b'abc').hexdigest()}  x.swu".encode()


def test_downloading_unknown_software_is_a_json_404(api):
    response = api.get(f"{LIST}999/download/", HTTP_ACCEPT="application/octet-stream")

    assert response.status_code == 404
    assert response.content == b'{"detail":"No Software matches the given query."}'


# --- permissions -----------------------------------------------------------------------------


def test_anonymous_requests_are_refused(client):
    response = client.get(LIST)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_user_without_add_permission_cannot_upload(tmp_path):
    user = User.objects.create_user("viewer", password="x")
    user.user_permissions.add(Permission.objects.get(codename="view_software"))
    client = APIClient()
    client.force_authenticate(user)

    listing = client.get(LIST)
    upload = client.post(LIST, {"file": swu_upload(tmp_path)}, format="multipart")

    assert listing.status_code == 200
    assert upload.status_code == 403
    assert Software.objects.count() == 0


def test_the_openapi_schema_describes_the_software_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "/api/v1/software/{id}/download/" in response.json()["paths"]


def test_reading_software_needs_the_view_permission():
    make_software("1.0.0")
    client = APIClient()
    user = User.objects.create_user("nobody", password="x")
    client.force_authenticate(user)
    assert client.get(LIST).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="view_software"))
    user = User.objects.get(pk=user.pk)  # drop the cached permissions
    client.force_authenticate(user)
    assert client.get(LIST).status_code == 200
    assert client.post(LIST, {"url": "https://example.com/a.swu"}).status_code == 403


def test_the_api_refuses_anonymous_requests():
    assert APIClient().get(LIST).status_code in (401, 403)
