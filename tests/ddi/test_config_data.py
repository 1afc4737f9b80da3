"""PUT configData: what a device tells us about itself."""

from __future__ import annotations

import pytest

from devices.models import Device, Hardware
from tests.ddi.helpers import ddi_url, known_device, put_config, send_json

pytestmark = pytest.mark.django_db


def _attributes(controller_id: str) -> dict:
    return Device.objects.get(controller_id=controller_id).attributes


# --- modes ---------------------------------------------------------------------------------


def test_config_data_without_a_mode_merges_into_the_stored_attributes(ddi_client):
    known_device("dev-1", attributes={"a": "1", "b": "2"})

    response = put_config(ddi_client, "dev-1", {"data": {"b": "20", "c": "3"}})

    assert response.status_code == 200
    assert response.content == b""
    assert _attributes("dev-1") == {"a": "1", "b": "20", "c": "3"}


def test_config_data_in_merge_mode_upserts_keys(ddi_client):
    known_device("dev-1", attributes={"a": "1"})

    response = put_config(ddi_client, "dev-1", {"mode": "merge", "data": {"b": "2"}})

    assert response.status_code == 200
    assert _attributes("dev-1") == {"a": "1", "b": "2"}


def test_a_null_value_in_merge_mode_deletes_its_key(ddi_client):
    known_device("dev-1", attributes={"a": "1", "b": "2"})

    response = put_config(ddi_client, "dev-1", {"mode": "merge", "data": {"a": None, "c": "3"}})

    assert response.status_code == 200
    assert _attributes("dev-1") == {"b": "2", "c": "3"}


def test_config_data_in_replace_mode_keeps_exactly_the_new_set(ddi_client):
    known_device("dev-1", attributes={"a": "1", "b": "2"})

    response = put_config(ddi_client, "dev-1", {"mode": "replace", "data": {"c": "3", "d": None}})

    assert response.status_code == 200
    assert _attributes("dev-1") == {"c": "3"}


def test_config_data_in_remove_mode_deletes_the_listed_keys_whatever_their_values(ddi_client):
    known_device("dev-1", attributes={"a": "1", "b": "2", "c": "3"})

    response = put_config(ddi_client, "dev-1", {"mode": "remove", "data": {"a": "", "c": "anything"}})

    assert response.status_code == 200
    assert _attributes("dev-1") == {"b": "2"}


def test_an_unknown_mode_is_refused_with_400_and_nothing_changes(ddi_client):
    known_device("dev-1", attributes={"a": "1"})

    response = put_config(ddi_client, "dev-1", {"mode": "append", "data": {"b": "2"}})

    assert response.status_code == 400
    assert _attributes("dev-1") == {"a": "1"}


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"id": "dev-1"},
        {"mode": "merge"},
        {"data": {}},
        {"data": None},
        {"data": ["a", "b"]},
        {"data": "a=b"},
    ],
    ids=["only-id", "only-mode", "empty-data", "null-data", "list-data", "string-data"],
)
def test_config_data_without_a_non_empty_data_object_is_refused_with_400(ddi_client, body):
    known_device("dev-1", attributes={"a": "1"})

    response = put_config(ddi_client, "dev-1", body)

    assert response.status_code == 400
    assert _attributes("dev-1") == {"a": "1"}


def test_malformed_json_in_config_data_is_refused_with_400(ddi_client):
    known_device("dev-1")

    response = put_config(ddi_client, "dev-1", '{"data": {"a": ')

    assert response.status_code == 400


def test_a_key_longer_than_128_characters_is_refused_with_400(ddi_client):
    known_device("dev-1", attributes={"a": "1"})

    response = put_config(ddi_client, "dev-1", {"data": {"k" * 129: "v"}})

    assert response.status_code == 400
    assert _attributes("dev-1") == {"a": "1"}


def test_a_value_longer_than_128_characters_is_refused_with_400(ddi_client):
    known_device("dev-1", attributes={"a": "1"})

    response = put_config(ddi_client, "dev-1", {"data": {"k": "v" * 129}})

    assert response.status_code == 400
    assert _attributes("dev-1") == {"a": "1"}


def test_keys_and_values_of_exactly_128_characters_are_accepted(ddi_client):
    known_device("dev-1", attributes={})

    response = put_config(ddi_client, "dev-1", {"data": {"k" * 128: "v" * 128}})

    assert response.status_code == 200
    assert _attributes("dev-1") == {"k" * 128: "v" * 128}


def test_more_attributes_than_the_quota_is_refused_with_429_and_nothing_changes(ddi_client, settings):
    settings.GOOSEBIT_DDI_MAX_ATTRIBUTES = 3
    known_device("dev-1", attributes={"a": "1", "b": "2"})

    response = put_config(ddi_client, "dev-1", {"data": {"c": "3", "d": "4"}})

    assert response.status_code == 429
    assert _attributes("dev-1") == {"a": "1", "b": "2"}


def test_exactly_the_attribute_quota_is_accepted(ddi_client, settings):
    settings.GOOSEBIT_DDI_MAX_ATTRIBUTES = 3
    known_device("dev-1", attributes={"a": "1", "b": "2"})

    response = put_config(ddi_client, "dev-1", {"data": {"c": "3"}})

    assert response.status_code == 200
    assert _attributes("dev-1") == {"a": "1", "b": "2", "c": "3"}


def test_the_attribute_quota_counts_the_attributes_after_a_replace(ddi_client, settings):
    settings.GOOSEBIT_DDI_MAX_ATTRIBUTES = 3
    known_device("dev-1", attributes={"a": "1", "b": "2", "c": "3"})

    response = put_config(ddi_client, "dev-1", {"mode": "replace", "data": {"x": "1", "y": "2", "z": "3"}})

    assert response.status_code == 200
    assert _attributes("dev-1") == {"x": "1", "y": "2", "z": "3"}


def test_the_default_attribute_quota_is_100(ddi_client):
    known_device("dev-1", attributes={})

    accepted = put_config(ddi_client, "dev-1", {"data": {f"k{i}": "v" for i in range(100)}})
    refused = put_config(ddi_client, "dev-1", {"data": {"one-too-many": "v"}})

    assert accepted.status_code == 200
    assert refused.status_code == 429
    assert len(_attributes("dev-1")) == 100


# --- transport -----------------------------------------------------------------------------


def test_config_data_sent_as_hal_json_is_refused_with_415(ddi_client):
    known_device("dev-1", attributes={"a": "1"})

    response = put_config(ddi_client, "dev-1", {"data": {"b": "2"}}, content_type="application/hal+json")

    assert response.status_code == 415
    assert _attributes("dev-1") == {"a": "1"}


def test_config_data_sent_as_text_is_refused_with_415(ddi_client):
    known_device("dev-1")

    response = put_config(ddi_client, "dev-1", {"data": {"b": "2"}}, content_type="text/plain")

    assert response.status_code == 415


def test_config_data_accepts_json_with_a_charset_parameter(ddi_client):
    known_device("dev-1", attributes={})

    response = put_config(
        ddi_client, "dev-1", {"data": {"b": "2"}}, content_type="application/json;charset=UTF-8"
    )

    assert response.status_code == 200
    assert _attributes("dev-1") == {"b": "2"}


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_config_data_refuses_other_methods_with_405(ddi_client, method):
    known_device("dev-1")

    response = send_json(ddi_client, method, ddi_url("dev-1", "configData"), {"data": {"a": "b"}})

    assert response.status_code == 405


def test_config_data_for_an_unknown_device_answers_404_and_registers_nothing(ddi_client):
    response = put_config(ddi_client, "nobody", {"data": {"hw_boardname": "board"}})

    assert response.status_code == 404
    assert not Device.objects.exists()


def test_config_data_clears_the_request_for_attributes(ddi_client):
    known_device("dev-1", request_attributes=True, attributes={"a": "1"})

    response = put_config(ddi_client, "dev-1", {"data": {"a": "1"}})

    assert response.status_code == 200
    assert Device.objects.get(controller_id="dev-1").request_attributes is False


# --- what we learn from the attributes -----------------------------------------------------


def test_hardware_comes_from_hw_boardname_and_hw_revision(ddi_client):
    known_device("dev-1", attributes={})

    response = put_config(ddi_client, "dev-1", {"data": {"hw_boardname": "rpi4", "hw_revision": "1.2"}})

    assert response.status_code == 200
    device = Device.objects.select_related("hardware").get(controller_id="dev-1")
    assert device.hardware is not None
    assert (device.hardware.model, device.hardware.revision) == ("rpi4", "1.2")


def test_hardware_comes_from_hw_model_when_there_is_no_hw_boardname(ddi_client):
    known_device("dev-1", attributes={})

    response = put_config(ddi_client, "dev-1", {"data": {"hw_model": "imx8", "hw_revision": "b"}})

    assert response.status_code == 200
    device = Device.objects.select_related("hardware").get(controller_id="dev-1")
    assert device.hardware is not None
    assert (device.hardware.model, device.hardware.revision) == ("imx8", "b")


def test_hardware_revision_defaults_to_default(ddi_client):
    known_device("dev-1", attributes={})

    response = put_config(ddi_client, "dev-1", {"data": {"hw_boardname": "rpi4"}})

    assert response.status_code == 200
    device = Device.objects.select_related("hardware").get(controller_id="dev-1")
    assert device.hardware is not None
    assert (device.hardware.model, device.hardware.revision) == ("rpi4", "default")
    assert Hardware.objects.filter(model="rpi4").count() == 1


def test_the_reported_sw_version_is_stored_on_the_device(ddi_client):
    known_device("dev-1", attributes={}, sw_version="1.0.0")

    response = put_config(ddi_client, "dev-1", {"data": {"sw_version": "1.2.3"}})

    assert response.status_code == 200
    device = Device.objects.get(controller_id="dev-1")
    assert device.sw_version == "1.2.3"
    assert device.attributes == {"sw_version": "1.2.3"}


# --- what real clients send ----------------------------------------------------------------


def test_swupdate_legacy_config_data_body_is_accepted(ddi_client):
    known_device("dev-1", attributes={"old": "x"})
    body = {
        "id": "",
        "time": "20240101T000000",
        "status": {"result": {"finished": "success"}, "execution": "closed", "details": [""]},
        "data": {"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"},
    }

    response = put_config(ddi_client, "dev-1", body, HTTP_EXPECT="100-continue")

    assert response.status_code == 200
    assert response.content == b""
    device = Device.objects.get(controller_id="dev-1")
    assert device.attributes == {
        "old": "x",
        "hw_boardname": "board",
        "hw_revision": "1",
        "sw_version": "1.0.0",
    }
    assert device.sw_version == "1.0.0"


def test_swupdate_replace_mode_body_is_accepted(ddi_client):
    known_device("dev-1", attributes={"old": "x"})
    body = {
        "id": "",
        "time": "20240101T000000",
        "mode": "replace",
        "status": {"result": {"finished": "success"}, "execution": "closed", "details": [""]},
        "data": {"sw_version": "1.0.0"},
    }

    response = put_config(ddi_client, "dev-1", body)

    assert response.status_code == 200
    assert _attributes("dev-1") == {"sw_version": "1.0.0"}


def test_rauc_config_data_body_is_accepted(ddi_client):
    known_device("dev-1", attributes={})
    body = {
        "time": "20240101T120000",
        "status": {"result": {"finished": "success"}, "execution": "closed"},
        "data": {"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0", "serial": "42"},
    }

    response = put_config(ddi_client, "dev-1", body, content_type="application/json;charset=UTF-8")

    assert response.status_code == 200
    assert response.content == b""
    assert _attributes("dev-1") == {
        "hw_boardname": "board",
        "hw_revision": "1",
        "sw_version": "1.0.0",
        "serial": "42",
    }


def test_zephyr_config_data_body_is_accepted(ddi_client):
    known_device("dev-1", attributes={})
    body = {
        "mode": "merge",
        "data": {"VIN": "JH4TB2H26CC000000", "hwRevision": "3"},
        "id": "",
        "time": "",
        "status": {"execution": "closed", "result": {"finished": "success"}},
    }

    response = put_config(ddi_client, "dev-1", body)

    assert response.status_code == 200
    assert _attributes("dev-1") == {"VIN": "JH4TB2H26CC000000", "hwRevision": "3"}


def test_config_data_that_is_not_utf8_is_refused_with_400(ddi_client):
    known_device("dev-1", attributes={"a": "1"})

    response = put_config(ddi_client, "dev-1", b"\xff\xfe{")

    assert response.status_code == 400
    assert _attributes("dev-1") == {"a": "1"}


def test_a_nested_attribute_value_is_refused_with_400(ddi_client):
    known_device("dev-1", attributes={"a": "1"})

    response = put_config(ddi_client, "dev-1", {"data": {"b": {"nested": "x"}}})

    assert response.status_code == 400
    assert _attributes("dev-1") == {"a": "1"}


def test_an_invalid_attribute_carries_hawkbits_attribute_error_code(ddi_client):
    known_device("dev-1")

    response = put_config(ddi_client, "dev-1", {"data": {"k" * 129: "v"}})

    assert response.status_code == 400
    assert response.json()["errorCode"] == "hawkbit.server.error.repo.invalidTargetAttributes"
    assert response.json()["exceptionClass"].endswith("InvalidTargetAttributeException")


def test_other_bad_config_data_is_a_body_not_readable_error(ddi_client):
    known_device("dev-1")

    response = put_config(ddi_client, "dev-1", {"mode": "bogus", "data": {"attribute": "x"}})

    assert response.status_code == 400
    assert response.json()["errorCode"] == "hawkbit.server.error.rest.body.notReadable"
