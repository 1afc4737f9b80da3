"""A full disk during an upload, injected for real with small tmpfs mounts: 507, nothing left.

Each test mounts a 2 MiB tmpfs as the upload temp folder or as the artifact storage and uploads
a 3 MB package through the real service, API, admin form or command.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from devices.models import Hardware
from software.exceptions import StorageFull
from software.models import Software
from software.services import software_create_from_file, upload_temp_cleanup
from tests.packages import build_swu

pytestmark = pytest.mark.django_db


def _mount_tmpfs(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(directory)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill a disk for real: {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "small-disk"
    _mount_tmpfs(directory)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


@pytest.fixture
def temp_on_disk(settings, tmp_path: Path) -> Path:
    directory = tmp_path / "upload-tmp"
    directory.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(directory)
    return directory


@pytest.fixture
def big_package(tmp_path: Path) -> Path:
    return build_swu(tmp_path / "big.swu", files={"big.img": os.urandom(3_000_000)})


def files_in(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


def test_a_full_temp_folder_is_507_and_leaves_nothing(settings, small_disk, big_package):
    settings.FILE_UPLOAD_TEMP_DIR = str(small_disk)

    with big_package.open("rb") as handle, pytest.raises(StorageFull) as excinfo:
        software_create_from_file(file=handle, filename="big.swu")

    assert excinfo.value.status_code == 507
    assert str(excinfo.value) == "no space left in the temporary upload folder"
    assert files_in(small_disk) == []
    assert not Path(settings.ARTIFACTS_DIR).exists() or files_in(Path(settings.ARTIFACTS_DIR)) == []
    assert (Software.objects.count(), Hardware.objects.count()) == (0, 0)


def test_a_full_artifact_storage_is_507_and_leaves_no_partial_file(
    settings, small_disk, temp_on_disk, big_package
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(small_disk)},
        },
    }

    with big_package.open("rb") as handle, pytest.raises(StorageFull) as excinfo:
        software_create_from_file(file=handle, filename="big.swu")

    assert str(excinfo.value) == "no space left in the artifact storage for this package"
    assert files_in(small_disk) == []  # neither the partial copy nor its <sha256>/ folder
    assert files_in(temp_on_disk) == []
    assert (Software.objects.count(), Hardware.objects.count()) == (0, 0)


def test_the_api_answers_507_when_the_temp_folder_fills_while_reading_the_body(
    settings, small_disk, big_package
):
    settings.FILE_UPLOAD_TEMP_DIR = str(small_disk)
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_superuser("operator", password="x"))

    response = client.post(
        "/api/v1/software/", {"file": io.BytesIO(big_package.read_bytes())}, format="multipart"
    )

    assert response.status_code == 507
    assert response.json() == {"detail": "no space left in the temporary upload folder"}
    assert files_in(small_disk) == []
    assert Software.objects.count() == 0


def test_the_api_answers_507_when_the_storage_is_full(settings, small_disk, temp_on_disk, big_package):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(small_disk)},
        },
    }
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_superuser("operator", password="x"))

    with big_package.open("rb") as handle:
        response = client.post("/api/v1/software/", {"file": handle}, format="multipart")

    assert response.status_code == 507
    assert response.json() == {"detail": "no space left in the artifact storage for this package"}
    assert (files_in(small_disk), files_in(temp_on_disk), Software.objects.count()) == ([], [], 0)


def test_the_admin_form_shows_a_full_storage_as_a_form_error(
    settings, admin_client, small_disk, temp_on_disk, big_package
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(small_disk)},
        },
    }

    response = admin_client.post(
        "/admin/software/software/add/",
        {"package": SimpleUploadedFile("big.swu", big_package.read_bytes())},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "package": ["no space left in the artifact storage for this package"]
    }
    assert (files_in(small_disk), files_in(temp_on_disk), Software.objects.count()) == ([], [], 0)


def test_the_admin_answers_507_when_the_temp_folder_fills_while_reading_the_form(
    settings, admin_client, small_disk, big_package
):
    settings.FILE_UPLOAD_TEMP_DIR = str(small_disk)

    response = admin_client.post(
        "/admin/software/software/add/",
        {"package": SimpleUploadedFile("big.swu", big_package.read_bytes())},
    )

    assert response.status_code == 507
    assert b"No space left on the server for this upload." in response.content
    assert files_in(small_disk) == []
    assert Software.objects.count() == 0


def test_import_software_reports_a_full_storage(settings, small_disk, temp_on_disk, big_package, capsys):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(small_disk)},
        },
    }

    with pytest.raises(CommandError, match="1 of 1 package"):
        call_command("import_software", str(big_package), verbosity=0)

    assert f"{big_package}: no space left in the artifact storage for this package" in capsys.readouterr().err
    assert (files_in(small_disk), files_in(temp_on_disk), Software.objects.count()) == ([], [], 0)


def test_stale_upload_temp_files_are_removed_at_start(settings, temp_on_disk):
    old = temp_on_disk / "goosebit-package-old"
    fresh = temp_on_disk / "tmpabc.upload.swu"
    old.write_bytes(b"left by a killed worker")
    fresh.write_bytes(b"being uploaded right now")
    os.utime(old, (time.time() - 7200, time.time() - 7200))

    assert upload_temp_cleanup(older_than_seconds=3600) == 1
    assert files_in(temp_on_disk) == ["tmpabc.upload.swu"]
    assert upload_temp_cleanup() == 1  # at gunicorn master start nothing is in flight
    assert files_in(temp_on_disk) == []
