"""Rollouts in the admin: the preview before creating or starting, progress with links to the
devices behind each number, and the lifecycle buttons."""

from __future__ import annotations

import pytest

from rollouts.models import Action, Rollout
from tests.factories import make_action, make_device, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db

URL = "/admin/rollouts/rollout/"


@pytest.fixture
def fleet():
    """Feed "default": two rpi4 devices (one already on 2.0.0), one imx8, one in latest mode."""
    rpi, imx = make_hardware("rpi4", "1.2"), make_hardware("imx8", "B")
    software = make_software("2.0.0", compatibility=[rpi])
    make_device("rpi-old", hardware=rpi, sw_version="1.0.0")
    make_device("rpi-new", hardware=rpi, sw_version="2.0.0")
    make_device("imx-1", hardware=imx)
    make_device("latest-1", hardware=rpi, update_mode="latest")
    return software


def add_data(software, **changes) -> dict:
    data = {
        "name": "Spring",
        "feed": "default",
        "software": str(software.pk),
        "pause_on_failure_percent": "20",
        "pause_min_results": "5",
        "pause_on_failure_count": "",
        "max_parallel": "",
    }
    data.update(changes)
    return data


def test_adding_shows_what_the_rollout_reaches_before_creating_it(admin_client, fleet):
    holder = make_rollout(make_software("1.5.0", compatibility=[make_hardware("rpi4", "1.2")]), name="Winter")
    make_rollout(make_software("9.0", compatibility=[make_hardware("imx8", "B")]), name="Elsewhere")

    response = admin_client.post(URL + "add/", add_data(fleet, start="on"))

    assert response.status_code == 200
    assert Rollout.objects.count() == 2
    html = " ".join(response.content.decode().split())
    assert "Before you start this rollout" in html
    assert "<strong>1 device</strong> of feed" in html and "1 already runs it" in html
    assert '<tr><td>rpi4 1.2</td><td class="gb-num">2</td><td class="gb-num">1</td></tr>' in html
    assert "1 other device of the feed has hardware this software does not list" in html
    assert "1 device of the feed is in latest, assigned or pinned mode" in html
    assert f'<a href="/admin/rollouts/rollout/{holder.pk}/change/">Winter</a> (1.5.0, running)' in html
    assert "Elsewhere" not in html  # holds the feed for other hardware only
    assert f'name="_confirmed" value="default|{fleet.pk}|1"' in html
    assert 'value="Create and start the rollout"' in html
    assert "gb-confirm-step" in html


def test_confirming_the_preview_creates_the_rollout(admin_client, fleet):
    data = add_data(fleet, start="on", _confirmed=f"default|{fleet.pk}|1")

    response = admin_client.post(URL + "add/", data)

    assert response.status_code == 302
    rollout = Rollout.objects.get()
    assert (rollout.name, rollout.status) == ("Spring", Rollout.Status.RUNNING)


def test_a_confirmation_for_another_feed_or_start_choice_previews_again(admin_client, fleet):
    stale = f"default|{fleet.pk}|0"  # previewed as a draft, now asked to start

    response = admin_client.post(URL + "add/", add_data(fleet, start="on", _confirmed=stale))

    assert response.status_code == 200
    assert not Rollout.objects.exists()
    assert response.context["will_start"] is True


def test_a_feed_nobody_follows_gets_a_warning_in_the_preview(admin_client, fleet):
    response = admin_client.post(URL + "add/", add_data(fleet, feed="nobody"))

    assert (
        '<p class="gb-warning"><strong>This rollout targets 0 devices:</strong> no device of feed '
        '<a href="/admin/devices/device/?feed=nobody">nobody</a> can take this software right now.'
    ) in response.content.decode()
    assert 'value="Create the draft"' in response.content.decode()


def test_the_list_shows_progress_with_links_to_the_devices_behind_each_number(admin_client, fleet):
    rollout = make_rollout(fleet, name="Spring")
    from devices.models import Device

    device = Device.objects.get(controller_id="rpi-old")
    make_action(device, fleet, rollout=rollout, status=Action.Status.ERROR, reason="rollout")
    Rollout.objects.filter(pk=rollout.pk).update(
        status=Rollout.Status.PAUSED, pause_reason="Paused automatically: 1 devices failed"
    )

    html = admin_client.get(URL).content.decode()

    assert f'<a href="/admin/devices/device/?rollout={rollout.pk}:failed">' in html
    assert f'<a href="/admin/devices/device/?rollout={rollout.pk}:already_on_version">' in html
    assert '<div class="gb-reason">Paused automatically: 1 devices failed</div>' in html
    assert '<a href="/admin/devices/device/?feed=default" title="Devices of this feed">default</a>' in html
    devices = admin_client.get(f"/admin/devices/device/?rollout={rollout.pk}:failed")
    assert [item.controller_id for item in devices.context["cl"].result_list] == ["rpi-old"]


def test_a_drafts_page_offers_start_with_a_preview(admin_client, fleet):
    draft = make_rollout(fleet, name="Spring", status=Rollout.Status.DRAFT)

    page = admin_client.get(f"{URL}{draft.pk}/change/").content.decode()
    assert f'href="/admin/rollouts/rollout/{draft.pk}/start/">Start…</a>' in page

    preview = admin_client.get(f"{URL}{draft.pk}/start/")
    assert preview.status_code == 200
    assert "<strong>1 device</strong>" in preview.content.decode()
    draft.refresh_from_db()
    assert draft.status == Rollout.Status.DRAFT

    response = admin_client.post(f"{URL}{draft.pk}/start/")
    assert response.status_code == 302 and response["Location"] == f"{URL}{draft.pk}/change/"
    draft.refresh_from_db()
    assert draft.status == Rollout.Status.RUNNING


def test_pause_resume_and_stop_from_the_rollouts_page(admin_client, fleet):
    rollout = make_rollout(fleet, name="Spring")

    assert admin_client.get(f"{URL}{rollout.pk}/pause/").status_code == 405
    admin_client.post(f"{URL}{rollout.pk}/pause/")
    rollout.refresh_from_db()
    assert (rollout.status, rollout.pause_reason) == (Rollout.Status.PAUSED, "Paused by admin")
    assert "Resume</button>" in admin_client.get(f"{URL}{rollout.pk}/change/").content.decode()

    admin_client.post(f"{URL}{rollout.pk}/resume/")
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.RUNNING

    confirm = admin_client.get(f"{URL}{rollout.pk}/stop/")
    assert "Stopping is for good" in confirm.content.decode()
    admin_client.post(f"{URL}{rollout.pk}/stop/")
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.STOPPED


def test_a_refused_transition_is_a_message(admin_client, fleet):
    rollout = make_rollout(fleet, name="Spring", status=Rollout.Status.DRAFT)

    response = admin_client.post(f"{URL}{rollout.pk}/resume/", follow=True)

    assert [str(message) for message in response.context["messages"]] == [
        f"cannot resume rollout {rollout.pk} (Spring): it is draft; only a paused rollout can be resumed"
    ]


def test_the_start_action_previews_each_draft_then_starts_them(admin_client, fleet):
    draft = make_rollout(fleet, name="Spring", status=Rollout.Status.DRAFT)
    data = {"action": "start_rollouts", "index": "0", "_selected_action": [str(draft.pk)]}

    page = admin_client.post(URL, data)
    assert page.status_code == 200
    assert "Spring — 2.0.0 to feed default" in page.content.decode()
    draft.refresh_from_db()
    assert draft.status == Rollout.Status.DRAFT

    admin_client.post(URL, {**data, "apply": "1"})
    draft.refresh_from_db()
    assert draft.status == Rollout.Status.RUNNING


def test_a_viewer_sees_rollouts_but_cannot_change_them(viewer_client, fleet):
    rollout = make_rollout(fleet, name="Spring")

    page = viewer_client.get(f"{URL}{rollout.pk}/change/")
    assert page.status_code == 200
    assert "Pause</button>" not in page.content.decode()
    for command in ["pause/", "stop/", "start/", "resume/"]:
        assert viewer_client.post(f"{URL}{rollout.pk}/{command}").status_code == 403
    response = viewer_client.post(
        URL, {"action": "stop_rollouts", "index": "0", "_selected_action": [rollout.pk]}
    )
    assert response.status_code == 403
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.RUNNING


def test_the_update_history_lists_actions_with_status_badges(admin_client, fleet):
    from devices.models import Device

    make_action(Device.objects.get(controller_id="rpi-old"), fleet, status=Action.Status.ERROR)

    response = admin_client.get("/admin/rollouts/action/")

    assert response.status_code == 200
    assert '<span class="gb-badge gb-badge--bad">Failed</span>' in response.content.decode()
    assert "<h1>Update history</h1>" in response.content.decode()
