"""Fuzzing every DDI endpoint: no hostile request gets a 5xx, every 4xx JSON body is hawkBit's.

A deterministic sample (derandomized, no example database) so CI sees the same requests on every
run; bench/fuzz_ddi.py sends the same kind of requests by the ten thousand to a real gunicorn.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.models import Action
from rollouts.services import device_assign_software
from tests.ddi.fuzzing import Target, fuzz_request, problems
from tests.ddi.helpers import known_device, start_action
from tests.factories import make_software

pytestmark = pytest.mark.django_db

FUZZ_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture
def target() -> Target:
    software = make_software("2.0.0")
    action = start_action(known_device("dev-1", sw_version="1.0.0"), software)
    canceling = start_action(known_device("dev-2"), make_software("3.0.0"), status=Action.Status.CANCELING)
    return Target(
        controller_id="dev-1",
        action_id=action.pk,
        software_id=software.package.module_id,
        filename=software.package.filename,
        canceling_controller_id="dev-2",
        canceling_action_id=canceling.pk,
    )


def _send(client, method: str, path: str, headers: dict[str, str], body: bytes):
    extra = {key: value for key, value in headers.items() if key != "Content-Type"}
    return client.generic(
        method, path, data=body, content_type=headers.get("Content-Type", ""), headers=extra
    )


def _check(response, description: str) -> None:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    found = problems(response.status_code, response.get("Content-Type", ""), content)
    assert not found, f"{found}: {description}\n{content[:500]!r}"


@FUZZ_SETTINGS
@given(seed=st.integers(min_value=0, max_value=2**64))
def test_no_hostile_request_to_any_ddi_endpoint_is_a_server_error(ddi_client, target, seed):
    request = fuzz_request(random.Random(seed), target)

    response = _send(ddi_client, request.method, request.path, request.headers, request.body)

    _check(response, request.describe())


# JSON as hypothesis builds it: shrinks to the smallest body that breaks the parser.
_json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=st.characters(codec=None))  # surrogates and NUL included
    | st.sampled_from(["closed", "success", "none", "proceeding", "²", "--5", "9" * 5000, "merge"])
)
_json = st.recursive(
    _json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_feedback = st.fixed_dictionaries(
    {
        "status": st.fixed_dictionaries(
            {
                "execution": _json,
                "result": st.fixed_dictionaries({"finished": _json}, optional={"progress": _json}),
            },
            optional={"details": _json, "code": _json},
        )
    }
)
_config = st.fixed_dictionaries(
    {"data": st.dictionaries(st.text(max_size=8), _json, max_size=4)}, optional={"mode": _json}
)


@FUZZ_SETTINGS
@given(body=_feedback | _json)
def test_no_feedback_body_is_a_server_error(ddi_client, target, body):
    for channel, action_id, cid in (
        ("deploymentBase", target.action_id, target.controller_id),
        ("cancelAction", target.canceling_action_id, target.canceling_controller_id),
    ):
        raw = json.dumps(body).encode("utf-8", "surrogatepass")
        path = f"/DEFAULT/controller/v1/{cid}/{channel}/{action_id}/feedback"
        response = ddi_client.generic("POST", path, data=raw, content_type="application/json")

        _check(response, f"POST {path} {raw[:300]!r}")


@FUZZ_SETTINGS
@given(body=_config | _json)
def test_no_config_data_body_is_a_server_error(ddi_client, target, body):
    raw = json.dumps(body).encode("utf-8", "surrogatepass")

    response = ddi_client.generic(
        "PUT", "/DEFAULT/controller/v1/dev-1/configData", data=raw, content_type="application/json"
    )

    _check(response, f"PUT configData {raw[:300]!r}")


_confirmation = st.fixed_dictionaries(
    {"confirmation": st.sampled_from(["confirmed", "denied"]) | _json},
    optional={"code": _json, "details": _json, "initiator": _json, "remark": _json},
)


# Each example builds its own waiting action (a software file included): fewer examples.
@settings(FUZZ_SETTINGS, max_examples=100)
@given(body=_confirmation | _json)
def test_no_confirmation_body_is_a_server_error(ddi_client, settings, body):
    settings.GOOSEBIT_CONFIRMATION_FLOW = True
    device = known_device("waiting", sw_version="1.0.0")
    device_assign_software(device=device, software=make_software("2.0.0"))
    action = Action.objects.get(device=device)
    assert action.status == Action.Status.WAIT_FOR_CONFIRMATION
    raw = json.dumps(body).encode("utf-8", "surrogatepass")
    base = "/DEFAULT/controller/v1/waiting/confirmationBase"

    for path in (
        f"{base}/{action.pk}/feedback",
        f"{base}/activateAutoConfirm",
        f"{base}/deactivateAutoConfirm",
    ):
        response = ddi_client.generic("POST", path, data=raw, content_type="application/json")

        _check(response, f"POST {path} {raw[:300]!r}")
    device.delete()
