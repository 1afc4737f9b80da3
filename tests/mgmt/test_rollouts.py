"""/rest/v1/rollouts: hawkBit's rollout management on our staged rollouts (mgmt.views.rollouts)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices import tenant_config
from rollouts.models import Rollout, RolloutGroup
from tests.factories import make_device, make_software
from tests.mgmt.conftest import MgmtClient
from tests.rollouts.ddi_helpers import install

pytestmark = pytest.mark.django_db

ILLEGAL = "hawkbit.server.error.rollout.illegalState"
BAD = "hawkbit.server.error.repo.constraintViolation"


def fleet(count: int, prefix: str = "dev") -> list[str]:
    cids = [f"{prefix}-{index:02d}" for index in range(count)]
    for cid in cids:
        make_device(cid, sw_version="1.0.0")
    return cids


def body(software, **fields):
    return {
        "name": "rollout",
        "distributionSetId": software.pk,
        "targetFilterQuery": "controllerId==dev-*",
        "amountGroups": 2,
        **fields,
    }


@pytest.fixture
def software():
    return make_software("2.0.0")


def create(mgmt: MgmtClient, software, **fields) -> dict:
    response = mgmt.post("rollouts", body(software, **fields))
    assert response.status_code == 201, response.content
    return response.json()


def test_create_with_amount_groups_answers_hawkbits_body(mgmt, software):
    fleet(10)
    created = create(
        mgmt,
        software,
        description="two waves",
        successCondition={"condition": "THRESHOLD", "expression": "80"},
        errorCondition={"condition": "THRESHOLD", "expression": "30"},
        errorAction={"action": "PAUSE", "expression": ""},
        type="soft",
        weight=400,
    )
    assert created["status"] == "ready"
    assert created["totalGroups"] == 2
    assert created["totalTargets"] == 10
    assert created["totalTargetsPerStatus"] == {
        "running": 0,
        "notstarted": 10,
        "scheduled": 0,
        "cancelled": 0,
        "finished": 0,
        "error": 0,
    }
    assert (created["type"], created["weight"], created["dynamic"], created["deleted"]) == (
        "soft",
        400,
        False,
        False,
    )
    assert created["targetFilterQuery"] == "controllerId==dev-*"
    assert created["distributionSetId"] == software.pk
    assert created["createdBy"] == "hawkbit"
    assert isinstance(created["createdAt"], int)
    for name in (
        "self",
        "start",
        "pause",
        "resume",
        "triggerNextGroup",
        "approve",
        "deny",
        "groups",
        "distributionset",
    ):
        assert created["_links"][name]["href"].startswith("http://testserver/rest/v1/")
    rollout = Rollout.objects.get(pk=created["id"])
    assert (rollout.feed, rollout.query, rollout.dynamic) == ("", "controllerId==dev-*", False)
    groups = mgmt.get(f"rollouts/{created['id']}/deploygroups").json()
    assert groups["total"] == 2
    first = groups["content"][0]
    assert first["successCondition"] == {"condition": "THRESHOLD", "expression": "80"}
    assert first["successAction"] == {"action": "NEXTGROUP", "expression": ""}
    assert first["errorCondition"] == {"condition": "THRESHOLD", "expression": "30"}
    assert first["errorAction"] == {"action": "PAUSE", "expression": ""}
    assert first["status"] == "ready"
    assert [g["totalTargets"] for g in groups["content"]] == [5, 5]


def test_create_with_explicit_groups_and_their_conditions(mgmt, software):
    fleet(4)
    fleet(2, prefix="lab")
    created = create(
        mgmt,
        software,
        targetFilterQuery="controllerId==dev-* or controllerId==lab-*",
        amountGroups=None,
        groups=[
            {
                "name": "lab",
                "targetFilterQuery": "controllerId==lab-*",
                "targetPercentage": 100,
                "successAction": {"action": "PAUSE"},
                "confirmationRequired": False,
            },
            {
                "name": "rest",
                "description": "everyone else",
                "targetPercentage": 50,
                "successCondition": {"condition": "THRESHOLD", "expression": "90"},
                "errorCondition": {"condition": "THRESHOLD", "expression": "20"},
            },
            {"name": "last"},
        ],
    )
    groups = list(RolloutGroup.objects.filter(rollout_id=created["id"]).order_by("position"))
    assert [
        (
            g.name,
            g.query,
            g.target_percentage,
            g.success_action,
            g.success_threshold,
            g.error_threshold,
            g.confirmation_required,
        )
        for g in groups
    ] == [
        # Conditions a group leaves out are the rollout's: hawkBit's 50 % defaults here.
        ("lab", "controllerId==lab-*", 100.0, "pause", 50, 50, False),
        ("rest", "", 50.0, "next_group", 90, 20, None),
        ("last", "", None, "next_group", 50, 50, None),
    ]
    listing = mgmt.get(f"rollouts/{created['id']}/deploygroups").json()["content"]
    assert [g["totalTargets"] for g in listing] == [2, 2, 2]
    assert listing[0]["successAction"]["action"] == "PAUSE"
    assert listing[1]["description"] == "everyone else"
    one = mgmt.get(f"rollouts/{created['id']}/deploygroups/{groups[0].pk}")
    assert one.status_code == 200 and one.json()["name"] == "lab"
    targets = mgmt.get(f"rollouts/{created['id']}/deploygroups/{groups[0].pk}/targets").json()
    assert sorted(t["controllerId"] for t in targets["content"]) == ["lab-00", "lab-01"]
    assert targets["total"] == 2


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"distributionSetId": None}, "distributionSetId"),
        ({"name": ""}, "name"),
        ({"amountGroups": 0}, "amountGroups"),
        ({"amountGroups": "2"}, "amountGroups"),
        ({"amountGroups": None, "groups": [{"name": "a"}], "dynamic": True}, "dynamic"),
        ({"groups": [{"name": "a"}]}, "amountGroups"),
        (
            {"amountGroups": None, "groups": [{"name": "a", "targetPercentage": 0}]},
            "groups[0].targetPercentage",
        ),
        (
            {"amountGroups": None, "groups": [{"name": "a", "targetPercentage": 101}]},
            "groups[0].targetPercentage",
        ),
        ({"amountGroups": None, "groups": [{"name": "a"}, {"name": "a"}]}, "groups[1].name"),
        (
            {"amountGroups": None, "groups": [{"name": "a", "targetFilterQuery": "x=="}]},
            "groups[0].targetFilterQuery",
        ),
        ({"amountGroups": None, "groups": [{}]}, "groups[0].name"),
        ({"amountGroups": None, "groups": "a"}, "groups"),
        ({"successCondition": {"condition": "THRESHOLD", "expression": "101"}}, "successCondition"),
        ({"successCondition": {"condition": "OTHER", "expression": "50"}}, "successCondition.condition"),
        ({"successAction": {"action": "JUMP"}}, "successAction.action"),
        ({"errorAction": {"action": "NEXTGROUP"}}, "errorAction.action"),
        ({"errorCondition": "50"}, "errorCondition"),
        ({"startAt": "2026-01-01T00:00:00Z"}, "startAt"),
        ({"startAt": -5}, "startAt"),
        ({"type": "sometimes"}, "type"),
        ({"type": "timeforced"}, "forcetime"),
        ({"weight": 1001}, "weight"),
        ({"dynamic": "yes"}, "dynamic"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(mgmt, software, change, named):
    fleet(1)
    # None in a change removes the field.
    payload = {key: value for key, value in {**body(software), **change}.items() if value is not None}
    response = mgmt.post("rollouts", payload)
    assert response.status_code == 400, response.content
    assert named in response.json()["message"]
    assert Rollout.objects.count() == 0


@pytest.mark.parametrize("query", [None, "", "name==", "nosuchfield==1"])
def test_a_missing_or_bad_target_filter_is_hawkbits_rsql_syntax_error(mgmt, software, query):
    payload = {
        key: value for key, value in body(software, targetFilterQuery=query).items() if value is not None
    }
    response = mgmt.post("rollouts", payload)
    assert response.status_code == 400, response.content
    assert response.json()["errorCode"] == "hawkbit.server.error.rest.param.rsqlParamSyntax"
    assert "targetFilterQuery" in response.json()["message"]
    assert Rollout.objects.count() == 0


def test_an_unknown_distribution_set_is_hawkbits_404_naming_the_field(mgmt):
    response = mgmt.post("rollouts", body(type("Gone", (), {"pk": 999999})))
    assert response.status_code == 404
    assert response.json()["errorCode"] == "hawkbit.server.error.repo.entityNotFound"
    assert "distributionSetId" in response.json()["message"]


def test_without_conditions_groups_get_hawkbits_defaults_and_without_amount_one_group(mgmt, software):
    fleet(2)
    created = mgmt.post(
        "rollouts",
        {"name": "r", "distributionSetId": software.pk, "targetFilterQuery": "controllerId==dev-*"},
    )
    assert created.status_code == 201, created.content
    groups = list(RolloutGroup.objects.filter(rollout_id=created.json()["id"]))
    assert [(g.success_threshold, g.success_action, g.error_threshold) for g in groups] == [
        (50, "next_group", 50)
    ]
    group = mgmt.get(f"rollouts/{created.json()['id']}/deploygroups").json()["content"][0]
    assert group["successCondition"] == {"condition": "THRESHOLD", "expression": "50"}
    assert group["errorCondition"] == {"condition": "THRESHOLD", "expression": "50"}
    assert "totalTargetsPerStatus" not in group  # compact, as hawkBit's default
    assert group["totalTargets"] == 2 and group["dynamic"] is False
    assert "confirmationRequired" not in group  # only with the confirmation flow on


def test_a_body_that_is_not_an_object_is_not_readable(mgmt):
    response = mgmt.post("rollouts", [1])
    assert response.status_code == 400
    assert response.json()["errorCode"] == "hawkbit.server.error.rest.body.notReadable"


def test_start_pause_resume_trigger_and_refusals(mgmt, software):
    fleet(4)
    rollout_id = create(mgmt, software)["id"]
    url = f"rollouts/{rollout_id}"

    def refused(verb: str) -> None:
        response = mgmt.post(f"{url}/{verb}")
        assert response.status_code == 400, (verb, response.content)
        assert response.json()["errorCode"] == ILLEGAL
        assert response.json()["exceptionClass"].endswith("RolloutIllegalStateException")

    for verb in ("pause", "resume", "triggerNextGroup", "stop", "approve", "deny"):
        refused(verb)
    assert mgmt.post(f"{url}/start").status_code == 204
    assert mgmt.get(url).json()["status"] == "running"
    groups = mgmt.get(f"{url}/deploygroups", representation="full").json()["content"]
    assert [g["status"] for g in groups] == ["running", "scheduled"]
    assert groups[1]["totalTargetsPerStatus"]["scheduled"] == 2
    refused("start")
    refused("resume")
    assert mgmt.post(f"{url}/pause").status_code == 204
    assert mgmt.get(url).json()["status"] == "paused"
    refused("pause")
    refused("triggerNextGroup")
    assert mgmt.post(f"{url}/resume").status_code == 204
    assert mgmt.post(f"{url}/triggerNextGroup").status_code == 204
    assert [g["status"] for g in mgmt.get(f"{url}/deploygroups").json()["content"]] == ["running", "running"]
    refused("triggerNextGroup")  # no group left
    assert mgmt.post(f"{url}/stop").status_code == 204
    assert mgmt.get(url).json()["status"] == "stopped"
    refused("start")


def test_statistics_follow_the_devices_and_retry_makes_a_new_rollout(mgmt, software, client):
    cids = fleet(2)
    every = {"condition": "THRESHOLD", "expression": "100"}
    created = create(mgmt, software, amountGroups=1, successCondition=every, errorCondition=every)
    url = f"rollouts/{created['id']}"
    # hawkBit refuses to retry an unfinished rollout with a ValidationException.
    assert mgmt.post(f"{url}/retry").json()["errorCode"] == BAD
    mgmt.post(f"{url}/start")
    install(client, cids[0], finished="failure")
    stats = mgmt.get(url).json()["totalTargetsPerStatus"]
    assert (stats["error"], stats["notstarted"], stats["scheduled"]) == (1, 1, 0)
    install(client, cids[1])
    assert mgmt.get(url).json()["totalTargetsPerStatus"]["finished"] == 1
    mgmt.post(f"{url}/stop")
    retry = mgmt.post(f"{url}/retry")
    assert retry.status_code == 201, retry.content
    assert retry.json()["id"] != created["id"]
    assert retry.json()["totalTargets"] == 1
    assert Rollout.objects.get(pk=retry.json()["id"]).retry_of_id == created["id"]


def test_one_rollout_body_costs_a_fixed_number_of_queries(mgmt, software):
    fleet(3)
    rollout_id = create(mgmt, software, amountGroups=3)["id"]
    mgmt.post(f"rollouts/{rollout_id}/start")
    with CaptureQueriesContext(connection) as small:
        assert mgmt.get(f"rollouts/{rollout_id}").status_code == 200
    fleet(20, prefix="dev-more")
    with CaptureQueriesContext(connection) as large:
        assert mgmt.get(f"rollouts/{rollout_id}").status_code == 200
    assert len(large) == len(small) <= 8


def test_the_compact_list_of_started_rollouts_costs_the_same_for_one_or_many(mgmt, software):
    fleet(2)
    mgmt.post(f"rollouts/{create(mgmt, software)['id']}/start")
    with CaptureQueriesContext(connection) as one:
        assert mgmt.get("rollouts").json()["total"] == 1
    for index in range(4):
        mgmt.post(f"rollouts/{create(mgmt, software, name=f'more {index}')['id']}/start")
    with CaptureQueriesContext(connection) as many:
        listing = mgmt.get("rollouts").json()
    assert listing["total"] == 5 and "totalTargetsPerStatus" not in listing["content"][0]
    assert listing["content"][0]["totalTargets"] == 2  # frozen at the start
    assert len(many) == len(one)


def test_the_full_list_and_drafts_count_their_targets(mgmt, software):
    fleet(2)
    create(mgmt, software)
    assert mgmt.get("rollouts").json()["content"][0]["totalTargets"] == 2
    full = mgmt.get("rollouts", representation="full").json()["content"]
    assert full[0]["totalTargetsPerStatus"]["notstarted"] == 2
    assert full[0]["_links"]["start"]["href"].endswith(f"/rest/v1/rollouts/{full[0]['id']}/start")


def test_list_filters_and_sorts(mgmt, software):
    fleet(1)
    other = make_software("3.0.0")
    create(mgmt, software, name="alpha")
    beta = create(mgmt, other, name="beta")
    mgmt.post(f"rollouts/{beta['id']}/start")
    assert [r["name"] for r in mgmt.get("rollouts", q="status==running").json()["content"]] == ["beta"]
    assert [r["name"] for r in mgmt.get("rollouts", q="status==ready").json()["content"]] == ["alpha"]
    assert [
        r["name"] for r in mgmt.get("rollouts", q="distributionSet.version==3.0.0").json()["content"]
    ] == ["beta"]
    assert [r["name"] for r in mgmt.get("rollouts", sort="name:DESC").json()["content"]] == ["beta", "alpha"]
    bad = mgmt.get("rollouts", q="name==")
    assert (
        bad.status_code == 400
        and bad.json()["errorCode"] == "hawkbit.server.error.rest.param.rsqlParamSyntax"
    )
    unknown = mgmt.get("rollouts", q="colour==red")
    assert unknown.json()["errorCode"] == "hawkbit.server.error.rest.param.rsqlInvalidField"
    assert mgmt.get("rollouts", sort="colour:ASC").status_code == 400
    # As hawkBit: an unknown representation falls back to compact.
    assert "totalTargetsPerStatus" not in mgmt.get("rollouts", representation="huge").json()["content"][0]


def test_update_and_delete(mgmt, software):
    fleet(1)
    rollout_id = create(mgmt, software)["id"]
    changed = mgmt.put(f"rollouts/{rollout_id}", {"name": "renamed", "description": "new words"})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["description"]) == ("renamed", "new words")
    assert mgmt.put(f"rollouts/{rollout_id}", {"name": 5}).status_code == 400
    assert mgmt.delete(f"rollouts/{rollout_id}").status_code == 204
    assert (
        mgmt.get(f"rollouts/{rollout_id}").json()["errorCode"] == "hawkbit.server.error.repo.entityNotFound"
    )


def test_a_rollout_with_history_cannot_be_deleted(mgmt, software, client):
    cids = fleet(1)
    rollout_id = create(mgmt, software, amountGroups=1)["id"]
    mgmt.post(f"rollouts/{rollout_id}/start")
    install(client, cids[0])
    response = mgmt.delete(f"rollouts/{rollout_id}")
    assert response.status_code == 400 and response.json()["errorCode"] == ILLEGAL
    assert Rollout.objects.filter(pk=rollout_id).exists()


@pytest.mark.parametrize(
    "path",
    [
        "rollouts/abc",
        "rollouts/999",
        "rollouts/999/deploygroups",
        "rollouts/{id}/deploygroups/999",
        "rollouts/{id}/deploygroups/x/targets",
    ],
)
def test_unknown_ids_are_hawkbits_404(mgmt, software, path):
    fleet(1)
    rollout_id = create(mgmt, software)["id"]
    response = mgmt.get(path.format(id=rollout_id))
    assert response.status_code == 404
    assert response.json()["errorCode"] == "hawkbit.server.error.repo.entityNotFound"


def test_approval_with_four_eyes(settings, mgmt, software, mgmt_as):
    settings.GOOSEBIT_ROLLOUT_APPROVAL = True
    tenant_config.cache.invalidate()
    fleet(1)
    first = create(mgmt, software)
    assert first["status"] == "waiting_for_approval"
    own = mgmt.post(f"rollouts/{first['id']}/approve")
    assert own.status_code == 400 and own.json()["errorCode"] == ILLEGAL
    assert "four eyes" in own.json()["message"]
    other = mgmt_as("change_rollout")
    assert other.post(f"rollouts/{first['id']}/approve?remark=fine").status_code == 204
    approved = mgmt.get(f"rollouts/{first['id']}").json()
    assert (approved["status"], approved["approvalRemark"], approved["approveDecidedBy"]) == (
        "ready",
        "fine",
        "user0",
    )
    second = create(mgmt, software, name="second")
    assert other.post(f"rollouts/{second['id']}/deny?remark=no").status_code == 204
    assert mgmt.get(f"rollouts/{second['id']}").json()["status"] == "approval_denied"
    assert other.post(f"rollouts/{second['id']}/approve").json()["errorCode"] == ILLEGAL


def test_scheduled_start_and_forcetime_are_millis(mgmt, software):
    fleet(1)
    created = create(mgmt, software, startAt=4102444800000, type="timeforced", forcetime=4102444800000)
    assert created["startAt"] == 4102444800000
    assert created["forcetime"] == 4102444800000
    assert created["type"] == "timeforced"
    assert User.objects.filter(username="hawkbit").exists()


def test_a_maintenance_window_and_confirmation_reach_the_rollout(mgmt, software):
    fleet(1)
    window = {"schedule": "0 30 2 ? * *", "duration": "01:00:00", "timezone": "+02:00"}
    created = create(mgmt, software, maintenanceWindow=window, confirmationRequired=False)
    rollout = Rollout.objects.get(pk=created["id"])
    assert rollout.maintenance_window == window
    assert rollout.confirmation_required is False
    bad = mgmt.post("rollouts", body(software, maintenanceWindow={**window, "duration": "forever"}))
    assert bad.status_code == 400
    assert bad.json()["errorCode"] == "hawkbit.server.error.maintenanceScheduleInvalid"
