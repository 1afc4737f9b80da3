"""The rollout API's groups: layouts on create and patch, per-group statistics, devices and
preview, approval, next group, retry, field-named errors, permissions and query counts."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices import tenant_config
from rollouts import services
from rollouts.models import Action, Rollout, RolloutGroup
from software.models import Software
from tests.api.helpers import post, user_with
from tests.factories import make_device, make_software
from tests.rollouts.ddi_helpers import install

pytestmark = pytest.mark.django_db

URL = "/api/v1/rollouts/"


def fleet(count: int, prefix: str = "dev") -> list[str]:
    cids = [f"{prefix}-{index:02d}" for index in range(count)]
    for cid in cids:
        make_device(cid, sw_version="1.0.0")
    return cids


def body(software, **fields):
    return {"name": "r", "feed": "default", "software": software.pk, **fields}


def group_rows(rollout_id: int) -> list[tuple]:
    return list(
        RolloutGroup.objects.filter(rollout_id=rollout_id)
        .order_by("position")
        .values_list("name", "target_count", "target_percentage", "success_action")
    )


# --- create --------------------------------------------------------------------------------------


def test_amount_groups_make_even_groups_with_their_statistics(api):
    fleet(10)
    response = post(api, URL, body(make_software("2.0.0"), amount_groups=3))
    assert response.status_code == 201, response.json()
    groups = response.json()["groups"]
    assert [group["name"] for group in groups] == ["Group 1", "Group 2", "Group 3"]
    assert [group["stats"]["targeted"] for group in groups] == [4, 3, 3]
    assert {group["status"] for group in groups} == {"scheduled"}


def test_a_canary_with_waves_pausing_after_the_canary(api):
    fleet(10)
    response = post(
        api,
        URL,
        body(
            make_software("2.0.0"),
            canary={"count": 2, "waves": 2, "error_count": 1, "pause_after_canary": True},
        ),
    )
    assert response.status_code == 201, response.json()
    rows = group_rows(response.json()["id"])
    assert [row[0] for row in rows] == ["Canary", "Wave 1", "Wave 2"]
    assert rows[0][1:] == (2, None, "pause")
    assert [group["error_count"] for group in response.json()["groups"]] == [1, 1, 1]
    assert [group["stats"]["targeted"] for group in response.json()["groups"]] == [2, 4, 4]


def test_explicit_groups_a_query_a_description_and_a_start_time(api):
    fleet(4)
    response = post(
        api,
        URL,
        {
            "name": "by query",
            "query": "controllerId==dev-0*",
            "software": make_software("2.0.0").pk,
            "description": "night shift",
            "dynamic": False,
            "start_at": "2030-01-01T02:00:00+02:00",
            "groups": [
                {"name": "first", "target_count": 1, "success_action": "pause"},
                {"name": "rest", "success_threshold": 90, "error_threshold": 10},
            ],
        },
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["feed"], data["query"], data["description"], data["dynamic"]) == (
        "",
        "controllerId==dev-0*",
        "night shift",
        False,
    )
    assert data["start_at"].startswith("2030-01-01T00:00:00")
    assert group_rows(data["id"]) == [("first", 1, None, "pause"), ("rest", None, None, "next_group")]
    assert [group["success_threshold"] for group in data["groups"]] == [100, 90]


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        (
            {"groups": [{"name": "a"}, {"name": "b", "target_percentage": 150}]},
            "groups[1].target_percentage: must be a number above 0 and at most 100, got 150.0",
        ),
        (
            {"groups": [{"name": "a"}, {"name": "a"}]},
            "groups[1].name: 'a' names another group of this rollout",
        ),
        ({"groups": [{"name": "a"}, {}]}, "groups[1].name: This field is required."),
        ({"groups": []}, "groups: must hold at least one group"),
        ({"amount_groups": 0}, "amount_groups: must be a whole number from 1 to 500, got 0"),
        (
            {"amount_groups": 2, "canary": {"count": 1}},
            "canary: give only one of amount_groups, canary, groups",
        ),
        ({"canary": {"waves": 2}}, "canary.count: give either count or percentage"),
        (
            {"start_at": "2030-01-01T02:00:00"},
            "start_at: Give the time zone, e.g. 2026-05-01T02:00:00+02:00 or ...Z.",
        ),
        ({"feed": None, "query": "nonsense=="}, "query"),
    ],
)
def test_bad_groups_are_a_400_naming_the_field_and_write_nothing(api, fields, detail):
    software = make_software("2.0.0")
    data = {key: value for key, value in {**body(software), **fields}.items() if value is not None}
    response = post(api, URL, data)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert not Rollout.objects.exists()
    assert not RolloutGroup.objects.exists()


# --- read ----------------------------------------------------------------------------------------


def test_the_list_costs_the_same_queries_whatever_the_fleet_and_group_count(api):
    software = make_software("2.0.0")
    fleet(2)
    services.rollout_create(name="r", software=software, feed="default", groups=services.groups_even(2))
    api.get(URL)  # warms this worker's caches
    with CaptureQueriesContext(connection) as small:
        assert api.get(URL).status_code == 200
    rollout = Rollout.objects.get()
    for cid in fleet(20, prefix="more"):
        Action.objects.create(
            device=make_device(f"x-{cid}", sw_version="1.0.0"), software=software, rollout=rollout, reason="r"
        )
    with CaptureQueriesContext(connection) as large:
        groups = api.get(URL).json()["results"][0]["groups"]
    assert sum(group["stats"]["targeted"] for group in groups) == 42
    assert len(small) == len(large)


def test_groups_devices_and_preview_per_group(api):
    fleet(5)
    rollout = services.rollout_create(
        name="r", software=make_software("2.0.0"), feed="default", groups=services.groups_even(2)
    )

    groups = api.get(f"{URL}{rollout.pk}/groups/").json()
    assert [(group["position"], group["stats"]["targeted"]) for group in groups] == [(0, 3), (1, 2)]

    page = api.get(f"{URL}{rollout.pk}/groups/1/devices/?limit=1").json()
    assert page["count"] == 2
    assert [device["controller_id"] for device in page["results"]] == ["dev-03"]
    assert api.get(f"{URL}{rollout.pk}/groups/7/devices/").status_code == 404

    preview = api.get(f"{URL}{rollout.pk}/preview/").json()
    assert [(group["name"], group["devices"], group["to_update"]) for group in preview] == [
        ("Group 1", 3, 3),
        ("Group 2", 2, 2),
    ]
    assert preview[1]["sample"] == ["dev-03", "dev-04"]


# --- change --------------------------------------------------------------------------------------


def test_patch_groups_and_start_at_before_the_start_but_not_after(api):
    fleet(4)
    rollout = services.rollout_create(name="r", software=make_software("2.0.0"), feed="default")
    response = api.patch(
        f"{URL}{rollout.pk}/",
        {"amount_groups": 2, "start_at": "2030-01-01T00:00:00Z"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert [group["name"] for group in response.json()["groups"]] == ["Group 1", "Group 2"]

    bad = api.patch(
        f"{URL}{rollout.pk}/", {"groups": [{"name": "a", "error_count": 0}]}, content_type="application/json"
    )
    assert (bad.status_code, bad.json()["detail"]) == (
        400,
        "groups[0].error_count: must be from 1 to 2147483647, got 0",
    )
    assert len(group_rows(rollout.pk)) == 2

    services.rollout_start(rollout=rollout)
    late = api.patch(f"{URL}{rollout.pk}/", {"amount_groups": 3}, content_type="application/json")
    assert late.status_code == 409
    assert "its groups and start time are fixed" in late.json()["detail"]
    assert len(group_rows(rollout.pk)) == 2


def test_next_group_starts_the_following_group_then_conflicts(api):
    fleet(4)
    rollout = services.rollout_create(
        name="r", software=make_software("2.0.0"), feed="default", groups=services.groups_even(2), start=True
    )
    response = post(api, f"{URL}{rollout.pk}/next-group/")
    assert response.status_code == 200
    assert [group["status"] for group in response.json()["groups"]] == ["running", "running"]
    again = post(api, f"{URL}{rollout.pk}/next-group/")
    assert again.status_code == 409
    assert "no group left" in again.json()["detail"]


def test_approve_needs_another_operator_deny_is_final(api, settings):
    settings.GOOSEBIT_ROLLOUT_APPROVAL = True
    tenant_config.cache.invalidate()
    root = get_user_model().objects.get(username="root")
    alice = get_user_model().objects.create_user("alice")
    software = make_software("2.0.0")
    own = services.rollout_create(name="own", software=software, feed="default", created_by=root)
    assert post(api, f"{URL}{own.pk}/approve/").status_code == 409  # four eyes

    theirs = services.rollout_create(name="theirs", software=software, feed="b", created_by=alice)
    response = post(api, f"{URL}{theirs.pk}/approve/", {"remark": "looks good"})
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["approval_decided_by"], data["approval_remark"]) == (
        "draft",
        "root",
        "looks good",
    )

    other = services.rollout_create(name="other", software=software, feed="c", created_by=alice)
    assert post(api, f"{URL}{other.pk}/deny/", {"remark": "x" * 600}).status_code == 400
    assert post(api, f"{URL}{other.pk}/deny/").json()["status"] == "approval_denied"
    assert post(api, f"{URL}{other.pk}/approve/").status_code == 409


def test_retry_answers_201_with_the_new_rollout(api, client):
    cids = fleet(2)
    rollout = services.rollout_create(name="r", software=make_software("2.0.0"), feed="default", start=True)
    install(client, cids[0], finished="failure")
    assert post(api, f"{URL}{rollout.pk}/retry/").status_code == 409  # still running
    services.rollout_stop(rollout=rollout)

    response = post(api, f"{URL}{rollout.pk}/retry/", {"start": True})

    assert response.status_code == 201
    assert (response.json()["retry_of"], response.json()["status"]) == (rollout.pk, "running")
    assert response.json()["stats"]["targeted"] == 1


# --- permissions ---------------------------------------------------------------------------------


def test_viewers_read_groups_operators_change_them(client):
    fleet(2)
    rollout = services.rollout_create(
        name="r", software=make_software("2.0.0"), feed="default", groups=services.groups_even(2), start=True
    )
    client.force_login(user_with("view_rollout"))
    assert client.get(f"{URL}{rollout.pk}/groups/").status_code == 200
    assert client.get(f"{URL}{rollout.pk}/groups/0/devices/").status_code == 200
    for verb in ("next-group", "approve", "deny", "retry"):
        assert post(client, f"{URL}{rollout.pk}/{verb}/").status_code == 403, verb

    client.force_login(user_with("view_rollout", "change_rollout"))
    assert post(client, f"{URL}{rollout.pk}/next-group/").status_code == 200
    services.rollout_stop(rollout=rollout)
    # Retrying creates a rollout: change alone is not enough.
    assert post(client, f"{URL}{rollout.pk}/retry/").status_code == 403


def test_the_session_api_needs_the_csrf_token(api):
    from django.test import Client

    fleet(2)
    rollout = services.rollout_create(
        name="r", software=make_software("2.0.0"), feed="default", groups=services.groups_even(2), start=True
    )
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(get_user_model().objects.get(username="root"))
    assert post(strict, f"{URL}{rollout.pk}/next-group/").status_code == 403
    assert RolloutGroup.objects.filter(rollout=rollout, status="running").count() == 1


# --- fuzz ----------------------------------------------------------------------------------------

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_group = st.fixed_dictionaries(
    {},
    optional={
        key: _value | _scalar
        for key in (
            "name",
            "query",
            "target_count",
            "target_percentage",
            "success_threshold",
            "success_action",
            "error_threshold",
            "error_count",
            "confirmation_required",
            "description",
        )
    },
)
_canary = st.fixed_dictionaries(
    {},
    optional={
        key: _scalar
        for key in (
            "count",
            "percentage",
            "waves",
            "success_threshold",
            "error_threshold",
            "error_count",
            "pause_after_canary",
        )
    },
)
_body = st.fixed_dictionaries(
    {"name": st.just("fuzz") | _scalar},
    optional={
        "feed": st.just("default") | _scalar,
        "query": st.just("controllerId==a*") | _scalar,
        "description": _scalar,
        "dynamic": _scalar,
        "start_at": st.just("2030-01-01T00:00:00Z") | _scalar,
        "amount_groups": st.integers(min_value=-3, max_value=200) | _scalar,
        "canary": _canary | _value,
        "groups": st.lists(_group, max_size=4) | _value,
    },
)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=_body)
def test_no_post_body_is_a_server_error(api, data):
    software = Software.objects.first() or make_software("2.0.0")
    data = {**data, "software": software.pk}
    before = Rollout.objects.count()
    response = post(api, URL, data)
    assert response.status_code in (201, 400), (response.status_code, data, response.content[:500])
    if response.status_code == 400:
        assert Rollout.objects.count() == before
        assert response.json()["detail"]
