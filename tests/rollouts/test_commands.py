"""The operator management commands: thin over services, --json for scripts, one-line errors."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import connections

from devices.models import Device
from rollouts import services
from rollouts.models import Action, Rollout
from tests.factories import make_device, make_hardware, make_rollout, make_software
from tests.rollouts.ddi_helpers import feedback, install, offered_action_id, poll

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def run_json(*args: str):
    return json.loads(run(*args, "--json"))


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run a command as `manage.py` would: returns (exit status, stdout, stderr)."""
    # run_from_argv closes the connections when it ends; in a test that would end the test's
    # transaction, so keep it open.
    monkeypatch.setattr(connections, "close_all", lambda: None)

    def invoke(*argv: str) -> tuple[str | int | None, str, str]:
        code: str | int | None = 0
        try:
            ManagementUtility(["manage.py", *argv]).execute()
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


# --- exit status and messages ----------------------------------------------------------------


def test_bad_input_exits_1_with_a_one_line_message(cli):
    code, out, err = cli("retry_device", "ghost", "phantom")
    assert (code, out, err) == (1, "", "CommandError: unknown devices: ghost, phantom\n")


def test_a_refused_transition_exits_1_naming_the_state(cli):
    rollout = make_rollout(make_software(), name="r", status=Rollout.Status.PAUSED)
    code, out, err = cli("pause_rollout", str(rollout.pk))
    assert (code, out) == (1, "")
    assert err == (
        f"CommandError: cannot pause rollout {rollout.pk} (r): it is paused; "
        "only a running rollout can be paused\n"
    )


def test_a_successful_command_exits_0(cli):
    make_device("dev-1")
    code, out, err = cli("retry_device", "dev-1", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)[0]["force_update"] is True


def test_usage_errors_exit_2(cli):
    code, _, err = cli("create_rollout", "--name", "x")
    assert code == 2
    assert "the following arguments are required: --software" in err


# --- create, start, pause, resume, stop, status ----------------------------------------------


def test_create_rollout_prints_the_draft_as_json(settings):
    settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT = 20
    settings.GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS = 5
    software = make_software("2.0.0", filename="fw.swu")
    make_device(sw_version="1.0.0")

    data = run_json(
        "create_rollout", "--name", "spring", "--feed", "default", "--software", str(software.pk),
        "--pause-on-failure-count", "3", "--max-parallel", "off",
    )  # fmt: skip

    rollout = Rollout.objects.get()
    assert data == {
        "id": rollout.pk,
        "name": "spring",
        "feed": "default",
        "software": {"id": software.pk, "version": "2.0.0", "filename": "fw.swu"},
        "status": "draft",
        "pause_reason": "",
        "pause_on_failure_percent": 20,
        "pause_min_results": 5,
        "pause_on_failure_count": 3,
        "max_parallel": None,
        "confirmation_required": True,
        "action_type": "forced",
        "forcetime": None,
        "weight": None,
        "maintenance_window": None,
        "created": rollout.created.isoformat(),
        "started_at": None,
        "paused_at": None,
        "finished_at": None,
        "stats": {
            "targeted": 1,
            "not_started": 1,
            "pending": 0,
            "running": 0,
            "succeeded": 0,
            "failed": 0,
            "canceled": 0,
            "rolled_back": 0,
            "already_on_version": 0,
            "left": 0,
            "progress_percent": 0,
        },
        "description": "",
        "query": "",
        "dynamic": True,
        "start_at": None,
        "retry_of": None,
        "approval_decided_by": "",
        "approval_decided_at": None,
        "approval_remark": "",
        "groups": [
            {
                "position": 0,
                "name": "All devices",
                "query": "",
                "target_count": None,
                "target_percentage": None,
                "success_threshold": 100,
                "success_action": "next_group",
                "error_threshold": None,
                "error_count": None,
                "status": "scheduled",
                "status_reason": "",
                "started_at": None,
                "finished_at": None,
                "stats": {
                    "targeted": 1,
                    "not_started": 1,
                    "pending": 0,
                    "running": 0,
                    "succeeded": 0,
                    "failed": 0,
                    "canceled": 0,
                    "rolled_back": 0,
                    "already_on_version": 0,
                    "progress_percent": 0,
                },
            }
        ],
        "warnings": [],
    }


def test_create_rollout_refuses_an_unknown_software_and_bad_settings():
    with pytest.raises(CommandError, match="^unknown software: 99$"):
        run("create_rollout", "--name", "x", "--feed", "default", "--software", "99")
    software = make_software()
    with pytest.raises(CommandError, match="^pause_on_failure_percent must be at most 100, got 150$"):
        run(
            "create_rollout", "--name", "x", "--feed", "default", "--software", str(software.pk),
            "--pause-on-failure-percent", "150",
        )  # fmt: skip
    with pytest.raises(CommandError, match="expected a whole number or 'off', got 'lots'"):
        run(
            "create_rollout", "--name", "x", "--feed", "default", "--software", str(software.pk),
            "--max-parallel", "lots",
        )  # fmt: skip
    assert not Rollout.objects.exists()


def test_a_rollout_runs_end_to_end_from_the_command_line(client):
    software = make_software("2.0.0")
    for cid in ("a", "b", "c"):
        make_device(cid, sw_version="1.0.0")

    created = run_json(
        "create_rollout", "--name", "spring", "--feed", "default", "--software", str(software.pk), "--start",
        "--pause-on-failure-percent", "off", "--max-parallel", "2",
    )  # fmt: skip
    rollout_id = str(created["id"])
    assert created["status"] == "running"

    install(client, "a")
    assert offered_action_id(client, "b") is not None
    assert run_json("pause_rollout", rollout_id)["pause_reason"] == "Paused by an operator"
    assert poll(client, "c") == {}
    install(client, "b", finished="failure")

    status = run_json("rollout_status", rollout_id)
    assert (status["status"], status["stats"]["succeeded"], status["stats"]["failed"]) == ("paused", 1, 1)
    assert status["stats"]["not_started"] == 1

    assert run_json("resume_rollout", rollout_id)["status"] == "running"
    run("retry_device", "b")
    install(client, "b")
    install(client, "c")

    final = run_json("rollout_status", rollout_id)
    assert final["status"] == "finished"
    assert final["stats"]["progress_percent"] == 100
    assert run_json("stop_rollout", rollout_id)["status"] == "stopped"


def test_start_rollout_starts_a_draft():
    rollout = services.rollout_create(name="r", feed="default", software=make_software())
    output = run("start_rollout", str(rollout.pk))
    assert output.startswith(f"Rollout {rollout.pk} started.\nRollout {rollout.pk} 'r' on feed 'default'")
    assert Rollout.objects.get(pk=rollout.pk).status == Rollout.Status.RUNNING


def test_rollout_status_prints_statistics_for_people(client):
    rollout = make_rollout(
        make_software("2.0.0", filename="fw.swu"), name="spring", pause_on_failure_percent=30
    )
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="2.0.0")
    install(client, "a", finished="failure")

    assert run("rollout_status", str(rollout.pk)) == (
        f"Rollout {rollout.pk} 'spring' on feed 'default': fw.swu (2.0.0)\n"
        "Status: paused (Paused automatically: 1 of 1 finished devices failed (100%), "
        "reaching the limit of 30%)\n"
        "Safety: pause at 30% failed (after 1 results); pause at off failed devices; "
        "at most unlimited updating at once\n"
        "Targeted 2 devices (50% on 2.0.0): succeeded 0, already on version 1, failed 1, "
        "rolled back 0, in progress 0, waiting 0, canceled 0, not started 0\n"
    )


def test_rollout_status_without_an_id_lists_every_rollout_newest_first():
    older = make_rollout(make_software("1.0.0"), name="older")
    newer = make_rollout(make_software("2.0.0"), name="newer", status=Rollout.Status.DRAFT)
    data = run_json("rollout_status")
    assert [item["id"] for item in data] == [newer.pk, older.pk]
    assert run("rollout_status").splitlines() == [
        f"{newer.pk:>5}  draft       0%  default  2.0.0  newer",
        f"{older.pk:>5}  running     0%  default  1.0.0  older",
    ]


def test_rollout_status_of_an_unknown_rollout_is_an_error():
    with pytest.raises(CommandError, match="^unknown rollout: 42$"):
        run("rollout_status", "42")


def test_preview_rollout_counts_devices_by_hardware():
    board = make_hardware("board", "1")
    software = make_software("2.0.0", compatibility=[board])
    make_device(hardware=board, sw_version="1.0.0")
    make_device(hardware=board, sw_version="2.0.0")
    make_device(hardware=make_hardware("other"))

    assert run("preview_rollout", "--feed", "default", "--software", str(software.pk)) == (
        "A rollout of 2.0.0 on feed 'default' would reach 2 devices (1 to update, 1 already on 2.0.0).\n"
        "  board 1: 2 devices, 1 on version\n"
        "Not reached: 1 devices of the feed with hardware it does not fit.\n"
    )
    assert run_json("preview_rollout", "--feed", "default", "--software", str(software.pk))["devices"] == 2


# --- device commands -------------------------------------------------------------------------


def test_assign_software_by_id_latest_pinned_and_feed():
    software = make_software("2.0.0")
    make_device("a")
    make_device("b")

    assigned = run_json("assign_software", "a", "b", "--software", str(software.pk))
    assert assigned == [
        {
            "device": cid,
            "update_mode": "assigned",
            "feed": "default",
            "assigned_software": software.pk,
            "force_update": False,
            # The assignment's action exists at once, before the devices poll.
            "state": "pending",
        }
        for cid in ("a", "b")
    ]
    assert Action.objects.filter(software=software, status=Action.Status.PENDING).count() == 2
    assert run_json("assign_software", "a", "--software", "latest")[0]["update_mode"] == "latest"
    assert run_json("assign_software", "a", "--software", "pinned")[0]["update_mode"] == "pinned"
    following = run_json("assign_software", "a", "--feed", "beta")[0]
    assert (following["update_mode"], following["feed"]) == ("rollout", "beta")
    assert run("assign_software", "b", "--feed", "default") == "b: rollout (feed 'default'), registered\n"


def test_assign_software_changes_no_device_when_one_is_incompatible():
    software = make_software("2.0.0", compatibility=[make_hardware("board")])
    make_device("fits", hardware=make_hardware("board"))
    make_device("other", hardware=make_hardware("other"))

    with pytest.raises(CommandError) as error:
        run("assign_software", "fits", "other", "--software", str(software.pk))

    assert str(error.value) == (
        "software 2.0.0 (update-2.0.0.swu) is not compatible with other's hardware other 1"
    )
    assert set(Device.objects.values_list("update_mode", flat=True)) == {Device.UpdateMode.ROLLOUT}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a", "--software", "newest"], "--software takes a software id, 'latest' or 'pinned', got 'newest'"),
        (["a", "--software", "77"], "unknown software: 77"),
        (["a", "--feed", " "], "a feed name is required for rollout mode"),
        (["nobody", "--software", "latest"], "unknown device: nobody"),
    ],
)
def test_assign_software_refuses_bad_input(args, message):
    make_device("a")
    with pytest.raises(CommandError) as error:
        run("assign_software", *args)
    assert str(error.value) == message
    assert Device.objects.get(controller_id="a").update_mode == Device.UpdateMode.ROLLOUT


def test_assign_software_needs_exactly_one_choice():
    make_device("a")
    with pytest.raises(CommandError, match="one of the arguments --software --feed is required"):
        run("assign_software", "a")


def test_retry_device_offers_the_failed_update_again(client):
    make_rollout(make_software("2.0.0"))
    make_device("a", sw_version="1.0.0")
    install(client, "a", finished="failure")
    assert poll(client, "a") == {}

    assert run("retry_device", "a") == "a: rollout (feed 'default'), registered, retry on next poll\n"

    assert offered_action_id(client, "a") is not None
    assert Action.objects.filter(device__controller_id="a").count() == 2


def test_cancel_update_and_force_quit(client):
    make_rollout(make_software("2.0.0"))
    make_device("waiting", sw_version="1.0.0")
    make_device("busy", sw_version="1.0.0")
    waiting = offered_action_id(client, "waiting")
    busy = offered_action_id(client, "busy")
    assert busy is not None
    feedback(client, "busy", busy, "proceeding")

    assert run_json("cancel_update", "waiting", "busy") == [
        {"device": "waiting", "action": waiting, "status": "canceled"},
        {"device": "busy", "action": busy, "status": "canceling"},
    ]
    assert run("cancel_update", "busy", "--force") == f"busy: action {busy} canceled\n"
    assert Action.objects.get(pk=busy).status == Action.Status.CANCELED


def test_cancel_update_without_an_update_changes_nothing(client):
    make_rollout(make_software("2.0.0"))
    make_device("waiting", sw_version="1.0.0")
    make_device("idle", sw_version="2.0.0")
    waiting = offered_action_id(client, "waiting")

    with pytest.raises(CommandError, match="^device idle has no update under way to cancel$"):
        run("cancel_update", "waiting", "idle")

    assert waiting is not None
    assert Action.objects.get(pk=waiting).status == Action.Status.PENDING


def test_device_status_shows_mode_target_state_and_the_action_log(client):
    rollout = make_rollout(make_software("2.0.0"), name="spring")
    make_device("a", sw_version="1.0.0", name="kiosk")
    action_id = offered_action_id(client, "a")
    client.get(f"/DEFAULT/controller/v1/a/deploymentBase/{action_id}")
    assert action_id is not None
    feedback(client, "a", action_id, "proceeding")

    data = run_json("device_status", "a", "--lines", "2")

    device = Device.objects.get(controller_id="a")
    assert device.last_seen is not None
    action = Action.objects.get(pk=action_id)
    assert data == {
        "device": "a",
        "name": "kiosk",
        "hardware": "board 1",
        "sw_version": "1.0.0",
        "update_mode": "rollout",
        "feed": "default",
        "assigned_software": None,
        "rollout": {"id": rollout.pk, "name": "spring", "status": "running"},
        "target": {
            "software": rollout.software_id,
            "version": "2.0.0",
            "reason": "rollout",
            "rollout": rollout.pk,
        },
        "state": "running",
        "progress": 0,
        "force_update": False,
        "last_seen": device.last_seen.isoformat(),
        "last_ip": "127.0.0.1",
        "action": {
            "id": action_id,
            "status": "running",
            "reason": "rollout",
            "software": {"id": rollout.software_id, "version": "2.0.0"},
            "rollout": rollout.pk,
            "progress": None,
            "created": action.created.isoformat(),
            "updated": action.updated.isoformat(),
            "log": [
                {
                    "time": status.created.isoformat(),
                    "source": status.source,
                    "channel": "deployment",
                    "execution": status.execution,
                    "finished": "none",
                    "progress": None,
                    "code": None,
                    "details": status.details,
                }
                for status in action.statuses.order_by("id")
            ],
        },
        "action_active": True,
    }
    assert [entry["execution"] for entry in data["action"]["log"]] == ["retrieved", "proceeding"]

    text = run("device_status", "a")
    assert text.splitlines()[:6] == [
        "Device a (kiosk)",
        "Hardware: board 1; installed version: 1.0.0",
        f"Update mode: rollout, feed 'default', rollout {rollout.pk} 'spring' (running)",
        f"Target: 2.0.0 (software {rollout.software_id}, rollout)",
        "State: running 0%",
        f"Last seen: {device.last_seen.isoformat()} from 127.0.0.1",
    ]
    assert text.splitlines()[6] == f"Current action: {action_id} running (2.0.0, rollout)"


def test_device_status_of_a_device_that_never_updated():
    make_device("a", update_mode=Device.UpdateMode.PINNED)
    data = run_json("device_status", "a")
    assert (data["target"], data["action"], data["rollout"], data["action_active"]) == (
        None,
        None,
        None,
        False,
    )
    assert run("device_status", "a").splitlines()[-1] == "No update so far."


def test_device_status_after_an_update_shows_the_last_action(client):
    make_rollout(make_software("2.0.0"))
    make_device("a", sw_version="1.0.0")
    action_id = install(client, "a")
    services.device_pin(device=Device.objects.get(controller_id="a"))
    data = run_json("device_status", "a", "--lines", "1")
    assert (data["action"]["id"], data["action"]["status"], data["action_active"]) == (
        action_id,
        "finished",
        False,
    )
    assert [entry["execution"] for entry in data["action"]["log"]] == ["closed"]


# --- how updates are offered -------------------------------------------------------------------


def test_assign_software_takes_the_deployment_options():
    device = make_device("a", sw_version="1.0.0")
    software = make_software("2.0.0")

    run(
        "assign_software", "a", "--software", str(software.pk), "--action-type", "soft", "--weight", "40",
        "--maintenance-schedule", "0 30 2 ? * *", "--maintenance-duration", "01:00:00",
        "--maintenance-timezone", "+02:00",
    )  # fmt: skip

    action = Action.objects.get(device=device)
    assert (action.action_type, action.weight, action.maintenance_window) == (
        "soft",
        40,
        {"schedule": "0 30 2 ? * *", "duration": "01:00:00", "timezone": "+02:00"},
    )


def test_create_rollout_takes_the_deployment_options_and_says_so():
    software = make_software("2.0.0")

    out = run(
        "create_rollout", "--name", "later", "--feed", "default", "--software", str(software.pk),
        "--action-type", "timeforced", "--forcetime", "2030-01-02T03:04:05Z",
    )  # fmt: skip

    rollout = Rollout.objects.get()
    assert rollout.forcetime is not None
    assert (rollout.action_type, rollout.forcetime.isoformat()) == ("timeforced", "2030-01-02T03:04:05+00:00")
    assert "Offered as: time-forced (forced from 2030-01-02 03:04:05 UTC)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--action-type", "timeforced"], "forcetime is required for a timeforced update"),
        (["--maintenance-schedule", "0 30 2 ? * *"], "maintenance_window needs schedule, duration and "
         "timezone together; duration, timezone missing"),
    ],
)  # fmt: skip
def test_bad_deployment_options_exit_1_naming_the_problem(cli, args, message):
    software = make_software("2.0.0")

    code, out, err = cli(
        "create_rollout", "--name", "x", "--feed", "default", "--software", str(software.pk), *args
    )

    assert (code, out, err) == (1, "", f"CommandError: {message}\n")
    assert not Rollout.objects.exists()
