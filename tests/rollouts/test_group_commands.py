"""The group-aware rollout commands: create with a layout, approve/deny, next group, retry, and
status and preview printing each group; bad input is a one-line CommandError."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from devices import tenant_config
from rollouts import selectors, services
from rollouts.models import Rollout, RolloutGroup
from tests.factories import make_device, make_software
from tests.rollouts.ddi_helpers import install

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def fleet(count: int) -> list[str]:
    cids = [f"dev-{index:02d}" for index in range(count)]
    for cid in cids:
        make_device(cid, sw_version="1.0.0")
    return cids


def groups_of(rollout_id: int) -> list[tuple]:
    return list(
        RolloutGroup.objects.filter(rollout_id=rollout_id)
        .order_by("position")
        .values_list("name", "target_count", "target_percentage", "success_action", "error_count")
    )


def test_create_rollout_with_a_canary_and_waves():
    fleet(10)
    software = make_software("2.0.0")
    data = json.loads(
        run(
            "create_rollout", "--name", "c", "--feed", "default", "--software", str(software.pk),
            "--canary", "2", "--waves", "2", "--error-count", "1", "--pause-after-canary", "--json",
        )
    )  # fmt: skip
    assert groups_of(data["id"]) == [
        ("Canary", 2, None, "pause", 1),
        ("Wave 1", None, 50.0, "next_group", 1),
        ("Wave 2", None, None, "next_group", 1),
    ]
    assert [group["stats"]["targeted"] for group in data["groups"]] == [2, 4, 4]


def test_create_rollout_by_query_with_even_groups_and_a_start_time():
    fleet(4)
    software = make_software("2.0.0")
    text = run(
        "create_rollout", "--name", "q", "--query", "controllerId==dev-0*", "--software", str(software.pk),
        "--amount-groups", "2", "--success-threshold", "90", "--no-dynamic",
        "--start-at", "2030-01-01T02:00:00+02:00", "--description", "night",
    )  # fmt: skip
    rollout = Rollout.objects.get()
    assert (rollout.feed, rollout.query, rollout.dynamic, rollout.description) == (
        "",
        "controllerId==dev-0*",
        False,
        "night",
    )
    assert rollout.start_at.isoformat() == "2030-01-01T00:00:00+00:00"
    assert "Starts at: 2030-01-01T00:00:00+00:00" in text
    assert (
        "  1. Group 1 (50%): scheduled, 0% (0/2 done, 0 failed, 0 in progress); at 90% done: next group"
        in text
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--amount-groups", "0"], "--amount-groups must be a whole number from 1 to 500, got 0"),
        (["--waves", "3"], "--waves and --pause-after-canary need --canary N or --canary-percent P"),
        (["--canary-percent", "150"], "groups[0].target_percentage must be a number above 0 and at most 100"),
        (["--error-threshold", "0"], "groups[0].error_threshold must be from 1 to 100, got 0"),
        (["--feed", "", "--query", ""], "a rollout needs a feed or a device query"),
        (["--query", "nonsense=="], "--query "),
    ],
)
def test_create_rollout_refuses_bad_group_options_and_writes_nothing(args, message):
    software = make_software("2.0.0")
    with pytest.raises(CommandError) as error:
        run("create_rollout", "--name", "x", "--feed", "default", "--software", str(software.pk), *args)
    assert message in str(error.value)
    assert not Rollout.objects.exists()


@pytest.mark.parametrize("value", ["tomorrow", "2030-01-01T02:00:00"])
def test_create_rollout_needs_a_start_time_with_its_zone(value):
    software = make_software("2.0.0")
    with pytest.raises(CommandError, match="--start-at"):
        run(
            "create_rollout",
            "--name",
            "x",
            "--feed",
            "f",
            "--software",
            str(software.pk),
            "--start-at",
            value,
        )


def test_canary_and_amount_groups_exclude_each_other():
    software = make_software("2.0.0")
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("create_rollout", "--name", "x", "--feed", "f", "--software", str(software.pk),
            "--canary", "1", "--amount-groups", "2")  # fmt: skip


def test_approve_and_deny_by_another_user(settings):
    settings.GOOSEBIT_ROLLOUT_APPROVAL = True
    tenant_config.cache.invalidate()
    alice = User.objects.create_user("alice")
    User.objects.create_user("bob")
    software = make_software("2.0.0")
    first = services.rollout_create(name="a", software=software, feed="a", created_by=alice)
    second = services.rollout_create(name="b", software=software, feed="b", created_by=alice)

    with pytest.raises(CommandError, match="four eyes"):
        run("approve_rollout", str(first.pk), "--user", "alice")
    with pytest.raises(CommandError, match="unknown user: carol"):
        run("approve_rollout", str(first.pk), "--user", "carol")
    text = run("approve_rollout", str(first.pk), "--user", "bob", "--remark", "ok")
    assert f"Rollout {first.pk} approved by bob." in text
    assert "Approval: approved by bob: ok" in text
    assert Rollout.objects.get(pk=first.pk).status == Rollout.Status.DRAFT

    run("deny_rollout", str(second.pk), "--user", "bob")
    assert Rollout.objects.get(pk=second.pk).status == Rollout.Status.APPROVAL_DENIED
    with pytest.raises(CommandError, match="only a rollout waiting for approval"):
        run("deny_rollout", str(second.pk), "--user", "bob")


def test_next_group_starts_the_next_then_says_none_is_left():
    fleet(4)
    rollout = services.rollout_create(
        name="r", software=make_software("2.0.0"), feed="default", groups=services.groups_even(2), start=True
    )
    assert "started group 2 (Group 2)" in run("next_group", str(rollout.pk))
    assert set(RolloutGroup.objects.values_list("status", flat=True)) == {"running"}
    with pytest.raises(CommandError, match="no group left"):
        run("next_group", str(rollout.pk))


def test_retry_rollout_creates_a_rollout_of_the_failed_devices(client):
    cids = fleet(2)
    rollout = services.rollout_create(name="r", software=make_software("2.0.0"), feed="default", start=True)
    install(client, cids[0], finished="failure")
    with pytest.raises(CommandError, match="only a paused, stopped or finished"):
        run("retry_rollout", str(rollout.pk))
    services.rollout_stop(rollout=rollout)

    data = json.loads(run("retry_rollout", str(rollout.pk), "--start", "--json"))

    assert (data["retry_of"], data["status"], data["stats"]["targeted"]) == (rollout.pk, "running", 1)


def test_rollout_status_prints_each_group_and_the_pause_reason(client):
    fleet(4)
    rollout = services.rollout_create(
        name="r",
        software=make_software("2.0.0"),
        feed="default",
        groups=services.groups_canary(canary_count=2, error_count=1),
        start=True,
    )
    loaded = Rollout.objects.select_related("software").get(pk=rollout.pk)
    canary = selectors.devices_in_group(rollout=loaded, groups=list(loaded.groups.all()), position=0)
    member = canary.order_by("pk").values_list("controller_id", flat=True).first()
    assert member is not None
    install(client, member, finished="failure")

    text = run("rollout_status", str(rollout.pk))

    assert "Status: paused (" in text
    assert "Groups:" in text
    assert "  1. Canary (2 devices): error, 0% (0/2 done, 1 failed" in text
    assert "error at 1 failed" in text
    assert "  2. Wave 1 (the rest): scheduled" in text


def test_preview_rollout_prints_each_group():
    fleet(5)
    rollout = services.rollout_create(
        name="r", software=make_software("2.0.0"), feed="default", groups=services.groups_even(2)
    )
    text = run("preview_rollout", "--rollout", str(rollout.pk))
    assert "  1. Group 1: 3 devices (3 to update, 0 already on version), e.g. dev-00, dev-01, dev-02" in text
    assert "  2. Group 2: 2 devices (2 to update, 0 already on version), e.g. dev-03, dev-04" in text
    with pytest.raises(CommandError, match="give either --rollout ID, or --feed and --software"):
        run("preview_rollout", "--rollout", str(rollout.pk), "--feed", "x")
    with pytest.raises(CommandError, match="give --feed and --software"):
        run("preview_rollout", "--feed", "x")
