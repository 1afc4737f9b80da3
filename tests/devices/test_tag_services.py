"""Device and release tags: validation, uniqueness, and bulk assign/remove in constant queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.models import Device, DeviceTag
from devices.services import tags as tag_services
from goosebit_project.lib.errors import Conflict, InvalidInput, NotFound
from software import services as software_services
from software.models import ReleaseTag
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db


def test_a_tag_is_created_with_trimmed_fields():
    tag = tag_services.device_tag_create(name="  prod ", description=" eu ", colour=" red ")
    tag.refresh_from_db()
    assert (tag.name, tag.description, tag.colour) == ("prod", "eu", "red")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
        ({"name": 5}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": "ok", "description": "d" * 513}, "description"),
        ({"name": "ok", "colour": "c" * 17}, "colour"),
        ({"name": "ok", "colour": "r\x00"}, "colour"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(fields, named):
    with pytest.raises(InvalidInput, match=named):
        tag_services.device_tag_create(**fields)
    assert not DeviceTag.objects.exists()


def test_names_are_unique_on_create_and_update():
    tag_services.device_tag_create(name="prod")
    other = tag_services.device_tag_create(name="test")
    with pytest.raises(Conflict):
        tag_services.device_tag_create(name=" prod")
    with pytest.raises(Conflict):
        tag_services.device_tag_update(tag=other, name="prod")
    assert tag_services.device_tag_update(tag=other, colour="blue").colour == "blue"
    other.refresh_from_db()
    assert other.name == "test"


def test_bulk_assign_and_unassign_devices():
    tag = tag_services.device_tag_create(name="prod")
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    assert tag_services.device_tag_assign(tag=tag, controller_ids=["a", "b", "a"]) == 2
    assert tag_services.device_tag_assign(tag=tag, controller_ids=["b", "c"]) == 1
    assert set(tag.devices.values_list("controller_id", flat=True)) == {"a", "b", "c"}
    assert tag_services.device_tag_unassign(tag=tag, controller_ids=["a", "c"]) == 2
    assert list(tag.devices.values_list("controller_id", flat=True)) == ["b"]
    assert list(b.tags.all()) == [tag] and not a.tags.exists() and not c.tags.exists()


def test_an_unknown_device_refuses_the_whole_batch():
    tag = tag_services.device_tag_create(name="prod")
    make_device("a")
    with pytest.raises(NotFound, match="'ghost'"):
        tag_services.device_tag_assign(tag=tag, controller_ids=["a", "ghost"])
    assert not tag.devices.exists()
    with pytest.raises(InvalidInput):
        tag_services.device_tag_assign(tag=tag, controller_ids="a")
    with pytest.raises(InvalidInput):
        tag_services.device_tag_assign(tag=tag, controller_ids=[1])


def test_deleting_a_tag_keeps_its_devices():
    tag = tag_services.device_tag_create(name="prod")
    make_device("a")
    tag_services.device_tag_assign(tag=tag, controller_ids=["a"])
    tag_services.device_tag_delete(tag=tag)
    assert Device.objects.filter(controller_id="a").exists()
    assert not Device.tags.through.objects.exists()


@pytest.mark.parametrize("count", [1, 100])
def test_bulk_assign_takes_the_same_queries_for_one_or_a_hundred_devices(count):
    tag = tag_services.device_tag_create(name="prod")
    ids = [make_device(f"d{n}").controller_id for n in range(count)]
    with CaptureQueriesContext(connection) as assigned:
        tag_services.device_tag_assign(tag=tag, controller_ids=ids)
    with CaptureQueriesContext(connection) as removed:
        tag_services.device_tag_unassign(tag=tag, controller_ids=ids)
    # resolve the ids, read the existing links, one INSERT; resolve, one DELETE
    assert len(assigned) <= 3
    assert len(removed) <= 2
    assert not tag.devices.exists()


def test_release_tags_follow_the_same_rules():
    tag = software_services.release_tag_create(name=" stable ")
    assert tag.name == "stable"
    one, two = make_software("1.0.0"), make_software("2.0.0")
    assert software_services.release_tag_assign(tag=tag, release_ids=[one.pk, two.pk]) == 2
    assert set(tag.releases.all()) == {one, two}
    assert software_services.release_tag_unassign(tag=tag, release_ids=[one.pk]) == 1
    assert list(tag.releases.all()) == [two]
    with pytest.raises(NotFound, match="999"):
        software_services.release_tag_assign(tag=tag, release_ids=[999])
    with pytest.raises(InvalidInput):
        software_services.release_tag_assign(tag=tag, release_ids=["1"])
    with pytest.raises(Conflict):
        software_services.release_tag_create(name="stable")
    software_services.release_tag_delete(tag=tag)
    assert not ReleaseTag.objects.exists()
