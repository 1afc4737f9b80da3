"""The conventions every /rest/v1 resource shares: auth, permissions, errors, paging, sorting."""

from __future__ import annotations

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from goosebit_project.lib import rsql
from mgmt import errors, paging, permissions
from tests.mgmt.conftest import MgmtClient

pytestmark = pytest.mark.django_db


def _request(query: str) -> Request:
    return Request(APIRequestFactory().get(f"/rest/v1/x?{query}"))


def test_no_credentials_is_401_with_a_basic_challenge(client):
    response = client.get("/rest/v1/userinfo")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


def test_wrong_password_is_401(mgmt):
    response = MgmtClient("hawkbit", "wrong").get("userinfo")
    assert response.status_code == 401


def test_userinfo_lists_the_hawkbit_permissions_of_a_superuser(mgmt):
    response = mgmt.get("userinfo")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "hawkbit"
    assert body["tenant"] == "DEFAULT"
    assert set(body["permissions"]) == set(permissions.PERMISSIONS)


def test_userinfo_of_a_user_lists_only_what_their_django_permissions_grant(mgmt_as):
    body = mgmt_as("view_device", "view_software").get("userinfo").json()
    assert body["permissions"] == ["READ_TARGET", "READ_DISTRIBUTION_SET", "READ_DISTRIBUTION_SET_TYPE"]


def test_hal_json_is_answered_in_the_same_shape(mgmt):
    response = mgmt.client.get("/rest/v1/userinfo", HTTP_ACCEPT="application/hal+json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/hal+json")
    assert response.json()["username"] == "hawkbit"


def test_a_method_a_resource_does_not_have_is_405(mgmt):
    response = mgmt.post("userinfo", {})
    assert response.status_code == 405


def test_an_unknown_path_is_404(mgmt):
    assert mgmt.get("nothing-here").status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", (0, 50)),
        ("offset=10&limit=20", (10, 20)),
        ("limit=501", (0, 500)),
        ("limit=0", (0, 50)),
        ("limit=-3", (0, 50)),
        ("offset=-5", (0, 50)),
        ("offset=99999999999999999999", (paging.MAX_OFFSET, 50)),
    ],
)
def test_paging_bounds_are_sanitized_as_hawkbit_does(query, expected):
    assert paging.page_bounds(_request(query)) == expected


@pytest.mark.parametrize("query", ["limit=ten", "offset=1.5", "limit=%00"])
def test_paging_values_that_are_not_numbers_are_400(query):
    with pytest.raises(errors.MgmtError) as caught:
        paging.page_bounds(_request(query))
    assert caught.value.status == 400
    assert caught.value.message.split()[0] in ("limit", "offset")


SORTABLE = {"controllerId": "controller_id", "name": "name", "lastModifiedAt": "updated"}


@pytest.mark.parametrize(
    ("sort", "ordering"),
    [
        ("", ["controller_id", "pk"]),
        ("name:ASC", ["name", "pk"]),
        ("NAME:desc,controllerid:ASC", ["-name", "controller_id", "pk"]),
        ("lastModifiedAt:DESC", ["-updated", "pk"]),
    ],
)
def test_sort_fields_are_matched_case_insensitively(sort, ordering):
    assert paging.order_by(_request(f"sort={sort}"), SORTABLE, ["controller_id"]) == ordering


@pytest.mark.parametrize(
    ("sort", "code"),
    [
        ("name", "hawkbit.server.error.rest.param.sortParamSyntax"),
        ("name:ASC:x", "hawkbit.server.error.rest.param.sortParamSyntax"),
        ("secret:ASC", "hawkbit.server.error.rest.param.invalidField"),
        ("name:UP", "hawkbit.server.error.rest.param.invalidDirection"),
        ("x" * 2000 + ":ASC", "hawkbit.server.error.rest.param.sortParamSyntax"),
    ],
)
def test_bad_sort_parameters_are_400_with_hawkbits_codes(sort, code):
    with pytest.raises(errors.MgmtError) as caught:
        paging.order_by(_request(f"sort={sort}"), SORTABLE, ["controller_id"])
    assert (caught.value.status, caught.value.code) == (400, code)


def test_an_unknown_sort_field_error_lists_the_sortable_ones():
    with pytest.raises(errors.MgmtError) as caught:
        paging.order_by(_request("sort=secret:ASC"), SORTABLE, ["controller_id"])
    assert "controllerId, lastModifiedAt, name" in caught.value.message


def test_system_configs_list_every_runtime_key_in_hawkbits_shape(mgmt):
    body = mgmt.get("system/configs").json()
    assert body["pollingTime"]["global"] is True
    assert "default" not in body["pollingTime"]
    assert "authentication.targettoken.enabled" in body


def test_a_system_config_put_is_read_back_and_delete_resets_it(mgmt):
    response = mgmt.put("system/configs/pollingTime", {"value": "00:02:00"})
    assert response.status_code == 200
    body = response.json()
    assert body["value"] == "00:02:00"
    assert body["global"] is False
    assert body["lastModifiedBy"] == "hawkbit"
    assert isinstance(body["lastModifiedAt"], int)
    assert mgmt.delete("system/configs/pollingTime").status_code == 204
    assert mgmt.get("system/configs/pollingTime").json()["global"] is True


def test_an_unknown_config_key_and_a_bad_value_are_400_with_hawkbits_codes(mgmt):
    unknown = mgmt.get("system/configs/no.such.key")
    assert unknown.status_code == 400
    assert unknown.json()["errorCode"] == "hawkbit.server.error.configKeyInvalid"
    bad = mgmt.put("system/configs/pollingTime", {"value": "soon"})
    assert bad.status_code == 400
    assert bad.json()["errorCode"] == "hawkbit.server.error.configValueInvalid"
    assert "pollingTime" in bad.json()["message"]


def test_a_body_that_is_not_json_is_400_not_readable(mgmt):
    response = mgmt.client.put(
        "/rest/v1/system/configs/pollingTime", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == "hawkbit.server.error.rest.body.notReadable"


def test_system_configs_need_the_tenant_configuration_permission(mgmt_as):
    reader = mgmt_as("view_tenantconfiguration")
    assert reader.get("system/configs").status_code == 200
    refused = reader.put("system/configs/pollingTime", {"value": "00:02:00"})
    assert refused.status_code == 403
    assert refused.json()["errorCode"] == "hawkbit.server.error.insufficientPermission"
    assert "TENANT_CONFIGURATION" in refused.json()["message"]
    assert mgmt_as().get("system/configs").status_code == 403


def test_the_gateway_key_is_masked_without_read_gateway_security_token(mgmt, mgmt_as):
    mgmt.put("system/configs/authentication.gatewaytoken.key", {"value": "gw-secret"})
    reader = mgmt_as("view_tenantconfiguration")
    assert reader.get("system/configs").json()["authentication.gatewaytoken.key"]["value"] == "********"
    assert mgmt.get("system/configs/authentication.gatewaytoken.key").json()["value"] == "gw-secret"


def test_a_q_filter_on_an_unknown_field_is_400_with_the_rsql_field_code():
    with pytest.raises(errors.MgmtError) as caught:
        paging.filtered(_request("q=secret==1"), _devices(), {"name": rsql.Field("name")})
    assert caught.value.code == "hawkbit.server.error.rest.param.rsqlInvalidField"
    assert "allowed fields: name" in caught.value.message


def test_a_q_filter_with_bad_syntax_is_400_with_the_rsql_syntax_code():
    with pytest.raises(errors.MgmtError) as caught:
        paging.filtered(_request("q=name=="), _devices(), {"name": rsql.Field("name")})
    assert caught.value.code == "hawkbit.server.error.rest.param.rsqlParamSyntax"


def test_a_q_filter_narrows_the_queryset():
    from devices.models import Device

    Device.objects.create(controller_id="a", name="kitchen")
    Device.objects.create(controller_id="b", name="garage")
    found = paging.filtered(_request("q=name==kit*"), _devices(), {"name": rsql.Field("name")})
    assert [device.controller_id for device in found] == ["a"]


def _devices():
    from devices.models import Device

    return Device.objects.all()
