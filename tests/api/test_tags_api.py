"""/api/v1/device-tags/, /api/v1/release-tags/, and tags on devices and releases."""

from __future__ import annotations

import pytest

from devices.models import DeviceTag
from devices.services import tags as tag_services
from software import services as software_services
from tests.api.helpers import post, user_with
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db


def test_device_tags_crud(api):
    created = post(api, "/api/v1/device-tags/", {"name": " prod ", "colour": "red"})
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["colour"], body["description"], body["count"]) == ("prod", "red", "", 0)
    pk = body["id"]
    assert api.get("/api/v1/device-tags/").json()["results"][0]["name"] == "prod"
    changed = api.patch(f"/api/v1/device-tags/{pk}/", {"description": "eu"}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["description"] == "eu"
    again = post(api, "/api/v1/device-tags/", {"name": "prod"})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    for bad in (
        {"name": ""},
        {"name": "x" * 129},
        {"name": "a\x00"},
        {"colour": "red"},
        {"name": "ok", "colour": 5 * "long"},
    ):
        response = post(api, "/api/v1/device-tags/", bad)
        assert response.status_code == 400 and "detail" in response.json(), bad
    assert api.delete(f"/api/v1/device-tags/{pk}/").status_code == 204
    assert not DeviceTag.objects.exists()


def test_bulk_assign_and_the_tag_filter(api):
    prod = tag_services.device_tag_create(name="prod")
    eu = tag_services.device_tag_create(name="eu")
    for cid in ("a", "b", "c"):
        make_device(cid)
    assigned = post(api, f"/api/v1/device-tags/{prod.pk}/assign/", {"devices": ["a", "b"]})
    assert assigned.status_code == 200 and assigned.json()["changed"] == 2 and assigned.json()["count"] == 2
    post(api, f"/api/v1/device-tags/{eu.pk}/assign/", {"devices": ["b", "c"]})
    assert api.get("/api/v1/devices/b/").json()["tags"] == ["eu", "prod"]
    assert api.get("/api/v1/devices/?tag=eu").json()["results"][1]["tags"] == ["eu"]
    only_prod = api.get("/api/v1/devices/?tag=prod").json()["results"]
    assert [item["controller_id"] for item in only_prod] == ["a", "b"]
    both = api.get("/api/v1/devices/?tag=prod&tag=eu").json()["results"]
    assert [item["controller_id"] for item in both] == ["b"]
    unknown = api.get("/api/v1/devices/?tag=nope")
    assert unknown.status_code == 400 and "detail" in unknown.json()
    missing = post(api, f"/api/v1/device-tags/{prod.pk}/assign/", {"devices": ["a", "ghost"]})
    assert missing.status_code == 404 and "ghost" in missing.json()["detail"]
    assert post(api, f"/api/v1/device-tags/{prod.pk}/assign/", {"devices": "a"}).status_code == 400
    removed = post(api, f"/api/v1/device-tags/{prod.pk}/unassign/", {"devices": ["a"]})
    assert removed.json()["changed"] == 1
    assert list(prod.devices.values_list("controller_id", flat=True)) == ["b"]


def test_release_tags_and_filter(api):
    stable = software_services.release_tag_create(name="stable")
    one, two = make_software("1.0"), make_software("2.0")
    assigned = post(api, f"/api/v1/release-tags/{stable.pk}/assign/", {"releases": [one.pk]})
    assert assigned.status_code == 200 and assigned.json()["changed"] == 1
    listed = api.get("/api/v1/software/?tag=stable").json()["results"]
    assert [item["id"] for item in listed] == [one.pk]
    assert api.get(f"/api/v1/software/{one.pk}/").json()["tags"] == ["stable"]
    assert api.get(f"/api/v1/software/{two.pk}/").json()["tags"] == []
    assert post(api, f"/api/v1/release-tags/{stable.pk}/assign/", {"releases": [10**6]}).status_code == 404
    assert post(api, f"/api/v1/release-tags/{stable.pk}/assign/", {"releases": ["x"]}).status_code == 400
    assert (
        post(api, f"/api/v1/release-tags/{stable.pk}/unassign/", {"releases": [one.pk]}).json()["changed"]
        == 1
    )


def test_permissions(client):
    tag = tag_services.device_tag_create(name="prod")
    make_device("a")
    client.force_login(user_with("view_devicetag"))
    assert client.get("/api/v1/device-tags/").status_code == 200
    assert post(client, "/api/v1/device-tags/", {"name": "x"}).status_code == 403
    # tagging changes the devices: viewing the tag is not enough
    assert post(client, f"/api/v1/device-tags/{tag.pk}/assign/", {"devices": ["a"]}).status_code == 403
    client.force_login(user_with("view_devicetag", "change_device"))
    assert post(client, f"/api/v1/device-tags/{tag.pk}/assign/", {"devices": ["a"]}).status_code == 200
    client.force_login(user_with("add_devicetag", "view_devicetag"))
    assert post(client, "/api/v1/device-tags/", {"name": "x"}).status_code == 201
