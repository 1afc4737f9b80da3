"""The confirmation flow in the admin: confirmation required per assignment and rollout, the
waiting update on the device page, auto-confirm on and off, and cancel of a waiting update."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts.models import Action, Rollout
from tests.admin.test_device_actions import act, messages_of
from tests.admin.test_device_page import form_data, page_url
from tests.factories import make_device, make_hardware, make_software

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow_on(settings):
    settings.GOOSEBIT_CONFIRMATION_FLOW = True


@pytest.fixture
def board():
    return make_hardware("rpi4", "1")


def _assign_on_page(client, device: Device, software, *, required: bool):
    data = form_data(device, update_mode="assigned", assigned_software=software.pk)
    if required:
        data["assigned_confirmation_required"] = "on"
    return client.post(page_url(device), data)


def test_an_assignment_from_the_device_page_waits_and_the_page_says_so(admin_client, flow_on, board):
    device = make_device("d1", hardware=board, sw_version="1.0")
    software = make_software("2.0.0", compatibility=[board])

    assert _assign_on_page(admin_client, device, software, required=True).status_code == 302

    action = Action.objects.get(device=device)
    assert action.status == Action.Status.WAIT_FOR_CONFIRMATION
    html = " ".join(admin_client.get(page_url(device)).content.decode().split())
    assert "Waiting for confirmation: the device (or its user) must confirm this update" in html
    assert '<span id="gb-live-state" class="gb-badge gb-badge--warn">Waiting for confirmation</span>' in html
    assert "Activate auto-confirm</button>" in html
    assert "Cancel update</button>" in html
    # The waiting update is in the history with the server's note.
    assert f"<strong>#{action.pk}</strong> 2.0.0" in html
    assert "Confirmation: Waiting for confirmation" in html


def test_the_device_page_can_assign_without_confirmation(admin_client, flow_on, board):
    device = make_device("d1", hardware=board, sw_version="1.0")
    software = make_software("2.0.0", compatibility=[board])

    _assign_on_page(admin_client, device, software, required=False)

    device.refresh_from_db()
    assert device.assigned_confirmation_required is False
    assert Action.objects.get(device=device).status == Action.Status.PENDING


def test_the_form_checks_confirmation_required_by_default(admin_client, board):
    device = make_device("d1", hardware=board)

    form = admin_client.get(page_url(device)).context["adminform"].form

    assert form.initial["assigned_confirmation_required"] is True


def test_auto_confirm_from_the_page_confirms_the_waiting_update(admin_client, flow_on, board):
    device = make_device("d1", hardware=board, sw_version="1.0")
    _assign_on_page(admin_client, device, make_software("2.0.0", compatibility=[board]), required=True)

    assert admin_client.get(page_url(device, "auto-confirm-on/")).status_code == 405
    response = admin_client.post(page_url(device, "auto-confirm-on/"), follow=True)

    assert [str(m) for m in response.context["messages"]][-1] == (
        "Auto-confirm is on: updates waiting for the device's confirmation proceed."
    )
    device.refresh_from_db()
    assert (device.auto_confirm, device.auto_confirm_initiator, device.state) == (
        True,
        "admin",
        Device.State.PENDING,
    )
    assert Action.objects.get(device=device).status == Action.Status.PENDING
    html = response.content.decode()
    assert "Deactivate auto-confirm</button>" in html
    assert "On: updates are confirmed in the device&#x27;s name (by admin; since" in html

    again = admin_client.post(page_url(device, "auto-confirm-on/"), follow=True)
    assert [str(m) for m in again.context["messages"]] == ["auto-confirm is already active for device d1"]

    admin_client.post(page_url(device, "auto-confirm-off/"))
    device.refresh_from_db()
    assert device.auto_confirm is False


def test_a_viewer_cannot_switch_auto_confirm(viewer_client, board):
    device = make_device("d1", hardware=board)

    assert viewer_client.post(page_url(device, "auto-confirm-on/")).status_code == 403
    device.refresh_from_db()
    assert device.auto_confirm is False


def test_cancel_of_a_waiting_update_from_the_page_closes_it_at_once(admin_client, flow_on, board):
    device = make_device("d1", hardware=board, sw_version="1.0")
    _assign_on_page(admin_client, device, make_software("2.0.0", compatibility=[board]), required=True)

    admin_client.post(page_url(device, "cancel-update/"))

    assert Action.objects.get(device=device).status == Action.Status.CANCELED
    device.refresh_from_db()
    assert device.state == Device.State.REGISTERED


@pytest.mark.parametrize(
    ("checked", "expected"), [(True, Action.Status.WAIT_FOR_CONFIRMATION), (False, "pending")]
)
def test_bulk_assignment_takes_confirmation_required(admin_client, flow_on, board, checked, expected):
    software = make_software("2.0.0", compatibility=[board])
    devices = [
        make_device("a", hardware=board, sw_version="1.0"),
        make_device("b", hardware=board, sw_version="1.0"),
    ]
    fields = {"software": str(software.pk)}
    if checked:
        fields["confirmation_required"] = "on"

    form = act(admin_client, "assign_software", devices).context["form"]
    act(admin_client, "assign_software", devices, apply=True, **fields)

    assert form.fields["confirmation_required"].initial is True
    assert sorted(Action.objects.values_list("status", flat=True)) == [expected, expected]
    shown = messages_of(admin_client)
    waiting_note = (
        "2 devices must confirm the update first (the confirmation flow is on); turn on auto-confirm "
        "on a device's page to confirm in its name."
    )
    assert (waiting_note in shown) is checked


def test_a_rollout_created_without_confirmation_offers_directly(admin_client, flow_on, board):
    software = make_software("2.0.0", compatibility=[board])
    make_device("rpi-1", hardware=board, sw_version="1.0")
    data = {
        "name": "Spring",
        "feed": "default",
        "software": str(software.pk),
        "pause_on_failure_percent": "20",
        "pause_min_results": "5",
        "pause_on_failure_count": "",
        "max_parallel": "",
        "start": "on",
        "_confirmed": f"default|{software.pk}|1",
    }

    assert admin_client.post("/admin/rollouts/rollout/add/", data).status_code == 302
    assert Rollout.objects.get().confirmation_required is False

    assert (
        admin_client.post("/admin/rollouts/rollout/add/", {**data, "confirmation_required": "on"}).status_code
        == 302
    )
    assert Rollout.objects.order_by("-id")[0].confirmation_required is True


def test_a_rollouts_page_shows_whether_it_requires_confirmation(admin_client, board):
    rollout = Rollout.objects.create(
        name="r",
        feed="default",
        software=make_software("2.0.0", compatibility=[board]),
        confirmation_required=False,
    )

    html = admin_client.get(f"/admin/rollouts/rollout/{rollout.pk}/change/").content.decode()

    assert "Confirmation required" in html
    assert "/static/admin/img/icon-no.svg" in html
