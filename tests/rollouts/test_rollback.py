"""A device whose update succeeded and that later reports an older version has rolled back.

It is shown as rolled back, counted in its rollout's statistics (and safety rules), and not
offered the update again until an operator retries, as after a failure.
"""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts import selectors, services
from rollouts.models import Action, ActionStatus, Rollout
from tests.ddi.helpers import put_config
from tests.factories import make_action, make_device, make_rollout, make_software
from tests.rollouts.ddi_helpers import install, offered_action_id, poll

pytestmark = pytest.mark.django_db


def report_version(client, cid: str, version: str) -> None:
    assert put_config(client, cid, {"mode": "merge", "data": {"sw_version": version}}).status_code == 200


def device(cid: str = "a") -> Device:
    return Device.objects.get(controller_id=cid)


def stats(rollout: Rollout) -> selectors.RolloutStats:
    return selectors.rollout_stats(rollout=Rollout.objects.select_related("software").get(pk=rollout.pk))


@pytest.fixture
def rolled_back(client) -> tuple[Rollout, int]:
    """Device "a" installed 2.0.0 from a rollout over DDI, then reported 1.0.0 again."""
    rollout = make_rollout(make_software("2.0.0"), pause_on_failure_percent=None)
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0")
    action_id = install(client, "a")
    assert (device().state, device().sw_version) == (Device.State.FINISHED, "2.0.0")
    report_version(client, "a", "1.0.0")
    return rollout, action_id


def test_an_older_version_after_a_successful_update_is_a_rollback_shown_and_counted(client, rolled_back):
    rollout, action_id = rolled_back

    assert (device().state, device().get_state_display(), device().progress) == (
        Device.State.ROLLED_BACK,
        "Rolled back",
        None,
    )
    counts = stats(rollout)
    assert (counts.succeeded, counts.rolled_back, counts.not_started, counts.progress_percent) == (0, 1, 1, 0)
    note = ActionStatus.objects.filter(action_id=action_id, source=ActionStatus.Source.SERVER).last()
    assert note is not None
    assert note.details == [
        "Update Server: the device reports version 1.0.0, older than 2.0.0 installed by this update: "
        "rolled back; it is offered again after an operator retry"
    ]


def test_a_rolled_back_device_is_not_offered_the_update_again_until_an_operator_retries(client, rolled_back):
    rollout, action_id = rolled_back

    for _ in range(3):
        assert "deploymentBase" not in poll(client, "a")
    assert Action.objects.filter(device=device()).count() == 1
    assert device().state == Device.State.ROLLED_BACK

    services.device_retry(device=device())
    assert device().state == Device.State.REGISTERED
    retried = install(client, "a")

    assert retried != action_id
    assert (device().state, device().sw_version) == (Device.State.FINISHED, "2.0.0")
    counts = stats(rollout)
    assert (counts.succeeded, counts.rolled_back) == (1, 0)


def test_reporting_the_installed_version_again_clears_the_rollback(client, rolled_back):
    rollout, _ = rolled_back

    report_version(client, "a", "2.0.0")

    assert device().state == Device.State.FINISHED
    assert (stats(rollout).succeeded, stats(rollout).rolled_back) == (1, 0)


def test_a_newer_or_unrecognised_version_is_not_a_rollback(client):
    make_rollout(make_software("2.0.0"), pause_on_failure_percent=None)
    make_device("a", sw_version="1.0.0")
    install(client, "a")

    report_version(client, "a", "2.1.0")
    assert device().state == Device.State.FINISHED
    report_version(client, "a", "build-5f3e9a")  # a build hash orders only lexically: no guess
    assert device().state == Device.State.FINISHED


def test_an_older_version_reported_before_any_successful_update_is_no_rollback(client):
    make_device("a", sw_version="1.0.0")
    report_version(client, "a", "0.9.0")
    assert device().state == Device.State.REGISTERED


def test_a_rollback_counts_as_a_failure_for_the_rollouts_safety_rules(client):
    rollout = services.rollout_create(
        name="canary",
        feed="default",
        software=make_software("2.0.0"),
        start=True,
        pause_on_failure_count=1,
        pause_on_failure_percent=None,
    )
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0")
    install(client, "a")
    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.RUNNING

    report_version(client, "a", "1.0.0")

    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.PAUSED
    assert rollout.pause_reason == "Paused automatically: 1 devices failed, reaching the limit of 1"
    assert offered_action_id(client, "b") is None


def test_a_canceled_retry_leaves_a_rolled_back_device_rolled_back(client, rolled_back):
    services.device_retry(device=device())
    assert offered_action_id(client, "a") is not None

    services.device_cancel_update(device=device())

    assert device().state == Device.State.ROLLED_BACK


def test_bulk_retry_covers_rolled_back_devices(client, rolled_back):
    assert services.devices_retry_failed(devices=Device.objects.all()) == 1
    assert (device().state, device().force_update) == (Device.State.REGISTERED, True)


def test_statistics_with_rollbacks_still_cost_two_queries(django_assert_num_queries):
    software = make_software("2.0.0")
    rollout = Rollout.objects.select_related("software").get(pk=make_rollout(software).pk)

    def grow(count: int) -> None:
        for index in range(count):
            reported = ("2.0.0", "1.0.0", "1.5")[index % 3]  # succeeded, rolled back, rolled back
            make_action(
                make_device(sw_version=reported), software, rollout=rollout, status=Action.Status.FINISHED
            )

    grow(3)
    selectors.conditional_holders()  # this worker's list of rollouts with a query, read once
    with django_assert_num_queries(2):
        small = selectors.rollout_stats(rollout=rollout)
    grow(30)
    with django_assert_num_queries(2):
        large = selectors.rollout_stats(rollout=rollout)

    assert (small.succeeded, small.rolled_back) == (1, 2)
    assert (large.succeeded, large.rolled_back, large.targeted) == (11, 22, 33)
