"""The tenant settings API: hawkBit's system config value shape, validation 4xx, permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from devices import selectors, services
from devices.models import TenantConfiguration
from tests.api.helpers import user_with

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenant-settings/"


def put(client, path, data):
    return client.put(path, data, content_type="application/json")


def test_get_lists_every_key_with_hawkbits_value_shape(api, settings):
    settings.GOOSEBIT_POLL_TIME = "00:01:00"
    services.tenant_setting_set(key="pollingTime", value="00:05:00", user="alice")

    body = api.get(URL).json()

    assert list(body) == [
        "pollingTime",
        "pollingOverdueTime",
        "maintenanceWindowPollCount",
        "authentication.targettoken.enabled",
        "authentication.gatewaytoken.enabled",
        "authentication.gatewaytoken.key",
        "authentication.header.enabled",
        "authentication.header.authority",
        "user.confirmation.flow.enabled",
        "rollout.approval.enabled",
        "auto.assignment.approval.enabled",
    ]
    row = TenantConfiguration.objects.get(key="pollingTime")
    assert body["pollingTime"] == {
        "value": "00:05:00",
        "global": False,
        "default": "00:01:00",
        "createdAt": int(row.created_at.timestamp() * 1000),
        "createdBy": "alice",
        "lastModifiedAt": int(row.last_modified_at.timestamp() * 1000),
        "lastModifiedBy": "alice",
    }
    assert body["rollout.approval.enabled"] == {"value": False, "global": True, "default": False}


def test_put_one_key_stores_it_and_applies_at_once(api):
    response = put(api, URL + "pollingTime/", {"value": "00:02:00"})

    assert response.status_code == 200
    assert response.json()["value"] == "00:02:00"
    assert response.json()["global"] is False
    assert response.json()["lastModifiedBy"] == "root"
    assert selectors.tenant_config().polling_time == "00:02:00"


def test_delete_resets_a_key_to_its_default(api):
    services.tenant_setting_set(key="pollingTime", value="00:05:00")

    response = api.delete(URL + "pollingTime/")

    assert response.status_code == 200
    assert response.json() == {"value": "00:01:00", "global": True, "default": "00:01:00"}
    assert selectors.tenant_config().polling_time == "00:01:00"


def test_put_on_the_collection_stores_several_keys_all_or_none(api):
    response = put(
        api,
        URL,
        {"authentication.gatewaytoken.enabled": True, "authentication.gatewaytoken.key": "gw-key-123"},
    )
    assert response.status_code == 200
    assert response.json()["authentication.gatewaytoken.key"]["value"] == "gw-key-123"

    response = put(api, URL, {"pollingTime": "00:09:00", "pollingOverdueTime": "soon"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "pollingOverdueTime must be a duration of the form HH:mm:ss up to 23:59:59, got 'soon'"
    }
    assert selectors.tenant_config().polling_time == "00:01:00"


@pytest.mark.parametrize(
    ("path", "data", "code", "detail"),
    [
        (
            "pollingTime/",
            {"value": "1 minute"},
            400,
            "pollingTime must be a duration of the form HH:mm:ss up to 23:59:59, got '1 minute'",
        ),
        (
            "authentication.targettoken.enabled/",
            {"value": "maybe"},
            400,
            "authentication.targettoken.enabled must be true or false, got 'maybe'",
        ),
        ("pollingTime/", {"val": "00:01:00"}, 400, 'send {"value": ...}'),
        ("noSuchKey/", {"value": 1}, 404, None),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_key(api, path, data, code, detail):
    response = put(api, URL + path, data)

    assert response.status_code == code
    if detail is not None:
        assert response.json() == {"detail": detail}
    else:
        assert response.json()["detail"].startswith("unknown tenant setting 'noSuchKey'; known keys: ")
    assert not TenantConfiguration.objects.exists()


def test_get_of_an_unknown_key_is_404(api):
    assert api.get(URL + "noSuchKey/").status_code == 404


def test_a_viewer_reads_with_the_gateway_key_masked_and_cannot_change(client, settings):
    services.tenant_setting_set(key="authentication.gatewaytoken.key", value="gw-key-123")
    viewer = User.objects.create_user("victor", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewers"))
    client.force_login(viewer)

    body = client.get(URL).json()
    assert body["authentication.gatewaytoken.key"]["value"] == "********"
    assert client.get(URL + "authentication.gatewaytoken.key/").json()["value"] == "********"

    assert put(client, URL + "pollingTime/", {"value": "00:02:00"}).status_code == 403
    assert put(client, URL, {"pollingTime": "00:02:00"}).status_code == 403
    assert client.delete(URL + "authentication.gatewaytoken.key/").status_code == 403
    assert TenantConfiguration.objects.get(key="authentication.gatewaytoken.key").value == "gw-key-123"


def test_operators_read_but_changing_needs_the_dedicated_permission(client):
    operator = User.objects.create_user("olivia", password="pw", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operators"))
    client.force_login(operator)
    assert client.get(URL).status_code == 200
    assert put(client, URL + "pollingTime/", {"value": "00:02:00"}).status_code == 403

    client.force_login(user_with("view_tenantconfiguration"))
    assert client.get(URL).status_code == 200
    assert put(client, URL + "pollingTime/", {"value": "00:02:00"}).status_code == 403

    client.force_login(user_with("change_tenantconfiguration"))
    assert client.get(URL).status_code == 200  # who may change may read, as in the admin
    assert put(client, URL + "pollingTime/", {"value": "00:02:00"}).status_code == 200
    assert selectors.tenant_config().polling_time == "00:02:00"


def test_anonymous_calls_are_refused(client):
    assert client.get(URL).status_code in (401, 403)
    assert put(client, URL + "pollingTime/", {"value": "00:02:00"}).status_code in (401, 403)
