"""The confirmation flow's rules in the services: which actions wait, how waiting actions count,
and what operators' changes do to them."""

from __future__ import annotations

import pytest

from devices.models import Device
from goosebit_project.lib.errors import Conflict, InvalidInput
from rollouts import selectors, services
from rollouts.models import Action, ActionStatus, Rollout
from tests.factories import make_device, make_rollout, make_software
from tests.rollouts.test_commands import run_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow_on(settings):
    settings.GOOSEBIT_CONFIRMATION_FLOW = True


def _waiting_in_rollout(cid: str = "dev-1") -> tuple[Device, Action, Rollout]:
    rollout = make_rollout(make_software("2.0"))
    device = make_device(cid, sw_version="1.0")
    action = services.device_reconcile(device=device)
    assert action is not None and action.status == Action.Status.WAIT_FOR_CONFIRMATION
    return device, action, rollout


def test_latest_mode_asks_for_confirmation(flow_on):
    make_software("2.0")
    device = make_device("dev-1", sw_version="1.0", update_mode=Device.UpdateMode.LATEST)

    action = services.device_reconcile(device=device)

    assert action is not None
    assert (action.status, action.confirmation_required) == (Action.Status.WAIT_FOR_CONFIRMATION, True)


def test_without_the_flow_actions_record_what_was_required_but_do_not_wait():
    make_rollout(make_software("2.0"))
    device = make_device("dev-1", sw_version="1.0")

    action = services.device_reconcile(device=device)

    assert action is not None
    assert (action.status, action.confirmation_required) == (Action.Status.PENDING, True)
    assert not ActionStatus.objects.filter(action=action).exists()


def test_a_waiting_action_counts_as_waiting_in_the_statistics_and_holds_its_place_in_the_caps(flow_on):
    _, action, rollout = _waiting_in_rollout()

    assert selectors.rollout_stats(rollout=rollout).pending == 1
    assert selectors.active_update_count(rollout=rollout) == 1
    assert not services.rollout_check_finished(rollout=rollout)


def test_a_rollout_with_max_parallel_waits_for_confirmations_before_starting_more(flow_on):
    rollout = make_rollout(make_software("2.0"), max_parallel=1)
    first = make_device("dev-1", sw_version="1.0")
    second = make_device("dev-2", sw_version="1.0")

    assert services.device_reconcile(device=first) is not None
    assert services.device_reconcile(device=second) is None
    assert Action.objects.filter(rollout=rollout).count() == 1


def test_stopping_a_rollout_cancels_its_waiting_actions(flow_on):
    device, action, rollout = _waiting_in_rollout()

    services.rollout_stop(rollout=rollout)

    action.refresh_from_db()
    assert action.status == Action.Status.CANCELED
    device.refresh_from_db()
    assert device.state == Device.State.REGISTERED


def test_a_new_target_cancels_a_waiting_action_at_once(flow_on):
    device, action, _ = _waiting_in_rollout()
    newer = make_rollout(make_software("3.0"))

    replaced = services.device_reconcile(device=device)

    assert Action.objects.get(pk=action.pk).status == Action.Status.CANCELED
    assert replaced is not None and replaced.rollout == newer
    assert replaced.status == Action.Status.WAIT_FOR_CONFIRMATION


def test_moving_off_an_assignment_drops_its_waiting_action(flow_on):
    device = make_device("dev-1", sw_version="1.0")
    services.device_assign_software(device=device, software=make_software("2.0"))

    services.device_pin(device=device)

    assert Action.objects.get(device=device).status == Action.Status.CANCELED


def test_bulk_cancel_includes_waiting_actions(flow_on):
    device = make_device("dev-1", sw_version="1.0")
    services.device_assign_software(device=device, software=make_software("2.0"))

    assert services.devices_cancel_updates(devices=Device.objects.all()) == 1
    assert Action.objects.get(device=device).status == Action.Status.CANCELED


def test_activating_twice_is_a_conflict_and_bad_text_is_refused():
    device = make_device("dev-1")

    with pytest.raises(InvalidInput, match="initiator is at most 64 characters, got 65"):
        services.device_activate_auto_confirm(device=device, initiator="x" * 65)
    with pytest.raises(InvalidInput, match="remark must not contain NUL characters"):
        services.device_activate_auto_confirm(device=device, remark="a\x00b")
    assert services.device_activate_auto_confirm(device=device) == []
    with pytest.raises(Conflict, match="auto-confirm is already active for device dev-1"):
        services.device_activate_auto_confirm(device=device)


def test_auto_confirm_confirms_every_waiting_action_of_the_device_only(flow_on):
    device, action, _ = _waiting_in_rollout("dev-1")
    _, other, _ = _waiting_in_rollout("dev-2")

    confirmed = services.device_activate_auto_confirm(device=device, initiator="ops")

    assert [a.pk for a in confirmed] == [action.pk]
    assert Action.objects.get(pk=action.pk).status == Action.Status.PENDING
    assert Action.objects.get(pk=other.pk).status == Action.Status.WAIT_FOR_CONFIRMATION


def test_the_commands_take_no_confirmation(flow_on):
    software = make_software("2.0")
    make_device("a", sw_version="1.0")
    make_device("b", sw_version="1.0")

    waiting = run_json("assign_software", "a", "--software", str(software.pk))
    direct = run_json("assign_software", "b", "--software", str(software.pk), "--no-confirmation")
    rollout = run_json(
        "create_rollout", "--name", "r", "--feed", "f", "--software", str(software.pk), "--no-confirmation"
    )

    assert (waiting[0]["state"], direct[0]["state"]) == ("wait_for_confirmation", "pending")
    assert rollout["confirmation_required"] is False
    assert Rollout.objects.get().confirmation_required is False
