"""Bulk tags in the admin: "Add tag…" (creating a new tag) and "Remove tag…" on the device and
release lists; Operators may, Viewers may not; CSRF; the cost does not grow with the selection."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices.models import Device, DeviceTag
from software.models import ReleaseTag, Software
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db

DEVICES = "/admin/devices/device/"
RELEASES = "/admin/software/software/"


def act(client, url, action, objects, *, tag=None, select_across=False):
    data = {
        "action": action,
        "index": "0",
        "select_across": "1" if select_across else "0",
        "_selected_action": [str(obj.pk) for obj in objects],
    }
    if tag is not None:
        data |= {"apply": "1", "tag_name": tag}
    return client.post(url, data)


def tags_of(device: Device) -> list[str]:
    return sorted(device.tags.values_list("name", flat=True))


def test_the_page_lists_existing_tags_then_adding_creates_a_new_one(operator_client):
    DeviceTag.objects.create(name="lab")
    devices = [make_device("a"), make_device("b"), make_device("c")]

    page = act(operator_client, DEVICES, "add_tag", devices[:2])
    assert page.status_code == 200
    assert b'<option value="lab">' in page.content
    assert b"2 devices selected." in page.content

    response = act(operator_client, DEVICES, "add_tag", devices[:2], tag="  field-test ")
    assert response.status_code == 302
    assert [tags_of(device) for device in devices] == [["field-test"], ["field-test"], []]
    assert DeviceTag.objects.filter(name="field-test").count() == 1

    act(operator_client, DEVICES, "add_tag", devices, tag="lab")
    assert [tags_of(device) for device in devices] == [["field-test", "lab"]] * 2 + [["lab"]]
    assert DeviceTag.objects.count() == 2


def test_remove_tag_from_the_selection_only(operator_client):
    tag = DeviceTag.objects.create(name="lab")
    devices = [make_device("a"), make_device("b")]
    for device in devices:
        device.tags.add(tag)
    act(operator_client, DEVICES, "remove_tag", devices[:1], tag="lab")
    assert [tags_of(device) for device in devices] == [[], ["lab"]]


@pytest.mark.parametrize(
    ("action", "tag", "error"),
    [
        ("remove_tag", "nope", b"there is no tag named &#x27;nope&#x27;"),
        ("add_tag", "   ", b"name must not be empty"),
        ("add_tag", "x" * 200, b"name is at most 128 characters"),
    ],
)
def test_a_bad_tag_name_shows_the_page_again_and_changes_nothing(operator_client, action, tag, error):
    device = make_device("a")
    response = act(operator_client, DEVICES, action, [device], tag=tag)
    assert response.status_code == 200
    assert error in response.content
    assert not DeviceTag.objects.exists()


def test_viewers_may_not_tag(viewer_client):
    device = make_device("a")
    assert act(viewer_client, DEVICES, "add_tag", [device], tag="lab").status_code == 403
    assert act(viewer_client, RELEASES, "add_tag", [make_software()], tag="lab").status_code == 403
    assert not DeviceTag.objects.exists() and not ReleaseTag.objects.exists()


def test_the_actions_need_the_csrf_token(operator):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    assert act(strict, DEVICES, "add_tag", [make_device("a")], tag="lab").status_code == 403
    assert not DeviceTag.objects.exists()


def test_tagging_costs_the_same_for_two_or_fifty_devices(operator_client):
    DeviceTag.objects.create(name="lab")
    few = [make_device(f"few-{i}") for i in range(2)]
    many = [make_device(f"many-{i}") for i in range(50)]
    act(operator_client, DEVICES, "add_tag", [make_device("warm-up")], tag="lab")  # session, caches
    with CaptureQueriesContext(connection) as small:
        act(operator_client, DEVICES, "add_tag", few, tag="lab")
    with CaptureQueriesContext(connection) as large:
        act(operator_client, DEVICES, "add_tag", many, tag="lab")
    assert len(small) == len(large)
    assert DeviceTag.objects.get().devices.count() == 53


def test_select_all_tags_every_device_of_the_filtered_list(operator_client):
    devices = [make_device(f"d-{i}") for i in range(3)]
    act(operator_client, DEVICES, "add_tag", devices[:1], tag="all", select_across=True)
    assert all(tags_of(device) == ["all"] for device in devices)


def test_release_tags_in_bulk_and_the_list_filters_by_them(operator_client):
    releases = [make_software("1.0.0"), make_software("2.0.0")]
    act(operator_client, RELEASES, "add_tag", releases, tag="lts")
    tag = ReleaseTag.objects.get(name="lts")
    assert sorted(tag.releases.values_list("version", flat=True)) == ["1.0.0", "2.0.0"]
    act(operator_client, RELEASES, "remove_tag", releases[:1], tag="lts")
    assert list(tag.releases.values_list("version", flat=True)) == ["2.0.0"]

    listed = operator_client.get(RELEASES, {"tags__id__exact": tag.pk})
    assert [obj.version for obj in listed.context["cl"].result_list] == ["2.0.0"]
    assert Software.objects.count() == 2


def test_the_device_list_filters_by_tag(operator_client):
    tag = DeviceTag.objects.create(name="lab")
    make_device("tagged").tags.add(tag)
    make_device("plain")
    listed = operator_client.get(DEVICES, {"tags__id__exact": tag.pk})
    assert [device.controller_id for device in listed.context["cl"].result_list] == ["tagged"]


def test_tagging_with_a_new_name_needs_the_permission_to_create_tags(operator, client):
    from django.contrib.auth.models import Permission, User

    tagger = User.objects.create_user("tagger", is_staff=True)
    tagger.user_permissions.add(*Permission.objects.filter(codename__in=["view_device", "change_device"]))
    client.force_login(tagger)
    device = make_device()

    page = act(client, DEVICES, "add_tag", [device], tag="brand-new").content.decode()

    assert "you may not create tags" in page
    assert not DeviceTag.objects.exists()
    DeviceTag.objects.create(name="lab")
    act(client, DEVICES, "add_tag", [device], tag="lab")
    assert tags_of(device) == ["lab"]
