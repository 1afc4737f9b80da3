"""Rollout lifecycle: create, start, pause, resume, stop, finish, delete, and feed precedence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from goosebit_project.lib.errors import Conflict, InvalidInput
from rollouts import selectors, services
from rollouts.models import Action, Rollout
from tests.factories import make_device, make_hardware, make_rollout, make_software
from tests.rollouts.ddi_helpers import feedback, install, offered_action_id, poll

pytestmark = pytest.mark.django_db


def create(software, **kwargs) -> Rollout:
    kwargs.setdefault("name", "spring update")
    kwargs.setdefault("feed", "default")
    return services.rollout_create(software=software, **kwargs)


# --- create ----------------------------------------------------------------------------------


def test_a_new_rollout_is_a_draft_with_the_configured_safety_defaults(settings):
    settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT = 25
    settings.GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS = 8
    settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_COUNT = None
    settings.GOOSEBIT_ROLLOUT_MAX_PARALLEL = 50
    user = get_user_model().objects.create_user("alice")
    software = make_software("2.0.0")

    rollout = create(software, name="  spring update  ", feed=" beta ", created_by=user)

    rollout.refresh_from_db()
    assert (rollout.name, rollout.feed, rollout.software, rollout.status) == (
        "spring update",
        "beta",
        software,
        Rollout.Status.DRAFT,
    )
    assert (
        rollout.pause_on_failure_percent,
        rollout.pause_min_results,
        rollout.pause_on_failure_count,
        rollout.max_parallel,
    ) == (25, 8, None, 50)
    assert rollout.created_by == user
    assert rollout.started_at is None


def test_explicit_safety_settings_win_over_the_defaults_and_none_disables_a_rule():
    rollout = create(
        make_software(),
        pause_on_failure_percent=None,
        pause_min_results=3,
        pause_on_failure_count=2,
        max_parallel=None,
    )
    assert (
        rollout.pause_on_failure_percent,
        rollout.pause_min_results,
        rollout.pause_on_failure_count,
        rollout.max_parallel,
    ) == (None, 3, 2, None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "  "}, "a rollout needs a name"),
        ({"name": "x" * 256}, "a rollout name is at most 255 characters"),
        (
            {"feed": ""},
            "a rollout needs a feed or a device query: the devices following that feed "
            "(and matching the query) receive its software",
        ),
        ({"pause_on_failure_percent": 0}, "pause_on_failure_percent must be at least 1, got 0"),
        ({"pause_on_failure_percent": 101}, "pause_on_failure_percent must be at most 100, got 101"),
        ({"pause_min_results": 0}, "pause_min_results must be at least 1, got 0"),
        ({"pause_on_failure_count": -1}, "pause_on_failure_count must be at least 1, got -1"),
        ({"max_parallel": 0}, "max_parallel must be at least 1, got 0"),
        ({"max_parallel": "5"}, "max_parallel must be a whole number, got '5'"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(kwargs, message):
    with pytest.raises(InvalidInput) as error:
        create(make_software(), **kwargs)
    assert error.value.message == message
    assert not Rollout.objects.exists()


def test_create_refuses_software_that_was_deleted():
    software = make_software()
    software.delete()
    with pytest.raises(InvalidInput, match="the rollout's software does not exist"):
        create(software)
    assert not Rollout.objects.exists()


def test_a_feed_without_compatible_devices_is_allowed_and_previews_zero():
    make_device("other-board", hardware=make_hardware("other"))
    software = make_software("2.0.0")
    rollout = create(software, start=True)
    assert rollout.status == Rollout.Status.RUNNING
    assert selectors.rollout_preview(feed="default", software=software).devices == 0
    assert selectors.rollout_stats(rollout=rollout).targeted == 0


# --- start, pause, resume, stop --------------------------------------------------------------


def test_a_draft_delivers_nothing_until_it_is_started(client):
    make_device("dev-1", sw_version="1.0.0")
    rollout = create(make_software("2.0.0"))
    assert poll(client, "dev-1") == {}

    services.rollout_start(rollout=rollout)

    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.RUNNING
    assert rollout.started_at is not None
    assert offered_action_id(client, "dev-1") == Action.objects.get(rollout=rollout).pk


def test_create_with_start_runs_at_once():
    rollout = create(make_software(), start=True)
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.RUNNING


def test_starting_twice_is_refused_with_the_current_state():
    rollout = create(make_software(), name="r1", start=True)
    with pytest.raises(Conflict) as error:
        services.rollout_start(rollout=rollout)
    assert (
        error.value.message
        == f"cannot start rollout {rollout.pk} (r1): it is running; only a draft can be started"
    )


def test_a_transition_that_loses_the_race_reports_the_winner_state():
    rollout = create(make_software(), name="r1")
    stale = Rollout.objects.get(pk=rollout.pk)
    services.rollout_start(rollout=rollout)
    services.rollout_pause(rollout=rollout)

    with pytest.raises(Conflict) as error:
        services.rollout_start(rollout=stale)

    assert (
        error.value.message
        == f"cannot start rollout {rollout.pk} (r1): it is paused; only a draft can be started"
    )
    assert stale.status == Rollout.Status.PAUSED


def test_pause_records_who_paused_and_resume_clears_it(client):
    make_device("dev-1", sw_version="1.0.0")
    user = get_user_model().objects.create_user("alice")
    rollout = create(make_software("2.0.0"), start=True)

    services.rollout_pause(rollout=rollout, by=user)

    rollout.refresh_from_db()
    assert (rollout.status, rollout.pause_reason) == (Rollout.Status.PAUSED, "Paused by alice")
    assert rollout.paused_at is not None
    assert poll(client, "dev-1") == {}

    services.rollout_resume(rollout=rollout)

    rollout.refresh_from_db()
    assert (rollout.status, rollout.pause_reason, rollout.paused_at) == (Rollout.Status.RUNNING, "", None)
    assert offered_action_id(client, "dev-1") is not None


def test_pause_without_a_user_says_an_operator_paused_it():
    rollout = create(make_software(), start=True)
    services.rollout_pause(rollout=rollout)
    assert Rollout.objects.get(pk=rollout.pk).pause_reason == "Paused by an operator"


_ONLY_RUNNING = "only a running rollout can be paused"
_ONLY_PAUSED = "only a paused rollout can be resumed"
_ONLY_ACTIVE = "only a running, paused or finished rollout can be stopped"


@pytest.mark.parametrize(
    ("status", "call", "verb", "rule"),
    [
        (Rollout.Status.DRAFT, services.rollout_pause, "pause", _ONLY_RUNNING),
        (Rollout.Status.PAUSED, services.rollout_pause, "pause", _ONLY_RUNNING),
        (Rollout.Status.RUNNING, services.rollout_resume, "resume", _ONLY_PAUSED),
        (Rollout.Status.STOPPED, services.rollout_resume, "resume", _ONLY_PAUSED),
        (Rollout.Status.DRAFT, services.rollout_stop, "stop", _ONLY_ACTIVE),
        (Rollout.Status.STOPPED, services.rollout_stop, "stop", _ONLY_ACTIVE),
    ],
)
def test_refused_transitions_name_the_state_and_change_nothing(status, call, verb, rule):
    rollout = make_rollout(make_software(), name="r", status=status)
    with pytest.raises(Conflict) as error:
        call(rollout=rollout)
    assert error.value.message == f"cannot {verb} rollout {rollout.pk} (r): it is {status}; {rule}"
    assert Rollout.objects.get(pk=rollout.pk).status == status


@pytest.mark.parametrize("status", [Rollout.Status.RUNNING, Rollout.Status.PAUSED, Rollout.Status.FINISHED])
def test_stop_ends_a_rollout_for_good(status):
    rollout = make_rollout(make_software(), status=status)
    services.rollout_stop(rollout=rollout)
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.STOPPED
    assert rollout.finished_at is not None


def test_a_stopped_rollout_cancels_unstarted_updates_lets_running_ones_finish_and_holds_the_feed(client):
    old = make_software("1.5.0")
    make_rollout(old, status=Rollout.Status.RUNNING)
    for cid in ("waiting", "installing", "newcomer"):
        make_device(cid, sw_version="1.0.0")
    newer = create(make_software("2.0.0"), start=True)
    waiting = offered_action_id(client, "waiting")
    installing = offered_action_id(client, "installing")
    assert installing is not None
    assert feedback(client, "installing", installing, "proceeding") == 200

    services.rollout_stop(rollout=newer)

    assert waiting is not None
    assert Action.objects.get(pk=waiting).status == Action.Status.CANCELED
    assert Action.objects.get(pk=installing).status == Action.Status.RUNNING
    # Nothing new from the stopped rollout, and no fallback to the older one.
    assert poll(client, "waiting") == {}
    assert poll(client, "newcomer") == {}
    assert not Action.objects.filter(device__controller_id="newcomer").exists()
    # The update under way may still complete.
    assert feedback(client, "installing", installing, "closed", "success") == 200
    assert Action.objects.get(pk=installing).status == Action.Status.FINISHED
    assert Rollout.objects.get(pk=newer.pk).status == Rollout.Status.STOPPED


# --- finished --------------------------------------------------------------------------------


def test_a_rollout_finishes_when_every_targeted_device_succeeded(client):
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0")
    make_device("already", sw_version="2.0")
    rollout = create(make_software("2.0.0"), start=True)

    install(client, "a")
    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.RUNNING
    install(client, "b")

    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.FINISHED
    assert rollout.finished_at is not None


def test_a_failed_device_keeps_the_rollout_running(client):
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0")
    rollout = create(make_software("2.0.0"), start=True, pause_on_failure_percent=None)
    install(client, "a", finished="failure")
    install(client, "b")
    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.RUNNING


def test_a_finished_rollout_keeps_delivering_to_devices_that_join_the_feed_later(client):
    make_device("a", sw_version="1.0.0")
    rollout = create(make_software("2.0.0"), start=True)
    install(client, "a")
    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.FINISHED

    late = make_device("late", sw_version="1.0.0", feed="elsewhere")
    services.device_set_feed(device=late, feed="default")
    install(client, "late")

    assert Action.objects.get(device=late).rollout == rollout
    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.FINISHED


def test_starting_a_rollout_whose_devices_all_run_the_version_finishes_it_at_once():
    make_device("a", sw_version="2.0")
    rollout = create(make_software("2.0.0"), start=True)
    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.FINISHED


def test_starting_a_rollout_on_an_empty_feed_keeps_it_running():
    rollout = create(make_software("2.0.0"), start=True)
    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.RUNNING


def test_resuming_a_rollout_whose_last_device_finished_while_paused_finishes_it(client):
    make_device("a", sw_version="1.0.0")
    rollout = create(make_software("2.0.0"), start=True)
    action_id = offered_action_id(client, "a")
    services.rollout_pause(rollout=rollout)
    assert action_id is not None
    assert feedback(client, "a", action_id, "closed", "success") == 200
    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.PAUSED

    services.rollout_resume(rollout=rollout)

    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.FINISHED


# --- update and delete -----------------------------------------------------------------------


def test_update_renames_and_changes_safety_settings():
    rollout = create(make_software(), pause_on_failure_percent=10, max_parallel=5)
    services.rollout_update(rollout=rollout, name="renamed", pause_on_failure_percent=None, max_parallel=20)
    rollout.refresh_from_db()
    assert (rollout.name, rollout.pause_on_failure_percent, rollout.max_parallel) == ("renamed", None, 20)


def test_update_refuses_a_bad_setting_and_keeps_the_old_ones():
    rollout = create(make_software(), pause_on_failure_percent=10)
    with pytest.raises(InvalidInput, match="pause_on_failure_percent must be at most 100, got 120"):
        services.rollout_update(rollout=rollout, name="renamed", pause_on_failure_percent=120)
    rollout.refresh_from_db()
    assert (rollout.name, rollout.pause_on_failure_percent) == ("spring update", 10)


def test_a_rollout_without_actions_can_be_deleted():
    rollout = create(make_software())
    services.rollout_delete(rollout=rollout)
    assert not Rollout.objects.exists()


def test_a_rollout_with_actions_cannot_be_deleted(client):
    make_device("a", sw_version="1.0.0")
    rollout = create(make_software("2.0.0"), name="r", start=True)
    poll(client, "a")
    with pytest.raises(Conflict) as error:
        services.rollout_delete(rollout=rollout)
    assert error.value.message == (
        f"rollout {rollout.pk} (r) has update history and cannot be deleted; stop it instead"
    )
    assert Rollout.objects.filter(pk=rollout.pk).exists()


# --- precedence ------------------------------------------------------------------------------


def test_one_feed_carries_one_rollout_per_hardware(client):
    board_a, board_b = make_hardware("board-a"), make_hardware("board-b")
    make_device("on-a", hardware=board_a, sw_version="1.0.0")
    make_device("on-b", hardware=board_b, sw_version="1.0.0")
    for_a = create(make_software("2.0.0", compatibility=[board_a]), name="a", start=True)
    for_b = create(make_software("3.0.0", compatibility=[board_b]), name="b", start=True)

    poll(client, "on-a")
    poll(client, "on-b")

    assert Action.objects.get(device__controller_id="on-a").rollout == for_a
    assert Action.objects.get(device__controller_id="on-b").rollout == for_b
    assert selectors.rollout_stats(rollout=for_a).targeted == 1
    assert selectors.rollout_stats(rollout=for_b).targeted == 1


def test_a_newer_rollout_for_the_same_hardware_takes_over_the_older_ones_devices(client):
    make_device("a", sw_version="1.0.0")
    older = create(make_software("2.0.0"), name="older", start=True)
    newer = create(make_software("3.0.0"), name="newer", start=True)
    poll(client, "a")
    assert Action.objects.get().rollout == newer
    assert selectors.rollout_stats(rollout=older).targeted == 0
    assert selectors.rollout_stats(rollout=newer).targeted == 1


def test_a_draft_created_earlier_but_started_later_takes_the_feed(client):
    make_device("a", sw_version="1.0.0")
    early_draft = create(make_software("3.0.0"), name="early")
    Rollout.objects.filter(pk=early_draft.pk).update(created=timezone.now() - timedelta(days=2))
    create(make_software("2.0.0"), name="later", start=True)

    services.rollout_start(rollout=Rollout.objects.get(pk=early_draft.pk))

    poll(client, "a")
    assert Action.objects.get().rollout_id == early_draft.pk
