"""The rollout and action API: lifecycle, live statistics, preview, errors, permissions, schema."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rollouts.models import Action, ActionStatus, Rollout
from tests.api.helpers import post, user_with
from tests.factories import make_device, make_hardware, make_rollout, make_software
from tests.rollouts.ddi_helpers import BASE, feedback, install, offered_action_id

pytestmark = pytest.mark.django_db

URL = "/api/v1/rollouts/"
ZERO_STATS = {
    "targeted": 0,
    "not_started": 0,
    "pending": 0,
    "running": 0,
    "succeeded": 0,
    "failed": 0,
    "canceled": 0,
    "rolled_back": 0,
    "already_on_version": 0,
    "left": 0,
    "progress_percent": 0,
}


# --- create ----------------------------------------------------------------------------------


def test_create_returns_the_draft_with_its_statistics(api, settings):
    settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT = 20
    settings.GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS = 5
    settings.GOOSEBIT_ROLLOUT_MAX_PARALLEL = None
    software = make_software("2.0.0", filename="fw.swu")
    make_device(sw_version="1.0.0")

    response = post(
        api, URL, {"name": "spring", "feed": "default", "software": software.pk, "pause_on_failure_count": 4}
    )

    assert response.status_code == 201
    rollout = Rollout.objects.get()
    assert response.json() == {
        "id": rollout.pk,
        "name": "spring",
        "description": "",
        "feed": "default",
        "query": "",
        "dynamic": True,
        "start_at": None,
        "retry_of": None,
        "software": {"id": software.pk, "name": "fw.swu", "version": "2.0.0", "filename": "fw.swu"},
        "status": "draft",
        "approval_decided_by": "",
        "approval_decided_at": None,
        "approval_remark": "",
        "pause_on_failure_percent": 20,
        "pause_min_results": 5,
        "pause_on_failure_count": 4,
        "max_parallel": None,
        "confirmation_required": True,
        "action_type": "forced",
        "forcetime": None,
        "weight": None,
        "maintenance_window": None,
        "pause_reason": "",
        "created": response.json()["created"],
        "created_by": "root",
        "started_at": None,
        "paused_at": None,
        "finished_at": None,
        "stats": {**ZERO_STATS, "targeted": 1, "not_started": 1},
        "groups": [
            {
                "id": rollout.groups.get().pk,
                "position": 0,
                "name": "All devices",
                "description": "",
                "query": "",
                "target_count": None,
                "target_percentage": None,
                "success_threshold": 100,
                "success_action": "next_group",
                "error_threshold": None,
                "error_count": None,
                "confirmation_required": None,
                "status": "scheduled",
                "status_reason": "",
                "started_at": None,
                "finished_at": None,
                "stats": {
                    **{key: value for key, value in ZERO_STATS.items() if key != "left"},
                    "targeted": 1,
                    "not_started": 1,
                },
            }
        ],
        "warnings": [],
    }
    assert rollout.created_by is not None
    assert rollout.created_by.username == "root"


def test_create_with_start_and_a_disabled_rule(api):
    software = make_software()
    response = post(
        api,
        URL,
        {
            "name": "r",
            "feed": "beta",
            "software": software.pk,
            "start": True,
            "pause_on_failure_percent": None,
        },
    )
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["pause_on_failure_percent"]) == ("running", None)
    assert response.json()["started_at"] is not None


VALID = {"name": "r", "feed": "default", "software": "SOFTWARE"}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"feed": "default", "software": "SOFTWARE"}, "name: This field is required."),
        ({"name": " ", "feed": "default", "software": "SOFTWARE"}, "a rollout needs a name"),
        ({"name": "r", "feed": "default", "software": 999}, "software 999 does not exist"),
        ({"name": "r", "feed": "", "software": "SOFTWARE"}, "feed: This field may not be blank."),
        ({**VALID, "pause_on_failure_percent": 0}, "pause_on_failure_percent: must be at least 1, got 0"),
        (
            {**VALID, "max_parallel": "many"},
            'max_parallel: A whole number, or "off" to turn the rule off, is required.',
        ),
        (
            {**VALID, "pause_on_failure_count": 10**12},
            f"pause_on_failure_count: must be at most {2**31 - 1}, got {10**12}",
        ),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(api, body, detail):
    software = make_software()
    body = {key: software.pk if value == "SOFTWARE" else value for key, value in body.items()}
    response = post(api, URL, body)
    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert not Rollout.objects.exists()


# --- read ------------------------------------------------------------------------------------


def test_list_shows_live_statistics_newest_first(api, client):
    older = make_rollout(make_software("1.0.0"), feed="old")
    newer = make_rollout(make_software("2.0.0"))
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0")
    install(client, "a")
    install(client, "b", finished="failure")

    response = api.get(URL)

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [newer.pk, older.pk]
    assert response.json()["results"][0]["stats"] == {
        **ZERO_STATS,
        "targeted": 2,
        "succeeded": 1,
        "failed": 1,
        "progress_percent": 50,
    }


def test_an_out_of_range_id_filter_is_a_400_not_a_database_error(api):
    response = api.get(f"/api/v1/actions/?rollout={10**30}")
    assert response.status_code == 400
    assert response.json() == {"detail": f"rollout: Ensure this value is less than or equal to {2**63 - 1}."}


def test_list_filters_by_status_and_feed(api):
    make_rollout(make_software(), feed="a")
    paused = make_rollout(make_software(), feed="b", status=Rollout.Status.PAUSED)
    assert [item["id"] for item in api.get(f"{URL}?status=paused").json()["results"]] == [paused.pk]
    assert [item["id"] for item in api.get(f"{URL}?feed=b").json()["results"]] == [paused.pk]


def test_the_list_costs_the_same_queries_for_a_small_or_a_large_fleet(api):
    software = make_software("2.0.0")
    make_rollout(software)
    make_device(sw_version="1.0.0")
    api.get(URL)  # warms this worker's caches (e.g. the rollouts with a query)
    with CaptureQueriesContext(connection) as small:
        assert api.get(URL).status_code == 200
    for _ in range(25):
        device = make_device(sw_version="1.0.0")
        Action.objects.create(
            device=device, software=software, rollout=Rollout.objects.get(), reason="rollout"
        )
    with CaptureQueriesContext(connection) as large:
        assert api.get(URL).json()["results"][0]["stats"]["pending"] == 25
    assert len(small) == len(large)


def test_an_unknown_rollout_is_a_404(api):
    response = api.get(f"{URL}42/")
    assert (response.status_code, response.json()) == (404, {"detail": "No Rollout matches the given query."})


# --- lifecycle -------------------------------------------------------------------------------


def test_start_pause_resume_stop(api):
    rollout = post(api, URL, {"name": "r", "feed": "default", "software": make_software().pk}).json()
    path = f"{URL}{rollout['id']}/"

    assert post(api, f"{path}start/").json()["status"] == "running"
    paused = post(api, f"{path}pause/").json()
    assert (paused["status"], paused["pause_reason"]) == ("paused", "Paused by root")
    assert paused["paused_at"] is not None
    resumed = post(api, f"{path}resume/").json()
    assert (resumed["status"], resumed["pause_reason"], resumed["paused_at"]) == ("running", "", None)
    stopped = post(api, f"{path}stop/").json()
    assert stopped["status"] == "stopped"
    assert stopped["finished_at"] is not None


def test_a_refused_transition_is_a_409_naming_the_state(api):
    rollout = make_rollout(make_software(), name="r", status=Rollout.Status.STOPPED)
    response = post(api, f"{URL}{rollout.pk}/resume/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"cannot resume rollout {rollout.pk} (r): it is stopped; "
        "only a paused rollout can be resumed"
    }
    assert Rollout.objects.get().status == Rollout.Status.STOPPED


def test_patch_changes_the_name_and_safety_settings(api):
    rollout = make_rollout(make_software(), pause_on_failure_count=1)
    response = api.patch(
        f"{URL}{rollout.pk}/",
        {"name": "renamed", "pause_on_failure_count": None, "max_parallel": 10},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["pause_on_failure_count"], body["max_parallel"]) == ("renamed", None, 10)


def test_patch_refuses_a_bad_setting(api):
    rollout = make_rollout(make_software(), max_parallel=3)
    response = api.patch(f"{URL}{rollout.pk}/", {"max_parallel": 0}, content_type="application/json")
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "max_parallel: must be at least 1, got 0"},
    )
    assert Rollout.objects.get().max_parallel == 3


def test_feed_and_software_cannot_be_changed(api):
    rollout = make_rollout(make_software(), feed="a")
    response = api.patch(f"{URL}{rollout.pk}/", {"feed": "b", "name": "x"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "feed of a rollout cannot change; create a new rollout (it takes the feed over)"
    }
    assert Rollout.objects.values_list("feed", "name").get() == ("a", rollout.name)


def test_delete_a_draft_but_not_a_rollout_with_history(api, client):
    draft = make_rollout(make_software(), status=Rollout.Status.DRAFT)
    assert api.delete(f"{URL}{draft.pk}/").status_code == 204

    used = make_rollout(make_software("2.0.0"), name="used")
    make_device("a", sw_version="1.0.0")
    offered_action_id(client, "a")
    response = api.delete(f"{URL}{used.pk}/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"rollout {used.pk} (used) has update history and cannot be deleted; stop it instead"
    }
    assert list(Rollout.objects.values_list("pk", flat=True)) == [used.pk]


def test_a_rollout_auto_pauses_and_the_api_shows_why(api, client):
    rollout = make_rollout(make_software("2.0.0"), pause_on_failure_count=1)
    make_device("a", sw_version="1.0.0")
    install(client, "a", finished="failure")
    body = api.get(f"{URL}{rollout.pk}/").json()
    assert (body["status"], body["pause_reason"]) == (
        "paused",
        "Paused automatically: 1 devices failed, reaching the limit of 1",
    )


# --- preview ---------------------------------------------------------------------------------


def test_preview_before_creating(api):
    board = make_hardware("board", "1")
    software = make_software("2.0.0", compatibility=[board])
    make_device(hardware=board, sw_version="1.0.0")
    make_device(hardware=board, sw_version="2.0.0")

    response = api.get(f"{URL}preview/?feed=default&software={software.pk}")

    assert response.status_code == 200
    assert response.json() == {
        "feed": "default",
        "software": software.pk,
        "version": "2.0.0",
        "devices": 2,
        "already_on_version": 1,
        "to_update": 1,
        "incompatible": 0,
        "not_following": 0,
        "by_hardware": [
            {"hardware": board.pk, "model": "board", "revision": "1", "devices": 2, "already_on_version": 1}
        ],
    }


def test_preview_needs_a_feed_and_a_known_software(api):
    missing = api.get(f"{URL}preview/")
    unknown = api.get(f"{URL}preview/?feed=default&software=7")
    assert (missing.status_code, missing.json()) == (
        400,
        {"detail": "feed: This field is required.; software: This field is required."},
    )
    assert (unknown.status_code, unknown.json()) == (400, {"detail": "software 7 does not exist"})


# --- actions ---------------------------------------------------------------------------------


def test_actions_list_newest_first_and_filter(api, client):
    rollout = make_rollout(make_software("2.0.0", filename="fw.swu"))
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0")
    first = install(client, "a")
    second = offered_action_id(client, "b")

    response = api.get("/api/v1/actions/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["id"] for item in results] == [second, first]
    assert results[1] == {
        "id": first,
        "device": "a",
        "software": {"id": rollout.software_id, "name": "fw.swu", "version": "2.0.0", "filename": "fw.swu"},
        "rollout": rollout.pk,
        "reason": "rollout",
        "action_type": "forced",
        "forcetime": None,
        "weight": None,
        "maintenance_window": None,
        "status": "finished",
        "progress": 100,
        "last_code": None,
        "created": results[1]["created"],
        "updated": results[1]["updated"],
        "finished_at": results[1]["finished_at"],
    }
    assert [item["id"] for item in api.get("/api/v1/actions/?device=b").json()["results"]] == [second]
    assert [item["id"] for item in api.get("/api/v1/actions/?status=finished").json()["results"]] == [first]
    assert len(api.get(f"/api/v1/actions/?rollout={rollout.pk}").json()["results"]) == 2


def test_an_action_links_its_paged_update_log(api, client):
    make_rollout(make_software("2.0.0"))
    make_device("a", sw_version="1.0.0")
    action_id = offered_action_id(client, "a")
    client.get(f"{BASE}/a/deploymentBase/{action_id}")
    assert action_id is not None
    feedback(client, "a", action_id, "proceeding")

    response = api.get(f"/api/v1/actions/{action_id}/")

    assert response.status_code == 200
    assert response.json()["status_count"] == 2
    assert response.json()["statuses"] == f"http://testserver/api/v1/actions/{action_id}/statuses/"
    page = api.get(response.json()["statuses"]).json()
    assert page["count"] == 2
    assert [(entry["source"], entry["execution"], entry["finished"]) for entry in page["results"]] == [
        ("device", "proceeding", "none"),
        ("server", "retrieved", "none"),
    ]
    assert set(page["results"][0]) == {
        "id",
        "created",
        "source",
        "channel",
        "execution",
        "finished",
        "progress",
        "code",
        "details",
    }


def test_the_update_log_is_paged_newest_first_with_a_cap(api, client):
    make_rollout(make_software("2.0.0"))
    make_device("a", sw_version="1.0.0")
    action_id = offered_action_id(client, "a")
    assert action_id is not None
    action = Action.objects.get(pk=action_id)
    ActionStatus.objects.bulk_create(
        ActionStatus(action=action, execution="proceeding", details=[f"line {index}"]) for index in range(600)
    )
    url = f"/api/v1/actions/{action_id}/statuses/"

    first = api.get(url).json()
    second = api.get(url + "?limit=3&offset=3").json()
    capped = api.get(url + "?limit=100000").json()

    assert first["count"] == 600
    assert len(first["results"]) == 100
    assert first["results"][0]["details"] == ["line 599"]
    assert first["next"] == f"http://testserver{url}?limit=100&offset=100"
    assert [entry["details"] for entry in second["results"]] == [["line 596"], ["line 595"], ["line 594"]]
    assert len(capped["results"]) == 500
    assert api.get("/api/v1/actions/999999/statuses/").status_code == 404


def test_actions_are_read_only(api):
    assert api.post("/api/v1/actions/", {}, content_type="application/json").status_code == 405


# --- permissions and schema ------------------------------------------------------------------


def test_a_read_only_user_can_list_but_not_pause(client):
    rollout = make_rollout(make_software())
    client.force_login(user_with("view_rollout", "view_action"))

    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}preview/?feed=default&software={rollout.software_id}").status_code == 200
    assert client.get("/api/v1/actions/").status_code == 200
    response = post(client, f"{URL}{rollout.pk}/pause/")
    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}
    assert Rollout.objects.get().status == Rollout.Status.RUNNING


def test_lifecycle_commands_need_change_and_create_needs_add(client):
    rollout = make_rollout(make_software())
    client.force_login(user_with("view_rollout", "change_rollout"))
    assert post(client, f"{URL}{rollout.pk}/pause/").status_code == 200
    assert post(client, URL, {"name": "r", "feed": "f", "software": rollout.software_id}).status_code == 403
    assert client.delete(f"{URL}{rollout.pk}/").status_code == 403


def test_the_openapi_schema_is_served(api):
    response = api.get("/api/schema/")
    assert response.status_code == 200
    schema = response.content.decode()
    for path in (
        "/api/v1/rollouts/{id}/pause/",
        "/api/v1/rollouts/preview/",
        "/api/v1/devices/{controller_id}/assign/",
    ):
        assert path in schema


def test_the_openapi_schema_builds_without_warnings(tmp_path):
    # Name clashes (two "Hardware" components, several "status" enums) make wrong client code.
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").stat().st_size > 0
