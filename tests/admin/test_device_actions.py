"""Bulk actions of the device list: each one's intermediate page, its effect and who may run it."""

from __future__ import annotations

import pytest

from devices.models import Device
from goosebit_project.lib.tokens import token_matches
from rollouts.models import Action
from tests.factories import make_action, make_device, make_hardware, make_software

pytestmark = pytest.mark.django_db

URL = "/admin/devices/device/"


def act(client, action, devices, *, apply=False, select_across=False, query="", **fields):
    """POST what the list's action bar (or an intermediate page, with apply) posts."""
    data = {
        "action": action,
        "index": "0",
        "select_across": "1" if select_across else "0",
        "_selected_action": [str(device.pk) for device in devices],
        **fields,
    }
    if apply:
        data["apply"] = "1"
    return client.post(URL + query, data)


def messages_of(client) -> list[str]:
    response = client.get(URL)
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def boards():
    return make_hardware("rpi4", "1"), make_hardware("imx8", "B")


# --- assign software ---


def test_assign_software_offers_only_software_that_fits_every_selected_device(admin_client, boards):
    rpi, imx = boards
    fits_both = make_software("1.5.0", compatibility=[rpi, imx])
    newer_for_both = make_software("1.10.0", compatibility=[rpi, imx])
    make_software("9.0.0", compatibility=[rpi])
    devices = [make_device("rpi-1", hardware=rpi), make_device("imx-1", hardware=imx)]

    response = act(admin_client, "assign_software", devices)

    assert response.status_code == 200
    assert response.templates[0].name == "admin/devices/device/action_assign_software.html"
    form = response.context["form"]
    assert form.fields["software"].choices == [
        (newer_for_both.pk, "1.10.0 — update-1.10.0.swu (SWUpdate (.swu))"),
        (fits_both.pk, "1.5.0 — update-1.5.0.swu (SWUpdate (.swu))"),
    ]
    html = response.content.decode()
    assert "2 devices selected" in html and "rpi-1" in html and "imx-1" in html
    assert Device.objects.filter(update_mode="assigned").count() == 0


def test_assign_software_applies_to_the_selection(admin_client, boards):
    rpi, _ = boards
    software = make_software("2.0.0", compatibility=[rpi])
    chosen = [make_device("a", hardware=rpi), make_device("b", hardware=rpi)]
    make_device("c", hardware=rpi)

    response = act(admin_client, "assign_software", chosen, apply=True, software=str(software.pk))

    assert response.status_code == 302
    assert messages_of(admin_client) == ["Assigned 2.0.0 to 2 devices; they update on their next poll."]
    assert dict(Device.objects.values_list("controller_id", "assigned_software")) == {
        "a": software.pk,
        "b": software.pk,
        "c": None,
    }


def test_assign_software_refuses_software_that_does_not_fit(admin_client, boards):
    rpi, imx = boards
    only_imx = make_software("3.0.0", compatibility=[imx])
    device = make_device("rpi-1", hardware=rpi)

    response = act(admin_client, "assign_software", [device], apply=True, software=str(only_imx.pk))

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "software": [f"Select a valid choice. {only_imx.pk} is not one of the available choices."]
    }
    device.refresh_from_db()
    assert device.assigned_software is None


def test_assign_software_explains_devices_without_hardware(admin_client, boards):
    make_software("2.0.0", compatibility=list(boards))
    devices = [make_device("new"), make_device("rpi-1", hardware=boards[0])]
    Device.objects.filter(controller_id="new").update(hardware=None)  # polled, no configData yet

    response = act(admin_client, "assign_software", devices)

    assert response.status_code == 200
    page = response.content.decode()
    assert "1 of the selected devices has not reported its hardware yet" in page
    assert "is not checked" in page
    assert 'type="submit" value="Assign"' in page


def test_assign_software_to_devices_without_hardware_works_and_warns(admin_client, boards):
    software = make_software("2.0.0", compatibility=[boards[0]])
    devices = [make_device("new"), make_device("rpi-1", hardware=boards[0])]
    Device.objects.filter(controller_id="new").update(hardware=None)

    response = act(admin_client, "assign_software", devices, apply=True, software=str(software.pk))

    assert response.status_code == 302
    assert set(Device.objects.values_list("assigned_software", flat=True)) == {software.pk}
    shown = [(m.level_tag, m.message) for m in response.wsgi_request._messages]
    assert ("success", "Assigned 2.0.0 to 2 devices; they update on their next poll.") in shown
    assert (
        "warning",
        "1 device has not reported hardware: the compatibility of 2.0.0 with it was not checked.",
    ) in shown


def test_assign_software_still_refuses_incompatible_known_hardware(admin_client, boards):
    rpi, imx = boards
    only_rpi = make_software("2.0.0", compatibility=[rpi])
    devices = [make_device("new"), make_device("imx-1", hardware=imx)]
    Device.objects.filter(controller_id="new").update(hardware=None)

    response = act(admin_client, "assign_software", devices, apply=True, software=str(only_rpi.pk))

    assert response.status_code == 200
    assert "form" in response.context and response.context["form"].errors
    assert not Device.objects.filter(assigned_software=only_rpi).exists()


def test_assign_software_explains_when_nothing_fits_every_board(admin_client, boards):
    rpi, imx = boards
    make_software("2.0.0", compatibility=[rpi])
    devices = [make_device("rpi-1", hardware=rpi), make_device("imx-1", hardware=imx)]

    response = act(admin_client, "assign_software", devices)

    assert "No software fits every selected device. They use" in response.content.decode()


def test_select_all_applies_to_every_filtered_device_not_just_the_page(admin_client, boards):
    rpi, imx = boards
    software = make_software("2.0.0", compatibility=[rpi])
    page = [make_device(f"rpi-{index:03d}", hardware=rpi) for index in range(60)]
    make_device("imx-1", hardware=imx)
    query = f"?hardware__id__exact={rpi.pk}"

    intermediate = act(admin_client, "assign_software", page[:50], select_across=True, query=query)
    assert intermediate.status_code == 200
    assert "60 devices selected" in intermediate.content.decode()
    assert 'name="select_across" value="1"' in intermediate.content.decode()

    response = act(
        admin_client, "assign_software", page[:50], select_across=True, query=query, apply=True,
        software=str(software.pk),
    )  # fmt: skip

    assert response.status_code == 302
    assert Device.objects.filter(assigned_software=software).count() == 60
    assert Device.objects.get(controller_id="imx-1").assigned_software is None


# --- feed, latest, pin, unpin ---


def test_put_in_feed_asks_for_the_feed_then_applies_it(admin_client):
    devices = [make_device("a", update_mode="pinned"), make_device("b", update_mode="latest")]

    page = act(admin_client, "put_in_feed", devices)
    assert page.status_code == 200
    assert '<option value="default">' in page.content.decode()

    empty = act(admin_client, "put_in_feed", devices, apply=True, feed="  ")
    assert empty.context["form"].errors == {"feed": ["This field is required."]}

    response = act(admin_client, "put_in_feed", devices, apply=True, feed="beta")
    assert response.status_code == 302
    assert messages_of(admin_client) == ["2 devices now follow the rollouts of feed “beta”."]
    assert set(Device.objects.values_list("update_mode", "feed")) == {("rollout", "beta")}


@pytest.mark.parametrize(
    ("action", "before", "after", "message"),
    [
        ("follow_latest", "pinned", "latest", "2 devices now follow the latest compatible software."),
        ("pin", "latest", "pinned", "Pinned 2 devices: they get no updates until unpinned."),
        ("unpin", "pinned", "rollout", "Unpinned 2 devices: they follow their feed again."),
    ],
)
def test_mode_actions_apply_at_once(admin_client, action, before, after, message):
    devices = [make_device("a", update_mode=before), make_device("b", update_mode=before)]

    response = act(admin_client, action, devices)

    assert response.status_code == 302
    assert messages_of(admin_client) == [message]
    assert set(Device.objects.values_list("update_mode", flat=True)) == {after}


def test_unpin_leaves_devices_that_were_not_pinned(admin_client):
    devices = [make_device("a", update_mode="pinned"), make_device("b", update_mode="latest")]

    act(admin_client, "unpin", devices)

    assert messages_of(admin_client) == [
        "Unpinned 1 device: they follow their feed again. 1 device were not pinned and stay as they are."
    ]
    assert dict(Device.objects.values_list("controller_id", "update_mode")) == {"a": "rollout", "b": "latest"}


# --- retry, force, cancel ---


def test_retry_failed_retries_only_failed_devices(admin_client):
    devices = [
        make_device("failed", state=Device.State.ERROR),
        make_device("fine", state=Device.State.FINISHED),
    ]

    act(admin_client, "retry_failed", devices)

    assert messages_of(admin_client) == ["1 device will retry on their next poll."]
    assert dict(Device.objects.values_list("controller_id", "force_update")) == {
        "failed": True,
        "fine": False,
    }


def test_retry_failed_says_when_nothing_failed(admin_client):
    act(admin_client, "retry_failed", [make_device("fine")])

    assert messages_of(admin_client) == ["None of the selected devices has a failed update."]


def test_force_update_flags_the_devices(admin_client):
    act(admin_client, "force_update", [make_device("a")])

    assert messages_of(admin_client) == ["1 device will be offered their target on the next poll."]
    assert Device.objects.get().force_update is True


def test_cancel_updates_confirms_then_cancels(admin_client):
    software = make_software("2.0.0")
    running = make_device("running", state=Device.State.RUNNING)
    idle = make_device("idle")
    action = make_action(running, software, status=Action.Status.RUNNING)

    page = act(admin_client, "cancel_updates", [running, idle])
    assert page.status_code == 200
    assert "1 of them is updating." in page.content.decode()
    action.refresh_from_db()
    assert action.status == Action.Status.RUNNING

    response = act(admin_client, "cancel_updates", [running, idle], apply=True)

    assert response.status_code == 302
    action.refresh_from_db()
    assert action.status == Action.Status.CANCELING
    assert messages_of(admin_client) == [
        "Canceled 1 update. Devices that already started are asked to stop on their next poll."
    ]


# --- tokens, delete ---


def test_rotate_tokens_confirms_then_shows_each_new_token_once(admin_client):
    devices = [make_device("a", token="old"), make_device("b")]

    page = act(admin_client, "rotate_tokens", devices)
    assert page.status_code == 200
    assert "its current token stops working at once" in page.content.decode()
    assert token_matches("old", Device.objects.get(controller_id="a").token_hash)

    response = act(admin_client, "rotate_tokens", devices, apply=True)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    pairs = response.context["pairs"]
    assert [device.controller_id for device, _ in pairs] == ["a", "b"]
    html = response.content.decode()
    stored = dict(Device.objects.values_list("controller_id", "token_hash"))
    for device, token in pairs:
        assert f"<code>{token}</code>" in html
        assert token_matches(token, stored[device.controller_id])
    assert f"a,{pairs[0][1]}\nb,{pairs[1][1]}" in html


def test_delete_devices_confirms_with_counts_then_deletes(admin_client):
    software = make_software("2.0.0")
    doomed = make_device("doomed")
    make_action(doomed, software, status=Action.Status.FINISHED)
    kept = make_device("kept")

    page = act(admin_client, "delete_devices", [doomed])
    assert page.status_code == 200
    assert "their update history (1 update)" in page.content.decode()

    response = act(admin_client, "delete_devices", [doomed], apply=True)

    assert response.status_code == 302
    assert messages_of(admin_client) == ["Deleted 1 device with their update history."]
    assert list(Device.objects.all()) == [kept]


def test_djangos_delete_selected_is_replaced(admin_client):
    response = admin_client.get(URL)

    choices = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in choices
    assert choices == [
        "",
        "assign_software",
        "put_in_feed",
        "follow_latest",
        "pin",
        "unpin",
        "retry_failed",
        "force_update",
        "cancel_updates",
        "rotate_tokens",
        "add_tag",
        "remove_tag",
        "delete_devices",
    ]


# --- who may ---


def test_an_operator_runs_bulk_actions(operator_client):
    device = make_device("a", update_mode="latest")

    response = act(operator_client, "pin", [device])

    assert response.status_code == 302
    device.refresh_from_db()
    assert device.update_mode == "pinned"


@pytest.mark.parametrize(
    "action",
    ["assign_software", "put_in_feed", "pin", "retry_failed", "rotate_tokens", "delete_devices", "made_up"],
)
def test_a_viewer_is_refused_every_bulk_action(viewer_client, action):
    device = make_device("a", update_mode="latest", token="keep")

    response = act(viewer_client, action, [device], apply=True, feed="beta")

    assert response.status_code == 403
    device.refresh_from_db()
    assert (device.update_mode, token_matches("keep", device.token_hash)) == ("latest", True)


def test_a_viewer_sees_the_list_without_actions(viewer_client):
    make_device("a")

    response = viewer_client.get(URL)

    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert "Add device" not in response.content.decode()
