"""hawkBit's user-consent flow over DDI (ddi.md §1.8; checklist §7 "Confirmation").

Given the tenant flow on and an assignment that requires confirmation, the device sees
confirmationBase instead of deploymentBase until it confirms (or its auto-confirm does).
"""

from __future__ import annotations

import json

import pytest

from devices.models import Device
from rollouts.models import Action, ActionStatus
from rollouts.services import (
    AUTO_CONFIRM_FALLBACK_REMARK,
    SERVER_PREFIX,
    action_cancel,
    device_activate_auto_confirm,
    device_assign_software,
)
from tests.ddi.helpers import (
    abs_url,
    ddi_url,
    deployment_json,
    feedback_body,
    known_device,
    links_of,
    post_feedback,
    send_json,
)
from tests.factories import make_rollout, make_software

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow_on(settings):
    settings.GOOSEBIT_CONFIRMATION_FLOW = True


def _waiting(cid: str = "dev-1", **fields) -> tuple[Device, Action]:
    """A device with an assignment waiting for its confirmation."""
    device = known_device(cid, sw_version="1.0", **fields)
    software = make_software("2.0")
    device_assign_software(device=device, software=software)
    action = Action.objects.get(device=device)
    assert action.status == Action.Status.WAIT_FOR_CONFIRMATION
    return device, action


def _confirmation_href(cid: str, action: Action) -> str:
    return abs_url(cid, "confirmationBase", action.pk)


def _post_confirmation(client, cid: str, action_id: int, body, **headers):
    return send_json(client, "post", ddi_url(cid, "confirmationBase", action_id, "feedback"), body, **headers)


def _confirm(client, cid: str, action_id: int, **extra):
    return _post_confirmation(client, cid, action_id, {"confirmation": "confirmed", **extra})


def _deny(client, cid: str, action_id: int, **extra):
    return _post_confirmation(client, cid, action_id, {"confirmation": "denied", **extra})


def _post_empty(client, url: str):
    """A POST without a body (the test client's post() would send an empty multipart form)."""
    return client.generic("POST", url)


def _statuses(action: Action) -> list[tuple[str, str, str, list]]:
    return [
        (s.source, s.channel, s.execution, s.details)
        for s in ActionStatus.objects.filter(action=action).order_by("id")
    ]


# --- the root resource ------------------------------------------------------------------------


def test_the_root_links_confirmation_base_instead_of_deployment_base(ddi_client, flow_on):
    device, action = _waiting()

    links = links_of(ddi_client, "dev-1")

    assert set(links) == {"confirmationBase"}
    href = links["confirmationBase"]["href"]
    assert href.startswith(_confirmation_href("dev-1", action) + "?c=")
    assert href.rsplit("=", 1)[1].lstrip("-").isdigit()
    # The poll is no retrieval: nothing but the waiting note is logged.
    assert [status[2] for status in _statuses(action)] == [ActionStatus.Execution.WAITING]


def test_with_the_flow_off_an_assignment_goes_straight_to_deployment(ddi_client):
    device = known_device("dev-1", sw_version="1.0")
    device_assign_software(device=device, software=make_software("2.0"))
    action = Action.objects.get(device=device)

    links = links_of(ddi_client, "dev-1")

    assert action.status == Action.Status.PENDING
    assert set(links) == {"deploymentBase"}
    assert ddi_client.get(ddi_url("dev-1", "confirmationBase", action.pk)).status_code == 404


def test_an_assignment_that_does_not_require_confirmation_is_not_held(ddi_client, flow_on):
    device = known_device("dev-1", sw_version="1.0")
    device_assign_software(device=device, software=make_software("2.0"), confirmation_required=False)

    action = Action.objects.get(device=device)
    assert action.status == Action.Status.PENDING
    assert action.confirmation_required is False
    assert set(links_of(ddi_client, "dev-1")) == {"deploymentBase"}


def test_a_rollout_that_requires_confirmation_waits_on_the_poll(ddi_client, flow_on):
    software = make_software("2.0")
    make_rollout(software)
    known_device("dev-1", sw_version="1.0")

    links = links_of(ddi_client, "dev-1")

    action = Action.objects.get(device__controller_id="dev-1")
    assert action.status == Action.Status.WAIT_FOR_CONFIRMATION
    assert action.rollout is not None
    assert Device.objects.get(controller_id="dev-1").state == Device.State.WAIT_FOR_CONFIRMATION
    assert set(links) == {"confirmationBase"}


def test_a_rollout_without_confirmation_is_offered_directly(ddi_client, flow_on):
    make_rollout(make_software("2.0"), confirmation_required=False)
    known_device("dev-1", sw_version="1.0")

    assert set(links_of(ddi_client, "dev-1")) == {"deploymentBase"}


def test_a_poll_while_waiting_costs_a_fixed_number_of_queries(
    ddi_client, flow_on, settings, django_assert_num_queries
):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 300
    _waiting()
    links_of(ddi_client, "dev-1")

    # the device, its active action, its target: nothing is written
    with django_assert_num_queries(3):
        response = ddi_client.get(ddi_url("dev-1"))
    assert set(response.json()["_links"]) == {"confirmationBase"}


def test_a_steady_poll_stays_one_query_with_the_flow_on(
    ddi_client, flow_on, settings, django_assert_num_queries
):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 300
    software = make_software("2.0")
    make_rollout(software)
    known_device("steady", sw_version="2.0", update_mode=Device.UpdateMode.ROLLOUT)
    links_of(ddi_client, "steady")  # warms the target cache and writes last_seen

    with django_assert_num_queries(1):
        response = ddi_client.get(ddi_url("steady"))
    assert response.status_code == 200
    assert "_links" not in response.json()


# --- confirmationBase/{actionId} --------------------------------------------------------------


def test_the_waiting_action_is_served_under_confirmation_and_deployment_base_is_404(ddi_client, flow_on):
    device, action = _waiting()

    response = ddi_client.get(ddi_url("dev-1", "confirmationBase", action.pk))
    deployment = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))

    assert response.status_code == 200
    expected = deployment_json(action)
    expected["confirmation"] = expected.pop("deployment")
    assert response.json() == expected
    assert deployment.status_code == 404
    assert deployment.json()["message"] == f"action {action.pk} is waiting for confirmation"
    # Neither request counts as a retrieval.
    assert [status[2] for status in _statuses(action)] == [ActionStatus.Execution.WAITING]


def test_confirmation_base_of_an_action_that_does_not_wait_is_404(ddi_client, flow_on):
    device, action = _waiting()
    _confirm(ddi_client, "dev-1", action.pk)

    response = ddi_client.get(ddi_url("dev-1", "confirmationBase", action.pk))

    assert response.status_code == 404
    assert response.json()["message"] == f"action {action.pk} is not waiting for confirmation"


def test_confirmation_base_of_another_devices_action_is_404(ddi_client, flow_on):
    _, action = _waiting("dev-1")
    known_device("dev-2")

    assert ddi_client.get(ddi_url("dev-2", "confirmationBase", action.pk)).status_code == 404
    assert _confirm(ddi_client, "dev-2", action.pk).status_code == 404
    assert Action.objects.get(pk=action.pk).status == Action.Status.WAIT_FOR_CONFIRMATION


def test_confirmation_base_shows_the_action_history_after_feedback(ddi_client, flow_on):
    _, action = _waiting()
    _deny(ddi_client, "dev-1", action.pk, details=["the user said later"], code=3)

    response = ddi_client.get(ddi_url("dev-1", "confirmationBase", action.pk), {"actionHistory": "5"})

    assert response.json()["actionHistory"] == {
        "status": "WAIT_FOR_CONFIRMATION",
        "messages": ["the user said later"],
    }


# --- feedback ---------------------------------------------------------------------------------


def test_confirmed_lets_the_update_proceed_through_deployment_base(ddi_client, flow_on):
    device, action = _waiting()

    response = _confirm(ddi_client, "dev-1", action.pk, code=10, details=["user pressed OK"])

    assert response.status_code == 200
    assert response.content == b""
    action.refresh_from_db()
    assert action.status == Action.Status.PENDING
    assert Device.objects.get(pk=device.pk).state == Device.State.PENDING
    links = links_of(ddi_client, "dev-1")
    assert set(links) == {"deploymentBase"}
    assert ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk)).status_code == 200
    answer = ActionStatus.objects.get(
        action=action, execution=ActionStatus.Execution.CONFIRMED, source="device"
    )
    assert (answer.channel, answer.code, answer.details) == ("confirmation", 10, ["user pressed OK"])
    assert _statuses(action)[-2][3] == [SERVER_PREFIX + "the device confirmed the update: it proceeds"]


def test_denied_keeps_the_action_waiting(ddi_client, flow_on):
    device, action = _waiting()

    response = _deny(ddi_client, "dev-1", action.pk, details=["not now"])

    assert response.status_code == 200
    action.refresh_from_db()
    assert action.status == Action.Status.WAIT_FOR_CONFIRMATION
    assert Device.objects.get(pk=device.pk).state == Device.State.WAIT_FOR_CONFIRMATION
    assert set(links_of(ddi_client, "dev-1")) == {"confirmationBase"}
    assert ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk)).status_code == 404
    assert _statuses(action)[-2:] == [
        ("device", "confirmation", "denied", ["not now"]),
        (
            "server",
            "confirmation",
            "waiting",
            [SERVER_PREFIX + "the device denied the update: it keeps waiting for confirmation"],
        ),
    ]


def test_a_confirmation_can_be_revoked_until_the_device_fetched_the_update(ddi_client, flow_on):
    _, action = _waiting()
    _confirm(ddi_client, "dev-1", action.pk)

    assert _deny(ddi_client, "dev-1", action.pk).status_code == 200
    action.refresh_from_db()
    assert action.status == Action.Status.WAIT_FOR_CONFIRMATION
    assert set(links_of(ddi_client, "dev-1")) == {"confirmationBase"}

    assert _confirm(ddi_client, "dev-1", action.pk).status_code == 200
    assert set(links_of(ddi_client, "dev-1")) == {"deploymentBase"}
    assert ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk)).status_code == 200
    # Fetched: the device is installing it, too late to revoke.
    assert _deny(ddi_client, "dev-1", action.pk).status_code == 404
    assert Action.objects.get(pk=action.pk).status == Action.Status.RUNNING


def test_denied_with_the_flow_off_on_a_pending_action_is_404(ddi_client, flow_on, settings):
    _, action = _waiting()
    _confirm(ddi_client, "dev-1", action.pk)
    settings.GOOSEBIT_CONFIRMATION_FLOW = False

    response = _deny(ddi_client, "dev-1", action.pk)

    assert response.status_code == 404
    assert Action.objects.get(pk=action.pk).status == Action.Status.PENDING


def test_waiting_actions_stay_answerable_after_the_flow_is_turned_off(ddi_client, flow_on, settings):
    _, action = _waiting()
    settings.GOOSEBIT_CONFIRMATION_FLOW = False

    assert set(links_of(ddi_client, "dev-1")) == {"confirmationBase"}
    assert ddi_client.get(ddi_url("dev-1", "confirmationBase", action.pk)).status_code == 200
    assert _deny(ddi_client, "dev-1", action.pk).status_code == 200
    assert Action.objects.get(pk=action.pk).status == Action.Status.WAIT_FOR_CONFIRMATION
    assert _confirm(ddi_client, "dev-1", action.pk).status_code == 200
    assert set(links_of(ddi_client, "dev-1")) == {"deploymentBase"}


def test_feedback_on_a_closed_action_is_410(ddi_client, flow_on):
    _, action = _waiting()
    _confirm(ddi_client, "dev-1", action.pk)
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success"))

    response = _confirm(ddi_client, "dev-1", action.pk)

    assert response.status_code == 410
    assert response.json()["message"] == f"action {action.pk} is closed (succeeded)"


def test_feedback_on_a_canceled_waiting_action_is_410(ddi_client, flow_on):
    device, action = _waiting()
    action.device = device
    action_cancel(action=action)

    assert _confirm(ddi_client, "dev-1", action.pk).status_code == 410
    assert _deny(ddi_client, "dev-1", action.pk).status_code == 410


def test_denied_on_a_canceling_action_is_404_and_changes_nothing(ddi_client, flow_on):
    _, action = _waiting()
    _confirm(ddi_client, "dev-1", action.pk)
    ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))  # started: a cancel needs the device
    action = Action.objects.select_related("device").get(pk=action.pk)
    action_cancel(action=action)
    before = ActionStatus.objects.filter(action=action).count()

    response = _deny(ddi_client, "dev-1", action.pk)

    assert response.status_code == 404
    assert response.json()["message"] == f"action {action.pk} is not waiting for confirmation"
    assert Action.objects.get(pk=action.pk).status == Action.Status.CANCELING
    assert ActionStatus.objects.filter(action=action).count() == before


def test_deployment_feedback_for_a_waiting_action_is_404(ddi_client, flow_on):
    _, action = _waiting()

    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success"))

    assert response.status_code == 404
    assert response.json()["message"] == f"action {action.pk} is waiting for confirmation"
    assert Action.objects.get(pk=action.pk).status == Action.Status.WAIT_FOR_CONFIRMATION


def test_feedback_for_an_unknown_device_or_action_is_404(ddi_client, flow_on):
    _, action = _waiting()

    assert _confirm(ddi_client, "nobody", action.pk).status_code == 404
    assert _confirm(ddi_client, "dev-1", action.pk + 100).status_code == 404


def test_confirmation_feedback_is_bounded_by_the_status_quota(ddi_client, flow_on, settings):
    settings.GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION = 3
    _, action = _waiting()
    assert _deny(ddi_client, "dev-1", action.pk).status_code == 200  # 1 note + 2 rows

    response = _deny(ddi_client, "dev-1", action.pk)

    assert response.status_code == 429
    assert ActionStatus.objects.filter(action=action).count() == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "confirmation must be confirmed or denied, got None"),
        ({"confirmation": "CONFIRMED"}, "confirmation must be confirmed or denied, got 'CONFIRMED'"),
        ({"confirmation": "yes"}, "confirmation must be confirmed or denied, got 'yes'"),
        ({"confirmation": ["confirmed"]}, "confirmation must be confirmed or denied, got ['confirmed']"),
        ({"confirmation": True}, "confirmation must be confirmed or denied, got True"),
        (
            {"confirmation": "confirmed", "code": "10"},
            "code must be a whole number between -2147483648 and 2147483647, got '10'",
        ),
        (
            {"confirmation": "confirmed", "code": 2**31},
            "code must be a whole number between -2147483648 and 2147483647, got 2147483648",
        ),
        (
            {"confirmation": "confirmed", "code": 1.5},
            "code must be a whole number between -2147483648 and 2147483647, got 1.5",
        ),
        (
            {"confirmation": "confirmed", "code": True},
            "code must be a whole number between -2147483648 and 2147483647, got True",
        ),
        ({"confirmation": "denied", "details": "text"}, "details must be a list of strings, got 'text'"),
        ({"confirmation": "denied", "details": [1]}, "details must be a list of strings, got [1]"),
        ({"confirmation": "denied", "details": ["x"] * 51}, "details may hold at most 50 lines, got 51"),
        ([], "the request body must be a JSON object"),
        ("null", "the request body must be a JSON object"),
    ],
)
def test_a_bad_confirmation_body_is_400_naming_the_problem(ddi_client, flow_on, settings, body, message):
    settings.GOOSEBIT_DDI_MAX_DETAILS_PER_FEEDBACK = 50
    _, action = _waiting()

    response = _post_confirmation(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 400
    assert response.json() == {
        "exceptionClass": "org.eclipse.hawkbit.rest.exception.MessageNotReadableException",
        "errorCode": "hawkbit.server.error.rest.body.notReadable",
        "message": message,
    }
    assert Action.objects.get(pk=action.pk).status == Action.Status.WAIT_FOR_CONFIRMATION


def test_unknown_fields_are_ignored_and_long_details_are_cut(ddi_client, flow_on, settings):
    settings.GOOSEBIT_DDI_MAX_DETAIL_BYTES = 40
    _, action = _waiting()

    response = _confirm(ddi_client, "dev-1", action.pk, id="7", time="20240101T000000", details=["x" * 100])

    assert response.status_code == 200
    stored = ActionStatus.objects.get(action=action, source="device")
    assert len(stored.details[0].encode()) <= 40


def test_confirmation_feedback_needs_json(ddi_client, flow_on):
    _, action = _waiting()

    response = _post_confirmation(
        ddi_client, "dev-1", action.pk, '{"confirmation": "confirmed"}', content_type="text/plain"
    )

    assert response.status_code == 415


def test_a_confirmation_body_over_the_limit_is_413(ddi_client, flow_on, settings):
    settings.GOOSEBIT_DDI_MAX_BODY_BYTES = 100
    _, action = _waiting()

    response = _confirm(ddi_client, "dev-1", action.pk, details=["x" * 200])

    assert response.status_code == 413


def test_get_on_the_feedback_url_is_405(ddi_client, flow_on):
    _, action = _waiting()

    response = ddi_client.get(ddi_url("dev-1", "confirmationBase", action.pk, "feedback"))

    assert response.status_code == 405
    assert response["Allow"] == "POST"


# --- GET confirmationBase and auto-confirm ----------------------------------------------------


def test_confirmation_base_without_auto_confirm_links_activation_and_the_waiting_action(ddi_client, flow_on):
    _, action = _waiting()

    response = ddi_client.get(ddi_url("dev-1", "confirmationBase"))

    assert response.status_code == 200
    body = response.json()
    href = body["_links"].pop("confirmationBase")["href"]
    assert href.startswith(_confirmation_href("dev-1", action) + "?c=")
    assert body == {
        "autoConfirm": {"active": False},
        "_links": {
            "activateAutoConfirm": {"href": abs_url("dev-1", "confirmationBase", "activateAutoConfirm")}
        },
    }


def test_confirmation_base_registers_an_unknown_device(ddi_client, flow_on):
    response = ddi_client.get(ddi_url("newcomer", "confirmationBase"))

    assert response.status_code == 200
    assert response.json() == {
        "autoConfirm": {"active": False},
        "_links": {
            "activateAutoConfirm": {"href": abs_url("newcomer", "confirmationBase", "activateAutoConfirm")}
        },
    }
    assert Device.objects.filter(controller_id="newcomer").exists()


def test_activating_auto_confirm_stores_initiator_and_remark_and_confirms_waiting_actions(
    ddi_client, flow_on
):
    device, action = _waiting()

    response = send_json(
        ddi_client,
        "post",
        ddi_url("dev-1", "confirmationBase", "activateAutoConfirm"),
        {"initiator": "alice", "remark": "fleet policy"},
    )

    assert response.status_code == 200
    device.refresh_from_db()
    assert (device.auto_confirm, device.auto_confirm_initiator, device.auto_confirm_remark) == (
        True,
        "alice",
        "fleet policy",
    )
    assert Action.objects.get(pk=action.pk).status == Action.Status.PENDING
    assert device.state == Device.State.PENDING
    assert _statuses(action)[-1][3] == [
        SERVER_PREFIX
        + "confirmed automatically: auto-confirm is active (initiator 'alice', remark 'fleet policy')"
    ]
    assert set(links_of(ddi_client, "dev-1")) == {"deploymentBase"}

    body = ddi_client.get(ddi_url("dev-1", "confirmationBase")).json()
    assert device.auto_confirm_activated_at is not None
    assert body == {
        "autoConfirm": {
            "active": True,
            "initiator": "alice",
            "remark": "fleet policy",
            "activatedAt": int(device.auto_confirm_activated_at.timestamp() * 1000),
        },
        "_links": {
            "deactivateAutoConfirm": {"href": abs_url("dev-1", "confirmationBase", "deactivateAutoConfirm")}
        },
    }


def test_activating_without_a_body_uses_hawkbits_default_remark(ddi_client, flow_on):
    device = known_device("dev-1")

    response = _post_empty(ddi_client, ddi_url("dev-1", "confirmationBase", "activateAutoConfirm"))

    assert response.status_code == 200
    device.refresh_from_db()
    assert device.auto_confirm_initiator == ""
    assert device.auto_confirm_remark == AUTO_CONFIRM_FALLBACK_REMARK
    state = ddi_client.get(ddi_url("dev-1", "confirmationBase")).json()["autoConfirm"]
    assert set(state) == {"active", "remark", "activatedAt"}  # no initiator: left out


def test_activating_twice_is_409(ddi_client, flow_on):
    known_device("dev-1")
    url = ddi_url("dev-1", "confirmationBase", "activateAutoConfirm")
    _post_empty(ddi_client, url)

    response = _post_empty(ddi_client, url)

    assert response.status_code == 409
    assert response.json() == {
        "exceptionClass": "org.eclipse.hawkbit.repository.exception.AutoConfirmationAlreadyActiveException",
        "errorCode": "hawkbit.server.error.repo.autoConfAlreadyActive",
        "message": "auto-confirm is already active for device dev-1",
    }


def test_with_auto_confirm_active_new_updates_are_confirmed_at_once(ddi_client, flow_on):
    device = known_device("dev-1", sw_version="1.0")
    device_activate_auto_confirm(device=device, initiator="bob", remark="")
    device.refresh_from_db()

    device_assign_software(device=device, software=make_software("2.0"))

    action = Action.objects.get(device=device)
    assert action.status == Action.Status.PENDING
    assert action.confirmation_required is True
    assert _statuses(action) == [
        (
            "server",
            "confirmation",
            "confirmed",
            [SERVER_PREFIX + "confirmed automatically: auto-confirm is active (initiator 'bob')"],
        )
    ]
    assert set(links_of(ddi_client, "dev-1")) == {"deploymentBase"}


def test_deactivating_clears_the_state_and_later_updates_wait_again(ddi_client, flow_on):
    device = known_device("dev-1", sw_version="1.0")
    _post_empty(ddi_client, ddi_url("dev-1", "confirmationBase", "activateAutoConfirm"))

    response = _post_empty(ddi_client, ddi_url("dev-1", "confirmationBase", "deactivateAutoConfirm"))
    again = _post_empty(ddi_client, ddi_url("dev-1", "confirmationBase", "deactivateAutoConfirm"))

    assert (response.status_code, again.status_code) == (200, 200)
    device.refresh_from_db()
    assert (device.auto_confirm, device.auto_confirm_remark, device.auto_confirm_activated_at) == (
        False,
        "",
        None,
    )
    device_assign_software(device=device, software=make_software("2.0"))
    assert Action.objects.get(device=device).status == Action.Status.WAIT_FOR_CONFIRMATION


def test_auto_confirm_of_an_unknown_device_is_404(ddi_client, flow_on):
    assert (
        _post_empty(ddi_client, ddi_url("nobody", "confirmationBase", "activateAutoConfirm")).status_code
        == 404
    )
    assert (
        _post_empty(ddi_client, ddi_url("nobody", "confirmationBase", "deactivateAutoConfirm")).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"initiator": 5}', "initiator must be a string, got 5"),
        ('{"remark": ["a"]}', "remark must be a string, got ['a']"),
        (json.dumps({"initiator": "x" * 65}), "initiator is at most 64 characters, got 65"),
        (json.dumps({"remark": "x" * 513}), "remark is at most 512 characters, got 513"),
        ("[1]", "the request body must be a JSON object"),
        ("{", "the request body is not valid JSON: Expecting property name enclosed in double quotes: "),
    ],
)
def test_a_bad_activation_body_is_400(ddi_client, flow_on, body, message):
    device = known_device("dev-1")

    response = send_json(
        ddi_client, "post", ddi_url("dev-1", "confirmationBase", "activateAutoConfirm"), body
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    device.refresh_from_db()
    assert device.auto_confirm is False


def test_an_activation_body_that_is_not_json_is_415(ddi_client, flow_on):
    known_device("dev-1")

    response = send_json(
        ddi_client,
        "post",
        ddi_url("dev-1", "confirmationBase", "activateAutoConfirm"),
        "initiator=x",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415


def test_get_on_activate_is_405(ddi_client, flow_on):
    known_device("dev-1")

    response = ddi_client.get(ddi_url("dev-1", "confirmationBase", "activateAutoConfirm"))

    assert response.status_code == 405


# --- cancel -------------------------------------------------------------------------------------


def test_a_waiting_action_is_canceled_at_once(ddi_client, flow_on):
    device, action = _waiting()
    action.device = device

    action_cancel(action=action)

    action.refresh_from_db()
    assert action.status == Action.Status.CANCELED
    device.refresh_from_db()
    assert device.state == Device.State.REGISTERED
    assert "_links" not in ddi_client.get(ddi_url("dev-1")).json()
    assert ddi_client.get(ddi_url("dev-1", "confirmationBase", action.pk)).status_code == 404
    assert "confirmationBase" not in ddi_client.get(ddi_url("dev-1", "confirmationBase")).json()["_links"]


def test_a_new_assignment_replaces_a_waiting_one_at_once(ddi_client, flow_on):
    device, first = _waiting()

    device_assign_software(device=device, software=make_software("3.0"))

    assert Action.objects.get(pk=first.pk).status == Action.Status.CANCELED
    second = Action.objects.get(device=device, status=Action.Status.WAIT_FOR_CONFIRMATION)
    assert second.software.version == "3.0"
    assert links_of(ddi_client, "dev-1")["confirmationBase"]["href"].startswith(
        _confirmation_href("dev-1", second) + "?c="
    )


def test_a_device_may_read_the_artifacts_of_the_update_it_is_asked_to_confirm(ddi_client, flow_on):
    _, action = _waiting()

    response = ddi_client.get(ddi_url("dev-1", "softwaremodules", action.software_id, "artifacts"))

    assert response.status_code == 200
