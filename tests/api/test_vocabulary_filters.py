"""The API filters by README's glossary words; the stored values stay valid as aliases."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts.models import Action
from tests.factories import make_action, make_device, make_software

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet() -> None:
    software = make_software("2.0.0")
    for cid, state, status in [
        ("waiting", Device.State.PENDING, Action.Status.PENDING),
        ("busy", Device.State.RUNNING, Action.Status.RUNNING),
        ("ok", Device.State.FINISHED, Action.Status.FINISHED),
        ("broken", Device.State.ERROR, Action.Status.ERROR),
        ("stopping", Device.State.CANCELING, Action.Status.CANCELING),
    ]:
        make_action(make_device(cid, state=state), software, status=status)
    make_action(make_device("gone"), software, status=Action.Status.CANCELED)
    make_device("back", state=Device.State.ROLLED_BACK)


def devices(api, query: str) -> list[str]:
    response = api.get(f"/api/v1/devices/?{query}")
    assert response.status_code == 200, response.content
    return sorted(item["controller_id"] for item in response.json()["results"])


def actions(api, query: str) -> list[str]:
    response = api.get(f"/api/v1/actions/?{query}")
    assert response.status_code == 200, response.content
    return sorted(item["device"] for item in response.json()["results"])


@pytest.mark.parametrize(
    ("word", "alias", "expected"),
    [
        ("waiting", "pending", ["waiting"]),
        ("in_progress", "running", ["busy"]),
        ("succeeded", "finished", ["ok"]),
        ("failed", "error", ["broken"]),
    ],
)
def test_device_states_filter_by_word_or_by_the_stored_value(api, fleet, word, alias, expected):
    assert devices(api, f"state={word}") == expected
    assert devices(api, f"state={alias}") == expected


def test_device_state_words_combine_with_aliases_and_include_rolled_back(api, fleet):
    assert devices(api, "state=failed&state=rolled_back") == ["back", "broken"]
    assert devices(api, "state=succeeded&state=error") == ["broken", "ok"]
    assert devices(api, "state=canceling") == ["stopping"]


@pytest.mark.parametrize(
    ("word", "alias", "expected"),
    [
        ("waiting", "pending", ["waiting"]),
        ("in_progress", "running", ["busy"]),
        ("succeeded", "finished", ["ok"]),
        ("failed", "error", ["broken"]),
    ],
)
def test_action_statuses_filter_by_word_or_by_the_stored_value(api, fleet, word, alias, expected):
    assert actions(api, f"status={word}") == expected
    assert actions(api, f"status={alias}") == expected


def test_action_status_words_that_equal_the_stored_value_work_too(api, fleet):
    assert actions(api, "status=canceled&status=canceling") == ["gone", "stopping"]
    assert actions(api, "status=succeeded&status=failed") == ["broken", "ok"]


def test_an_unknown_word_is_a_400_naming_it(api):
    response = api.get("/api/v1/actions/?status=done")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "status: Select a valid choice. done is not one of the available choices."
    }


def test_the_schema_lists_the_words_and_the_aliases(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    parameters = schema["paths"]["/api/v1/actions/"]["get"]["parameters"]
    status = next(parameter for parameter in parameters if parameter["name"] == "status")
    assert status["schema"]["items"]["enum"] == sorted(
        [
            "waiting",
            "waiting_for_confirmation",
            "in_progress",
            "canceling",
            "canceled",
            "succeeded",
            "failed",
            "pending",
            "wait_for_confirmation",
            "running",
            "finished",
            "error",
        ]
    )
    assert "accepted as aliases" in status["description"]
