"""The rollout admin with groups: the canary form, query targets, editing groups before the
start, every button in the states it is allowed (and refused otherwise), four eyes, retry, one
progress bar per group in a fixed number of queries, and a Viewer who sees but cannot press."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices import tenant_config
from rollouts import selectors, services
from rollouts.admin_groups import group_progress_summary, rollout_group_rows
from rollouts.models import Rollout, RolloutGroup
from rollouts.services import GroupSpec
from tests.factories import make_device, make_software
from tests.rollouts.ddi_helpers import install

pytestmark = pytest.mark.django_db

ADMIN = "/admin/rollouts/rollout/"


def staff(username: str, group: str) -> User:
    user = User.objects.create_user(username, password="secret-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def alice() -> User:
    return staff("alice", "Operators")


@pytest.fixture
def operator(client, alice):
    client.force_login(alice)
    return client


def fleet(count: int, *, prefix: str = "dev", **fields) -> list[str]:
    cids = [f"{prefix}-{index:02d}" for index in range(count)]
    for cid in cids:
        make_device(cid, sw_version="1.0.0", **fields)
    return cids


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def canary_form(software, **overrides) -> dict:
    data = {
        "name": "spring",
        "feed": "default",
        "query": "",
        "software": str(software.pk),
        "description": "",
        "groups_mode": "canary",
        "canary_size": "10",
        "canary_unit": "percent",
        "waves": "2",
        "success_threshold": "100",
        "error_threshold": "20",
        "error_count": "",
        "dynamic": "on",
        "start_at": "",
        "pause_on_failure_percent": "",
        "pause_min_results": "5",
        "pause_on_failure_count": "",
        "max_parallel": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def create_through_the_form(client, data: dict):
    """Submit, check the preview step, confirm: the rollout is created."""
    preview = client.post(f"{ADMIN}add/", data)
    assert preview.status_code == 200, preview.content
    token = preview.context["confirm_token"]
    assert token
    assert not Rollout.objects.filter(name=data["name"]).exists()  # the trial was rolled back
    return preview, client.post(f"{ADMIN}add/", {**data, "_confirmed": token})


def group_rows(rollout: Rollout) -> list[tuple]:
    return list(
        RolloutGroup.objects.filter(rollout=rollout)
        .order_by("position")
        .values_list("name", "target_count", "target_percentage", "success_action", "error_threshold")
    )


def running(software=None, *, groups=None, created_by=None, **fields) -> Rollout:
    rollout = services.rollout_create(
        name=fields.pop("name", "wave"),
        software=software or make_software("2.0.0"),
        feed="default",
        groups=groups,
        created_by=created_by,
        **fields,
    )
    return services.rollout_start(rollout=rollout)


THREE_GROUPS = [
    GroupSpec(name="Canary", target_count=1, error_count=1),
    GroupSpec(name="Half", target_percentage=50),
    GroupSpec(name="Rest"),
]


# --- create --------------------------------------------------------------------------------------


def test_the_add_form_offers_a_canary_then_two_waves_by_default(operator):
    form = operator.get(f"{ADMIN}add/").context["adminform"].form
    defaults = {
        name: form[name].value()
        for name in (
            "groups_mode",
            "canary_size",
            "canary_unit",
            "waves",
            "success_threshold",
            "error_threshold",
        )
    }
    assert defaults == {
        "groups_mode": "canary",
        "canary_size": 5,
        "canary_unit": "percent",
        "waves": 2,
        "success_threshold": 100,
        "error_threshold": 20,
    }
    assert form["dynamic"].value() is True


def test_the_canary_form_previews_every_group_then_creates_them(operator, alice):
    fleet(20)
    preview, created = create_through_the_form(operator, canary_form(make_software("2.0.0")))
    previews = preview.context["group_previews"]
    assert [(item["name"], item["devices"]) for item in previews] == [
        ("Canary", 2),
        ("Wave 1", 9),
        ("Wave 2", 9),
    ]
    assert previews[0]["sample"] == ["dev-00", "dev-01"]
    assert b"Canary" in preview.content and b"dev-00" in preview.content

    assert created.status_code == 302
    rollout = Rollout.objects.get()
    assert (rollout.status, rollout.dynamic, rollout.created_by) == (Rollout.Status.DRAFT, True, alice)
    assert group_rows(rollout) == [
        ("Canary", None, 10.0, "next_group", 20),
        ("Wave 1", None, 50.0, "next_group", 20),
        ("Wave 2", None, None, "next_group", 20),
    ]


def test_a_canary_of_devices_that_pauses_after_it(operator):
    fleet(5)
    data = canary_form(
        make_software("2.0.0"), canary_size="3", canary_unit="devices", pause_after_canary="on"
    )
    _, created = create_through_the_form(operator, data)
    assert created.status_code == 302
    assert group_rows(Rollout.objects.get())[0] == ("Canary", 3, None, "pause", 20)


def test_no_groups_is_one_group_of_everyone(operator):
    fleet(3)
    _, created = create_through_the_form(operator, canary_form(make_software("2.0.0"), groups_mode="none"))
    assert created.status_code == 302
    assert [row[0] for row in group_rows(Rollout.objects.get())] == ["All devices"]


def test_a_query_targets_devices_without_a_feed_and_a_schedule_is_kept(operator):
    fleet(2, prefix="lab", feed="lab")
    fleet(2, prefix="field", feed="field")
    soon = timezone.localtime() + dt.timedelta(days=1)
    data = canary_form(
        make_software("2.0.0"),
        feed="",
        query="controllerId==lab*",
        groups_mode="none",
        dynamic=None,
        start_at=soon.strftime("%Y-%m-%dT%H:%M"),
        description="lab first",
    )
    preview, created = create_through_the_form(operator, data)
    assert [item["devices"] for item in preview.context["group_previews"]] == [2]
    assert "preview" not in preview.context  # the feed's preview would count other devices
    assert created.status_code == 302
    rollout = Rollout.objects.get()
    assert (rollout.feed, rollout.query, rollout.dynamic, rollout.description) == (
        "",
        "controllerId==lab*",
        False,
        "lab first",
    )
    assert rollout.start_at is not None and rollout.start_at > timezone.now()


def test_a_changed_query_asks_for_a_new_preview(operator):
    fleet(2)
    data = canary_form(make_software("2.0.0"), query="controllerId==dev-00", groups_mode="none")
    preview = operator.post(f"{ADMIN}add/", data)
    stale = {**data, "query": "controllerId==dev-01", "_confirmed": preview.context["confirm_token"]}
    again = operator.post(f"{ADMIN}add/", stale)
    assert again.status_code == 200 and again.context["confirm_token"] != preview.context["confirm_token"]
    assert Rollout.objects.count() == 0


def test_a_bad_query_shows_on_the_query_field_and_saves_nothing(operator):
    response = operator.post(f"{ADMIN}add/", canary_form(make_software("2.0.0"), query="controllerId=="))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["query"], errors
    assert Rollout.objects.count() == 0


def test_no_feed_and_no_query_is_an_error_on_the_feed(operator):
    response = operator.post(f"{ADMIN}add/", canary_form(make_software("2.0.0"), feed=""))
    assert "feed or a device query" in str(response.context["adminform"].form.errors["feed"])
    assert Rollout.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"canary_size": ""}, "canary_size"),
        ({"canary_size": "2.5", "canary_unit": "devices"}, "canary_size"),
        ({"canary_size": "150"}, "canary_size"),
        ({"waves": "0"}, "waves"),
        ({"success_threshold": "0"}, "success_threshold"),
        ({"error_threshold": "101"}, "error_threshold"),
    ],
)
def test_bad_group_settings_show_on_their_field(operator, overrides, field):
    response = operator.post(f"{ADMIN}add/", canary_form(make_software("2.0.0"), **overrides))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Rollout.objects.count() == 0


# --- groups before and after the start --------------------------------------------------------


def group_post(groups: list[dict], *, initial: int) -> dict:
    data = {
        "groups-TOTAL_FORMS": str(len(groups)),
        "groups-INITIAL_FORMS": str(initial),
        "groups-MIN_NUM_FORMS": "0",
        "groups-MAX_NUM_FORMS": "1000",
    }
    for index, group in enumerate(groups):
        row = {"query": "", "size": "", "success_threshold": "100", "success_action": "next_group"}
        row.update(group)
        data.update({f"groups-{index}-{key}": value for key, value in row.items()})
    return data


def test_the_groups_of_a_draft_are_edited_through_the_service(operator):
    fleet(4)
    rollout = services.rollout_create(name="r", software=make_software("2.0.0"), feed="default")
    page = operator.get(f"{ADMIN}{rollout.pk}/change/")
    assert "group_formset" in page.context and b"Edit the groups" in page.content

    response = operator.post(
        f"{ADMIN}{rollout.pk}/groups/",
        group_post(
            [
                {"name": "First", "size": "1", "unit": "devices", "error_count": "1"},
                {"name": "Rest", "unit": "rest", "success_action": "pause", "error_threshold": "50"},
                {"name": "Dropped", "unit": "rest", "DELETE": "on"},
                {"name": "", "unit": "rest"},  # the untouched extra row
            ],
            initial=1,
        ),
    )
    assert response.status_code == 302
    assert messages_of(response) == ["Saved the groups of r."]
    assert group_rows(rollout) == [("First", 1, None, "next_group", None), ("Rest", None, None, "pause", 50)]
    page = operator.get(f"{ADMIN}{rollout.pk}/change/")
    assert [item["devices"] for item in page.context["group_previews"]] == [1, 3]


def test_a_bad_group_is_named_and_nothing_changes(operator):
    rollout = services.rollout_create(name="r", software=make_software("2.0.0"), feed="default")
    before = group_rows(rollout)
    for groups, problem in [
        ([{"name": "A", "size": "150", "unit": "percent"}], "group 1, target percentage"),
        ([{"name": "A", "unit": "rest"}, {"name": "A", "unit": "rest"}], "group 2, name"),
        ([{"name": "A", "unit": "devices"}], "group 1, size"),
        ([{"name": "A", "unit": "rest", "query": "nope=="}], "group 1, query"),
    ]:
        response = operator.post(f"{ADMIN}{rollout.pk}/groups/", group_post(groups, initial=1))
        assert response.status_code == 302
        message = messages_of(response)[-1]
        assert message.startswith("The groups were not saved") and problem in message, message
        assert group_rows(rollout) == before


def test_the_groups_of_a_started_rollout_are_read_only(operator):
    fleet(2)
    rollout = running(groups=THREE_GROUPS)
    before = group_rows(rollout)
    page = operator.get(f"{ADMIN}{rollout.pk}/change/")
    assert "group_formset" not in page.context and b"Edit the groups" not in page.content
    response = operator.post(
        f"{ADMIN}{rollout.pk}/groups/", group_post([{"name": "All", "unit": "rest"}], initial=3)
    )
    assert "has started: its groups and start time are fixed" in messages_of(response)[-1]
    assert group_rows(rollout) == before


# --- buttons ---------------------------------------------------------------------------------------


def post(client, rollout: Rollout, verb: str, **data):
    return client.post(f"{ADMIN}{rollout.pk}/{verb}/", data)


def status(rollout: Rollout) -> str:
    return Rollout.objects.get(pk=rollout.pk).status


def test_start_next_group_now_only_while_running_with_a_group_left(operator):
    fleet(4)
    rollout = running(groups=THREE_GROUPS)
    page = operator.get(f"{ADMIN}{rollout.pk}/change/")
    assert b"Start next group now" in page.content

    response = post(operator, rollout, "next_group")
    assert response.status_code == 302 and response["Location"] == f"{ADMIN}{rollout.pk}/change/"
    assert messages_of(response) == ["Started the next group: wave."]
    assert list(rollout.groups.values_list("status", flat=True)) == ["running", "running", "scheduled"]
    post(operator, rollout, "next_group")
    refused = post(operator, rollout, "next_group")
    assert "no group left to start" in messages_of(refused)[-1]
    assert b"Start next group now" not in operator.get(f"{ADMIN}{rollout.pk}/change/").content

    services.rollout_pause(rollout=rollout)
    assert "only a running rollout" in messages_of(post(operator, rollout, "next_group"))[-1]


def test_pause_resume_stop_buttons_follow_the_state(operator):
    fleet(2)
    rollout = running(groups=THREE_GROUPS)
    assert "only a paused rollout" in messages_of(post(operator, rollout, "resume"))[-1]
    post(operator, rollout, "pause")
    assert status(rollout) == Rollout.Status.PAUSED
    page = operator.get(f"{ADMIN}{rollout.pk}/change/").content.decode()
    assert "Paused by alice" in page and "Resume" in page and "Start next group now" not in page
    assert "only a running rollout" in messages_of(post(operator, rollout, "pause"))[-1]
    post(operator, rollout, "resume")
    assert status(rollout) == Rollout.Status.RUNNING
    post(operator, rollout, "stop")
    assert status(rollout) == Rollout.Status.STOPPED
    assert "only a draft" in messages_of(post(operator, rollout, "start"))[-1]


def test_the_buttons_take_post_only(operator):
    rollout = running(groups=THREE_GROUPS)
    for verb in ("approve", "deny", "next_group", "retry", "groups", "pause", "resume"):
        assert operator.get(f"{ADMIN}{rollout.pk}/{verb}/").status_code == 405, verb


@pytest.fixture
def approval(settings):
    settings.GOOSEBIT_ROLLOUT_APPROVAL = True
    tenant_config.cache.invalidate()
    yield
    settings.GOOSEBIT_ROLLOUT_APPROVAL = False
    tenant_config.cache.invalidate()


def test_approval_needs_another_operator(operator, alice, approval):
    fleet(2)
    rollout = services.rollout_create(
        name="r", software=make_software("2.0.0"), feed="default", created_by=alice, start=True
    )
    assert rollout.status == Rollout.Status.WAITING_FOR_APPROVAL
    page = operator.get(f"{ADMIN}{rollout.pk}/change/").content.decode()
    assert "Approve" in page and "Deny" in page and "Start…" not in page
    changelist = operator.get(ADMIN).content.decode()
    assert "Waiting for approval" in changelist

    refused = post(operator, rollout, "approve")
    assert "four eyes need another operator" in messages_of(refused)[-1]
    assert status(rollout) == Rollout.Status.WAITING_FOR_APPROVAL
    assert "only a draft" in messages_of(post(operator, rollout, "start"))[-1]

    bob = Client()
    bob.force_login(staff("bob", "Operators"))
    approved = post(bob, rollout, "approve", remark="looks good")
    assert messages_of(approved) == ["Approved: r."]
    rollout.refresh_from_db()
    assert (rollout.status, rollout.approval_decided_by, rollout.approval_remark) == (
        "draft",
        "bob",
        "looks good",
    )
    assert "Approved by bob: looks good" in bob.get(f"{ADMIN}{rollout.pk}/change/").content.decode()
    assert "only a rollout waiting for approval" in messages_of(post(bob, rollout, "deny"))[-1]


def test_a_denied_rollout_stays_denied(operator, alice, approval):
    rollout = services.rollout_create(
        name="r", software=make_software("2.0.0"), feed="default", created_by=alice
    )
    bob = Client()
    bob.force_login(staff("bob", "Operators"))
    post(bob, rollout, "deny", remark="not now")
    assert status(rollout) == Rollout.Status.APPROVAL_DENIED
    page = bob.get(f"{ADMIN}{rollout.pk}/change/").content.decode()
    assert "Denied by bob: not now" in page and "Approve" not in page


def test_retry_creates_a_rollout_of_the_failed_devices_and_goes_there(operator, alice):
    cids = fleet(3)
    rollout = running(groups=None, pause_on_failure_percent=None, pause_on_failure_count=None)
    ddi = Client()
    assert "only a paused, stopped or finished" in messages_of(post(operator, rollout, "retry"))[-1]
    install(ddi, cids[0], finished="failure")
    install(ddi, cids[1])
    services.rollout_pause(rollout=rollout)
    assert b"Retry failed devices" in operator.get(f"{ADMIN}{rollout.pk}/change/").content

    response = post(operator, rollout, "retry")
    retry = Rollout.objects.get(retry_of=rollout)
    assert response["Location"] == f"{ADMIN}{retry.pk}/change/"
    assert (retry.status, retry.created_by) == (Rollout.Status.DRAFT, alice)
    assert list(
        selectors.rollout_targeted_devices(rollout=retry).values_list("controller_id", flat=True)
    ) == [cids[0]]
    page = operator.get(response["Location"]).content.decode()
    assert "retry of an earlier rollout" in page


def test_retry_without_failures_is_refused(operator):
    fleet(1)
    rollout = running()
    services.rollout_pause(rollout=rollout)
    response = post(operator, rollout, "retry")
    assert "has no failed device to retry" in messages_of(response)[-1]
    assert Rollout.objects.count() == 1


# --- progress per group ---------------------------------------------------------------------------


def test_one_bar_per_group_with_its_state_conditions_and_reason(operator):
    cids = fleet(4)
    rollout = running(groups=THREE_GROUPS)
    install(Client(), cids[0], finished="failure")  # the canary's error count: 1 → paused
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.PAUSED

    page = operator.get(f"{ADMIN}{rollout.pk}/change/")
    rows = page.context["group_rows"]
    assert [(row["group"].name, row["group"].status, row["stats"].targeted) for row in rows] == [
        ("Canary", "error", 1),
        ("Half", "scheduled", 2),
        ("Rest", "scheduled", 1),
    ]
    html = page.content.decode()
    assert html.count('class="gb-group"') == 3
    assert rows[0]["group"].status_reason and rows[0]["group"].status_reason in html
    assert "The rollout pauses once 1 of its devices failed." in html
    assert "50 % of the devices left" in html
    assert rollout.pause_reason.startswith("Paused automatically") and "Paused automatically" in html


def test_group_progress_takes_a_fixed_number_of_queries(django_assert_num_queries):
    def page_rows(devices: int, prefix: str) -> list:
        fleet(devices, prefix=prefix, feed=prefix)
        rollout = services.rollout_create(
            name=prefix, software=make_software(f"2.0.{devices}"), feed=prefix, groups=THREE_GROUPS
        )
        services.rollout_start(rollout=rollout)
        rollout = Rollout.objects.select_related("software").get(pk=rollout.pk)
        with django_assert_num_queries(2):  # the groups, then one statistics query for all of them
            return rollout_group_rows(rollout)

    assert [row["stats"].targeted for row in page_rows(3, "small")] == [1, 1, 1]
    assert [row["stats"].targeted for row in page_rows(30, "large")] == [1, 15, 14]


def test_the_rollout_page_does_not_grow_with_the_fleet(operator):
    def page_queries(devices: int, prefix: str) -> int:
        fleet(devices, prefix=prefix, feed=prefix)
        rollout = services.rollout_create(
            name=prefix, software=make_software(f"2.0.{devices}"), feed=prefix, groups=THREE_GROUPS
        )
        services.rollout_start(rollout=rollout)
        with CaptureQueriesContext(connection) as queries:
            assert operator.get(f"{ADMIN}{rollout.pk}/change/").status_code == 200
        return len(queries)

    assert page_queries(3, "small") == page_queries(30, "large")


def test_the_changelist_shows_the_group_and_a_scheduled_start(operator):
    fleet(4)
    rollout = running(groups=THREE_GROUPS, name="waves")
    services.rollout_trigger_next_group(rollout=rollout)
    services.rollout_create(
        name="later",
        software=make_software("3.0.0"),
        feed="default",
        start_at=timezone.now() + dt.timedelta(days=1),
    )
    html = operator.get(ADMIN).content.decode()
    assert "group 1 of 3" in html  # the first running group
    assert "starts at" in html
    groups = list(rollout.groups.all())
    assert group_progress_summary(rollout, groups) == "group 1 of 3"


# --- a Viewer ----------------------------------------------------------------------------------------


def test_a_viewer_sees_the_groups_but_cannot_press_a_button(client, alice, approval):
    fleet(4)
    waiting = services.rollout_create(
        name="w", software=make_software("2.0.0"), feed="default", created_by=alice, groups=THREE_GROUPS
    )
    client.force_login(staff("victor", "Viewers"))
    page = client.get(f"{ADMIN}{waiting.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200 and html.count('class="gb-group"') == 3
    for label in ("Approve", "Deny", "Edit the groups", "Start next group now", "Retry failed devices"):
        assert label not in html, label
    for verb in ("approve", "deny", "next_group", "retry", "groups"):
        assert post(client, waiting, verb).status_code == 403, verb
    assert status(waiting) == Rollout.Status.WAITING_FOR_APPROVAL


def change_form_data(rollout: Rollout, **overrides) -> dict:
    data = {
        "name": rollout.name,
        "description": "",
        "start_at": "",
        "pause_on_failure_percent": "",
        "pause_min_results": "5",
        "pause_on_failure_count": "",
        "max_parallel": "",
    }
    data.update(overrides)
    return data


def test_the_start_time_changes_until_the_start_and_is_fixed_after(operator):
    fleet(1)
    draft = services.rollout_create(name="later", software=make_software("2.0.0"), feed="default")
    soon = timezone.localtime() + dt.timedelta(days=2)
    response = operator.post(
        f"{ADMIN}{draft.pk}/change/",
        change_form_data(draft, start_at=soon.strftime("%Y-%m-%dT%H:%M"), description="tomorrow"),
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.start_at is not None and draft.description == "tomorrow"

    started = running(name="now")
    page = operator.get(f"{ADMIN}{started.pk}/change/")
    assert "start_at" not in page.context["adminform"].form.fields
    response = operator.post(
        f"{ADMIN}{started.pk}/change/", change_form_data(started, start_at=soon.strftime("%Y-%m-%dT%H:%M"))
    )
    assert response.status_code == 302
    started.refresh_from_db()
    assert (started.status, started.start_at) == (Rollout.Status.RUNNING, None)


def test_a_rollout_created_with_approval_on_says_it_waits(operator, approval):
    fleet(2)
    data = canary_form(make_software("2.0.0"), groups_mode="none", start="on")
    _, created = create_through_the_form(operator, data)
    assert Rollout.objects.get().status == Rollout.Status.WAITING_FOR_APPROVAL
    assert any("waits for another operator's approval" in message for message in messages_of(created))


def test_a_draft_shows_its_groups_as_planned(operator):
    fleet(6)
    groups = services.groups_canary(canary_count=1, waves=2)
    draft = services.rollout_create(name="d", software=make_software("2.0.0"), feed="default", groups=groups)
    page = operator.get(f"{ADMIN}{draft.pk}/change/")
    assert [row["stats"].targeted for row in page.context["group_rows"]] == [1, 3, 2]
    formset = page.context["group_formset"]
    assert [form["size"].value() for form in formset.forms[:3]] == [1, 50, None]
