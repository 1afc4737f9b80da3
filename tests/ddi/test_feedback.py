"""POST deploymentBase/{id}/feedback: how a device reports progress and the outcome."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts.models import Action, ActionStatus
from tests.ddi.helpers import (
    ddi_url,
    feedback_body,
    known_device,
    post_feedback,
    send_json,
    start_action,
)
from tests.factories import make_software

pytestmark = pytest.mark.django_db


@pytest.fixture
def device():
    return known_device("dev-1", sw_version="1.0.0")


@pytest.fixture
def software():
    return make_software("2.0.0")


@pytest.fixture
def action(device, software):
    return start_action(device, software)


def _reload(*objects):
    for obj in objects:
        obj.refresh_from_db()


# --- effects -------------------------------------------------------------------------------


@pytest.mark.parametrize("execution", ["proceeding", "scheduled", "resumed", "download", "downloaded"])
def test_intermediate_feedback_marks_the_action_and_the_device_running(ddi_client, device, action, execution):
    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body(execution, "none", ["working"]))

    assert response.status_code == 200
    assert response.content == b""
    _reload(device, action)
    assert action.status == Action.Status.RUNNING
    assert device.state == Device.State.RUNNING
    assert device.sw_version == "1.0.0"


@pytest.mark.parametrize("finished", ["success", "none"])
def test_closed_with_success_or_none_finishes_the_action_and_installs_the_version(
    ddi_client, device, action, finished
):
    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", finished, ["done"]))

    assert response.status_code == 200
    assert response.content == b""
    _reload(device, action)
    assert action.status == Action.Status.FINISHED
    assert device.sw_version == "2.0.0"
    assert device.state == Device.State.FINISHED
    assert device.progress == 100
    assert device.request_attributes is True


def test_closed_with_failure_fails_the_action_and_keeps_the_version(ddi_client, device, action):
    response = post_feedback(
        ddi_client, "dev-1", action.pk, feedback_body("closed", "failure", ["Update Failed."])
    )

    assert response.status_code == 200
    assert response.content == b""
    _reload(device, action)
    assert action.status == Action.Status.ERROR
    assert device.state == Device.State.ERROR
    assert device.sw_version == "1.0.0"
    assert device.request_attributes is False


def test_rejected_keeps_the_action_active(ddi_client, device, action):
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["started"]))

    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("rejected", "none", ["no thanks"]))

    assert response.status_code == 200
    _reload(action)
    assert action.status == Action.Status.RUNNING
    assert action.statuses.filter(execution="rejected", source="device").count() == 1


def test_canceled_on_deployment_feedback_is_informational_and_keeps_the_action_active(
    ddi_client, device, action
):
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["started"]))

    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("canceled", "none", ["canceled"]))

    assert response.status_code == 200
    _reload(action)
    assert action.status == Action.Status.RUNNING


def test_every_feedback_is_stored_as_a_device_status(ddi_client, action):
    body = feedback_body("proceeding", "none", ["one", "two"], progress={"cnt": 1, "of": 4})
    body["status"]["code"] = 7

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200
    status = action.statuses.get(source=ActionStatus.Source.DEVICE)
    assert (status.channel, status.execution, status.finished, status.code, status.details) == (
        ActionStatus.Channel.DEPLOYMENT,
        "proceeding",
        "none",
        7,
        ["one", "two"],
    )


def test_a_full_install_sequence_is_stored_in_order(ddi_client, device, action):
    sequence = [
        ("proceeding", "none"),
        ("proceeding", "none"),
        ("scheduled", "none"),
        ("resumed", "none"),
        ("download", "none"),
        ("downloaded", "none"),
        ("rejected", "none"),
        ("canceled", "none"),
        ("closed", "success"),
    ]
    for execution, finished in sequence:
        response = post_feedback(
            ddi_client, "dev-1", action.pk, feedback_body(execution, finished, [execution])
        )
        assert response.status_code == 200, execution

    stored = list(action.statuses.filter(source="device").order_by("id").values_list("execution", "finished"))
    assert stored == sequence
    _reload(device, action)
    assert action.status == Action.Status.FINISHED
    assert device.state == Device.State.FINISHED


# --- progress ------------------------------------------------------------------------------


def test_progress_comes_from_cnt_and_of(ddi_client, device, action):
    body = feedback_body("proceeding", "none", ["x"], progress={"cnt": 1, "of": 4})

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200
    _reload(device)
    assert device.progress == 25


def test_swupdate_downloaded_percent_details_set_the_progress(ddi_client, device, action):
    body = feedback_body("proceeding", "none", ["Downloaded 42%"], progress={"cnt": 0, "of": 0})

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200
    _reload(device)
    assert device.progress == 42


# --- lenient parsing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"id": 42},
        {"id": "42"},
        {"id": ""},
        {"time": "20240102T101530"},
        {"time": ""},
        {"timestamp": 1733218554123},
        {"vendor": {"anything": [1, 2]}},
    ],
    ids=["numeric-id", "string-id", "empty-id", "time", "empty-time", "timestamp", "unknown-field"],
)
def test_legacy_and_unknown_top_level_fields_are_ignored(ddi_client, action, extra):
    body = {**feedback_body("proceeding", "none", ["x"]), **extra}

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    "progress",
    [{}, {"cnt": 3, "of": 0}, {"cnt": 50}, {"cnt": 7, "of": 3}],
    ids=["empty", "of-zero", "no-of", "cnt-above-of"],
)
def test_odd_progress_objects_are_accepted(ddi_client, action, progress):
    response = post_feedback(
        ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["x"], progress)
    )

    assert response.status_code == 200


def test_feedback_without_details_is_accepted(ddi_client, action):
    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none"))

    assert response.status_code == 200
    assert action.statuses.filter(source="device").count() == 1


def test_feedback_with_unknown_status_fields_is_accepted(ddi_client, action):
    body = feedback_body("proceeding", "none", ["x"])
    body["status"]["extra"] = True
    body["status"]["result"]["extra"] = "yes"

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200


def test_feedback_accepts_json_with_a_charset_parameter(ddi_client, action):
    response = post_feedback(
        ddi_client,
        "dev-1",
        action.pk,
        feedback_body("proceeding", "none", ["x"]),
        content_type="application/json;charset=UTF-8",
    )

    assert response.status_code == 200


# --- strict parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"id": "1"},
        {"status": {"result": {"finished": "none"}}},
        {"status": {"execution": "proceeding"}},
        {"status": {"execution": "proceeding", "result": {}}},
        {"status": {"execution": "exploded", "result": {"finished": "none"}}},
        {"status": {"execution": "proceeding", "result": {"finished": "maybe"}}},
        {"status": "closed"},
        [{"status": {"execution": "closed", "result": {"finished": "success"}}}],
    ],
    ids=[
        "empty",
        "no-status",
        "no-execution",
        "no-result",
        "no-finished",
        "invalid-execution",
        "invalid-finished",
        "status-not-an-object",
        "array",
    ],
)
def test_feedback_missing_required_fields_or_with_invalid_values_is_refused_with_400(
    ddi_client, action, body
):
    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 400
    assert not action.statuses.exists()
    _reload(action)
    assert action.status == Action.Status.PENDING


def test_malformed_json_feedback_is_refused_with_400(ddi_client, action):
    response = post_feedback(ddi_client, "dev-1", action.pk, '{"status": {"execution": "closed", ')

    assert response.status_code == 400
    assert not action.statuses.exists()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/atom+xml"]
)
def test_feedback_with_a_wrong_content_type_is_refused_with_415(ddi_client, action, content_type):
    response = post_feedback(
        ddi_client, "dev-1", action.pk, feedback_body("closed", "success"), content_type=content_type
    )

    assert response.status_code == 415
    _reload(action)
    assert action.status == Action.Status.PENDING


# --- closed and foreign actions ------------------------------------------------------------


def test_feedback_after_closed_failure_answers_410(ddi_client, device, action):
    first = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "failure"))

    second = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success"))

    assert first.status_code == 200
    assert second.status_code == 410
    _reload(device, action)
    assert action.status == Action.Status.ERROR
    assert device.sw_version == "1.0.0"


@pytest.mark.parametrize("status", [Action.Status.FINISHED, Action.Status.ERROR, Action.Status.CANCELED])
def test_feedback_on_a_closed_action_answers_410(ddi_client, device, software, status):
    action = start_action(device, software, status=status)

    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["late"]))

    assert response.status_code == 410
    assert not action.statuses.exists()


def test_feedback_on_an_unknown_action_answers_404(ddi_client, device):
    response = post_feedback(ddi_client, "dev-1", 999999, feedback_body("closed", "success"))

    assert response.status_code == 404


def test_feedback_on_another_devices_action_answers_404(ddi_client, device, software):
    other = start_action(known_device("dev-2"), software)

    response = post_feedback(ddi_client, "dev-1", other.pk, feedback_body("closed", "success"))

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == Action.Status.PENDING
    assert not other.statuses.exists()


def test_feedback_from_an_unknown_device_answers_404_and_registers_nothing(ddi_client, action):
    response = post_feedback(ddi_client, "nobody", action.pk, feedback_body("closed", "success"))

    assert response.status_code == 404
    assert not Device.objects.filter(controller_id="nobody").exists()


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_the_feedback_url_refuses_other_methods_with_405(ddi_client, action, method):
    response = send_json(
        ddi_client,
        method,
        ddi_url("dev-1", "deploymentBase", action.pk, "feedback"),
        feedback_body("closed", "success"),
    )

    assert response.status_code == 405


# --- quotas --------------------------------------------------------------------------------


def test_feedback_beyond_the_status_quota_is_refused_with_429(ddi_client, settings, action):
    settings.GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION = 3
    for index in range(3):
        response = post_feedback(
            ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", [str(index)])
        )
        assert response.status_code == 200

    refused = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["one more"]))

    assert refused.status_code == 429
    assert action.statuses.count() == 3


def test_closed_feedback_is_accepted_beyond_the_status_quota(ddi_client, settings, device, action):
    settings.GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION = 3
    for index in range(3):
        post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", [str(index)]))

    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success", ["done"]))

    assert response.status_code == 200
    _reload(device, action)
    assert action.status == Action.Status.FINISHED
    assert device.sw_version == "2.0.0"


def test_feedback_with_more_details_than_the_quota_is_refused_with_429(ddi_client, settings, action):
    settings.GOOSEBIT_DDI_MAX_DETAILS_PER_FEEDBACK = 2

    accepted = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["a", "b"]))
    refused = post_feedback(
        ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["a", "b", "c"])
    )

    assert accepted.status_code == 200
    assert refused.status_code == 429
    assert action.statuses.count() == 1


def test_the_default_details_quota_is_50(ddi_client, action):
    accepted = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["x"] * 50))
    refused = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["x"] * 51))

    assert accepted.status_code == 200
    assert refused.status_code == 429


# --- robustness ----------------------------------------------------------------------------


def test_feedback_that_is_not_utf8_is_refused_with_400(ddi_client, action):
    response = post_feedback(ddi_client, "dev-1", action.pk, b"\xff\xfe{not json")

    assert response.status_code == 400
    assert not action.statuses.exists()


def test_a_detail_line_with_a_nul_character_is_stored(ddi_client, action):
    # SWUpdate inserts some error lines unescaped (ddi.md §3.3); a control character in a log
    # line must not lose the feedback, on any database.
    body = feedback_body("proceeding", "none", ["bad \u0000 byte", "next line"])

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200
    assert action.statuses.filter(source="device").count() == 1


def test_a_status_code_too_big_for_the_database_is_not_a_server_error(ddi_client, action):
    body = feedback_body("proceeding", "none", ["x"])
    body["status"]["code"] = 2**70

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code in (200, 400)
    assert action.statuses.count() == (1 if response.status_code == 200 else 0)


def test_huge_progress_counters_are_not_a_server_error(ddi_client, device, action):
    body = feedback_body("proceeding", "none", ["x"], progress={"cnt": 10**30, "of": 3})

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200
    device.refresh_from_db()
    assert device.progress == 100
