"""software_create_from_file / software_delete: what is stored, what is refused, what is left."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile, UploadedFile

from devices.models import Hardware
from rollouts.models import Action
from software.exceptions import PackageTooLarge, SoftwareConflict, SoftwareError, SoftwareInUse
from software.models import Software
from software.parsers import PackageError
from software.services import package_filename, software_create_from_file, software_delete
from tests.factories import (
    make_action,
    make_device,
    make_hardware,
    make_remote_software,
    make_rollout,
    make_software,
)
from tests.packages import build_raucb, build_swu

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def upload_tmp(settings, tmp_path) -> Path:
    """Temporary upload files go here so tests can see that none is left behind."""
    directory = tmp_path / "upload-tmp"
    directory.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(directory)
    return directory


def stored_files(settings) -> list[str]:
    root = Path(settings.ARTIFACTS_DIR)
    if not root.exists():
        return []
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def upload(path: Path, filename: str | None = None, **kwargs) -> Software:
    with path.open("rb") as handle:
        return software_create_from_file(
            file=handle, filename=path.name if filename is None else filename, **kwargs
        )


def assert_nothing_left(settings, upload_tmp, rows: int = 0) -> None:
    assert Software.objects.count() == rows
    assert list(upload_tmp.iterdir()) == []
    if rows == 0:
        assert stored_files(settings) == []


def test_an_uploaded_swu_is_stored_content_addressed_with_its_hashes_and_compatibility(
    tmp_path, settings, upload_tmp
):
    path = build_swu(tmp_path / "update.swu", version="1.2.0", board="board", revisions=["1", "2"])
    content = path.read_bytes()

    software = upload(path)

    sha256 = hashlib.sha256(content).hexdigest()
    software.refresh_from_db()
    assert (software.version, software.package.image_format, software.package.filename) == (
        "1.2.0",
        "swu",
        "update.swu",
    )
    assert (software.package.size, software.package.sha1, software.package.md5, software.package.sha256) == (
        len(content),
        hashlib.sha1(content).hexdigest(),
        hashlib.md5(content).hexdigest(),
        sha256,
    )
    assert (software.package.url, software.package.signed) == ("", False)
    assert software.package.file.name == f"{sha256}/update.swu"
    assert software.package.metadata["description"] == "test image 1.2.0"
    assert sorted((h.model, h.revision) for h in software.compatibility.all()) == [
        ("board", "1"),
        ("board", "2"),
    ]
    assert stored_files(settings) == [f"{sha256}/update.swu"]
    assert (Path(settings.ARTIFACTS_DIR) / sha256 / "update.swu").read_bytes() == content
    assert list(upload_tmp.iterdir()) == []


def test_a_rauc_bundle_is_stored_with_its_format_and_a_raucb_name(raucb_plain, settings):
    software = upload(raucb_plain, filename="bundle.raucb")

    assert (software.package.image_format, software.version, software.package.signed) == (
        "rauc",
        "2.1.0",
        True,
    )
    assert software.package.filename == "bundle.raucb"
    assert software.package.metadata["bundle_format"] == "plain"
    assert [(h.model, h.revision) for h in software.compatibility.all()] == [("myboard-rev2", "default")]


def test_existing_hardware_rows_are_reused(tmp_path):
    hardware = make_hardware("board", "1")

    software = upload(build_swu(tmp_path / "u.swu", board="board", revisions=["1"]))

    assert list(software.compatibility.all()) == [hardware]
    assert Hardware.objects.count() == 1


@pytest.mark.parametrize("uploaded_class", ["simple", "temporary"])
def test_django_uploaded_files_are_accepted(tmp_path, uploaded_class, settings):
    content = build_swu(tmp_path / "u.swu").read_bytes()
    if uploaded_class == "simple":
        uploaded: UploadedFile = SimpleUploadedFile("from-browser.swu", content)
    else:
        uploaded = TemporaryUploadedFile("from-browser.swu", "application/octet-stream", len(content), None)
        uploaded.write(content)
        uploaded.seek(0)

    software = software_create_from_file(file=uploaded, filename=uploaded.name)
    uploaded.close()

    assert software.package.filename == "from-browser.swu"
    assert software.package.size == len(content)
    assert software.package.file.name is not None
    with default_storage.open(software.package.file.name) as stored:
        assert stored.read() == content


def test_progress_is_reported_with_the_total_when_known(tmp_path):
    content = build_swu(tmp_path / "u.swu", files={"big.img": b"x" * 3_000_000}).read_bytes()
    calls = []

    software_create_from_file(
        file=SimpleUploadedFile("u.swu", content), on_progress=lambda done, total: calls.append((done, total))
    )

    assert calls[-1] == (len(content), len(content))
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert len(calls) == 3  # one per 1 MiB chunk


@pytest.mark.parametrize(
    ("raw", "image_format", "expected"),
    [
        ("update.swu", "swu", "update.swu"),
        ("../../etc/passwd", "swu", "passwd.swu"),
        ("C:\\Users\\me\\fw.swu", "swu", "fw.swu"),
        ("my update (v2).SWU", "swu", "my_update_v2.swu"),
        ("bundle.raucb", "swu", "bundle.swu"),
        ("image.swu", "rauc", "image.raucb"),
        ("fw.bin", "swu", "fw.bin.swu"),
        (".hidden", "rauc", "hidden.raucb"),
        ("", "swu", "update-1.0.swu"),
        ("...", "rauc", "update-1.0.raucb"),
        ('a"b;c\r\nd.swu', "swu", "a_b_c_d.swu"),
        ("ü" * 10 + ".swu", "swu", "update-1.0.swu"),
        ("x" * 300 + ".swu", "swu", "x" * 200 + ".swu"),
    ],
)
def test_file_names_are_sanitised_and_get_the_extension_clients_require(raw, image_format, expected):
    assert package_filename(raw, image_format=image_format, version="1.0") == expected


def test_a_misnamed_package_is_stored_under_the_extension_of_its_real_format(tmp_path, raucb_plain):
    software = upload(raucb_plain, filename="firmware.swu")

    assert software.package.filename == "firmware.raucb"
    assert software.package.file.name is not None
    assert software.package.file.name.endswith("/firmware.raucb")


def test_the_same_bytes_twice_are_refused_naming_the_existing_software(tmp_path, settings, upload_tmp):
    path = build_swu(tmp_path / "u.swu", version="1.0")
    first = upload(path)

    with pytest.raises(SoftwareConflict) as excinfo:
        upload(path, filename="again.swu")

    assert str(excinfo.value) == (
        f"this package is already stored as software {first.pk} (u.swu, version 1.0)"
    )
    assert_nothing_left(settings, upload_tmp, rows=1)
    assert stored_files(settings) == [first.package.file.name]


def test_the_same_version_for_an_overlapping_board_is_refused(tmp_path, settings, upload_tmp):
    first = upload(build_swu(tmp_path / "a.swu", version="1.2.0", board="board", revisions=["1", "2"]))
    other = build_swu(
        tmp_path / "b.swu", version="1.2.0", board="board", revisions=["2", "3"], files={"x": b"y"}
    )

    with pytest.raises(SoftwareConflict) as excinfo:
        upload(other)

    assert str(excinfo.value) == f"Software 1.2.0 for board 2 exists already (software {first.pk}, a.swu)"
    assert_nothing_left(settings, upload_tmp, rows=1)
    assert Hardware.objects.filter(revision="3").exists() is False


def test_versions_that_compare_equal_collide_even_if_spelled_differently(tmp_path):
    upload(build_swu(tmp_path / "a.swu", version="1.2"))

    with pytest.raises(SoftwareConflict, match="Software 1.2.0.0 for board 1 exists already"):
        upload(build_swu(tmp_path / "b.swu", version="1.2.0.0", files={"x": b"y"}))


def test_the_same_version_for_other_hardware_and_another_version_are_fine(tmp_path):
    upload(build_swu(tmp_path / "a.swu", version="1.0", board="board", revisions=["1"]))

    upload(build_swu(tmp_path / "b.swu", version="1.0", board="other", revisions=["1"]))
    upload(build_swu(tmp_path / "c.swu", version="1.1", board="board", revisions=["1"]))

    assert sorted(Software.objects.values_list("version", flat=True)) == ["1.0", "1.0", "1.1"]


def test_a_parse_error_leaves_nothing(tmp_path, settings, upload_tmp):
    path = tmp_path / "x.swu"
    path.write_bytes(b"not a package at all" * 1000)

    with pytest.raises(PackageError, match="not a .swu or .raucb file"):
        upload(path)

    assert_nothing_left(settings, upload_tmp)
    assert Hardware.objects.count() == 0


def test_a_package_over_the_size_limit_is_refused_while_streaming(tmp_path, settings, upload_tmp):
    settings.GOOSEBIT_MAX_UPLOAD_SIZE = 2 * 1024 * 1024
    path = build_swu(tmp_path / "big.swu", files={"big.img": b"x" * (3 * 1024 * 1024)})
    read = []

    class CountingFile(io.FileIO):
        def read(self, size=-1):
            data = super().read(size)
            read.append(len(data))
            return data

    with CountingFile(path) as handle, pytest.raises(PackageTooLarge) as excinfo:
        software_create_from_file(file=handle, filename="big.swu")

    assert str(excinfo.value) == "the package is larger than the limit of 2097152 bytes"
    assert sum(read) <= 3 * 1024 * 1024  # stopped before the end of the file
    assert_nothing_left(settings, upload_tmp)


def test_a_package_announcing_a_size_over_the_limit_is_refused_before_reading(tmp_path, settings, upload_tmp):
    settings.GOOSEBIT_MAX_UPLOAD_SIZE = 100

    with pytest.raises(PackageTooLarge) as excinfo:
        software_create_from_file(file=SimpleUploadedFile("u.swu", b"x" * 101))

    assert str(excinfo.value) == "the package is 101 bytes, larger than the limit of 100 bytes"
    assert_nothing_left(settings, upload_tmp)


def test_a_client_that_disconnects_mid_upload_leaves_nothing(tmp_path, settings, upload_tmp):
    content = build_swu(tmp_path / "u.swu", files={"big.img": b"x" * 3_000_000}).read_bytes()

    class BrokenUpload(io.BytesIO):
        def read(self, size=-1):
            if self.tell() >= 2 * 1024 * 1024:
                raise OSError("connection reset by peer")
            return super().read(size)

    with pytest.raises(SoftwareError) as excinfo:
        software_create_from_file(file=BrokenUpload(content), filename="u.swu")

    assert str(excinfo.value) == "the transfer broke off after 2097152 bytes: connection reset by peer"
    assert_nothing_left(settings, upload_tmp)


def test_a_storage_failure_leaves_no_row(tmp_path, settings, upload_tmp, monkeypatch):
    def failing_save(storage, name, content, max_length=None):
        raise OSError("disk full")

    monkeypatch.setattr(FileSystemStorage, "save", failing_save)

    with pytest.raises(OSError, match="disk full"):
        upload(build_swu(tmp_path / "u.swu"))

    assert_nothing_left(settings, upload_tmp)
    assert Hardware.objects.count() == 0


def test_losing_a_race_after_storing_removes_the_stored_file(tmp_path, settings, upload_tmp, monkeypatch):
    """Another upload of the same bytes commits while ours is being stored."""
    path = build_swu(tmp_path / "u.swu")
    content = path.read_bytes()
    original_save = FileSystemStorage.save

    def save_while_someone_else_uploads(storage, name, content_file, max_length=None):
        monkeypatch.setattr(FileSystemStorage, "save", original_save)
        stored = original_save(storage, name, content_file, max_length=max_length)
        make_software("9.9", content=content, filename="winner.swu")
        return stored

    monkeypatch.setattr(FileSystemStorage, "save", save_while_someone_else_uploads)

    with pytest.raises(SoftwareConflict, match="this package is already stored as software"):
        upload(path)

    winner = Software.objects.get()
    assert winner.package.filename == "winner.swu"
    assert stored_files(settings) == [winner.package.file.name]
    assert list(upload_tmp.iterdir()) == []


# --- deletion ------------------------------------------------------------------------------


def test_deleting_unused_software_removes_the_row_and_after_commit_the_file(
    settings, django_capture_on_commit_callbacks
):
    software = make_software("1.0")
    name = software.package.file.name

    with django_capture_on_commit_callbacks() as callbacks:
        software_delete(software=software)
        assert name is not None
        assert default_storage.exists(name)  # still there until the transaction commits

    assert len(callbacks) == 1
    callbacks[0]()
    assert Software.objects.count() == 0
    assert stored_files(settings) == []


def test_deleting_software_used_by_a_rollout_is_refused(settings):
    software = make_software("1.0")
    make_rollout(software, name="spring fleet update")

    with pytest.raises(SoftwareInUse) as excinfo:
        software_delete(software=software)

    assert (
        str(excinfo.value)
        == "update-1.0.swu (1.0) cannot be deleted: it is used by rollout 'spring fleet update'"
    )
    assert Software.objects.count() == 1
    assert stored_files(settings) == [software.package.file.name]


@pytest.mark.parametrize("status", [Action.Status.PENDING, Action.Status.RUNNING, Action.Status.CANCELING])
def test_deleting_software_being_installed_is_refused(status):
    software = make_software("1.0")
    make_action(make_device(), software, status=status)

    with pytest.raises(SoftwareInUse) as excinfo:
        software_delete(software=software)

    assert (
        str(excinfo.value) == "update-1.0.swu (1.0) cannot be deleted: it is being installed on 1 device(s)"
    )


def test_deleting_software_in_device_history_is_refused_to_keep_the_history():
    software = make_software("1.0")
    make_action(make_device(), software, status=Action.Status.FINISHED)
    make_action(make_device(), software, status=Action.Status.ERROR)

    with pytest.raises(SoftwareInUse) as excinfo:
        software_delete(software=software)

    assert str(excinfo.value) == (
        "update-1.0.swu (1.0) cannot be deleted: it is used by 2 finished update(s) in device history"
    )


def test_deleting_assigned_software_clears_the_assignment(django_capture_on_commit_callbacks):
    software = make_software("1.0")
    device = make_device(assigned_software=software)

    with django_capture_on_commit_callbacks(execute=True):
        software_delete(software=software)

    device.refresh_from_db()
    assert device.assigned_software is None


def test_deleting_remote_software_deletes_no_file(django_capture_on_commit_callbacks):
    software = make_remote_software("https://example.com/u.swu")

    with django_capture_on_commit_callbacks() as callbacks:
        software_delete(software=software)

    assert callbacks == []
    assert Software.objects.count() == 0


def test_a_raucb_upload_gets_a_raucb_name_even_without_one(tmp_path, signer):
    path = build_raucb(tmp_path / "b.raucb", version="3.0", compatible="x", signer=signer)

    software = upload(path, filename="")

    assert software.package.filename == "update-3.0.raucb"
