"""Releases made of modules: raw artifacts, composed releases, metadata, locks, the migration."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from software import services
from software.exceptions import SoftwareConflict, SoftwareError, SoftwareInUse
from software.models import Artifact, Software, SoftwareModule
from tests.factories import make_action, make_device, make_hardware, make_module, make_software
from tests.packages import build_swu

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def upload_tmp(settings, tmp_path) -> Path:
    directory = tmp_path / "upload-tmp"
    directory.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(directory)
    return directory


@pytest.fixture
def admin_api(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def stored_files(settings) -> list[str]:
    root = Path(settings.ARTIFACTS_DIR)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- raw artifacts ---------------------------------------------------------------------------


def test_a_raw_file_with_a_version_becomes_a_release_of_one_module(settings, upload_tmp):
    board = make_hardware("board", "1")

    software = services.software_create_from_file(
        file=io.BytesIO(b"#!/bin/sh\necho hi\n"),
        filename="../scripts/fix it.sh",
        version="7.1",
        name="hotfix",
        module_type="application",
        compatibility=[board],
    )

    module = software.modules.get()
    artifact = module.artifacts.get()
    assert (software.name, software.version, list(software.compatibility.all())) == ("hotfix", "7.1", [board])
    assert (module.type.key, module.version) == ("application", "7.1")
    assert (artifact.filename, artifact.image_format, artifact.size) == ("fix_it.sh", "", 18)
    assert artifact.sha256 == hashlib.sha256(b"#!/bin/sh\necho hi\n").hexdigest()
    assert stored_files(settings) == [f"{artifact.sha256}/fix_it.sh"]
    assert software.package is None
    assert list(upload_tmp.iterdir()) == []


def test_a_raw_file_without_a_version_is_refused_as_no_package(upload_tmp):
    with pytest.raises(SoftwareError, match="not a .swu or .raucb file"):
        services.software_create_from_file(file=io.BytesIO(b"plain"), filename="a.bin")
    assert Software.objects.count() == 0


def test_a_package_with_a_contradicting_version_is_refused(tmp_path):
    path = build_swu(tmp_path / "u.swu", version="1.0")

    with path.open("rb") as handle, pytest.raises(SoftwareError, match="says it is version 1.0, not 2.0"):
        services.software_create_from_file(file=handle, filename="u.swu", version="2.0")


def test_a_raw_file_clashes_like_a_package_on_version_and_hardware():
    board = make_hardware("board", "1")
    make_software("3.0", compatibility=[board])

    with pytest.raises(SoftwareConflict, match="Software 3.0 for board 1 exists already"):
        services.software_create_from_file(
            file=io.BytesIO(b"x"), filename="x.bin", version="3.0", compatibility=[board]
        )


def test_an_unknown_module_type_is_refused_by_name():
    with pytest.raises(SoftwareError, match="no software module type 'nope'"):
        services.software_create_from_file(
            file=io.BytesIO(b"x"), filename="x.bin", version="1", module_type="nope"
        )
    assert (Software.objects.count(), SoftwareModule.objects.count(), Artifact.objects.count()) == (0, 0, 0)


# --- modules, artifacts, metadata --------------------------------------------------------------


def test_artifacts_are_added_with_verified_checksums():
    module = services.module_create(type_key="application", name="app", version="1")

    artifact = services.module_add_artifact(
        module=module, file=io.BytesIO(b"data"), filename="a.tar", sha1=hashlib.sha1(b"data").hexdigest()
    )
    with pytest.raises(SoftwareError, match="the md5 of the upload is"):
        services.module_add_artifact(module=module, file=io.BytesIO(b"data"), filename="b.tar", md5="0" * 32)
    with pytest.raises(SoftwareConflict, match="has an artifact a.tar already"):
        services.module_add_artifact(module=module, file=io.BytesIO(b"other"), filename="a.tar")

    assert [a.filename for a in module.artifacts.all()] == [artifact.filename] == ["a.tar"]


def test_the_same_module_twice_is_a_conflict_and_names_are_checked():
    services.module_create(type_key="os", name="linux", version="6")

    with pytest.raises(SoftwareConflict, match="os module linux 6 exists already"):
        services.module_create(type_key="os", name="linux", version="6")
    with pytest.raises(SoftwareError, match="a module name is required"):
        services.module_create(type_key="os", name=" ", version="6")
    with pytest.raises(SoftwareError, match="control characters"):
        services.module_create(type_key="os", name="a\x00b", version="6")


def test_metadata_is_set_replaced_and_removed():
    module = make_module()
    services.module_set_metadata(module=module, key="k", value="1")
    services.module_set_metadata(module=module, key="k", value="2", target_visible=True)

    assert list(module.metadata.values_list("key", "value", "target_visible")) == [("k", "2", True)]
    services.module_delete_metadata(module=module, key="k")
    with pytest.raises(SoftwareError, match="no metadata 'k'"):
        services.module_delete_metadata(module=module, key="k")


def test_a_module_of_an_offered_release_is_locked():
    software = make_software("1.0")
    make_action(make_device(), software, status="finished")
    module = software.package.module

    with pytest.raises(SoftwareInUse, match="has been offered to devices"):
        services.module_add_artifact(module=module, file=io.BytesIO(b"x"), filename="late.bin")
    package = software.package
    assert package is not None
    with pytest.raises(SoftwareInUse):
        services.artifact_delete(artifact=package)
    # Device history holds it: deleting only marks it deleted (hawkBit's soft delete).
    assert services.module_delete(module=module) is True
    module.refresh_from_db()
    assert module.deleted is True
    assert module.artifacts.count() == 1


# --- composed releases ---------------------------------------------------------------------------


def test_a_release_holds_at_most_one_os_module():
    first, second = (services.module_create(type_key="os", name=f"os{n}", version="1") for n in (1, 2))
    apps = [services.module_create(type_key="application", name=f"app{n}", version="1") for n in (1, 2)]

    with pytest.raises(SoftwareError, match="at most 1 os module"):
        services.release_create(name="r", version="1", modules=[first, second])
    release = services.release_create(name="r", version="1", modules=[first, *apps])

    assert sorted(release.modules.values_list("name", flat=True)) == ["app1", "app2", "os1"]


def test_an_unused_release_changes_modules_and_hardware_a_used_one_only_its_name():
    board = make_hardware("board", "1")
    module = make_module()
    release = services.release_create(name="r", version="1", modules=[])
    services.release_update(software=release, modules=[module], compatibility=[board])
    make_action(make_device(), release, status="finished")

    services.release_update(software=release, name="renamed", description="notes")
    with pytest.raises(SoftwareInUse, match="stay as they are"):
        services.release_update(software=release, modules=[])

    release.refresh_from_db()
    assert (release.name, list(release.modules.all()), list(release.compatibility.all())) == (
        "renamed",
        [module],
        [board],
    )


def test_deleting_a_release_deletes_its_own_modules_and_files_but_keeps_shared_ones(
    settings, django_capture_on_commit_callbacks
):
    package = make_software("1.0")
    shared = make_module(files={"shared.cfg": b"s"})
    own = make_module(files={"own.cfg": b"o"})
    release = services.release_create(name="a", version="1", modules=[package.package.module, shared, own])
    services.release_create(name="b", version="1", modules=[shared])
    package.delete()  # the package's own release; its module now belongs to release a only

    with django_capture_on_commit_callbacks(execute=True):
        services.software_delete(software=release)

    assert list(SoftwareModule.objects.all()) == [shared]
    assert [name.split("/")[1] for name in stored_files(settings)] == ["shared.cfg"]


# --- the API and the admin ---------------------------------------------------------------------


def test_the_api_accepts_a_raw_file_with_a_version_and_shows_its_modules(admin_api):
    board = make_hardware("board", "1")
    upload = SimpleUploadedFile("config.json", b'{"a": 1}')

    response = admin_api.post(
        "/api/v1/software/",
        {"file": upload, "version": "2.5", "module_type": "application", "compatibility": [board.pk]},
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["version"], body["filename"], body["download_url"]) == ("2.5", None, None)
    assert body["modules"][0]["type"] == "application"
    assert body["modules"][0]["artifacts"][0]["filename"] == "config.json"
    assert body["compatibility"] == [{"id": board.pk, "model": "board", "revision": "1"}]


def test_the_api_names_a_raw_file_without_a_version_as_no_package(admin_api):
    response = admin_api.post(
        "/api/v1/software/", {"file": SimpleUploadedFile("a.bin", b"x")}, format="multipart"
    )

    assert response.status_code == 400
    assert "not a .swu or .raucb file" in response.json()["detail"]


def test_the_admin_composes_a_release_from_modules(admin_client):
    module = make_module(files={"a.cfg": b"a"})

    response = admin_client.post(
        "/admin/software/software/add/",
        {"compose": [module.pk], "release_name": "bundle", "release_version": "3", "cache": ""},
    )

    assert response.status_code == 302
    release = Software.objects.get()
    assert (release.name, release.version, list(release.modules.all())) == ("bundle", "3", [module])


def test_the_admin_module_page_adds_an_artifact_and_metadata(admin_client, upload_tmp):
    module = make_module(files={})
    url = f"/admin/software/softwaremodule/{module.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200

    response = admin_client.post(
        url,
        {
            "type": module.type_id,
            "name": module.name,
            "version": module.version,
            "vendor": "ACME",
            "description": "",
            "add_artifact": SimpleUploadedFile("extra.bin", b"123"),
            "metadata-TOTAL_FORMS": "1",
            "metadata-INITIAL_FORMS": "0",
            "metadata-0-key": "path",
            "metadata-0-value": "/opt",
            "metadata-0-target_visible": "on",
            "artifacts-TOTAL_FORMS": "0",
            "artifacts-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    module.refresh_from_db()
    assert module.vendor == "ACME"
    assert [a.filename for a in module.artifacts.all()] == ["extra.bin"]
    assert list(module.metadata.values_list("key", "value", "target_visible")) == [("path", "/opt", True)]
    download = admin_client.get(
        f"/admin/software/softwaremodule/{module.pk}/artifacts/{module.artifacts.get().pk}/download/"
    )
    assert b"".join(download.streaming_content) == b"123"


# --- the data migration ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_existing_software_migrates_to_a_release_keeping_its_ids():
    executor = MigrationExecutor(connection)
    executor.migrate([("software", "0001_initial")])
    old_apps = executor.loader.project_state([("software", "0001_initial")]).apps
    OldSoftware = old_apps.get_model("software", "Software")
    old = OldSoftware.objects.create(
        version="1.0", image_format="swu", file="abc/u.swu", filename="u.swu", size=3,
        sha1="a" * 40, md5="b" * 32, sha256="c" * 64, signed=True, metadata={"description": "d"},
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    release = Software.objects.get(pk=old.pk)
    module = release.modules.get()
    artifact = module.artifacts.get()
    assert (release.name, release.version, module.pk, artifact.pk) == ("u.swu", "1.0", old.pk, old.pk)
    assert (module.type.key, module.name, artifact.filename, artifact.file.name) == (
        "os",
        "u.swu",
        "u.swu",
        "abc/u.swu",
    )
    assert (artifact.image_format, artifact.signed, artifact.metadata) == ("swu", True, {"description": "d"})
    # New rows do not collide with the ids the migration chose (PostgreSQL sequences).
    assert make_module().pk > module.pk
