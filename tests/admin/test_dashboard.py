"""The admin index: the fleet at a glance, for whoever may see it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action, ActionStatus, Rollout
from tests.factories import make_action, make_device, make_rollout, make_software

pytestmark = pytest.mark.django_db


def test_the_dashboard_counts_devices_by_state_and_polling(admin_client):
    now = timezone.now()
    make_device("a", state=Device.State.RUNNING, last_seen=now)
    make_device("b", state=Device.State.ERROR, last_seen=now - timedelta(hours=2))
    make_device("c", state=Device.State.FINISHED)

    response = admin_client.get("/admin/")

    assert response.status_code == 200
    html = response.content.decode()
    tiles = {tile["label"]: (tile["count"], tile["url"]) for tile in response.context["devices"]["tiles"]}
    assert tiles == {
        "Devices": (3, "/admin/devices/device/"),
        "On time": (1, "/admin/devices/device/?presence=online"),
        "Overdue": (1, "/admin/devices/device/?presence=overdue"),
        "Waiting or in progress": (1, "/admin/devices/device/?state__in=pending,running,canceling"),
        "Failed": (1, "/admin/devices/device/?failed=now"),
    }
    assert (
        '<a href="/admin/devices/device/?state__exact=error">Failed</a><span class="gb-count">1</span>'
        in html
    )
    assert (
        '<a href="/admin/devices/device/?presence=never">Never seen</a><span class="gb-count">1</span>'
        in html
    )
    assert 'title="In progress: 1"' in html  # a segment of the state bar


def test_the_dashboard_shows_active_rollouts_with_links_per_outcome(admin_client):
    software = make_software("2.0.0")
    rollout = make_rollout(software, name="Spring")
    make_rollout(software, name="Old", feed="old", status=Rollout.Status.FINISHED)
    make_rollout(
        software,
        name="Held",
        feed="beta",
        status=Rollout.Status.PAUSED,
        pause_reason="Paused automatically: 3 devices failed",
    )
    for index, status in enumerate(["finished", "finished", "error"]):
        make_action(make_device(f"d{index}"), software, rollout=rollout, status=status, reason="rollout")
    make_device("waiting")

    response = admin_client.get("/admin/")

    html = response.content.decode()
    assert [row["rollout"].name for row in response.context["rollouts"]["rollouts"]] == ["Held", "Spring"]
    succeeded = f'<a href="/admin/devices/device/?rollout={rollout.pk}:succeeded">'
    assert succeeded + '<span class="gb-dot gb-dot--ok"></span>2 succeeded</a>' in html
    assert f'<a href="/admin/devices/device/?rollout={rollout.pk}:failed">' in html
    assert "1 not started</a>" in html
    assert '<strong>50%</strong> <span class="gb-muted">(2/4, 1 failed)</span>' in html
    assert "Paused automatically: 3 devices failed" in html
    assert "Old" not in html


def test_the_dashboard_lists_recent_failures_with_the_devices_last_words(admin_client):
    software = make_software("2.0.0")
    device = make_device("broken")
    action = make_action(device, software, status=Action.Status.ERROR, finished_at=timezone.now())
    ActionStatus.objects.create(action=action, execution="closed", finished="failure", details=["disk full"])

    html = admin_client.get("/admin/").content.decode()

    assert f'<a href="/admin/devices/device/{device.pk}/change/">broken</a>' in html
    assert "disk full" in html


def test_an_empty_fleet_gets_helpful_empty_states(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert "No devices yet." in html
    assert "No rollout is running or paused." in html
    assert "No failed updates." in html
    assert "No update succeeded or failed in the last 14 days." in html


def test_the_dashboard_chart_draws_one_bar_per_day(admin_client):
    software = make_software("2.0.0")
    device = make_device("d1")
    make_action(device, software, status=Action.Status.FINISHED, finished_at=timezone.now())

    response = admin_client.get("/admin/")

    chart = response.context["devices"]["chart"]
    assert len(chart["bars"]) == 14
    assert (chart["total_finished"], chart["total_failed"], chart["bars"][-1]["ok_h"]) == (1, 0, 90)
    assert "1 updates succeeded and 0 failed in the last 14 days" in response.content.decode()


def test_the_dashboards_query_count_does_not_grow_with_the_fleet(admin_client, django_assert_num_queries):
    software = make_software("2.0.0")
    rollout = make_rollout(software)

    def grow(start: int, count: int) -> None:
        for index in range(start, start + count):
            device = make_device(f"d{index}", state=Device.State.ERROR, last_seen=timezone.now())
            action = make_action(
                device,
                software,
                rollout=rollout,
                status="error",
                reason="rollout",
                finished_at=timezone.now(),
            )
            ActionStatus.objects.create(action=action, execution="closed", finished="failure", details=["x"])

    grow(0, 3)
    admin_client.get("/admin/")  # warms this worker's caches (e.g. the rollouts with a query)
    with CaptureQueriesContext(connection) as small:
        admin_client.get("/admin/")
    grow(3, 30)
    with django_assert_num_queries(len(small.captured_queries)):
        admin_client.get("/admin/")


def test_a_viewer_sees_the_dashboard(viewer_client):
    make_device("a")

    response = viewer_client.get("/admin/")

    assert response.status_code == 200
    assert response.context["devices"]["total"] == 1
    assert "Start one" not in response.content.decode()  # viewers may not create rollouts


def test_a_staff_user_without_fleet_permissions_is_told_why_the_dashboard_is_empty(client):
    client.force_login(User.objects.create_user("nobody", password="x-secret-123", is_staff=True))

    html = client.get("/admin/").content.decode()

    assert "Ask an administrator to add you to the Operators or Viewers group." in html
