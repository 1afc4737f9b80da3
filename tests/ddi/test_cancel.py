"""cancelAction: an operator (or a new target) stops an update the device already started."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts.models import Action, ActionStatus
from tests.ddi.helpers import (
    abs_url,
    ddi_url,
    deployment_href_matches,
    deployment_json,
    etag_of,
    feedback_body,
    install,
    known_device,
    links_of,
    media_type,
    poll,
    post_feedback,
    send_json,
    start_action,
)
from tests.factories import make_software

pytestmark = pytest.mark.django_db


@pytest.fixture
def device():
    return known_device("dev-1")


@pytest.fixture
def running(device):
    return start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)


@pytest.fixture
def canceling(running, rollout_services):
    rollout_services.action_cancel(action=running)
    running.refresh_from_db()
    assert running.status == Action.Status.CANCELING
    return running


def _cancel_feedback(client, action_id, execution, finished, details=None, **headers):
    return post_feedback(
        client,
        "dev-1",
        action_id,
        feedback_body(execution, finished, details),
        channel="cancelAction",
        **headers,
    )


def _reload(*objects):
    for obj in objects:
        obj.refresh_from_db()


# --- the link and the resource -------------------------------------------------------------


def test_an_operator_cancel_of_a_running_action_shows_the_cancel_link_without_a_query(ddi_client, canceling):
    body = poll(ddi_client, "dev-1")

    assert body == {
        "config": {"polling": {"sleep": "00:01:00"}},
        "_links": {"cancelAction": {"href": abs_url("dev-1", "cancelAction", canceling.pk)}},
    }


def test_cancel_action_names_the_action_to_stop_with_string_ids(ddi_client, canceling):
    response = ddi_client.get(ddi_url("dev-1", "cancelAction", canceling.pk), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert response.json() == {"id": str(canceling.pk), "cancelAction": {"stopId": str(canceling.pk)}}
    assert response["ETag"] == etag_of(response.content)
    assert response["Content-Length"] == str(len(response.content))


def test_the_cancel_href_from_the_root_can_be_followed_as_is(ddi_client, canceling):
    href = links_of(ddi_client, "dev-1")["cancelAction"]["href"]

    response = ddi_client.get(href.removeprefix("http://testserver"))

    assert response.status_code == 200
    assert response.json() == {"id": str(canceling.pk), "cancelAction": {"stopId": str(canceling.pk)}}


def test_cancel_action_of_a_running_action_answers_404(ddi_client, running):
    response = ddi_client.get(ddi_url("dev-1", "cancelAction", running.pk))

    assert response.status_code == 404


def test_cancel_action_of_an_unknown_action_answers_404(ddi_client, device):
    response = ddi_client.get(ddi_url("dev-1", "cancelAction", 999999))

    assert response.status_code == 404


def test_cancel_action_for_an_unknown_device_answers_404(ddi_client, canceling):
    response = ddi_client.get(ddi_url("nobody", "cancelAction", canceling.pk))

    assert response.status_code == 404


def test_cancel_action_of_another_devices_action_answers_404(ddi_client, canceling):
    known_device("dev-2")

    response = ddi_client.get(ddi_url("dev-2", "cancelAction", canceling.pk))

    assert response.status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_cancel_action_refuses_writes_with_405(ddi_client, canceling, method):
    response = send_json(ddi_client, method, ddi_url("dev-1", "cancelAction", canceling.pk), {})

    assert response.status_code == 405


def test_cancel_action_refuses_an_unsupported_accept_with_406(ddi_client, canceling):
    response = ddi_client.get(
        ddi_url("dev-1", "cancelAction", canceling.pk), HTTP_ACCEPT="application/atom+xml"
    )

    assert response.status_code == 406


def test_a_canceling_action_is_no_longer_downloadable(ddi_client, canceling):
    software = canceling.software

    response = ddi_client.get(
        ddi_url(
            "dev-1", "softwaremodules", software.package.module_id, "artifacts", software.package.filename
        )
    )

    assert response.status_code == 404


# --- cancel feedback -----------------------------------------------------------------------


@pytest.mark.parametrize("finished", ["success", "none"])
def test_closed_cancel_feedback_cancels_the_action(ddi_client, device, canceling, finished):
    response = _cancel_feedback(ddi_client, canceling.pk, "closed", finished, ["Action canceled."])

    assert response.status_code == 200
    assert response.content == b""
    _reload(canceling, device)
    assert canceling.status == Action.Status.CANCELED
    assert not canceling.is_active
    assert device.state == Device.State.REGISTERED
    status = canceling.statuses.get(source=ActionStatus.Source.DEVICE)
    assert (status.channel, status.execution, status.finished, status.details) == (
        ActionStatus.Channel.CANCEL,
        "closed",
        finished,
        ["Action canceled."],
    )


def test_a_confirmed_cancel_leaves_a_device_that_runs_its_installed_version_finished(
    ddi_client, rollout_services
):
    device = known_device("dev-1")
    install(device, make_software("1.0.0"))
    action = start_action(device, make_software("2.0.0"), status=Action.Status.RUNNING)
    rollout_services.action_cancel(action=action)

    response = _cancel_feedback(ddi_client, action.pk, "closed", "success")

    assert response.status_code == 200
    _reload(device, action)
    assert action.status == Action.Status.CANCELED
    assert device.state == Device.State.FINISHED
    assert device.sw_version == "1.0.0"


def test_the_cancel_link_disappears_once_the_cancel_is_confirmed(ddi_client, device, canceling):
    _cancel_feedback(ddi_client, canceling.pk, "closed", "success")

    assert "cancelAction" not in links_of(ddi_client, "dev-1")


@pytest.mark.parametrize(
    ("execution", "finished"),
    [("rejected", "success"), ("rejected", "none"), ("closed", "failure")],
)
def test_a_refused_cancel_puts_the_action_back_to_running(ddi_client, canceling, execution, finished):
    response = _cancel_feedback(
        ddi_client, canceling.pk, execution, finished, ["installation started already"]
    )

    assert response.status_code == 200
    _reload(canceling)
    assert canceling.status == Action.Status.RUNNING


def test_after_a_rejected_cancel_the_deployment_is_served_again(ddi_client, canceling):
    _cancel_feedback(ddi_client, canceling.pk, "rejected", "success", ["Cancelation impossible."])

    links = links_of(ddi_client, "dev-1")
    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", canceling.pk))

    assert set(links) == {"deploymentBase"}
    assert deployment_href_matches(links["deploymentBase"]["href"], "dev-1", canceling.pk)
    assert response.status_code == 200
    assert response.json() == deployment_json(canceling)


def test_after_a_rejected_cancel_closed_on_deployment_base_installs(ddi_client, device, canceling):
    _cancel_feedback(ddi_client, canceling.pk, "rejected", "success")

    response = post_feedback(ddi_client, "dev-1", canceling.pk, feedback_body("closed", "success"))

    assert response.status_code == 200
    _reload(canceling, device)
    assert canceling.status == Action.Status.FINISHED
    assert device.sw_version == "2.0.0"


@pytest.mark.parametrize("execution", ["canceled", "proceeding", "scheduled", "resumed"])
def test_other_cancel_feedback_is_logged_and_keeps_the_action_canceling(ddi_client, canceling, execution):
    response = _cancel_feedback(ddi_client, canceling.pk, execution, "none", [execution])

    assert response.status_code == 200
    _reload(canceling)
    assert canceling.status == Action.Status.CANCELING
    assert canceling.statuses.filter(source="device", channel="cancel", execution=execution).count() == 1


def test_closed_on_deployment_base_while_canceling_finishes_the_install(ddi_client, device, canceling):
    response = post_feedback(
        ddi_client, "dev-1", canceling.pk, feedback_body("closed", "success", ["Installed."])
    )

    assert response.status_code == 200
    _reload(canceling, device)
    assert canceling.status == Action.Status.FINISHED
    assert device.sw_version == "2.0.0"
    assert device.state == Device.State.FINISHED


def test_cancel_feedback_on_an_active_action_that_is_not_canceling_answers_405(ddi_client, running):
    response = _cancel_feedback(ddi_client, running.pk, "closed", "success")

    assert response.status_code == 405
    _reload(running)
    assert running.status == Action.Status.RUNNING


def test_cancel_feedback_on_a_closed_action_answers_410(ddi_client, canceling):
    _cancel_feedback(ddi_client, canceling.pk, "closed", "success")

    response = _cancel_feedback(ddi_client, canceling.pk, "closed", "success")

    assert response.status_code == 410


def test_cancel_feedback_on_an_unknown_action_answers_404(ddi_client, device):
    response = _cancel_feedback(ddi_client, 999999, "closed", "success")

    assert response.status_code == 404


def test_cancel_feedback_from_an_unknown_device_answers_404(ddi_client, canceling):
    response = post_feedback(
        ddi_client, "nobody", canceling.pk, feedback_body("closed", "success"), channel="cancelAction"
    )

    assert response.status_code == 404
    _reload(canceling)
    assert canceling.status == Action.Status.CANCELING


def test_cancel_feedback_with_an_invalid_execution_is_refused_with_400(ddi_client, canceling):
    response = _cancel_feedback(ddi_client, canceling.pk, "exploded", "none")

    assert response.status_code == 400
    _reload(canceling)
    assert canceling.status == Action.Status.CANCELING


def test_malformed_cancel_feedback_is_refused_with_400(ddi_client, canceling):
    response = post_feedback(ddi_client, "dev-1", canceling.pk, "[{", channel="cancelAction")

    assert response.status_code == 400


def test_cancel_feedback_with_a_wrong_content_type_is_refused_with_415(ddi_client, canceling):
    response = _cancel_feedback(
        ddi_client, canceling.pk, "closed", "success", content_type="application/atom+xml"
    )

    assert response.status_code == 415
    _reload(canceling)
    assert canceling.status == Action.Status.CANCELING


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_the_cancel_feedback_url_refuses_other_methods_with_405(ddi_client, canceling, method):
    response = send_json(
        ddi_client,
        method,
        ddi_url("dev-1", "cancelAction", canceling.pk, "feedback"),
        feedback_body("closed", "success"),
    )

    assert response.status_code == 405


def test_cancel_feedback_beyond_the_status_quota_is_refused_but_closed_still_passes(
    ddi_client, settings, canceling
):
    limit = canceling.statuses.count() + 2
    settings.GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION = limit
    for _ in range(2):
        assert _cancel_feedback(ddi_client, canceling.pk, "proceeding", "none", ["x"]).status_code == 200

    refused = _cancel_feedback(ddi_client, canceling.pk, "proceeding", "none", ["y"])
    closed = _cancel_feedback(ddi_client, canceling.pk, "closed", "success")

    assert refused.status_code == 429
    assert closed.status_code == 200
    _reload(canceling)
    assert canceling.status == Action.Status.CANCELED


# --- operator side -------------------------------------------------------------------------


def test_canceling_a_pending_action_cancels_it_directly_without_asking_the_device(
    ddi_client, device, rollout_services
):
    pending = start_action(device, make_software("2.0.0"))

    rollout_services.action_cancel(action=pending)
    # Pinned: no target left, so the root shows nothing at all for the canceled action.
    rollout_services.device_pin(device=device)

    _reload(pending)
    assert pending.status == Action.Status.CANCELED
    assert poll(ddi_client, "dev-1") == {"config": {"polling": {"sleep": "00:01:00"}}}
    assert ddi_client.get(ddi_url("dev-1", "cancelAction", pending.pk)).status_code == 404


def test_force_quit_closes_a_canceling_action_without_the_device(
    ddi_client, device, canceling, rollout_services
):
    rollout_services.action_force_quit(action=canceling)

    _reload(canceling)
    assert canceling.status == Action.Status.CANCELED
    assert not canceling.is_active
    assert ddi_client.get(ddi_url("dev-1", "cancelAction", canceling.pk)).status_code == 404
    assert _cancel_feedback(ddi_client, canceling.pk, "closed", "success").status_code == 410
