"""installedBase: what the device runs now, as the newest finished action describes it."""

from __future__ import annotations

import pytest

from rollouts.models import Action, ActionStatus
from tests.ddi.helpers import (
    abs_url,
    ddi_url,
    deployment_json,
    etag_of,
    feedback_body,
    install,
    known_device,
    links_of,
    media_type,
    post_feedback,
    send_json,
    start_action,
)
from tests.factories import make_action, make_software

pytestmark = pytest.mark.django_db


def test_root_links_installed_base_after_a_successful_deployment(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success"))

    links = links_of(ddi_client, "dev-1")

    assert links["installedBase"] == {"href": abs_url("dev-1", "installedBase", action.pk)}
    assert "deploymentBase" not in links


def test_installed_base_has_the_same_shape_as_deployment_base(ddi_client):
    device = known_device("dev-1")
    action = install(device, make_software("1.0.0", filename="image.swu"))

    response = ddi_client.get(ddi_url("dev-1", "installedBase", action.pk), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert response["ETag"] == etag_of(response.content)
    assert response.json() == deployment_json(action)


def test_installed_base_links_the_newest_finished_action_of_the_installed_software(ddi_client):
    device = known_device("dev-1")
    old_software = make_software("1.0.0")
    make_action(device, old_software, status=Action.Status.FINISHED, reason=Action.Reason.ASSIGNED)
    software = make_software("2.0.0")
    make_action(device, software, status=Action.Status.FINISHED, reason=Action.Reason.ASSIGNED)
    newest = install(device, software)

    links = links_of(ddi_client, "dev-1")

    assert links == {"installedBase": {"href": abs_url("dev-1", "installedBase", newest.pk)}}


def test_a_later_canceled_action_for_the_same_software_does_not_replace_installed_base(ddi_client):
    device = known_device("dev-1")
    software = make_software("1.0.0")
    installed = install(device, software)
    make_action(device, software, status=Action.Status.CANCELED, reason=Action.Reason.FORCED)

    assert links_of(ddi_client, "dev-1") == {
        "installedBase": {"href": abs_url("dev-1", "installedBase", installed.pk)}
    }


def test_a_failed_action_is_never_linked_as_installed_base(ddi_client):
    device = known_device("dev-1")
    installed = install(device, make_software("1.0.0"))
    failed = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)
    post_feedback(ddi_client, "dev-1", failed.pk, feedback_body("closed", "failure"))

    links = links_of(ddi_client, "dev-1")

    assert links.get("installedBase") == {"href": abs_url("dev-1", "installedBase", installed.pk)}


def test_a_device_without_a_finished_action_has_no_installed_base_link(ddi_client):
    device = known_device("dev-1")
    failed = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)
    post_feedback(ddi_client, "dev-1", failed.pk, feedback_body("closed", "failure"))

    assert "installedBase" not in links_of(ddi_client, "dev-1")


@pytest.mark.parametrize(
    "status",
    [
        Action.Status.PENDING,
        Action.Status.RUNNING,
        Action.Status.CANCELING,
        Action.Status.CANCELED,
        Action.Status.ERROR,
    ],
)
def test_installed_base_of_an_action_that_did_not_finish_answers_404(ddi_client, status):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=status)

    response = ddi_client.get(ddi_url("dev-1", "installedBase", action.pk))

    assert response.status_code == 404


def test_installed_base_of_an_unknown_action_answers_404(ddi_client):
    known_device("dev-1")

    assert ddi_client.get(ddi_url("dev-1", "installedBase", 999999)).status_code == 404


def test_installed_base_of_another_devices_action_answers_404(ddi_client):
    known_device("dev-1")
    other = install(known_device("dev-2"), make_software("1.0.0"))

    assert ddi_client.get(ddi_url("dev-1", "installedBase", other.pk)).status_code == 404


def test_installed_base_for_an_unknown_device_answers_404(ddi_client):
    action = install(known_device("dev-1"), make_software("1.0.0"))

    assert ddi_client.get(ddi_url("nobody", "installedBase", action.pk)).status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_installed_base_refuses_writes_with_405(ddi_client, method):
    action = install(known_device("dev-1"), make_software("1.0.0"))

    response = send_json(ddi_client, method, ddi_url("dev-1", "installedBase", action.pk), {})

    assert response.status_code == 405


def test_installed_base_refuses_an_unsupported_accept_with_406(ddi_client):
    action = install(known_device("dev-1"), make_software("1.0.0"))

    response = ddi_client.get(
        ddi_url("dev-1", "installedBase", action.pk), HTTP_ACCEPT="application/atom+xml"
    )

    assert response.status_code == 406


# --- actionHistory -------------------------------------------------------------------------


@pytest.fixture
def finished_with_history(ddi_client):
    device = known_device("dev-1")
    action = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)
    for execution, finished, text in [
        ("proceeding", "none", "Downloading"),
        ("proceeding", "none", "Installing"),
        ("closed", "success", "Installed"),
    ]:
        assert (
            post_feedback(
                ddi_client, "dev-1", action.pk, feedback_body(execution, finished, [text])
            ).status_code
            == 200
        )
    ActionStatus.objects.create(
        action=action, source="server", execution="download", details=["Update Server: x"]
    )
    return action


def test_installed_base_has_no_action_history_by_default(ddi_client, finished_with_history):
    response = ddi_client.get(ddi_url("dev-1", "installedBase", finished_with_history.pk))

    assert response.status_code == 200
    assert response.json() == deployment_json(finished_with_history)


def test_installed_base_returns_the_n_newest_device_messages(ddi_client, finished_with_history):
    response = ddi_client.get(
        ddi_url("dev-1", "installedBase", finished_with_history.pk) + "?actionHistory=2"
    )

    assert response.status_code == 200
    assert response.json() == deployment_json(
        finished_with_history, history={"status": "FINISHED", "messages": ["Installed", "Installing"]}
    )


def test_installed_base_returns_all_device_messages_for_a_negative_count(ddi_client, finished_with_history):
    response = ddi_client.get(
        ddi_url("dev-1", "installedBase", finished_with_history.pk) + "?actionHistory=-1"
    )

    assert response.status_code == 200
    assert response.json() == deployment_json(
        finished_with_history,
        history={"status": "FINISHED", "messages": ["Installed", "Installing", "Downloading"]},
    )
