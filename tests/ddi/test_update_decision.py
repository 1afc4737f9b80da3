"""The update decision a root poll makes: which software a device should run, and when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action, Rollout
from tests.ddi.helpers import (
    abs_url,
    active_action,
    ddi_url,
    deployment_href_matches,
    deployment_json,
    feedback_body,
    known_device,
    links_of,
    post_feedback,
    send_json,
)
from tests.factories import make_action, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db


def _offered(client, device: Device) -> Action | None:
    """Poll, and return the action offered by deploymentBase (checking the link), or None."""
    links = links_of(client, device.controller_id)
    if "deploymentBase" not in links:
        return None
    action = active_action(device)
    assert action is not None
    assert deployment_href_matches(links["deploymentBase"]["href"], device.controller_id, action.pk)
    return action


def _age(rollout: Rollout, minutes: int) -> Rollout:
    """Make ``rollout`` look created ``minutes`` ago, so 'newest' does not depend on clock ticks."""
    Rollout.objects.filter(pk=rollout.pk).update(created=timezone.now() - timedelta(minutes=minutes))
    rollout.refresh_from_db()
    return rollout


def _finish(client, device: Device, action: Action, finished: str = "success") -> None:
    response = post_feedback(client, device.controller_id, action.pk, feedback_body("closed", finished))
    assert response.status_code == 200


# --- modes ---------------------------------------------------------------------------------


def test_an_assigned_device_is_offered_its_assigned_software(ddi_client, rollout_services):
    device = known_device("dev-1", sw_version="1.0.0")
    software = make_software("2.0.0")

    rollout_services.device_assign_software(device=device, software=software)

    action = _offered(ddi_client, device)
    assert action is not None
    assert (action.software, action.reason, action.status) == (software, Action.Reason.ASSIGNED, "pending")
    response = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk))
    assert response.json() == deployment_json(action)


def test_a_device_in_latest_mode_gets_the_highest_compatible_version(ddi_client, rollout_services):
    board = make_hardware("board", "1")
    other = make_hardware("other", "1")
    device = known_device("dev-1", hardware=board, sw_version="1.0.0")
    make_software("1.10.0", compatibility=[board])
    best = make_software("2.0.0", compatibility=[board])
    make_software("1.9.9", compatibility=[board])
    make_software("3.0.0", compatibility=[other])

    rollout_services.device_set_latest(device=device)

    action = _offered(ddi_client, device)
    assert action is not None
    assert (action.software, action.reason) == (best, Action.Reason.LATEST)


def test_a_device_in_latest_mode_that_runs_the_highest_version_is_offered_nothing(
    ddi_client, rollout_services
):
    device = known_device("dev-1", sw_version="2.0")
    make_software("1.0.0")
    make_software("2.0.0")

    rollout_services.device_set_latest(device=device)

    assert _offered(ddi_client, device) is None
    assert not device.actions.exists()


def test_a_pinned_device_is_offered_nothing_even_with_a_running_rollout(ddi_client, rollout_services):
    device = known_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("2.0.0"))

    rollout_services.device_pin(device=device)

    assert _offered(ddi_client, device) is None
    assert not device.actions.exists()


def test_a_device_without_hardware_is_offered_nothing(ddi_client):
    device = known_device("dev-1")
    Device.objects.filter(pk=device.pk).update(hardware=None)
    make_rollout(make_software("2.0.0"))

    assert _offered(ddi_client, device) is None
    assert not device.actions.exists()


# --- rollouts ------------------------------------------------------------------------------


def test_a_device_in_rollout_mode_follows_the_running_rollout_of_its_feed(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    software = make_software("2.0.0")
    rollout = make_rollout(software)

    action = _offered(ddi_client, device)

    assert action is not None
    assert (action.software, action.rollout, action.reason) == (software, rollout, Action.Reason.ROLLOUT)


def test_the_newest_running_rollout_of_the_feed_wins(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    _age(make_rollout(make_software("2.0.0")), minutes=10)
    newest = _age(make_rollout(make_software("1.5.0")), minutes=1)

    action = _offered(ddi_client, device)

    assert action is not None
    assert action.rollout == newest


def test_a_newer_rollout_for_other_hardware_does_not_hide_an_older_compatible_one(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    compatible = _age(make_rollout(make_software("2.0.0")), minutes=10)
    _age(make_rollout(make_software("3.0.0", compatibility=[make_hardware("other", "1")])), minutes=1)

    action = _offered(ddi_client, device)

    assert action is not None
    assert action.rollout == compatible


def test_rollouts_of_other_feeds_are_ignored(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("2.0.0"), feed="beta")

    assert _offered(ddi_client, device) is None


def test_switching_the_feed_follows_the_new_feeds_rollout(ddi_client, rollout_services):
    device = known_device("dev-1", sw_version="1.0.0")
    beta = make_rollout(make_software("2.0.0"), feed="beta")

    rollout_services.device_set_feed(device=device, feed="beta")

    action = _offered(ddi_client, device)
    assert action is not None
    assert action.rollout == beta


@pytest.mark.parametrize("status", [Rollout.Status.PAUSED, Rollout.Status.STOPPED])
def test_a_newer_rollout_that_is_not_running_holds_the_feed_without_falling_back(ddi_client, status):
    device = known_device("dev-1", sw_version="1.0.0")
    _age(make_rollout(make_software("2.0.0")), minutes=10)
    _age(make_rollout(make_software("3.0.0"), status=status), minutes=1)

    assert _offered(ddi_client, device) is None
    assert not device.actions.exists()


def test_a_newer_draft_rollout_does_not_hold_the_feed(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    running = _age(make_rollout(make_software("2.0.0")), minutes=10)
    _age(make_rollout(make_software("3.0.0"), status=Rollout.Status.DRAFT), minutes=1)

    action = _offered(ddi_client, device)

    assert action is not None
    assert action.rollout == running


def test_a_newer_finished_rollout_keeps_its_feed_and_serves_devices_that_join_later(ddi_client):
    # Falling back to the older rollout would downgrade late joiners (gooseBit's bug).
    device = known_device("dev-1", sw_version="1.0.0")
    _age(make_rollout(make_software("2.0.0")), minutes=10)
    finished = _age(make_rollout(make_software("3.0.0"), status=Rollout.Status.FINISHED), minutes=1)

    action = _offered(ddi_client, device)

    assert action is not None
    assert action.rollout == finished


# --- when not to update --------------------------------------------------------------------


def test_a_device_already_running_the_version_is_offered_nothing_by_version_semantics(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("1.0"))

    assert _offered(ddi_client, device) is None
    assert not device.actions.exists()


def test_force_update_reinstalls_the_same_version(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0", force_update=True)
    software = make_software("1.0.0")
    make_rollout(software)

    action = _offered(ddi_client, device)

    assert action is not None
    assert action.software == software


def test_a_device_whose_update_failed_waits_for_an_operator_retry(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("2.0.0"))
    failed = _offered(ddi_client, device)
    assert failed is not None
    _finish(ddi_client, device, failed, "failure")

    assert _offered(ddi_client, device) is None
    assert device.actions.count() == 1


def test_an_operator_retry_offers_the_failed_software_again(ddi_client, rollout_services):
    device = known_device("dev-1", sw_version="1.0.0")
    software = make_software("2.0.0")
    make_rollout(software)
    failed = _offered(ddi_client, device)
    assert failed is not None
    _finish(ddi_client, device, failed, "failure")

    rollout_services.device_retry(device=Device.objects.get(pk=device.pk))

    retried = _offered(ddi_client, device)
    assert retried is not None
    assert retried.pk != failed.pk
    assert retried.software == software


def test_a_device_that_finished_is_not_offered_the_same_software_again(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("2.0.0"))
    action = _offered(ddi_client, device)
    assert action is not None
    _finish(ddi_client, device, action)

    links = links_of(ddi_client, "dev-1")

    assert "deploymentBase" not in links
    assert links["installedBase"] == {"href": abs_url("dev-1", "installedBase", action.pk)}
    assert device.actions.count() == 1


def test_the_global_cap_holds_new_updates_until_a_slot_frees(ddi_client, settings):
    settings.GOOSEBIT_MAX_CONCURRENT_UPDATES = 1
    first = known_device("dev-1", sw_version="1.0.0")
    second = known_device("dev-2", sw_version="1.0.0")
    make_rollout(make_software("2.0.0"))

    first_action = _offered(ddi_client, first)
    assert first_action is not None
    assert _offered(ddi_client, second) is None
    assert not second.actions.exists()

    _finish(ddi_client, first, first_action)

    assert _offered(ddi_client, second) is not None


def test_the_global_cap_does_not_hold_the_device_that_owns_the_slot(ddi_client, settings):
    settings.GOOSEBIT_MAX_CONCURRENT_UPDATES = 1
    device = known_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("2.0.0"))
    action = _offered(ddi_client, device)

    assert _offered(ddi_client, device) == action


# --- changing the target of a busy device --------------------------------------------------


def test_a_new_target_while_pending_cancels_the_old_action_directly(ddi_client, rollout_services):
    device = known_device("dev-1", sw_version="1.0.0")
    old_software, new_software = make_software("2.0.0"), make_software("3.0.0")
    rollout_services.device_assign_software(device=device, software=old_software)
    old = _offered(ddi_client, device)
    assert old is not None

    rollout_services.device_assign_software(device=Device.objects.get(pk=device.pk), software=new_software)
    new = _offered(ddi_client, device)

    old.refresh_from_db()
    assert old.status == Action.Status.CANCELED
    assert new is not None
    assert new.software == new_software


def test_a_new_target_while_running_asks_the_device_to_cancel_first(ddi_client, rollout_services):
    device = known_device("dev-1", sw_version="1.0.0")
    old_software, new_software = make_software("2.0.0"), make_software("3.0.0")
    rollout_services.device_assign_software(device=device, software=old_software)
    old = _offered(ddi_client, device)
    assert old is not None
    post_feedback(ddi_client, "dev-1", old.pk, feedback_body("proceeding", "none", ["downloading"]))

    rollout_services.device_assign_software(device=Device.objects.get(pk=device.pk), software=new_software)

    assert links_of(ddi_client, "dev-1") == {
        "cancelAction": {"href": abs_url("dev-1", "cancelAction", old.pk)}
    }
    old.refresh_from_db()
    assert old.status == Action.Status.CANCELING
    response = post_feedback(
        ddi_client,
        "dev-1",
        old.pk,
        feedback_body("closed", "success", ["Action canceled."]),
        channel="cancelAction",
    )
    assert response.status_code == 200

    new = _offered(ddi_client, device)
    assert new is not None
    assert new.software == new_software
    old.refresh_from_db()
    assert old.status == Action.Status.CANCELED


def test_a_device_whose_update_is_running_keeps_being_offered_the_same_action(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("2.0.0"))
    action = _offered(ddi_client, device)
    assert action is not None
    post_feedback(
        ddi_client, "dev-1", action.pk, feedback_body("proceeding", "none", ["All Chunks Installed."])
    )

    assert _offered(ddi_client, device) == action
    assert device.actions.count() == 1


def test_polling_an_unchanged_pending_action_creates_no_second_action(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("2.0.0"))

    first = _offered(ddi_client, device)
    second = _offered(ddi_client, device)

    assert first == second
    assert device.actions.count() == 1


def test_a_failed_action_for_older_software_does_not_block_a_newer_rollout(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    old = make_software("2.0.0")
    make_action(device, old, status=Action.Status.ERROR, reason=Action.Reason.ROLLOUT)
    newer = make_software("3.0.0")
    make_rollout(newer)

    action = _offered(ddi_client, device)

    assert action is not None
    assert action.software == newer


# --- what changed since the last poll is seen by the next one ------------------------------


def test_a_rollout_started_after_a_steady_poll_is_offered_on_the_next_poll(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("1.0.0"))
    assert _offered(ddi_client, device) is None

    newer = make_rollout(make_software("2.0.0"))

    action = _offered(ddi_client, device)
    assert action is not None
    assert action.rollout == newer


def test_resuming_a_paused_rollout_is_seen_by_the_next_poll(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    rollout = make_rollout(make_software("2.0.0"), status=Rollout.Status.PAUSED)
    assert _offered(ddi_client, device) is None

    rollout.status = Rollout.Status.RUNNING
    rollout.save()

    action = _offered(ddi_client, device)
    assert action is not None
    assert action.rollout == rollout


def test_a_paused_rollout_created_after_a_steady_poll_holds_the_feed_until_resumed(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    old = make_software("1.0.0")
    _age(make_rollout(old), minutes=10)
    assert _offered(ddi_client, device) is None
    newer = make_rollout(make_software("2.0.0"), status=Rollout.Status.PAUSED)

    assert _offered(ddi_client, device) is None
    newer.status = Rollout.Status.RUNNING
    newer.save()
    assert _offered(ddi_client, device) is not None


def test_hardware_added_to_existing_software_is_seen_by_the_next_poll(ddi_client, rollout_services):
    board = make_hardware("board", "1")
    device = known_device("dev-1", hardware=board, sw_version="1.0.0")
    rollout_services.device_set_latest(device=device)
    software = make_software("2.0.0", compatibility=[])
    assert _offered(ddi_client, device) is None

    software.compatibility.add(board)

    action = _offered(ddi_client, device)
    assert action is not None
    assert action.software == software


def test_a_device_that_reports_an_older_version_after_a_steady_poll_is_offered_its_target(ddi_client):
    device = known_device("dev-1", sw_version="2.0.0")
    software = make_software("2.0.0")
    make_rollout(software)
    assert _offered(ddi_client, device) is None

    response = send_json(ddi_client, "put", ddi_url("dev-1", "configData"), {"data": {"sw_version": "1.0.0"}})
    assert response.status_code == 200

    action = _offered(ddi_client, device)
    assert action is not None
    assert action.software == software
