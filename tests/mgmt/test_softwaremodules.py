"""/rest/v1/softwaremoduletypes and /rest/v1/softwaremodules (artifacts, metadata) as hawkBit."""

from __future__ import annotations

import hashlib
import io

import pytest

from software.models import Artifact, SoftwareModule, SoftwareModuleType
from tests.factories import make_action, make_device, make_module, make_software

pytestmark = pytest.mark.django_db

BASE = "http://testserver/rest/v1"
NOT_FOUND = "hawkbit.server.error.repo.entityNotFound"
FORBIDDEN = "hawkbit.server.error.insufficientPermission"
INVALID = "hawkbit.server.error.repo.constraintViolation"


def _ids(response) -> list[int]:
    return [item["id"] for item in response.json()["content"]]


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["errorCode"] == code
    assert body["exceptionClass"]
    return body["message"]


# --- module types ----------------------------------------------------------------------------


def test_the_seeded_module_types_are_listed_in_hawkbits_shape(mgmt):
    response = mgmt.get("softwaremoduletypes")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == body["size"] == 3
    by_key = {item["key"]: item for item in body["content"]}
    os_type = SoftwareModuleType.objects.get(key="os")
    assert by_key["os"] == {
        "id": os_type.pk,
        "key": "os",
        "name": "OS",
        "description": os_type.description,
        "deleted": False,
        "maxAssignments": 1,
        "minArtifacts": 0,
        "createdAt": int(os_type.created.timestamp() * 1000),
        "lastModifiedAt": int(os_type.updated.timestamp() * 1000),
        "_links": {"self": {"href": f"{BASE}/softwaremoduletypes/{os_type.pk}"}},
    }
    assert by_key["application"]["maxAssignments"] == 2**31 - 1


def test_module_types_are_created_from_a_list_read_updated_and_deleted(mgmt):
    response = mgmt.post(
        "softwaremoduletypes",
        [
            {"key": "conf", "name": "Config", "description": "Configuration", "colour": "rgb(0,0,255)"},
            {"key": "fpga", "name": "FPGA", "maxAssignments": 2},
        ],
    )
    assert response.status_code == 201
    created = response.json()
    assert [item["key"] for item in created] == ["conf", "fpga"]
    assert created[0]["colour"] == "rgb(0,0,255)"
    assert created[0]["maxAssignments"] == 1
    assert created[1]["maxAssignments"] == 2
    assert "colour" not in created[1]
    pk = created[0]["id"]

    updated = mgmt.put(f"softwaremoduletypes/{pk}", {"description": "new", "colour": "red", "key": "ignored"})
    assert updated.status_code == 200
    assert (updated.json()["description"], updated.json()["colour"], updated.json()["key"]) == (
        "new",
        "red",
        "conf",
    )
    assert mgmt.get(f"softwaremoduletypes/{pk}").json()["description"] == "new"

    assert mgmt.delete(f"softwaremoduletypes/{pk}").status_code == 204
    assert not SoftwareModuleType.objects.filter(pk=pk).exists()
    _error(mgmt.get(f"softwaremoduletypes/{pk}"), 404, NOT_FOUND)
    _error(mgmt.delete(f"softwaremoduletypes/{pk}"), 404, NOT_FOUND)


def test_a_module_type_in_use_is_soft_deleted_and_hidden_from_the_list(mgmt):
    module = make_module(type_key="application")
    pk = module.type_id
    assert mgmt.delete(f"softwaremoduletypes/{pk}").status_code == 204
    assert SoftwareModuleType.objects.get(pk=pk).deleted is True
    assert mgmt.get(f"softwaremoduletypes/{pk}").json()["deleted"] is True
    assert pk not in _ids(mgmt.get("softwaremoduletypes"))
    assert _ids(mgmt.get("softwaremoduletypes", soft_deleted_mode="ONLY_SOFT_DELETED")) == [pk]
    assert pk in _ids(mgmt.get("softwaremoduletypes", soft_deleted_mode="INCLUDE_SOFT_DELETED"))
    # No new module may use it; a second delete is harmless.
    refused = mgmt.post("softwaremodules", [{"name": "x", "version": "1", "type": "application"}])
    assert "no software module type 'application'" in _error(refused, 400, INVALID)
    assert mgmt.delete(f"softwaremoduletypes/{pk}").status_code == 204


def test_a_duplicate_module_type_key_is_409_and_nothing_of_the_list_is_created(mgmt):
    response = mgmt.post(
        "softwaremoduletypes", [{"key": "new", "name": "New"}, {"key": "os", "name": "Other"}]
    )
    assert "key 'os'" in _error(response, 409, "hawkbit.server.error.repo.entityAlreadyExists")
    assert not SoftwareModuleType.objects.filter(key="new").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "No key"}, "[0].key is required"),
        ({"key": "k"}, "[0].name is required"),
        ({"key": 5, "name": "n"}, "[0].key must be a string"),
        ({"key": "k", "name": "n", "maxAssignments": "1"}, "[0].maxAssignments must be a whole number"),
        ({"key": "k", "name": "n", "maxAssignments": 0}, "maxAssignments must be between"),
        ({"key": "a b", "name": "n"}, "must not contain spaces"),
        ({"key": "k", "name": "n", "minArtifacts": 1}, "[0].minArtifacts other than 0 is not supported"),
    ],
)
def test_bad_module_type_bodies_are_400_naming_the_field(mgmt, body, field):
    assert field in _error(mgmt.post("softwaremoduletypes", [body]), 400, INVALID)


def test_module_type_create_takes_a_list(mgmt):
    response = mgmt.post("softwaremoduletypes", {"key": "k", "name": "n"})
    _error(response, 400, "hawkbit.server.error.rest.body.notReadable")


def test_module_types_sort_and_page(mgmt):
    response = mgmt.get("softwaremoduletypes", sort="key:DESC", limit=2, offset=0)
    body = response.json()
    assert [item["key"] for item in body["content"]] == ["runtime", "os"]
    assert (body["total"], body["size"]) == (3, 2)
    assert [
        item["key"] for item in mgmt.get("softwaremoduletypes", sort="key:DESC", offset=2).json()["content"]
    ] == ["application"]
    _error(
        mgmt.get("softwaremoduletypes", sort="colour:ASC"),
        400,
        "hawkbit.server.error.rest.param.invalidField",
    )


def test_module_types_need_their_permissions(mgmt_as):
    reader = mgmt_as("view_softwaremoduletype")
    assert reader.get("softwaremoduletypes").status_code == 200
    message = _error(reader.post("softwaremoduletypes", [{"key": "k", "name": "n"}]), 403, FORBIDDEN)
    assert "CREATE_SOFTWARE_MODULE_TYPE" in message
    pk = SoftwareModuleType.objects.get(key="os").pk
    _error(reader.put(f"softwaremoduletypes/{pk}", {"description": "x"}), 403, FORBIDDEN)
    _error(reader.delete(f"softwaremoduletypes/{pk}"), 403, FORBIDDEN)
    _error(mgmt_as().get("softwaremoduletypes"), 403, FORBIDDEN)


# --- modules ---------------------------------------------------------------------------------


def test_modules_are_created_from_a_list_in_hawkbits_shape(mgmt):
    response = mgmt.post(
        "softwaremodules",
        [
            {
                "name": "SM Name",
                "version": "1.0.0",
                "type": "os",
                "description": "SM Description",
                "vendor": "Vendor Limited, California",
                "encrypted": False,
            },
            {"name": "app", "version": "2", "type": "application", "encrypted": True},
        ],
    )
    assert response.status_code == 201
    first, second = response.json()
    module = SoftwareModule.objects.get(pk=first["id"])
    os_type = module.type
    assert first == {
        "id": module.pk,
        "name": "SM Name",
        "description": "SM Description",
        "version": "1.0.0",
        "type": "os",
        "typeName": "OS",
        "vendor": "Vendor Limited, California",
        "encrypted": False,
        "locked": False,
        "deleted": False,
        "complete": True,
        "createdAt": int(module.created.timestamp() * 1000),
        "lastModifiedAt": int(module.updated.timestamp() * 1000),
        "_links": {
            "self": {"href": f"{BASE}/softwaremodules/{module.pk}"},
            "artifacts": {"href": f"{BASE}/softwaremodules/{module.pk}/artifacts"},
            "type": {"href": f"{BASE}/softwaremoduletypes/{os_type.pk}"},
            "metadata": {"href": f"{BASE}/softwaremodules/{module.pk}/metadata?offset=0&limit=50"},
        },
    }
    assert (second["type"], second["encrypted"]) == ("application", True)
    assert mgmt.get(f"softwaremodules/{module.pk}").json() == first


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "1", "type": "os"}, "[0].name is required"),
        ({"name": "n", "type": "os"}, "[0].version is required"),
        ({"name": "n", "version": "1"}, "[0].type is required"),
        ({"name": "n", "version": "1", "type": "nope"}, "no software module type 'nope'"),
        ({"name": ["n"], "version": "1", "type": "os"}, "[0].name must be a string"),
        (
            {"name": "n", "version": "1", "type": "os", "encrypted": "yes"},
            "[0].encrypted must be true or false",
        ),
        ({"name": "n", "version": "1", "type": "os", "vendor": "x" * 300}, "vendor is longer than 255"),
    ],
)
def test_bad_module_bodies_are_400_naming_the_field(mgmt, body, field):
    assert field in _error(mgmt.post("softwaremodules", [body]), 400, INVALID)


def test_a_list_entry_that_is_not_an_object_is_400(mgmt):
    assert "[0] must be a JSON object" in _error(mgmt.post("softwaremodules", ["x"]), 400, INVALID)


def test_the_same_module_twice_is_409(mgmt):
    body = [{"name": "n", "version": "1", "type": "os"}]
    assert mgmt.post("softwaremodules", body).status_code == 201
    _error(mgmt.post("softwaremodules", body), 409, "hawkbit.server.error.repo.entityAlreadyExists")


def test_a_module_put_changes_description_and_vendor_only(mgmt):
    module = make_module(name="m", version="1")
    response = mgmt.put(
        f"softwaremodules/{module.pk}", {"description": "d", "vendor": "v", "name": "ignored", "version": "9"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["description"], body["vendor"], body["name"], body["version"]) == ("d", "v", "m", "1")
    module.refresh_from_db()
    assert (module.description, module.vendor) == ("d", "v")


def test_a_module_put_locks_and_unlocks_it_as_hawkbit_documents(mgmt):
    module = make_module(name="m", version="1")
    assert mgmt.put(f"softwaremodules/{module.pk}", {"locked": True}).json()["locked"] is True
    response = mgmt.upload(f"softwaremodules/{module.pk}/artifacts", file=io.BytesIO(b"late"))
    assert "is locked" in _error(response, 423, "hawkbit.server.error.locked")
    assert mgmt.put(f"softwaremodules/{module.pk}", {"locked": False}).json()["locked"] is False
    assert mgmt.upload(f"softwaremodules/{module.pk}/artifacts", file=io.BytesIO(b"now")).status_code == 201


def test_a_module_a_device_was_offered_cannot_be_unlocked(mgmt):
    software = make_software("1.0")
    make_action(make_device(), software, status="finished")
    module = software.modules.get()
    response = mgmt.put(f"softwaremodules/{module.pk}", {"locked": False})
    assert "stays locked" in _error(response, 423, "hawkbit.server.error.locked")


def test_a_distribution_set_put_locks_it(mgmt):
    release = make_software("1.0")
    assert mgmt.put(f"distributionsets/{release.pk}", {"locked": True}).json()["locked"] is True
    response = mgmt.post(f"distributionsets/{release.pk}/assignedSM", [{"id": make_module().pk}])
    assert response.status_code == 423


def test_a_module_of_an_offered_release_is_locked(mgmt):
    software = make_software("1.0")
    make_action(make_device(), software, status="finished")
    module = software.modules.get()
    assert mgmt.get(f"softwaremodules/{module.pk}").json()["locked"] is True
    response = mgmt.upload(f"softwaremodules/{module.pk}/artifacts", file=io.BytesIO(b"late"))
    assert "has been offered to devices" in _error(response, 423, "hawkbit.server.error.locked")


def test_modules_list_sort_page_and_hide_soft_deleted(mgmt):
    modules = [make_module(name=name, version="1") for name in ("b", "a", "c")]
    response = mgmt.get("softwaremodules", sort="name:ASC", limit=2)
    body = response.json()
    assert [item["name"] for item in body["content"]] == ["a", "b"]
    assert (body["total"], body["size"]) == (3, 2)
    assert [
        item["name"] for item in mgmt.get("softwaremodules", sort="name:DESC", offset=1).json()["content"]
    ] == [
        "b",
        "a",
    ]
    SoftwareModule.objects.filter(pk=modules[0].pk).update(deleted=True)
    assert sorted(_ids(mgmt.get("softwaremodules"))) == sorted([modules[1].pk, modules[2].pk])
    assert _ids(mgmt.get("softwaremodules", soft_deleted_mode="ONLY_SOFT_DELETED")) == [modules[0].pk]
    _error(mgmt.get("softwaremodules", soft_deleted_mode="SOMETIMES"), 400, INVALID)


def test_an_unknown_module_is_404(mgmt):
    for path in ("softwaremodules/999", "softwaremodules/999/artifacts", "softwaremodules/999/metadata"):
        assert "999" in _error(mgmt.get(path), 404, NOT_FOUND)
    _error(mgmt.put("softwaremodules/999", {}), 404, NOT_FOUND)
    _error(mgmt.delete("softwaremodules/999"), 404, NOT_FOUND)


def test_an_unused_module_is_deleted_with_its_files(mgmt, settings, django_capture_on_commit_callbacks):
    module = make_module(files={"a.bin": b"abc"})
    stored = module.artifacts.get().file.name
    assert (settings.ARTIFACTS_DIR / stored).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert mgmt.delete(f"softwaremodules/{module.pk}").status_code == 204
    assert not SoftwareModule.objects.filter(pk=module.pk).exists()
    assert not (settings.ARTIFACTS_DIR / stored).exists()
    _error(mgmt.delete(f"softwaremodules/{module.pk}"), 404, NOT_FOUND)


def test_a_module_of_a_release_with_history_is_soft_deleted(mgmt):
    software = make_software("1.0")
    make_action(make_device(), software, status="finished")
    module = software.modules.get()
    assert mgmt.delete(f"softwaremodules/{module.pk}").status_code == 204
    module.refresh_from_db()
    assert module.deleted is True
    assert module.artifacts.count() == 1
    assert mgmt.get(f"softwaremodules/{module.pk}").json()["deleted"] is True
    assert module.pk not in _ids(mgmt.get("softwaremodules"))
    assert mgmt.delete(f"softwaremodules/{module.pk}").status_code == 204  # harmless again


def test_a_module_of_an_unused_release_is_not_deleted_behind_its_back(mgmt):
    software = make_software("1.0")
    module = software.modules.get()
    message = _error(
        mgmt.delete(f"softwaremodules/{module.pk}"), 409, "hawkbit.server.error.repo.entityAlreadyExists"
    )
    assert "is part of" in message
    assert SoftwareModule.objects.filter(pk=module.pk, deleted=False).exists()


def test_modules_need_their_permissions(mgmt_as):
    module = make_module()
    reader = mgmt_as("view_softwaremodule")
    assert reader.get("softwaremodules").status_code == 200
    assert reader.get(f"softwaremodules/{module.pk}").status_code == 200
    assert "CREATE_SOFTWARE_MODULE" in _error(
        reader.post("softwaremodules", [{"name": "n", "version": "1", "type": "os"}]), 403, FORBIDDEN
    )
    _error(reader.put(f"softwaremodules/{module.pk}", {}), 403, FORBIDDEN)
    _error(reader.delete(f"softwaremodules/{module.pk}"), 403, FORBIDDEN)
    _error(mgmt_as("view_device").get("softwaremodules"), 403, FORBIDDEN)


# --- artifacts -------------------------------------------------------------------------------


def _hashes(content: bytes) -> dict[str, str]:
    return {
        "sha1": hashlib.sha1(content).hexdigest(),
        "md5": hashlib.md5(content).hexdigest(),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def test_an_artifact_upload_is_201_in_hawkbits_shape(mgmt):
    module = make_module()
    content = b"hello artifact"
    hashes = _hashes(content)
    upload = io.BytesIO(content)
    upload.name = "origFilename"
    response = mgmt.upload(
        f"softwaremodules/{module.pk}/artifacts",
        file=upload,
        md5sum=hashes["md5"].upper(),
        sha1sum=hashes["sha1"],
        sha256sum=hashes["sha256"],
    )
    assert response.status_code == 201, response.content
    artifact = Artifact.objects.get(module=module)
    assert response.json() == {
        "id": artifact.pk,
        "hashes": hashes,
        "providedFilename": "origFilename",
        "size": len(content),
        "createdAt": int(artifact.created.timestamp() * 1000),
        "lastModifiedAt": int(artifact.updated.timestamp() * 1000),
        "_links": {
            "self": {"href": f"{BASE}/softwaremodules/{module.pk}/artifacts/{artifact.pk}"},
            "download": {"href": f"{BASE}/softwaremodules/{module.pk}/artifacts/{artifact.pk}/download"},
        },
    }
    assert mgmt.get(f"softwaremodules/{module.pk}/artifacts/{artifact.pk}").json() == response.json()


def test_the_filename_parameter_names_the_artifact(mgmt):
    module = make_module()
    response = mgmt.upload(
        f"softwaremodules/{module.pk}/artifacts", file=io.BytesIO(b"x"), filename="named.bin"
    )
    assert response.json()["providedFilename"] == "named.bin"


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256"])
def test_a_checksum_mismatch_is_400_with_hawkbits_code_and_stores_nothing(mgmt, settings, algorithm):
    module = make_module()
    response = mgmt.upload(
        f"softwaremodules/{module.pk}/artifacts", file=io.BytesIO(b"x"), **{f"{algorithm}sum": "0"}
    )
    message = _error(response, 400, f"hawkbit.server.error.artifact.uploadFailed.checksum.{algorithm}.match")
    assert algorithm in message
    assert not module.artifacts.exists()
    assert not settings.ARTIFACTS_DIR.exists() or not any(settings.ARTIFACTS_DIR.rglob("*.*"))


def test_an_upload_without_a_file_or_with_an_empty_one_is_400(mgmt):
    module = make_module()
    assert "file is required" in _error(mgmt.upload(f"softwaremodules/{module.pk}/artifacts"), 400, INVALID)
    empty = io.BytesIO(b"")
    empty.name = "empty.bin"
    assert "empty" in _error(mgmt.upload(f"softwaremodules/{module.pk}/artifacts", file=empty), 400, INVALID)


def test_an_upload_over_the_size_limit_is_413(mgmt, settings):
    settings.GOOSEBIT_MAX_UPLOAD_SIZE = 10
    module = make_module()
    response = mgmt.upload(f"softwaremodules/{module.pk}/artifacts", file=io.BytesIO(b"x" * 11))
    assert response.status_code == 413
    assert not module.artifacts.exists()


def test_the_same_filename_twice_in_a_module_is_409(mgmt):
    module = make_module(files={"a.bin": b"1"})
    upload = io.BytesIO(b"2")
    upload.name = "a.bin"
    response = mgmt.upload(f"softwaremodules/{module.pk}/artifacts", file=upload)
    _error(response, 409, "hawkbit.server.error.repo.entityAlreadyExists")


def test_the_artifact_list_is_a_plain_array_with_links_only_in_full_mode(mgmt):
    module = make_module(files={"a.bin": b"1", "b.bin": b"22"})
    response = mgmt.get(f"softwaremodules/{module.pk}/artifacts")
    assert response.status_code == 200
    body = response.json()
    assert [(item["providedFilename"], item["size"]) for item in body] == [("a.bin", 1), ("b.bin", 2)]
    assert all("_links" not in item for item in body)
    full = mgmt.get(f"softwaremodules/{module.pk}/artifacts", representation="full").json()
    assert full[0]["_links"]["download"]["href"].endswith(f"/artifacts/{full[0]['id']}/download")


def test_an_artifact_is_downloaded_with_content_disposition(mgmt_as):
    module = make_module(files={"a.bin": b"content"})
    artifact = module.artifacts.get()
    client = mgmt_as("view_softwaremodule", "view_artifact")
    response = client.client.get(
        f"/rest/v1/softwaremodules/{module.pk}/artifacts/{artifact.pk}/download",
        HTTP_ACCEPT="application/octet-stream",
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"content"
    assert response["Content-Disposition"] == "attachment;filename=a.bin"
    assert response["ETag"] == f'"{artifact.sha1}"'
    ranged = client.client.get(
        f"/rest/v1/softwaremodules/{module.pk}/artifacts/{artifact.pk}/download", HTTP_RANGE="bytes=1-2"
    )
    assert ranged.status_code == 206
    assert b"".join(ranged.streaming_content) == b"on"


def test_a_download_needs_read_software_module_artifact(mgmt_as):
    module = make_module(files={"a.bin": b"content"})
    artifact = module.artifacts.get()
    message = _error(
        mgmt_as("view_softwaremodule").get(f"softwaremodules/{module.pk}/artifacts/{artifact.pk}/download"),
        403,
        FORBIDDEN,
    )
    assert "READ_SOFTWARE_MODULE_ARTIFACT" in message


def test_a_remote_artifact_download_redirects_to_its_url(mgmt):
    module = make_module()
    artifact = Artifact.objects.create(
        module=module,
        url="https://cdn.example.com/u.bin",
        filename="u.bin",
        size=1,
        sha1="a" * 40,
        md5="b" * 32,
        sha256="c" * 64,
    )
    response = mgmt.get(f"softwaremodules/{module.pk}/artifacts/{artifact.pk}/download")
    assert response.status_code == 302
    assert response["Location"] == "https://cdn.example.com/u.bin"


def test_a_deleted_modules_artifacts_are_gone(mgmt):
    module = make_module(files={"a.bin": b"content"})
    SoftwareModule.objects.filter(pk=module.pk).update(deleted=True)
    artifact = module.artifacts.get()
    response = mgmt.get(f"softwaremodules/{module.pk}/artifacts/{artifact.pk}/download")
    _error(response, 410, "hawkbit.server.error.artifact.binaryDeleted")


def test_an_artifact_is_deleted_and_then_404(mgmt, settings, django_capture_on_commit_callbacks):
    module = make_module(files={"a.bin": b"content"})
    artifact = module.artifacts.get()
    path = settings.ARTIFACTS_DIR / artifact.file.name
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert mgmt.delete(f"softwaremodules/{module.pk}/artifacts/{artifact.pk}").status_code == 204
    assert not module.artifacts.exists()
    assert not path.exists()
    _error(mgmt.get(f"softwaremodules/{module.pk}/artifacts/{artifact.pk}"), 404, NOT_FOUND)
    _error(mgmt.get(f"softwaremodules/{module.pk}/artifacts/{artifact.pk}/download"), 404, NOT_FOUND)


def test_an_artifact_of_another_module_is_404(mgmt):
    first = make_module(files={"a.bin": b"1"})
    second = make_module()
    artifact = first.artifacts.get()
    _error(mgmt.get(f"softwaremodules/{second.pk}/artifacts/{artifact.pk}"), 404, NOT_FOUND)
    _error(mgmt.delete(f"softwaremodules/{second.pk}/artifacts/{artifact.pk}"), 404, NOT_FOUND)


def test_artifact_writes_need_their_permissions(mgmt_as):
    module = make_module(files={"a.bin": b"1"})
    reader = mgmt_as("view_softwaremodule")
    assert reader.get(f"softwaremodules/{module.pk}/artifacts").status_code == 200
    _error(reader.upload(f"softwaremodules/{module.pk}/artifacts", file=io.BytesIO(b"x")), 403, FORBIDDEN)
    artifact = module.artifacts.get()
    _error(reader.delete(f"softwaremodules/{module.pk}/artifacts/{artifact.pk}"), 403, FORBIDDEN)


# --- metadata --------------------------------------------------------------------------------


def test_metadata_is_created_listed_read_updated_and_deleted(mgmt):
    module = make_module()
    path = f"softwaremodules/{module.pk}/metadata"
    created = mgmt.post(
        path,
        [
            {"key": "someKnownKey", "value": "someKnownValue", "targetVisible": True},
            {"key": "b", "value": "2"},
        ],
    )
    assert created.status_code == 201
    listed = mgmt.get(path).json()
    assert listed == {
        "content": [
            {"key": "b", "value": "2", "targetVisible": False},
            {"key": "someKnownKey", "value": "someKnownValue", "targetVisible": True},
        ],
        "total": 2,
        "size": 2,
    }
    assert [item["key"] for item in mgmt.get(path, sort="key:DESC", limit=1).json()["content"]] == [
        "someKnownKey"
    ]
    assert mgmt.get(f"{path}/b").json() == {"key": "b", "value": "2", "targetVisible": False}

    assert mgmt.put(f"{path}/b", {"value": "newValue", "targetVisible": True}).status_code == 204
    assert mgmt.get(f"{path}/b").json() == {"key": "b", "value": "newValue", "targetVisible": True}
    assert mgmt.put(f"{path}/b", {"targetVisible": False}).status_code == 204
    assert mgmt.get(f"{path}/b").json()["value"] == "newValue"

    assert mgmt.delete(f"{path}/b").status_code == 204
    _error(mgmt.get(f"{path}/b"), 404, NOT_FOUND)
    _error(mgmt.delete(f"{path}/b"), 404, NOT_FOUND)
    _error(mgmt.put(f"{path}/b", {"value": "x"}), 404, NOT_FOUND)


def test_an_existing_metadata_key_is_409_and_nothing_is_added(mgmt):
    module = make_module()
    path = f"softwaremodules/{module.pk}/metadata"
    mgmt.post(path, [{"key": "a", "value": "1"}])
    response = mgmt.post(path, [{"key": "new", "value": "1"}, {"key": "a", "value": "2"}])
    _error(response, 409, "hawkbit.server.error.repo.entityAlreadyExists")
    assert list(module.metadata.values_list("key", "value")) == [("a", "1")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"value": "1"}], "[0].key is required"),
        ([{"key": "k", "value": 1}], "[0].value must be a string"),
        ([{"key": "k", "targetVisible": "true"}], "[0].targetVisible must be true or false"),
        ([{"key": "k"}, {"key": "k"}], "more than once"),
        ([{"key": "k" * 200}], "metadata key is longer than 128"),
    ],
)
def test_bad_metadata_bodies_are_400_naming_the_field(mgmt, body, field):
    module = make_module()
    assert field in _error(mgmt.post(f"softwaremodules/{module.pk}/metadata", body), 400, INVALID)


def test_metadata_needs_update_software_module_to_change(mgmt_as):
    module = make_module()
    reader = mgmt_as("view_softwaremodule")
    assert reader.get(f"softwaremodules/{module.pk}/metadata").status_code == 200
    _error(reader.post(f"softwaremodules/{module.pk}/metadata", [{"key": "k"}]), 403, FORBIDDEN)
    _error(reader.put(f"softwaremodules/{module.pk}/metadata/k", {"value": "v"}), 403, FORBIDDEN)
    _error(reader.delete(f"softwaremodules/{module.pk}/metadata/k"), 403, FORBIDDEN)


def test_the_module_list_costs_the_same_queries_for_one_module_or_many(mgmt):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_of_the_list(expected_total: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert mgmt.get("softwaremodules").json()["total"] == expected_total
        return len(captured.captured_queries)

    make_module(type_key="os")
    one = queries_of_the_list(1)
    for _ in range(5):
        make_module(type_key="application")
    assert queries_of_the_list(6) == one


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("softwaremoduletypes", {"id", "key", "name", "description", "maxAssignments"}),
        ("softwaremodules", {"id", "type", "name", "description", "version", "metadata", "createdAt"}),
        ("distributionsets", {"id", "type", "name", "description", "version", "modules.id", "metadata"}),
        ("distributionsettypes", {"id", "key", "name", "description", "createdAt"}),
    ],
)
def test_q_is_compiled_over_hawkbits_field_names(mgmt, monkeypatch, path, fields):
    from django.db.models import Q

    from goosebit_project.lib import rsql

    seen: dict[str, set[str]] = {}

    def compile_query(query, query_fields, **limits):
        seen[query] = set(query_fields)
        return Q(pk__in=[])

    monkeypatch.setattr(rsql, "compile_query", compile_query)
    response = mgmt.get(path, q="name==x")
    assert response.status_code == 200
    assert response.json() == {"content": [], "total": 0, "size": 0}
    assert fields <= seen["name==x"]
