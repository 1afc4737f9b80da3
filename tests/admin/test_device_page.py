"""A device's page: its settings form, token, live log endpoint, update controls and history."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User

from devices.models import Device
from goosebit_project.lib.tokens import token_matches
from rollouts.models import Action, ActionStatus, Rollout
from tests.factories import make_action, make_device, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db


def page_url(device: Device, suffix: str = "change/") -> str:
    return f"/admin/devices/device/{device.pk}/{suffix}"


def form_data(device: Device, **changes) -> dict:
    data = {
        "name": device.name,
        "update_mode": device.update_mode,
        "feed": device.feed,
        "assigned_software": device.assigned_software_id or "",
        "new_token": "",
    }
    data.update(changes)
    return data


def status(action: Action, execution: str, details: list[str], **fields) -> ActionStatus:
    return ActionStatus.objects.create(action=action, execution=execution, details=details, **fields)


@pytest.fixture
def updating():
    """A device half-way through a rollout update, with an earlier failed attempt."""
    board = make_hardware("rpi4", "1.2")
    software = make_software("2.0.0", compatibility=[board])
    rollout = make_rollout(software, name="Spring")
    device = make_device(
        "rpi-1",
        hardware=board,
        state=Device.State.RUNNING,
        progress=40,
        attributes={"hw_boardname": "rpi4", "serial": "SN<42>"},
    )
    failed = make_action(device, software, rollout=rollout, status=Action.Status.ERROR, reason="rollout")
    status(failed, "closed", ["checksum mismatch"], finished="failure")
    action = make_action(device, software, rollout=rollout, status=Action.Status.RUNNING, reason="rollout")
    status(action, "proceeding", ["Downloaded 10%"], progress=10)
    status(action, "proceeding", ["Downloaded 40%", "<script>alert(1)</script>"], progress=40)
    return device, action, failed


def test_the_page_shows_the_current_update_log_attributes_and_history(admin_client, updating):
    device, action, failed = updating

    response = admin_client.get(page_url(device))

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["current_action"] == action
    assert [line["details"] for line in response.context["log_lines"]] == [
        "Downloaded 10%",
        "Downloaded 40%\n<script>alert(1)</script>",
    ]
    last = action.statuses.order_by("-id").first()
    assert f'data-after="{last.pk}"' in html and f'data-action="{action.pk}"' in html
    # What devices send is escaped, never markup.
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<tr><th>serial</th><td>SN&lt;42&gt;</td></tr>" in html
    assert [item.pk for item in response.context["history"]] == [action.pk, failed.pk]
    assert "checksum mismatch" in html
    assert "2.0.0 — from rollout" in html and ">Spring</a>" in html
    assert "Cancel update</button>" in html


def test_a_device_without_updates_shows_empty_states(admin_client):
    device = make_device("fresh", attributes={})

    html = admin_client.get(page_url(device)).content.decode()

    assert "No update has been offered to this device yet." in html
    assert "This device has not received any update yet." in html
    assert "The device has not sent any attributes yet." in html
    assert 'data-action=""' in html


def test_the_live_log_returns_lines_after_the_given_id(admin_client, updating, django_assert_max_num_queries):
    device, action, _ = updating
    first = action.statuses.order_by("id").first()

    with django_assert_max_num_queries(8):
        response = admin_client.get(page_url(device, "log/"), {"after": first.pk})

    assert response.status_code == 200
    data = response.json()
    assert data["device"] == {
        "state": "running",
        "state_label": "In progress",
        "state_tone": "active",
        "progress": 40,
        "progress_width": 40,
        "progress_tone": "active",
        "progress_label": "40%",
        "sw_version": "",
    }
    assert data["action"] == {
        "id": action.pk,
        "status": "running",
        "status_label": "In progress",
        "status_tone": "active",
        "progress": None,
        "active": True,
    }
    [line] = data["lines"]
    assert line["details"] == "Downloaded 40%\n<script>alert(1)</script>"
    assert (line["source"], line["execution"], line["result"], line["progress"]) == (
        "Device",
        "Proceeding",
        "",
        "40%",
    )


def test_the_live_log_shows_feedback_as_it_arrives_over_ddi(admin_client, client):
    device = make_device("dev-1", sw_version="1.0.0")
    software = make_software("2.0.0")
    device.assigned_software, device.update_mode = software, "assigned"
    device.save()
    client.get("/DEFAULT/controller/v1/dev-1")
    action = Action.objects.get()
    seen = admin_client.get(page_url(device, "log/"), {"after": 0}).json()["lines"]

    body = json.dumps(
        {"status": {"execution": "proceeding", "result": {"finished": "none"}, "details": ["Downloaded 70%"]}}
    )
    client.post(
        f"/DEFAULT/controller/v1/dev-1/deploymentBase/{action.pk}/feedback",
        body,
        content_type="application/json",
    )
    data = admin_client.get(page_url(device, "log/"), {"after": seen[-1]["id"] if seen else 0}).json()

    assert [line["details"] for line in data["lines"]] == ["Downloaded 70%"]
    assert data["device"]["progress"] == 70


@pytest.mark.parametrize("after", ["x", "1.5"])
def test_the_live_log_refuses_a_bad_after(admin_client, after):
    device = make_device("d1")

    response = admin_client.get(page_url(device, "log/"), {"after": after})

    assert response.status_code == 400
    assert response.json() == {"error": "after must be a whole number"}


def test_the_live_log_needs_permission_and_an_existing_device(client, admin_client, db):
    device = make_device("d1")
    client.force_login(User.objects.create_user("nobody", password="x-secret-123", is_staff=True))

    assert client.get(page_url(device, "log/")).status_code == 403
    assert admin_client.get("/admin/devices/device/999999/log/").status_code == 404


def test_saving_the_form_changes_the_mode_through_the_services(admin_client):
    board = make_hardware("rpi4", "1")
    software = make_software("2.0.0", compatibility=[board])
    device = make_device("d1", hardware=board)

    response = admin_client.post(
        page_url(device),
        form_data(device, name="Gateway", update_mode="assigned", assigned_software=software.pk),
    )

    assert response.status_code == 302
    device.refresh_from_db()
    assert (device.name, device.update_mode, device.assigned_software) == ("Gateway", "assigned", software)


def test_a_device_without_hardware_can_be_assigned_any_software_with_a_warning(admin_client):
    software = make_software("2.0.0", compatibility=[make_hardware("imx8", "B")])
    device = make_device("d1")
    Device.objects.filter(pk=device.pk).update(hardware=None)
    device.refresh_from_db()

    form = admin_client.get(page_url(device)).context["adminform"].form
    response = admin_client.post(
        page_url(device), form_data(device, update_mode="assigned", assigned_software=software.pk)
    )

    assert [pk for pk, _ in form.fields["assigned_software"].choices] == ["", software.pk]
    assert response.status_code == 302
    device.refresh_from_db()
    assert (device.update_mode, device.assigned_software) == ("assigned", software)
    shown = [(m.level_tag, m.message) for m in response.wsgi_request._messages]
    assert (
        "warning",
        "device d1 has not reported its hardware, so the compatibility of software 2.0.0 "
        "(update-2.0.0.swu) with it was not checked",
    ) in shown


def test_the_form_lists_only_compatible_software_highest_version_first(admin_client):
    board = make_hardware("rpi4", "1")
    low = make_software("1.9.0", compatibility=[board])
    high = make_software("1.10.0", compatibility=[board])
    make_software("5.0.0", compatibility=[make_hardware("imx8", "B")])
    device = make_device("d1", hardware=board)

    form = admin_client.get(page_url(device)).context["adminform"].form

    assert list(form.fields["assigned_software"].choices) == [
        ("", "---------"),
        (high.pk, "1.10.0 — update-1.10.0.swu (SWUpdate (.swu))"),
        (low.pk, "1.9.0 — update-1.9.0.swu (SWUpdate (.swu))"),
    ]


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"update_mode": "rollout", "feed": " "}, {"feed": ["a feed name is required for rollout mode"]}),
        ({"update_mode": "assigned"}, {"assigned_software": ["choose the software to assign"]}),
        ({"new_token": "has space"}, {"new_token": ["a device token is 1 to 128 characters without spaces"]}),
        (
            {"new_token": "abc", "clear_token": "on"},
            {"clear_token": ["Either set a new token or remove it, not both."]},
        ),
    ],
)
def test_the_form_shows_service_errors_on_the_fields(admin_client, changes, errors):
    device = make_device("d1", name="before")

    response = admin_client.post(page_url(device), form_data(device, name="after", **changes))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    device.refresh_from_db()
    assert device.name == "before"


def test_the_form_sets_and_removes_the_token(admin_client):
    device = make_device("d1")

    admin_client.post(page_url(device), form_data(device, new_token=" s3cret "))
    device.refresh_from_db()
    assert token_matches("s3cret", device.token_hash)

    admin_client.post(page_url(device), form_data(device, clear_token="on"))
    device.refresh_from_db()
    assert device.token_hash == ""


def test_adding_a_device_pre_commissions_it_with_a_token(admin_client):
    response = admin_client.post(
        "/admin/devices/device/add/",
        {
            "controller_id": "gw-9",
            "name": "Spare",
            "update_mode": "rollout",
            "feed": "beta",
            "new_token": "t0ken",
        },
    )

    assert response.status_code == 302
    device = Device.objects.get()
    assert (device.controller_id, device.name, device.hardware, device.feed, device.state) == (
        "gw-9",
        "Spare",
        None,
        "beta",
        Device.State.UNKNOWN,
    )
    assert token_matches("t0ken", device.token_hash)


def test_adding_a_device_id_with_a_slash_is_a_form_error(admin_client):
    response = admin_client.post(
        "/admin/devices/device/add/", {"controller_id": "a/b", "update_mode": "latest", "feed": "default"}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "controller_id": ["a controller id must not contain '/'"]
    }
    assert Device.objects.count() == 0


def test_adding_an_existing_device_id_is_a_form_error(admin_client):
    make_device("gw-9")

    response = admin_client.post(
        "/admin/devices/device/add/",
        {"controller_id": "gw-9", "update_mode": "latest", "feed": "default", "new_token": ""},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "controller_id": ["Device with this Device id already exists."]
    }
    assert Device.objects.count() == 1


def test_rotating_the_token_confirms_then_shows_it_once(admin_client):
    device = make_device("d1", token="old")

    confirm = admin_client.get(page_url(device, "rotate-token/"))
    assert confirm.status_code == 200
    assert "its current token stops working at once" in confirm.content.decode()

    response = admin_client.post(page_url(device, "rotate-token/"))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [(shown, token)] = response.context["pairs"]
    assert shown == device and f"<code>{token}</code>" in response.content.decode()
    device.refresh_from_db()
    assert token_matches(token, device.token_hash) and not token_matches("old", device.token_hash)


def test_cancel_then_force_quit_from_the_page(admin_client, updating):
    device, action, _ = updating

    assert admin_client.get(page_url(device, "cancel-update/")).status_code == 405
    response = admin_client.post(page_url(device, "cancel-update/"))
    assert response.status_code == 302 and response["Location"] == page_url(device)
    action.refresh_from_db()
    assert action.status == Action.Status.CANCELING
    assert "Force quit</button>" in admin_client.get(page_url(device)).content.decode()

    admin_client.post(page_url(device, "force-quit/"))
    action.refresh_from_db()
    assert action.status == Action.Status.CANCELED


def test_a_command_that_does_not_apply_is_a_message_not_an_error(admin_client):
    device = make_device("idle")

    response = admin_client.post(page_url(device, "cancel-update/"), follow=True)

    assert response.status_code == 200
    assert [str(message) for message in response.context["messages"]] == [
        "device idle has no update under way to cancel"
    ]


def test_retry_from_the_page(admin_client):
    device = make_device("d1", state=Device.State.ERROR)

    admin_client.post(page_url(device, "retry/"))

    device.refresh_from_db()
    assert (device.force_update, device.state) == (True, Device.State.REGISTERED)


def test_a_viewer_sees_the_page_read_only_and_is_refused_every_change(viewer_client, updating):
    device, action, _ = updating

    page = viewer_client.get(page_url(device))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Cancel update</button>" not in html and "new_token" not in html
    assert viewer_client.get(page_url(device, "log/")).status_code == 200

    assert viewer_client.post(page_url(device), form_data(device, name="hacked")).status_code == 403
    for command in ["cancel-update/", "force-quit/", "retry/", "rotate-token/"]:
        assert viewer_client.post(page_url(device, command)).status_code == 403
    device.refresh_from_db()
    action.refresh_from_db()
    assert (device.name, action.status) == ("", Action.Status.RUNNING)


@pytest.mark.parametrize(
    ("status", "pause_reason", "hold"),
    [
        (Rollout.Status.PAUSED, "3 of 10 failed", "paused: 3 of 10 failed"),
        (Rollout.Status.PAUSED, "", "paused"),
        (Rollout.Status.STOPPED, "", "stopped"),
    ],
)
def test_a_held_rollout_still_shows_its_target_and_why(admin_client, status, pause_reason, hold):
    board = make_hardware("rpi4", "1.2")
    rollout = make_rollout(
        make_software("1.2.0", compatibility=[board]), name="Spring", status=status, pause_reason=pause_reason
    )
    device = make_device("rpi-1", hardware=board, sw_version="1.0.0")

    html = admin_client.get(page_url(device)).content.decode()

    url = f"/admin/rollouts/rollout/{rollout.pk}/change/"
    assert f'1.2.0 — rollout <a href="{url}">Spring</a> ({hold})' in html
    assert "None:" not in html
