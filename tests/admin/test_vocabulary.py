"""One vocabulary for update outcomes on every admin page (README: "Words for update outcomes"),
honest failure bars, and "Recent failures" that show the error and forget recovered devices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action, ActionStatus
from tests.ddi.helpers import put_config
from tests.factories import make_action, make_device, make_rollout, make_software
from tests.rollouts.ddi_helpers import install

pytestmark = pytest.mark.django_db


def failure(device: Device, software, *, details: list[str], minutes_ago: int = 0, **fields) -> Action:
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    action = make_action(device, software, status=Action.Status.ERROR, finished_at=finished, **fields)
    ActionStatus.objects.create(action=action, execution="proceeding", details=["Downloaded 100%"])
    ActionStatus.objects.create(action=action, execution="closed", finished="failure", details=details)
    return action


def test_device_states_use_the_glossary_words_on_the_dashboard_and_the_list(admin_client):
    for state in (Device.State.PENDING, Device.State.RUNNING, Device.State.FINISHED, Device.State.ERROR):
        make_device(state, state=state)
    make_device("rolled", state=Device.State.ROLLED_BACK)

    dashboard = admin_client.get("/admin/")
    html = dashboard.content.decode()
    for value, word in [
        ("pending", "Waiting"),
        ("running", "In progress"),
        ("finished", "Succeeded"),
        ("error", "Failed"),
        ("rolled_back", "Rolled back"),
    ]:
        assert (
            f'<a href="/admin/devices/device/?state__exact={value}">{word}</a><span class="gb-count">1</span>'
            in html
        )
    tiles = {tile["label"]: tile["count"] for tile in dashboard.context["devices"]["tiles"]}
    # One word, one meaning: the tile of every active update is not called "In progress".
    assert tiles["Waiting or in progress"] == 2
    assert "Updating" not in html

    listing = admin_client.get("/admin/devices/device/", {"state__exact": "rolled_back"}).content.decode()
    assert '<span class="gb-badge gb-badge--bad">Rolled back</span>' in listing
    assert '<a href="?state__exact=rolled_back">Rolled back</a>' in listing  # the state filter offers it


def test_the_update_history_filters_by_the_same_words(admin_client):
    device = make_device("a")
    make_action(device, make_software("2.0.0"), status=Action.Status.FINISHED)

    html = admin_client.get("/admin/rollouts/action/").content.decode()

    for value, word in [("pending", "Waiting"), ("running", "In progress"), ("finished", "Succeeded")]:
        assert f'href="?status__exact={value}">{word}</a>' in html
    assert '<span class="gb-badge gb-badge--ok">Succeeded</span>' in html


def test_a_failed_update_shows_the_progress_it_reached_marked_failed_not_a_full_red_bar(admin_client):
    make_device("broken", state=Device.State.ERROR, progress=60)
    make_device("broken-late", state=Device.State.ERROR, progress=100)

    html = admin_client.get("/admin/devices/device/").content.decode()

    assert (
        '<span class="gb-progress__bar gb-progress__bar--failed" style="width: 60%"></span></span>'
        '<span class="gb-progress__label gb-progress__label--failed">failed at 60%</span>'
    ) in html
    assert "failed at 100%" in html
    assert "gb-progress__bar--bad" not in html


def test_the_device_page_and_its_live_log_mark_a_failed_update(admin_client):
    device = make_device("broken", state=Device.State.ERROR, progress=100)

    page = admin_client.get(f"/admin/devices/device/{device.pk}/change/").content.decode()
    live = admin_client.get(f"/admin/devices/device/{device.pk}/log/").json()["device"]

    assert 'gb-progress__bar--failed" style="width: 100%"' in page
    assert '<span class="gb-progress__label gb-progress__label--failed">failed at 100%</span>' in page
    assert (live["progress_width"], live["progress_tone"], live["progress_label"]) == (
        100,
        "failed",
        "failed at 100%",
    )


def test_recent_failures_show_the_error_line_not_the_last_line(admin_client):
    software = make_software("2.0.0")
    failure(
        make_device("broken"),
        software,
        details=["Installing image", "ERROR: sha256 mismatch in rootfs.ext4", "Cleaning up"],
    )
    failure(make_device("terse"), software, details=["exit status 1"])

    html = admin_client.get("/admin/").content.decode()

    assert "<th>Error</th>" in html
    assert (
        '<td><span title="ERROR: sha256 mismatch in rootfs.ext4">'
        "ERROR: sha256 mismatch in rootfs.ext4</span></td>" in html
    )
    assert "Cleaning up" not in html
    assert '<span title="exit status 1">exit status 1</span>' in html  # no error-like line: the last one


def test_recent_failures_fall_back_to_the_devices_last_message_without_failure_details(admin_client):
    software = make_software("2.0.0")
    action = make_action(
        make_device("quiet"), software, status=Action.Status.ERROR, finished_at=timezone.now()
    )
    ActionStatus.objects.create(
        action=action, execution="proceeding", details=["Writing rootfs", "Write failed: EIO"]
    )
    ActionStatus.objects.create(action=action, execution="closed", finished="failure", details=[])

    html = admin_client.get("/admin/").content.decode()

    assert '<span title="Write failed: EIO">Write failed: EIO</span>' in html


def test_recent_failures_drop_devices_that_recovered_and_show_one_failure_per_device(admin_client, client):
    software = make_software("2.0.0")
    make_rollout(software, pause_on_failure_percent=None)
    recovered = make_device("recovered", sw_version="1.0.0")
    failure(recovered, software, details=["ERROR: disk full"], minutes_ago=30)
    Device.objects.filter(pk=recovered.pk).update(force_update=True)
    install(client, "recovered")  # the retry succeeded
    twice = make_device("twice")
    failure(twice, software, details=["ERROR: first attempt"], minutes_ago=20)
    failure(twice, software, details=["ERROR: second attempt"], minutes_ago=10)

    response = admin_client.get("/admin/")
    html = response.content.decode()

    assert [action.device.controller_id for action in response.context["devices"]["failures"]] == ["twice"]
    assert "ERROR: disk full" not in html
    assert "ERROR: first attempt" not in html
    assert "ERROR: second attempt" in html


def test_a_rolled_back_device_is_explained_on_its_page_with_a_retry_button(admin_client, client):
    make_rollout(make_software("2.0.0"), pause_on_failure_percent=None)
    device = make_device("a", sw_version="1.0.0")
    action_id = install(client, "a")
    assert put_config(client, "a", {"data": {"sw_version": "1.0.0"}}).status_code == 200

    html = admin_client.get(f"/admin/devices/device/{device.pk}/change/").content.decode()

    assert '<span id="gb-live-state" class="gb-badge gb-badge--bad">Rolled back</span>' in html
    assert (
        f"Rolled back: the device reports 1.0.0, older than 2.0.0 that update #{action_id} installed. "
        "It is offered again only after a retry."
    ) in html
    assert ">Retry update</button>" in html


def test_rollout_statistics_use_the_same_words(admin_client, client):
    rollout = make_rollout(make_software("2.0.0"), name="Spring", pause_on_failure_percent=None)
    for cid in ("ok", "back", "waiting"):
        make_device(cid, sw_version="1.0.0")
    install(client, "ok")
    install(client, "back")
    assert put_config(client, "back", {"data": {"sw_version": "1.0.0"}}).status_code == 200
    client.get("/DEFAULT/controller/v1/waiting")  # offered, not fetched yet: waiting

    html = admin_client.get(f"/admin/rollouts/rollout/{rollout.pk}/change/").content.decode()

    assert (
        "3 devices targeted, 33% on 2.0.0: 1 succeeded, 0 already on version, 0 failed, 1 rolled back, "
        "0 in progress, 1 waiting, 0 canceled, 0 not started"
    ) in html
    assert (
        f'<a href="/admin/devices/device/?rollout={rollout.pk}:rolled_back">'
        '<span class="gb-dot gb-dot--bad"></span>1 rolled back</a>'
    ) in html
    assert '<span class="gb-dot gb-dot--warn"></span>1 waiting</a>' in html
    listed = admin_client.get("/admin/devices/device/", {"rollout": f"{rollout.pk}:rolled_back"})
    assert [device.controller_id for device in listed.context["cl"].result_list] == ["back"]
