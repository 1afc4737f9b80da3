"""/rest/v1/distributionsets (our releases) and /rest/v1/distributionsettypes as hawkBit."""

from __future__ import annotations

import pytest

from goosebit_project.lib.errors import InvalidInput
from rollouts import selectors as rollout_selectors
from rollouts import services as rollout_services
from software.models import DistributionSetType, Software, SoftwareModule, SoftwareModuleType
from tests.factories import make_action, make_device, make_hardware, make_module, make_rollout, make_software

pytestmark = pytest.mark.django_db

BASE = "http://testserver/rest/v1"
NOT_FOUND = "hawkbit.server.error.repo.entityNotFound"
FORBIDDEN = "hawkbit.server.error.insufficientPermission"
INVALID = "hawkbit.server.error.repo.constraintViolation"


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["errorCode"] == code
    return body["message"]


def _ids(response) -> list[int]:
    return [item["id"] for item in response.json()["content"]]


def _set_type(key: str) -> DistributionSetType:
    return DistributionSetType.objects.get(key=key)


def _create(mgmt, **body):
    body.setdefault("name", "DS")
    body.setdefault("version", "1.0")
    response = mgmt.post("distributionsets", [body])
    assert response.status_code == 201, response.content
    return response.json()[0]


# --- distribution sets -----------------------------------------------------------------------


def test_a_distribution_set_is_created_with_modules_in_hawkbits_shape(mgmt):
    os_module = make_module(type_key="os", name="Firmware", version="1.0.42")
    app = make_module(type_key="application", name="application", version="1.0.67")
    body = _create(
        mgmt, name="DS", version="1.0", description="desc", modules=[{"id": os_module.pk}, {"id": app.pk}]
    )
    release = Software.objects.get(pk=body["id"])
    os_app = _set_type("os_app")
    assert release.type == os_app
    embedded = body.pop("modules")
    assert body == {
        "id": release.pk,
        "name": "DS",
        "description": "desc",
        "version": "1.0",
        "type": "os_app",
        "typeName": "OS with app(s)",
        "complete": True,
        "locked": False,
        "deleted": False,
        "valid": True,
        "requiredMigrationStep": False,
        "createdAt": int(release.created.timestamp() * 1000),
        "lastModifiedAt": int(release.updated.timestamp() * 1000),
        "_links": {
            "self": {"href": f"{BASE}/distributionsets/{release.pk}"},
            "modules": {"href": f"{BASE}/distributionsets/{release.pk}/assignedSM?offset=0&limit=50"},
            "type": {"href": f"{BASE}/distributionsettypes/{os_app.pk}"},
            "metadata": {"href": f"{BASE}/distributionsets/{release.pk}/metadata?offset=0&limit=50"},
        },
    }
    assert [(item["id"], item["type"], item["typeName"]) for item in embedded] == [
        (os_module.pk, "os", "OS"),
        (app.pk, "application", "Application"),
    ]
    assert embedded[0]["_links"] == {"self": {"href": f"{BASE}/softwaremodules/{os_module.pk}"}}
    assert mgmt.get(f"distributionsets/{release.pk}").json()["modules"] == embedded


def test_a_set_without_its_mandatory_os_module_is_incomplete(mgmt):
    app = make_module(type_key="application")
    assert _create(mgmt, modules=[{"id": app.pk}])["complete"] is False
    assert _create(mgmt, version="2", type="app", modules=[{"id": app.pk}])["complete"] is True


def test_a_module_the_set_type_does_not_allow_is_400_unsupported(mgmt):
    app = make_module(type_key="application")
    response = mgmt.post(
        "distributionsets", [{"name": "n", "version": "1", "type": "os", "modules": [{"id": app.pk}]}]
    )
    message = _error(response, 400, "hawkbit.server.error.distributionset.modules.unsupported")
    assert "application" in message
    assert not Software.objects.exists()


def test_two_os_modules_exceed_max_assignments(mgmt):
    first, second = (make_module(type_key="os") for _ in range(2))
    response = mgmt.post(
        "distributionsets", [{"name": "n", "version": "1", "modules": [{"id": first.pk}, {"id": second.pk}]}]
    )
    assert "at most 1 os module" in _error(response, 400, INVALID)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "1"}, "[0].name is required"),
        ({"name": "n"}, "[0].version is required"),
        ({"name": "n", "version": "1", "type": "nope"}, "no distribution set type 'nope'"),
        ({"name": "n", "version": "1", "modules": {"id": 1}}, "[0].modules must be a list"),
        ({"name": "n", "version": "1", "modules": [1]}, "[0].modules[0] must be a JSON object"),
        ({"name": "n", "version": "1", "modules": [{"id": "1"}]}, "[0].modules[0].id must be a whole number"),
        ({"name": "n", "version": "1", "modules": [{}]}, "[0].modules[0].id is required"),
        ({"name": "n", "version": "1", "requiredMigrationStep": True}, "requiredMigrationStep cannot be set"),
        ({"name": "n", "version": "1", "locked": True}, "locked cannot be set"),
    ],
)
def test_bad_set_bodies_are_400_naming_the_field(mgmt, body, field):
    assert field in _error(mgmt.post("distributionsets", [body]), 400, INVALID)


def test_an_unknown_module_in_a_new_set_is_404(mgmt):
    response = mgmt.post("distributionsets", [{"name": "n", "version": "1", "modules": [{"id": 999}]}])
    assert "999" in _error(response, 404, NOT_FOUND)


def test_sets_are_listed_sorted_paged_and_soft_deleted_ones_hidden(mgmt):
    releases = [make_software(version) for version in ("1.0", "3.0", "2.0")]
    body = mgmt.get("distributionsets", sort="version:DESC", limit=2).json()
    assert [item["version"] for item in body["content"]] == ["3.0", "2.0"]
    assert (body["total"], body["size"]) == (3, 2)
    assert [
        item["version"]
        for item in mgmt.get("distributionsets", sort="version:ASC", offset=2).json()["content"]
    ] == ["3.0"]
    Software.objects.filter(pk=releases[0].pk).update(deleted=True)
    assert sorted(_ids(mgmt.get("distributionsets"))) == sorted([releases[1].pk, releases[2].pk])
    assert _ids(mgmt.get("distributionsets", soft_deleted_mode="ONLY_SOFT_DELETED")) == [releases[0].pk]
    assert len(_ids(mgmt.get("distributionsets", soft_deleted_mode="include_soft_deleted"))) == 3
    _error(mgmt.get("distributionsets", sort="tags:ASC"), 400, "hawkbit.server.error.rest.param.invalidField")


def test_a_release_made_elsewhere_gets_the_default_type_when_its_modules_fit(mgmt):
    from software import services

    SoftwareModuleType.objects.create(key="firmware", name="Firmware")
    fitting = services.release_create(name="a", version="1", modules=[make_module(type_key="os")])
    other = services.release_create(name="b", version="2", modules=[make_module(type_key="firmware")])
    assert mgmt.get(f"distributionsets/{fitting.pk}").json()["type"] == "os_app"
    body = mgmt.get(f"distributionsets/{other.pk}").json()
    assert "type" not in body
    assert "typeName" not in body
    assert "type" not in body["_links"]
    assert body["complete"] is True
    # Untyped: modules of any type may join it.
    assert (
        mgmt.post(
            f"distributionsets/{other.pk}/assignedSM", [{"id": make_module(type_key="runtime").pk}]
        ).status_code
        == 204
    )


def test_a_set_put_renames_describes_and_changes_the_version_while_unused(mgmt):
    release = make_software("1.0")
    response = mgmt.put(
        f"distributionsets/{release.pk}", {"name": "new", "description": "d", "version": "1.1"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["version"]) == ("new", "d", "1.1")
    make_action(make_device(), release, status="finished")
    assert mgmt.get(f"distributionsets/{release.pk}").json()["locked"] is True
    assert mgmt.put(f"distributionsets/{release.pk}", {"description": "still fine"}).status_code == 200
    locked = mgmt.put(f"distributionsets/{release.pk}", {"version": "2.0"})
    _error(locked, 423, "hawkbit.server.error.locked")
    release.refresh_from_db()
    assert release.version == "1.1"


def test_assigned_modules_are_listed_added_and_removed(mgmt):
    os_module = make_module(type_key="os", name="os")
    apps = [make_module(type_key="application", name=f"app{n}") for n in range(3)]
    release = Software.objects.get(pk=_create(mgmt, modules=[{"id": os_module.pk}])["id"])
    path = f"distributionsets/{release.pk}/assignedSM"
    assert mgmt.post(path, [{"id": app.pk} for app in apps]).status_code == 204
    listed = mgmt.get(path, sort="name:DESC", limit=2).json()
    assert [item["name"] for item in listed["content"]] == ["os", "app2"]
    assert (listed["total"], listed["size"]) == (4, 2)
    assert listed["content"][0]["_links"]["artifacts"]["href"].endswith(
        f"/softwaremodules/{os_module.pk}/artifacts"
    )
    assert mgmt.delete(f"{path}/{apps[0].pk}").status_code == 204
    assert set(release.modules.values_list("pk", flat=True)) == {os_module.pk, apps[1].pk, apps[2].pk}
    _error(mgmt.delete(f"{path}/{apps[0].pk}"), 404, NOT_FOUND)
    _error(mgmt.post(path, [{"id": 999}]), 404, NOT_FOUND)
    _error(mgmt.post(path, {"id": apps[0].pk}), 400, INVALID)


def test_the_modules_of_an_offered_set_are_locked(mgmt):
    release = make_software("1.0")
    make_action(make_device(), release, status="finished")
    app = make_module(type_key="application")
    path = f"distributionsets/{release.pk}/assignedSM"
    _error(mgmt.post(path, [{"id": app.pk}]), 423, "hawkbit.server.error.locked")
    _error(mgmt.delete(f"{path}/{release.modules.get().pk}"), 423, "hawkbit.server.error.locked")


def test_a_set_used_by_a_rollout_is_locked(mgmt):
    release = make_software("1.0")
    make_rollout(release, status="draft")
    assert mgmt.get(f"distributionsets/{release.pk}").json()["locked"] is True


def test_an_unused_set_is_hard_deleted_then_404(mgmt, settings, django_capture_on_commit_callbacks):
    release = make_software("1.0")
    module = release.modules.get()
    stored = module.artifacts.get().file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert mgmt.delete(f"distributionsets/{release.pk}").status_code == 204
    assert not Software.objects.filter(pk=release.pk).exists()
    assert not SoftwareModule.objects.filter(pk=module.pk).exists()
    assert not (settings.ARTIFACTS_DIR / stored).exists()
    _error(mgmt.get(f"distributionsets/{release.pk}"), 404, NOT_FOUND)
    _error(mgmt.delete(f"distributionsets/{release.pk}"), 404, NOT_FOUND)


def test_a_set_with_history_is_soft_deleted_and_offered_to_no_one_new(mgmt):
    hardware = make_hardware("board", "1")
    release = make_software("2.0", compatibility=[hardware])
    older = make_software("1.0", compatibility=[hardware])
    running = make_action(make_device(hardware=hardware), release, status="running")
    assert mgmt.delete(f"distributionsets/{release.pk}").status_code == 204
    release.refresh_from_db()
    assert release.deleted is True
    assert mgmt.get(f"distributionsets/{release.pk}").json()["deleted"] is True
    assert release.pk not in _ids(mgmt.get("distributionsets"))
    assert mgmt.delete(f"distributionsets/{release.pk}").status_code == 204  # harmless again
    # The running action carries on; nothing new gets the release.
    running.refresh_from_db()
    assert running.status == "running"
    assert rollout_selectors.software_latest_for(hardware_id=hardware.pk) == older
    with pytest.raises(InvalidInput, match="is deleted"):
        rollout_services.device_assign_software(device=make_device(hardware=hardware), software=release)
    with pytest.raises(InvalidInput, match="is deleted"):
        rollout_services.rollout_create(name="r", feed="default", software=release)
    _error(
        mgmt.post(f"distributionsets/{release.pk}/assignedSM", [{"id": make_module().pk}]),
        423,
        "hawkbit.server.error.locked",
    )


def test_a_soft_deleted_version_no_longer_blocks_a_new_release_of_that_version(mgmt):
    hardware = make_hardware("board", "1")
    release = make_software("1.0", compatibility=[hardware])
    make_action(make_device(hardware=hardware), release, status="finished")
    mgmt.delete(f"distributionsets/{release.pk}")
    again = make_module(type_key="os")
    from software import services

    services.release_create(name="again", version="1.0", modules=[again], compatibility=[hardware])


def test_sets_need_their_permissions(mgmt_as):
    release = make_software("1.0")
    reader = mgmt_as("view_software")
    assert reader.get("distributionsets").status_code == 200
    assert reader.get(f"distributionsets/{release.pk}/assignedSM").status_code == 200
    assert "CREATE_DISTRIBUTION_SET" in _error(
        reader.post("distributionsets", [{"name": "n", "version": "1"}]), 403, FORBIDDEN
    )
    _error(reader.put(f"distributionsets/{release.pk}", {"name": "x"}), 403, FORBIDDEN)
    _error(reader.delete(f"distributionsets/{release.pk}"), 403, FORBIDDEN)
    _error(reader.post(f"distributionsets/{release.pk}/assignedSM", []), 403, FORBIDDEN)
    _error(mgmt_as("view_softwaremodule").get("distributionsets"), 403, FORBIDDEN)


def test_an_unknown_set_is_404(mgmt):
    for path in ("distributionsets/999", "distributionsets/999/assignedSM"):
        assert "999" in _error(mgmt.get(path), 404, NOT_FOUND)
    _error(mgmt.put("distributionsets/999", {}), 404, NOT_FOUND)


def test_set_metadata_is_created_listed_read_updated_and_deleted(mgmt):
    release = make_software("1.0")
    path = f"distributionsets/{release.pk}/metadata"
    assert mgmt.post(path, [{"key": "country", "value": "DE"}, {"key": "a", "value": "1"}]).status_code == 201
    assert mgmt.get(path).json() == {
        "content": [{"key": "a", "value": "1"}, {"key": "country", "value": "DE"}],
        "total": 2,
        "size": 2,
    }
    assert [item["key"] for item in mgmt.get(path, sort="key:DESC", limit=1).json()["content"]] == ["country"]
    assert mgmt.get(f"{path}/country").json() == {"key": "country", "value": "DE"}
    assert mgmt.put(f"{path}/country", {"value": "someValue"}).status_code == 204
    assert mgmt.get(f"{path}/country").json()["value"] == "someValue"
    _error(mgmt.post(path, [{"key": "a"}]), 409, "hawkbit.server.error.repo.entityAlreadyExists")
    assert "[0].key is required" in _error(mgmt.post(path, [{"value": "x"}]), 400, INVALID)
    assert mgmt.delete(f"{path}/a").status_code == 204
    _error(mgmt.get(f"{path}/a"), 404, NOT_FOUND)
    _error(mgmt.delete(f"{path}/a"), 404, NOT_FOUND)
    _error(mgmt.put(f"{path}/a", {"value": "x"}), 404, NOT_FOUND)
    _error(mgmt.get("distributionsets/999/metadata"), 404, NOT_FOUND)


def test_set_metadata_changes_need_update_distribution_set(mgmt_as):
    release = make_software("1.0")
    reader = mgmt_as("view_software")
    path = f"distributionsets/{release.pk}/metadata"
    assert reader.get(path).status_code == 200
    _error(reader.post(path, [{"key": "k"}]), 403, FORBIDDEN)
    _error(reader.put(f"{path}/k", {"value": "v"}), 403, FORBIDDEN)
    _error(reader.delete(f"{path}/k"), 403, FORBIDDEN)


# --- distribution set types ------------------------------------------------------------------


def test_hawkbits_default_set_types_are_seeded(mgmt):
    body = mgmt.get("distributionsettypes").json()
    assert [item["key"] for item in body["content"]] == ["os", "app", "os_app"]
    os_app = _set_type("os_app")
    item = body["content"][2]
    assert item == {
        "id": os_app.pk,
        "key": "os_app",
        "name": "OS with app(s)",
        "description": "Default type with Firmware/OS and optional app(s).",
        "deleted": False,
        "createdAt": int(os_app.created.timestamp() * 1000),
        "lastModifiedAt": int(os_app.updated.timestamp() * 1000),
        "_links": {
            "self": {"href": f"{BASE}/distributionsettypes/{os_app.pk}"},
            "mandatorymodules": {"href": f"{BASE}/distributionsettypes/{os_app.pk}/mandatorymoduletypes"},
            "optionalmodules": {"href": f"{BASE}/distributionsettypes/{os_app.pk}/optionalmoduletypes"},
        },
    }
    mandatory = mgmt.get(f"distributionsettypes/{os_app.pk}/mandatorymoduletypes").json()
    optional = mgmt.get(f"distributionsettypes/{os_app.pk}/optionalmoduletypes").json()
    assert [entry["key"] for entry in mandatory] == ["os"]
    assert sorted(entry["key"] for entry in optional) == ["application", "runtime"]
    os_type = SoftwareModuleType.objects.get(key="os")
    one = mgmt.get(f"distributionsettypes/{os_app.pk}/mandatorymoduletypes/{os_type.pk}")
    assert one.json()["key"] == "os"
    _error(mgmt.get(f"distributionsettypes/{os_app.pk}/optionalmoduletypes/{os_type.pk}"), 404, NOT_FOUND)


def test_a_set_type_is_created_updated_extended_and_deleted(mgmt):
    os_type = SoftwareModuleType.objects.get(key="os")
    app_type = SoftwareModuleType.objects.get(key="application")
    response = mgmt.post(
        "distributionsettypes",
        [
            {
                "key": "fw",
                "name": "Firmware",
                "description": "d",
                "colour": "rgb(86,37,99)",
                "mandatorymodules": [{"id": os_type.pk}],
                "optionalmodules": [{"id": app_type.pk}],
            }
        ],
    )
    assert response.status_code == 201
    created = response.json()[0]
    assert (created["key"], created["colour"]) == ("fw", "rgb(86,37,99)")
    pk = created["id"]
    updated = mgmt.put(f"distributionsettypes/{pk}", {"description": "new", "colour": "blue"}).json()
    assert (updated["description"], updated["colour"], updated["key"]) == ("new", "blue", "fw")
    runtime = SoftwareModuleType.objects.get(key="runtime")
    assert mgmt.post(f"distributionsettypes/{pk}/optionalmoduletypes", {"id": runtime.pk}).status_code == 204
    assert mgmt.delete(f"distributionsettypes/{pk}/optionalmoduletypes/{app_type.pk}").status_code == 204
    assert [item["key"] for item in mgmt.get(f"distributionsettypes/{pk}/optionalmoduletypes").json()] == [
        "runtime"
    ]
    _error(mgmt.delete(f"distributionsettypes/{pk}/optionalmoduletypes/{app_type.pk}"), 404, NOT_FOUND)
    _error(mgmt.post(f"distributionsettypes/{pk}/mandatorymoduletypes", {"id": 999}), 404, NOT_FOUND)
    assert mgmt.delete(f"distributionsettypes/{pk}").status_code == 204
    assert not DistributionSetType.objects.filter(pk=pk).exists()
    _error(mgmt.get(f"distributionsettypes/{pk}"), 404, NOT_FOUND)


def test_a_set_type_in_use_keeps_its_module_types_and_is_soft_deleted(mgmt):
    release = Software.objects.get(pk=_create(mgmt, type="os")["id"])
    os_set = release.type
    app_type = SoftwareModuleType.objects.get(key="application")
    refused = mgmt.post(f"distributionsettypes/{os_set.pk}/optionalmoduletypes", {"id": app_type.pk})
    _error(refused, 403, "hawkbit.server.error.entityReadOnly")
    assert mgmt.delete(f"distributionsettypes/{os_set.pk}").status_code == 204
    assert mgmt.get(f"distributionsettypes/{os_set.pk}").json()["deleted"] is True
    assert os_set.pk not in _ids(mgmt.get("distributionsettypes"))
    assert "no distribution set type 'os'" in _error(
        mgmt.post("distributionsets", [{"name": "n", "version": "9", "type": "os"}]), 400, INVALID
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "n"}, "[0].key is required"),
        ({"key": "k"}, "[0].name is required"),
        (
            {"key": "k", "name": "n", "mandatorymodules": [{"id": -1}]},
            "[0].mandatorymodules[0].id must be a positive",
        ),
        ({"key": "os", "name": "other"}, "key 'os'"),
    ],
)
def test_bad_set_type_bodies_are_4xx_naming_the_field(mgmt, body, field):
    response = mgmt.post("distributionsettypes", [body])
    assert response.status_code in (400, 409)
    assert field in response.json()["message"]


def test_set_types_sort_and_page(mgmt):
    body = mgmt.get("distributionsettypes", sort="key:ASC", limit=1, offset=1).json()
    assert [item["key"] for item in body["content"]] == ["os"]
    assert (body["total"], body["size"]) == (3, 1)


def test_set_types_need_their_permissions(mgmt_as):
    reader = mgmt_as("view_software")
    assert reader.get("distributionsettypes").status_code == 200
    message = _error(reader.post("distributionsettypes", [{"key": "k", "name": "n"}]), 403, FORBIDDEN)
    assert "CREATE_DISTRIBUTION_SET_TYPE" in message
    pk = _set_type("os").pk
    _error(reader.put(f"distributionsettypes/{pk}", {}), 403, FORBIDDEN)
    _error(reader.delete(f"distributionsettypes/{pk}"), 403, FORBIDDEN)
    _error(reader.post(f"distributionsettypes/{pk}/optionalmoduletypes", {"id": 1}), 403, FORBIDDEN)
    writer = mgmt_as("view_software", "add_distributionsettype")
    assert writer.post("distributionsettypes", [{"key": "k", "name": "n"}]).status_code == 201


def test_the_set_list_costs_the_same_queries_for_one_set_or_many(mgmt):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_of_the_list(expected_total: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert mgmt.get("distributionsets").json()["total"] == expected_total
        return len(captured.captured_queries)

    release = Software.objects.get(pk=_create(mgmt, modules=[{"id": make_module(type_key="os").pk}])["id"])
    make_action(make_device(), release, status="finished")
    one = queries_of_the_list(1)
    for number in range(5):
        _create(mgmt, version=f"v{number}", modules=[{"id": make_module(type_key="os").pk}])
    assert queries_of_the_list(6) == one


def test_a_module_type_post_body_that_is_not_an_object_is_400(mgmt):
    pk = _set_type("os_app").pk
    response = mgmt.post(f"distributionsettypes/{pk}/optionalmoduletypes", [1])
    assert "the body must be a JSON object" in _error(response, 400, INVALID)
