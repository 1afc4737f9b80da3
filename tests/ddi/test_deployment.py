"""GET deploymentBase: what the device is told to install."""

from __future__ import annotations

import pytest

from rollouts.models import Action, ActionStatus
from tests.ddi.helpers import (
    abs_url,
    ddi_url,
    deployment_href_matches,
    deployment_json,
    etag_of,
    feedback_body,
    known_device,
    links_of,
    media_type,
    post_feedback,
    send_json,
    start_action,
)
from tests.factories import make_software

pytestmark = pytest.mark.django_db


def _retrieved(action: Action):
    return action.statuses.filter(
        execution=ActionStatus.Execution.RETRIEVED, source=ActionStatus.Source.SERVER
    )


def _device_message(action: Action, text: str, execution: str = "proceeding") -> None:
    ActionStatus.objects.create(
        action=action, source=ActionStatus.Source.DEVICE, execution=execution, details=[text]
    )


def test_deployment_base_describes_the_action_exactly(ddi_client):
    device = known_device("dev-1")
    software = make_software("2.0.0", content=b"0123456789" * 10, filename="image-2.0.0.swu")
    action = start_action(device, software)

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    href = f"http://testserver/DEFAULT/controller/v1/dev-1/softwaremodules/{software.package.module_id}/artifacts/image-2.0.0.swu"
    assert response.json() == {
        "id": str(action.pk),
        "deployment": {
            "download": "forced",
            "update": "forced",
            "chunks": [
                {
                    "part": "os",
                    "version": "2.0.0",
                    "name": "image-2.0.0.swu",
                    "artifacts": [
                        {
                            "filename": "image-2.0.0.swu",
                            "hashes": {
                                "sha1": software.package.sha1,
                                "md5": software.package.md5,
                                "sha256": software.package.sha256,
                            },
                            "size": 100,
                            "_links": {
                                "download": {"href": href},
                                "download-http": {"href": href},
                                "md5sum": {"href": href + ".MD5SUM"},
                                "md5sum-http": {"href": href + ".MD5SUM"},
                            },
                        }
                    ],
                }
            ],
        },
    }


def test_deployment_base_without_accept_answers_hal_json_with_etag_and_length(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))

    assert response.status_code == 200
    assert media_type(response) == "application/hal+json"
    assert response["ETag"] == etag_of(response.content)
    assert response["Content-Length"] == str(len(response.content))
    assert response.json() == deployment_json(action)


def test_root_links_deployment_base_with_a_c_query_parameter(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))

    links = links_of(ddi_client, "dev-1")

    assert set(links) == {"deploymentBase"}
    assert deployment_href_matches(links["deploymentBase"]["href"], "dev-1", action.pk)


def test_the_deployment_base_href_from_the_root_can_be_followed_as_is(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))
    href = links_of(ddi_client, "dev-1")["deploymentBase"]["href"]

    response = ddi_client.get(href.removeprefix("http://testserver"))

    assert response.status_code == 200
    assert response.json() == deployment_json(action)


def test_fetching_deployment_base_records_retrieved_once(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))

    ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))
    ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))

    assert _retrieved(action).count() == 1


def test_fetching_deployment_base_after_feedback_records_retrieved_again(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))
    ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["step"]))

    ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))

    assert _retrieved(action).count() == 2


# --- actionHistory -------------------------------------------------------------------------


@pytest.fixture
def action_with_history(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))
    for text in ("first", "second", "third"):
        response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", [text]))
        assert response.status_code == 200
    ActionStatus.objects.create(
        action=action,
        source=ActionStatus.Source.SERVER,
        execution=ActionStatus.Execution.RETRIEVED,
        details=["Update Server: a note of the server"],
    )
    return action


def test_action_history_2_returns_the_two_newest_device_messages(ddi_client, action_with_history):
    action = action_with_history

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk) + "?actionHistory=2")

    assert response.status_code == 200
    assert response.json() == deployment_json(
        action, history={"status": "RUNNING", "messages": ["third", "second"]}
    )


@pytest.mark.parametrize("query", ["", "?actionHistory=0", "?actionHistory", "?c=123"])
def test_no_action_history_without_a_positive_or_negative_count(ddi_client, action_with_history, query):
    action = action_with_history

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk) + query)

    assert response.status_code == 200
    assert response.json() == deployment_json(action)


def test_a_negative_action_history_returns_every_device_message_newest_first(ddi_client, action_with_history):
    action = action_with_history

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk) + "?c=5&actionHistory=-1")

    assert response.status_code == 200
    assert response.json() == deployment_json(
        action, history={"status": "RUNNING", "messages": ["third", "second", "first"]}
    )


def test_action_history_is_capped_at_100_messages(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)
    for index in range(120):
        _device_message(action, f"line {index}")

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk) + "?actionHistory=-1")

    assert response.status_code == 200
    assert response.json()["actionHistory"] == {
        "status": "RUNNING",
        "messages": [f"line {index}" for index in range(119, 19, -1)],
    }


def test_action_history_excludes_server_messages(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)
    _device_message(action, "from the device")
    ActionStatus.objects.create(
        action=action, source=ActionStatus.Source.SERVER, execution="retrieved", details=["from the server"]
    )

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk) + "?actionHistory=10")

    assert response.status_code == 200
    assert response.json()["actionHistory"] == {"status": "RUNNING", "messages": ["from the device"]}


# --- closed actions ------------------------------------------------------------------------


def test_deployment_base_still_answers_200_after_the_action_finished(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success", ["Update Installed."]))

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk) + "?actionHistory=1")

    assert response.status_code == 200
    assert response.json() == deployment_json(
        action, history={"status": "FINISHED", "messages": ["Update Installed."]}
    )


def test_deployment_base_still_answers_200_after_the_action_failed(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "failure", ["Update Failed."]))

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk) + "?actionHistory=1")

    assert response.status_code == 200
    assert response.json() == deployment_json(
        action, history={"status": "ERROR", "messages": ["Update Failed."]}
    )


# --- refusals ------------------------------------------------------------------------------


def test_deployment_base_of_an_unknown_action_answers_404(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", 999999))

    assert response.status_code == 404


def test_deployment_base_of_a_non_numeric_action_id_answers_404(ddi_client):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", "abc"))

    assert response.status_code == 404


def test_deployment_base_of_another_devices_action_answers_404(ddi_client):
    known_device("dev-1")
    other = start_action(known_device("dev-2"), make_software("2.0.0"))

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", other.pk))

    assert response.status_code == 404
    assert not _retrieved(other).exists()


def test_deployment_base_for_an_unknown_device_answers_404(ddi_client):
    action = start_action(known_device("dev-1"), make_software("2.0.0"))

    response = ddi_client.get(ddi_url("nobody", "deploymentBase", action.pk))

    assert response.status_code == 404


@pytest.mark.parametrize("status", [Action.Status.CANCELING, Action.Status.CANCELED])
def test_deployment_base_of_a_canceling_or_canceled_action_answers_404(ddi_client, status):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=status)

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))

    assert response.status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_deployment_base_refuses_writes_with_405(ddi_client, method):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))

    response = send_json(ddi_client, method, ddi_url("dev-1", "deploymentBase", action.pk), {})

    assert response.status_code == 405


def test_deployment_base_refuses_an_unsupported_accept_with_406(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))

    response = ddi_client.get(
        ddi_url("dev-1", "deploymentBase", action.pk), HTTP_ACCEPT="application/atom+xml"
    )

    assert response.status_code == 406


def test_deployment_base_answers_304_to_a_matching_if_none_match(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))
    first = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))

    second = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk), HTTP_IF_NONE_MATCH=first["ETag"])

    assert second.status_code == 304
    assert second.content == b""


def test_the_artifact_hrefs_use_the_tenant_the_device_used(ddi_client, settings):
    settings.GOOSEBIT_TENANTS = ["A", "B"]
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk, tenant="b"))

    assert response.status_code == 200
    assert response.json() == deployment_json(action, tenant="b")
    artifact_href = response.json()["deployment"]["chunks"][0]["artifacts"][0]["_links"]["download"]["href"]
    assert artifact_href.startswith(abs_url("dev-1", tenant="b") + "/softwaremodules/")


def test_the_chunk_part_follows_the_configured_module_type_for_zephyr(ddi_client, settings):
    settings.GOOSEBIT_DDI_CHUNK_PART = "bApp"
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"))

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))

    assert response.status_code == 200
    expected = deployment_json(action)
    expected["deployment"]["chunks"][0]["part"] = "bApp"
    assert response.json() == expected
