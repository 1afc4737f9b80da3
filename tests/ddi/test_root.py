"""The root resource a device polls: content negotiation, caching, links, registration."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action
from tests.ddi.helpers import (
    abs_url,
    ddi_url,
    deployment_href_matches,
    etag_of,
    feedback_body,
    install,
    known_device,
    links_of,
    media_type,
    poll,
    post_feedback,
    put_config,
    start_action,
)
from tests.factories import make_action, make_device, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db

PLAIN_ROOT = {"config": {"polling": {"sleep": "00:01:00"}}}


# --- content negotiation -------------------------------------------------------------------


def test_root_without_accept_header_answers_hal_json(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1"))

    assert response.status_code == 200
    assert media_type(response) == "application/hal+json"
    assert response.json() == PLAIN_ROOT


def test_root_with_accept_json_answers_json_with_the_same_body(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1"), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert response.json() == PLAIN_ROOT


def test_root_with_accept_hal_json_answers_hal_json(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1"), HTTP_ACCEPT="application/hal+json")

    assert response.status_code == 200
    assert media_type(response) == "application/hal+json"
    assert response.json() == PLAIN_ROOT


def test_root_accepts_json_with_a_charset_parameter_as_rauc_sends_it(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1"), HTTP_ACCEPT="application/json;charset=UTF-8")

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert response.json() == PLAIN_ROOT


def test_root_accepts_a_wildcard_accept_header(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1"), HTTP_ACCEPT="*/*")

    assert response.status_code == 200
    assert response.json() == PLAIN_ROOT


def test_root_refuses_an_unsupported_accept_header_with_406(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1"), HTTP_ACCEPT="application/atom+xml")

    assert response.status_code == 406


def test_root_response_announces_its_content_length(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1"), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(response.content))


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_root_refuses_writes_with_405(ddi_client, method):
    known_device("dev-1")

    response = getattr(ddi_client, method)(ddi_url("dev-1"), data="{}", content_type="application/json")

    assert response.status_code == 405


# --- ETag ----------------------------------------------------------------------------------


def test_root_etag_is_the_quoted_md5_of_the_body(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1"))

    assert response.status_code == 200
    assert response["ETag"] == etag_of(response.content)


def test_root_answers_304_with_an_empty_body_to_a_matching_if_none_match(ddi_client):
    known_device("dev-1")
    first = ddi_client.get(ddi_url("dev-1"))

    second = ddi_client.get(ddi_url("dev-1"), HTTP_IF_NONE_MATCH=first["ETag"])

    assert second.status_code == 304
    assert second.content == b""


def test_root_answers_200_to_a_stale_if_none_match(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1"), HTTP_IF_NONE_MATCH='"0123456789abcdef0123456789abcdef"')

    assert response.status_code == 200
    assert response.json() == PLAIN_ROOT


def test_root_etag_changes_when_an_assignment_adds_deployment_base(ddi_client):
    device = known_device("dev-1")
    before = ddi_client.get(ddi_url("dev-1"))
    action = start_action(device, make_software("2.0.0"))

    after = ddi_client.get(ddi_url("dev-1"), HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    links = after.json()["_links"]
    assert set(links) == {"deploymentBase"}
    assert deployment_href_matches(links["deploymentBase"]["href"], "dev-1", action.pk)


def test_root_etag_changes_when_closing_swaps_deployment_base_for_installed_base(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))
    before = ddi_client.get(ddi_url("dev-1"))
    assert (
        post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success")).status_code == 200
    )

    after = ddi_client.get(ddi_url("dev-1"), HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert after.json() == {
        "config": {"polling": {"sleep": "00:01:00"}},
        "_links": {
            "installedBase": {"href": abs_url("dev-1", "installedBase", action.pk)},
            "configData": {"href": abs_url("dev-1", "configData")},
        },
    }


def test_root_shows_installed_base_and_deployment_base_together_for_a_new_assignment(ddi_client):
    device = known_device("dev-1")
    installed = install(device, make_software("1.0.0"))
    action = start_action(device, make_software("2.0.0"))

    links = links_of(ddi_client, "dev-1")

    assert set(links) == {"deploymentBase", "installedBase"}
    assert deployment_href_matches(links["deploymentBase"]["href"], "dev-1", action.pk)
    assert links["installedBase"] == {"href": abs_url("dev-1", "installedBase", installed.pk)}


# --- sleep ---------------------------------------------------------------------------------


def test_sleep_is_the_configured_poll_time(ddi_client, settings):
    settings.GOOSEBIT_POLL_TIME = "00:05:30"
    known_device("dev-1")

    assert poll(ddi_client, "dev-1") == {"config": {"polling": {"sleep": "00:05:30"}}}


def test_sleep_is_the_registration_poll_time_until_the_device_sends_config_data(ddi_client, settings):
    settings.GOOSEBIT_POLL_TIME = "00:05:30"
    settings.GOOSEBIT_POLL_TIME_REGISTRATION = "00:00:15"

    assert poll(ddi_client, "new-dev")["config"] == {"polling": {"sleep": "00:00:15"}}
    assert put_config(ddi_client, "new-dev", {"data": {"hw_boardname": "board"}}).status_code == 200
    assert poll(ddi_client, "new-dev") == {"config": {"polling": {"sleep": "00:05:30"}}}


def test_sleep_stays_normal_when_attributes_are_requested_again_after_an_update(ddi_client):
    device = known_device("dev-1", request_attributes=True)

    body = poll(ddi_client, "dev-1")

    assert body == {
        "config": {"polling": {"sleep": "00:01:00"}},
        "_links": {"configData": {"href": abs_url("dev-1", "configData")}},
    }
    device.refresh_from_db()
    assert device.request_attributes is True


# --- registration --------------------------------------------------------------------------


def test_polling_an_unknown_device_registers_it(ddi_client):
    body = poll(ddi_client, "brand-new")

    assert body == {
        "config": {"polling": {"sleep": "00:00:10"}},
        "_links": {"configData": {"href": abs_url("brand-new", "configData")}},
    }
    device = Device.objects.get(controller_id="brand-new")
    assert device.state == Device.State.REGISTERED
    assert device.request_attributes is True
    assert device.last_seen is not None


def test_first_poll_of_a_precommissioned_device_moves_it_from_unknown_to_registered(ddi_client):
    device = make_device("pre-1", state=Device.State.UNKNOWN)

    poll(ddi_client, "pre-1")

    device.refresh_from_db()
    assert device.state == Device.State.REGISTERED


def test_a_controller_id_longer_than_256_characters_is_refused_with_400(ddi_client):
    response = ddi_client.get(ddi_url("x" * 257))

    assert response.status_code == 400
    assert not Device.objects.exists()


def test_a_controller_id_of_exactly_256_characters_is_accepted(ddi_client):
    poll(ddi_client, "x" * 256)

    assert Device.objects.filter(controller_id="x" * 256).exists()


# --- tenants -------------------------------------------------------------------------------


def test_an_unknown_tenant_answers_404_and_registers_nothing(ddi_client):
    response = ddi_client.get(ddi_url("dev-1", tenant="OTHER"))

    assert response.status_code == 404
    assert not Device.objects.exists()


def test_the_default_tenant_is_matched_case_insensitively(ddi_client):
    known_device("dev-1", request_attributes=True)

    body = poll(ddi_client, "dev-1", tenant="default")

    assert body["_links"] == {"configData": {"href": abs_url("dev-1", "configData", tenant="default")}}


def test_links_use_the_tenant_exactly_as_the_device_wrote_it(ddi_client, settings):
    settings.GOOSEBIT_TENANTS = ["A", "B"]
    device = known_device("dev-1", request_attributes=True)
    action = start_action(device, make_software("2.0.0"))

    body = poll(ddi_client, "dev-1", tenant="b")

    links = body["_links"]
    assert links["configData"] == {"href": "http://testserver/b/controller/v1/dev-1/configData"}
    assert deployment_href_matches(links["deploymentBase"]["href"], "dev-1", action.pk, tenant="b")


def test_every_configured_tenant_is_served_and_others_are_not(ddi_client, settings):
    settings.GOOSEBIT_TENANTS = ["A", "B"]
    known_device("dev-1")

    assert ddi_client.get(ddi_url("dev-1", tenant="A")).status_code == 200
    assert ddi_client.get(ddi_url("dev-1", tenant="B")).status_code == 200
    assert ddi_client.get(ddi_url("dev-1", tenant="DEFAULT")).status_code == 404


# --- last seen and address -----------------------------------------------------------------


def test_a_poll_records_last_seen_and_the_client_address(ddi_client, settings):
    settings.GOOSEBIT_TRACK_DEVICE_IP = True
    device = known_device("dev-1")
    started = timezone.now()

    poll(ddi_client, "dev-1", REMOTE_ADDR="192.0.2.7")

    device.refresh_from_db()
    assert device.last_seen is not None
    assert device.last_seen >= started
    assert device.last_ip == "192.0.2.7"


def test_the_client_address_is_not_stored_when_ip_tracking_is_off(ddi_client, settings):
    settings.GOOSEBIT_TRACK_DEVICE_IP = False
    device = known_device("dev-1")

    poll(ddi_client, "dev-1", REMOTE_ADDR="192.0.2.7")

    device.refresh_from_db()
    assert device.last_seen is not None
    assert device.last_ip is None


def test_last_seen_is_not_rewritten_within_the_last_seen_interval(ddi_client, settings):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 30
    recently = timezone.now() - timedelta(seconds=5)
    device = known_device("dev-1", last_seen=recently, last_ip="127.0.0.1")

    poll(ddi_client, "dev-1")

    device.refresh_from_db()
    assert device.last_seen == recently


def test_last_seen_is_rewritten_once_the_last_seen_interval_has_passed(ddi_client, settings):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 30
    long_ago = timezone.now() - timedelta(seconds=120)
    device = known_device("dev-1", last_seen=long_ago, last_ip="127.0.0.1")

    poll(ddi_client, "dev-1")

    device.refresh_from_db()
    assert device.last_seen is not None
    assert device.last_seen > long_ago


# --- configData link lifecycle -------------------------------------------------------------


def test_a_fresh_device_is_offered_the_config_data_link(ddi_client):
    make_device("fresh", request_attributes=True)

    assert links_of(ddi_client, "fresh") == {"configData": {"href": abs_url("fresh", "configData")}}


def test_the_config_data_link_disappears_after_the_device_sends_config_data(ddi_client):
    make_device("fresh", request_attributes=True)

    assert put_config(ddi_client, "fresh", {"data": {"hw_boardname": "board"}}).status_code == 200

    assert poll(ddi_client, "fresh") == PLAIN_ROOT


def test_the_config_data_link_is_not_offered_again_after_a_failed_deployment(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)

    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "failure"))

    assert response.status_code == 200
    assert "configData" not in links_of(ddi_client, "dev-1")
    device.refresh_from_db()
    assert device.request_attributes is False


def test_the_config_data_link_is_offered_again_after_a_successful_deployment(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)

    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success"))

    assert response.status_code == 200
    assert links_of(ddi_client, "dev-1")["configData"] == {"href": abs_url("dev-1", "configData")}


# --- the hot path --------------------------------------------------------------------------


def _up_to_date_device_in_rollout_mode():
    software = make_software("1.0.0")
    make_rollout(software)
    device = known_device("steady", sw_version="1.0.0", state=Device.State.FINISHED)
    action = make_action(device, software, status=Action.Status.FINISHED, reason=Action.Reason.ROLLOUT)
    device.installed_action = action
    device.save()
    return device


# A steady poll reads the device (its target comes from the cache) and writes nothing.
STEADY_POLL_QUERIES = 1


def _steady_poll(ddi_client, django_assert_num_queries, device: Device) -> None:
    with django_assert_num_queries(STEADY_POLL_QUERIES):
        response = ddi_client.get(ddi_url("steady"), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["_links"] == {
        "installedBase": {"href": abs_url("steady", "installedBase", device.installed_action_id)}
    }


def _fill_the_database():
    other_hardware = make_hardware("other-board", "7")
    for index in range(50):
        software = make_software(f"3.{index}.0", compatibility=[other_hardware])
        make_rollout(software, feed=f"feed-{index}")
        device = make_device(f"filler-{index}", hardware=other_hardware, sw_version="0.1")
        make_action(device, software, status=Action.Status.PENDING, reason=Action.Reason.ROLLOUT)


def test_a_steady_poll_costs_a_small_fixed_number_of_queries(ddi_client, settings, django_assert_num_queries):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 300
    device = _up_to_date_device_in_rollout_mode()
    poll(ddi_client, "steady")  # writes last_seen; the next polls within the interval must not

    _steady_poll(ddi_client, django_assert_num_queries, device)


def test_a_steady_poll_costs_the_same_queries_however_big_the_fleet(
    ddi_client, settings, django_assert_num_queries
):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 300
    device = _up_to_date_device_in_rollout_mode()
    poll(ddi_client, "steady")

    _fill_the_database()
    poll(ddi_client, "steady")  # the new rows invalidated the target cache: warm it again

    _steady_poll(ddi_client, django_assert_num_queries, device)


# --- odd requests --------------------------------------------------------------------------


def test_links_are_built_from_the_host_the_device_used(ddi_client):
    known_device("dev-1", request_attributes=True)

    body = poll(ddi_client, "dev-1", HTTP_HOST="updates.example.com:8443")

    assert body["_links"] == {
        "configData": {"href": "http://updates.example.com:8443/DEFAULT/controller/v1/dev-1/configData"}
    }


def test_a_controller_id_with_a_space_is_registered_decoded_and_linked_encoded(ddi_client):
    response = ddi_client.get("/DEFAULT/controller/v1/my%20device")

    assert response.status_code == 200
    assert response.json()["_links"] == {
        "configData": {"href": "http://testserver/DEFAULT/controller/v1/my%20device/configData"}
    }
    assert Device.objects.filter(controller_id="my device").exists()


def test_an_empty_controller_id_answers_404(ddi_client):
    assert ddi_client.get("/DEFAULT/controller/v1/").status_code == 404
    assert not Device.objects.exists()


def test_a_controller_id_with_a_nul_character_is_refused_without_a_server_error(ddi_client):
    response = ddi_client.get("/DEFAULT/controller/v1/dev%00one")

    assert response.status_code in (400, 404)
    assert not Device.objects.exists()


def test_a_huge_action_id_answers_404(ddi_client):
    known_device("dev-1")

    assert ddi_client.get(ddi_url("dev-1", "deploymentBase", 10**30)).status_code == 404
    assert ddi_client.get(ddi_url("dev-1", "installedBase", 10**30)).status_code == 404
    assert ddi_client.get(ddi_url("dev-1", "cancelAction", 10**30)).status_code == 404


def test_a_huge_software_id_answers_404(ddi_client):
    known_device("dev-1")

    assert ddi_client.get(ddi_url("dev-1", "softwaremodules", 10**30, "artifacts")).status_code == 404
    assert (
        ddi_client.get(ddi_url("dev-1", "softwaremodules", 10**30, "artifacts", "a.swu")).status_code == 404
    )
