"""Hostile or broken device input: every case is a 4xx that names the problem, never a 500.

Each case was found by fuzzing (issue 9); the answers carry hawkBit's error body.
"""

from __future__ import annotations

import json

import pytest

from ddi.serializers import MAX_JSON_DEPTH
from devices.models import Device
from rollouts.models import ActionStatus
from tests.ddi.helpers import ddi_url, feedback_body, known_device, post_feedback, put_config, start_action
from tests.factories import make_software

pytestmark = pytest.mark.django_db

NOT_READABLE = {
    "exceptionClass": "org.eclipse.hawkbit.rest.exception.MessageNotReadableException",
    "errorCode": "hawkbit.server.error.rest.body.notReadable",
}


@pytest.fixture
def device():
    return known_device("dev-1", sw_version="1.0.0")


@pytest.fixture
def action(device):
    return start_action(device, make_software("2.0.0"))


def _nested(depth: int) -> str:
    """JSON text ``depth`` levels deep, alternating objects and arrays (built as text:
    json.dumps itself recurses and gives up near a thousand levels)."""
    opening = "".join('{"k":' if level % 2 == 0 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 == 0 else "]" for level in reversed(range(depth)))
    return opening + '"x"' + closing


def _feedback_with_detail(detail_json: str) -> str:
    return (
        '{"status": {"execution": "proceeding", "result": {"finished": "none"}, "details": ['
        + detail_json
        + "]}}"
    )


def _refused(response, message: str) -> None:
    assert response.status_code == 400
    assert response.json() == {**NOT_READABLE, "message": message}


# --- nesting ---------------------------------------------------------------------------------


def test_feedback_nested_a_thousand_deep_is_refused_naming_the_limit(ddi_client, action):
    response = post_feedback(ddi_client, "dev-1", action.pk, _feedback_with_detail(_nested(1000)))

    _refused(response, f"the request body is nested more than {MAX_JSON_DEPTH} levels deep")
    assert not action.statuses.filter(source=ActionStatus.Source.DEVICE).exists()


def test_config_data_nested_a_thousand_deep_is_refused_naming_the_limit(ddi_client, device):
    response = put_config(ddi_client, "dev-1", '{"data": {"a": ' + _nested(1000) + "}}")

    _refused(response, f"the request body is nested more than {MAX_JSON_DEPTH} levels deep")


def test_unclosed_brackets_a_hundred_thousand_deep_are_refused(ddi_client, device, settings):
    settings.GOOSEBIT_DDI_MAX_BODY_BYTES = 1024 * 1024  # past the body cap, the depth check speaks
    response = put_config(ddi_client, "dev-1", "[" * 100_000)

    _refused(response, f"the request body is nested more than {MAX_JSON_DEPTH} levels deep")


def test_brackets_inside_strings_do_not_count_as_nesting(ddi_client, action):
    # The body itself is 4 levels deep; the detail lines look deep but are text.
    body = feedback_body("proceeding", "none", ["[" * 500 + "{" * 500, 'quote \\" [[[[', "]]]]"])

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200
    status = action.statuses.get(source=ActionStatus.Source.DEVICE)
    assert status.details[0] == "[" * 500 + "{" * 500


def test_feedback_exactly_at_the_depth_limit_is_accepted(ddi_client, action):
    # {"status": {"details": [ <detail> ]}} uses 3 levels; the detail may use the rest.
    body = _feedback_with_detail(_nested(MAX_JSON_DEPTH - 3))

    assert post_feedback(ddi_client, "dev-1", action.pk, body).status_code == 200
    refused = post_feedback(
        ddi_client, "dev-1", action.pk, _feedback_with_detail(_nested(MAX_JSON_DEPTH - 2))
    )
    _refused(refused, f"the request body is nested more than {MAX_JSON_DEPTH} levels deep")


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("odd", ["²", "⁵", "--5", "٣", "1_0", "9" * 5000, " -", "+5"])
def test_unreadable_counters_and_codes_are_ignored_not_a_server_error(ddi_client, device, action, odd):
    body = feedback_body("proceeding", "none", ["working"], progress={"cnt": odd, "of": odd})
    body["status"]["code"] = odd

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200
    status = action.statuses.get(source=ActionStatus.Source.DEVICE)
    assert (status.code, status.progress) == (None, None)


def test_counters_written_as_ascii_digit_strings_are_still_read(ddi_client, device, action):
    body = feedback_body("proceeding", "none", ["working"], progress={"cnt": " 3 ", "of": "4"})
    body["status"]["code"] = "-7"

    assert post_feedback(ddi_client, "dev-1", action.pk, body).status_code == 200

    status = action.statuses.get(source=ActionStatus.Source.DEVICE)
    assert (status.code, status.progress) == (-7, 75)


def test_an_integer_with_more_digits_than_python_reads_is_refused(ddi_client, action):
    raw = (
        '{"status": {"execution": "proceeding", "result": {"finished": "none"}, "code": ' + "9" * 5000 + "}}"
    )

    response = post_feedback(ddi_client, "dev-1", action.pk, raw)

    assert response.status_code == 400
    assert response.json()["message"].startswith("the request body is not valid JSON: Exceeds the limit")


# --- types that are not strings where a choice is expected -------------------------------------


@pytest.mark.parametrize(
    ("execution", "finished", "message"),
    [
        ({}, "none", "status.execution must be one of canceled, closed, download, downloaded, "
         "proceeding, rejected, resumed, scheduled, got {}"),
        (["closed"], "none", "status.execution must be one of canceled, closed, download, downloaded, "
         "proceeding, rejected, resumed, scheduled, got ['closed']"),
        ("closed", [], "status.result.finished must be success, failure or none, got []"),
        ("closed", {"a": 1}, "status.result.finished must be success, failure or none, got {'a': 1}"),
    ],
)  # fmt: skip
def test_lists_and_objects_as_execution_or_finished_are_refused(
    ddi_client, action, execution, finished, message
):
    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body(execution, finished))

    _refused(response, message)


def test_cancel_feedback_with_an_object_as_execution_is_refused(ddi_client, device, action):
    action.status = action.Status.CANCELING
    action.save()

    response = post_feedback(
        ddi_client,
        "dev-1",
        action.pk,
        feedback_body({}, "none"),  # type: ignore[arg-type]  # an object as execution, on purpose
        channel="cancelAction",
    )

    assert response.status_code == 400
    assert response.json()["errorCode"] == NOT_READABLE["errorCode"]


def test_a_long_value_is_cut_in_the_error_message(ddi_client, action):
    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("x" * 10_000, "none"))

    assert response.status_code == 400
    assert response.json()["message"].endswith("got '" + "x" * 59 + "…")


@pytest.mark.parametrize("mode", [{}, [], ["merge"], 5])
def test_config_data_with_a_mode_that_is_not_a_string_is_refused(ddi_client, device, mode):
    response = put_config(ddi_client, "dev-1", {"mode": mode, "data": {"a": "1"}})

    _refused(response, "configData 'mode' must be merge, replace or remove")


@pytest.mark.parametrize("value", [{}, [], [1, 2], {"a": "b"}])
def test_config_data_with_a_value_that_is_not_a_scalar_is_refused(ddi_client, device, value):
    response = put_config(ddi_client, "dev-1", {"data": {"a": value}})

    assert response.status_code == 400
    assert response.json()["errorCode"] == "hawkbit.server.error.repo.invalidTargetAttributes"


# --- query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "٣", "1_0", "--5", "abc"])
def test_action_history_that_is_not_an_ascii_number_is_refused(ddi_client, action, value):
    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk), {"actionHistory": value})

    assert response.status_code == 400
    assert response.json() == {
        **NOT_READABLE,
        "message": f"actionHistory must be a number, got {value!r}",
    }


@pytest.mark.parametrize("value", ["9" * 5000, "-" + "9" * 5000])
def test_action_history_with_thousands_of_digits_means_the_cap(ddi_client, action, value):
    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["from the device"]))

    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk), {"actionHistory": value})

    assert response.status_code == 200
    assert response.json()["actionHistory"]["messages"] == ["from the device"]


def test_an_action_id_with_thousands_of_digits_is_404_not_a_server_error(ddi_client, device):
    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", "9" * 5000))

    assert response.status_code == 404


# --- text PostgreSQL cannot store ------------------------------------------------------------


def test_a_lone_surrogate_in_details_is_stored_as_a_replacement_character(ddi_client, action):
    # json.dumps writes "\ud800" as an escape; PostgreSQL's jsonb refuses it (DataError).
    body = feedback_body("proceeding", "none", ["bad \ud800 text", {"nested": "\udfff"}])  # type: ignore[list-item]

    response = post_feedback(ddi_client, "dev-1", action.pk, body)

    assert response.status_code == 200
    status = action.statuses.get(source=ActionStatus.Source.DEVICE)
    assert status.details == ["bad \ufffd text", json.dumps({"nested": "\udfff"})]


def test_raw_surrogate_bytes_in_details_are_stored_as_replacement_characters(ddi_client, action):
    raw = json.dumps(feedback_body("proceeding", "none", ["A_B"])).encode().replace(b"_", b"\xed\xa0\x80")

    response = post_feedback(ddi_client, "dev-1", action.pk, raw)

    assert response.status_code == 200
    assert action.statuses.get(source=ActionStatus.Source.DEVICE).details == ["A\ufffdB"]


@pytest.mark.parametrize("data", [{"bad\ud800key": "v"}, {"key": "bad\ud800value"}])
def test_a_lone_surrogate_in_attributes_is_refused(ddi_client, device, data):
    response = put_config(ddi_client, "dev-1", {"data": data})

    assert response.status_code == 400
    assert response.json()["errorCode"] == "hawkbit.server.error.repo.invalidTargetAttributes"
    assert "characters that are not allowed" in response.json()["message"]
    assert Device.objects.get(pk=device.pk).attributes == device.attributes
