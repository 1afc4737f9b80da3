"""Bounded sizes: request bodies, details lines, attributes and the log kept per action."""

from __future__ import annotations

import io
import json

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from ddi import views
from ddi.serializers import TRUNCATED_MARKER
from devices.models import Device
from rollouts.models import Action, ActionStatus
from rollouts.services import LOG_FULL_MARKER
from tests.ddi.helpers import ddi_url, feedback_body, known_device, post_feedback, put_config, start_action
from tests.factories import make_software

pytestmark = pytest.mark.django_db

TOO_LARGE = {
    "exceptionClass": "org.eclipse.hawkbit.repository.exception.FileSizeQuotaExceededException",
    "errorCode": "hawkbit.server.error.quota.fileSizeExceeded",
    "message": "the request body is larger than 1024 bytes (GOOSEBIT_DDI_MAX_BODY_BYTES)",
}


@pytest.fixture
def device():
    return known_device("dev-1", sw_version="1.0.0")


@pytest.fixture
def action(device):
    return start_action(device, make_software("2.0.0"))


@pytest.fixture
def small_body(settings):
    settings.GOOSEBIT_DDI_MAX_BODY_BYTES = 1024


def _padded_feedback(size: int) -> bytes:
    """A valid feedback of exactly ``size`` bytes."""
    body = json.dumps(feedback_body("proceeding", "none", [""]))
    return body.replace('[""]', '["' + "x" * (size - len(body)) + '"]').encode()


# --- one request body ----------------------------------------------------------------------


def test_a_feedback_body_at_the_limit_is_accepted(ddi_client, small_body, action):
    response = post_feedback(ddi_client, "dev-1", action.pk, _padded_feedback(1024))

    assert response.status_code == 200
    assert action.statuses.count() == 1


def test_a_feedback_body_over_the_limit_is_refused_with_413_and_nothing_is_stored(
    ddi_client, small_body, action
):
    response = post_feedback(ddi_client, "dev-1", action.pk, _padded_feedback(1025))

    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert action.statuses.count() == 0


def test_a_config_data_body_over_the_limit_is_refused_with_413(ddi_client, small_body, device):
    body = {"data": {"hw_boardname": "board", "note": "x" * 1100}}

    response = put_config(ddi_client, "dev-1", body)

    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    device.refresh_from_db()
    assert "note" not in device.attributes


def test_the_default_body_limit_is_64_kib(ddi_client, action):
    accepted = post_feedback(ddi_client, "dev-1", action.pk, _padded_feedback(64 * 1024))
    refused = post_feedback(ddi_client, "dev-1", action.pk, _padded_feedback(64 * 1024 + 1))

    assert (accepted.status_code, refused.status_code) == (200, 413)


class _CountingStream(io.BytesIO):
    """A WSGI input that remembers how much the server asked for."""

    requested = 0

    def read(self, size: int | None = -1, /) -> bytes:
        self.requested += size if size and size > 0 else 1 << 30
        return super().read(size)


def _chunked_request(path: str, body: bytes, method: str = "POST"):
    """A request as gunicorn hands over a chunked body: no Content-Length, decoded input."""
    request = RequestFactory().generic(method, path, content_type="application/json")
    stream = _CountingStream(body)
    request.META.pop("CONTENT_LENGTH", None)
    request.META["CONTENT_TYPE"] = "application/json"
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    request.environ["wsgi.input"] = stream
    return request, stream


def test_a_chunked_feedback_is_read(action):
    request, _ = _chunked_request(
        ddi_url("dev-1", "deploymentBase", action.pk, "feedback"),
        json.dumps(feedback_body("proceeding", "none", ["chunked"])).encode(),
    )

    response = views.deployment_feedback(
        request, tenant="DEFAULT", controller_id="dev-1", action_id=action.pk
    )

    assert response.status_code == 200
    assert action.statuses.get().details == ["chunked"]


def test_a_chunked_body_over_the_limit_is_refused_after_reading_one_byte_past_it(small_body, action):
    request, stream = _chunked_request(
        ddi_url("dev-1", "deploymentBase", action.pk, "feedback"), _padded_feedback(10_000)
    )

    response = views.deployment_feedback(
        request, tenant="DEFAULT", controller_id="dev-1", action_id=action.pk
    )

    assert isinstance(response, HttpResponse)
    assert (response.status_code, json.loads(response.content)) == (413, TOO_LARGE)
    assert stream.requested == 1025
    assert action.statuses.count() == 0


# --- one details line ----------------------------------------------------------------------


def test_a_details_line_over_the_limit_is_cut_with_a_marker(ddi_client, settings, action):
    settings.GOOSEBIT_DDI_MAX_DETAIL_BYTES = 100
    long_line = "é" * 200  # 400 bytes: the cut must not split a character

    response = post_feedback(
        ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["short", long_line])
    )

    assert response.status_code == 200
    short, cut = action.statuses.get().details
    assert short == "short"
    assert cut.endswith(TRUNCATED_MARKER)
    assert cut.startswith("é" * 40)
    assert len(cut.encode()) <= 100
    assert set(cut[: -len(TRUNCATED_MARKER)]) == {"é"}


def test_swupdate_failure_with_a_huge_error_line_still_closes_the_action(ddi_client, device, action):
    error_output = "ERROR : " + "handler failed " * 2000  # ~30 kB in one line, as SWUpdate sends

    response = post_feedback(
        ddi_client, "dev-1", action.pk, feedback_body("closed", "failure", [error_output])
    )

    assert response.status_code == 200
    action.refresh_from_db()
    device.refresh_from_db()
    assert action.status == Action.Status.ERROR
    assert device.state == Device.State.ERROR
    (line,) = action.statuses.get().details
    assert line.startswith("ERROR : handler failed")
    assert len(line.encode()) <= 4096
    assert line.endswith(TRUNCATED_MARKER)


# --- one attribute -------------------------------------------------------------------------


def test_the_attribute_length_is_a_setting(ddi_client, settings, device):
    settings.GOOSEBIT_DDI_MAX_ATTRIBUTE_LENGTH = 10

    accepted = put_config(ddi_client, "dev-1", {"data": {"k" * 10: "v" * 10}})
    long_key = put_config(ddi_client, "dev-1", {"data": {"k" * 11: "v"}})
    long_value = put_config(ddi_client, "dev-1", {"data": {"k": "v" * 11}})

    assert accepted.status_code == 200
    for refused, kind, text in ((long_key, "key", "k" * 11), (long_value, "value", "v" * 11)):
        assert refused.status_code == 400
        assert refused.json() == {
            "exceptionClass": "org.eclipse.hawkbit.repository.exception.InvalidTargetAttributeException",
            "errorCode": "hawkbit.server.error.repo.invalidTargetAttributes",
            "message": f"attribute {kind} longer than 10 characters: {text!r}…",
        }


# --- the whole log of an action ------------------------------------------------------------


def _line_feedback(execution: str, finished: str, lines: int, size: int = 500) -> dict:
    return feedback_body(execution, finished, [f"{index:04d}" + "x" * (size - 4) for index in range(lines)])


def test_feedback_beyond_the_log_size_is_refused_with_429(ddi_client, settings, action):
    settings.GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION = 4096
    for _ in range(3):  # ~1.5 kB each: two fit, the third would pass 4 KiB
        accepted = post_feedback(ddi_client, "dev-1", action.pk, _line_feedback("proceeding", "none", 3))
        if accepted.status_code != 200:
            break

    assert accepted.status_code == 429
    assert accepted.json() == {
        "exceptionClass": "org.eclipse.hawkbit.repository.exception.StorageQuotaExceededException",
        "errorCode": "hawkbit.server.error.quota.storageExceeded",
        "message": f"the log of action {action.pk} would exceed 4096 bytes "
        "(GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION); only a final (closed) feedback is accepted now",
    }
    assert action.statuses.count() == 2


def test_a_final_feedback_beyond_the_log_size_is_stored_trimmed_and_closes_the_action(
    ddi_client, settings, device, action
):
    settings.GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION = 4096
    post_feedback(ddi_client, "dev-1", action.pk, _line_feedback("proceeding", "none", 7))  # ~3.5 kB

    response = post_feedback(ddi_client, "dev-1", action.pk, _line_feedback("closed", "failure", 6))

    assert response.status_code == 200
    action.refresh_from_db()
    assert action.status == Action.Status.ERROR
    final = action.statuses.order_by("-id").first().details
    # The marker and the newest line that fits: the error output's end is what matters.
    assert final[0] == LOG_FULL_MARKER
    assert final[-1].startswith("0005")
    assert 2 <= len(final) < 7
    sizes = [len(json.dumps(s.details).encode()) for s in ActionStatus.objects.filter(action=action)]
    assert sum(sizes) <= 4096 + settings.GOOSEBIT_DDI_MAX_DETAIL_BYTES
