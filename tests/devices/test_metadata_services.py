"""Operator metadata, descriptions and the attributes request: devices.services."""

from __future__ import annotations

import pytest

from devices import selectors, services
from devices.models import DeviceMetadata
from goosebit_project.lib.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from tests.factories import make_device

pytestmark = pytest.mark.django_db


def test_create_set_and_delete_metadata():
    device = make_device("d")
    services.device_metadata_create(device=device, entries=[("site", "Berlin"), ("rack", None)])
    assert [(m.key, m.value) for m in selectors.device_metadata_list(device=device)] == [
        ("rack", ""),
        ("site", "Berlin"),
    ]
    services.device_metadata_set(device=device, key="site", value="Paris")
    assert selectors.device_metadata_get(device=device, key="site").value == "Paris"
    services.device_metadata_set(device=device, key="new", value="v")  # creates
    services.device_metadata_delete(device=device, key="site")
    with pytest.raises(NotFound):
        selectors.device_metadata_get(device=device, key="site")
    with pytest.raises(NotFound):
        services.device_metadata_delete(device=device, key="site")


def test_metadata_keys_are_unique_per_device_not_globally():
    first, second = make_device("a"), make_device("b")
    services.device_metadata_create(device=first, entries=[("k", "1")])
    services.device_metadata_create(device=second, entries=[("k", "2")])
    with pytest.raises(Conflict):
        services.device_metadata_create(device=first, entries=[("other", ""), ("k", "3")])
    with pytest.raises(Conflict):
        services.device_metadata_create(device=first, entries=[("z", ""), ("z", "")])
    assert DeviceMetadata.objects.filter(device=first).count() == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("", "v"),
        ("k" * 129, "v"),
        ("a/b", "v"),
        ("nul\x00", "v"),
        (5, "v"),
        ("k", "v" * 4001),
        ("k", 5),
        ("k", "\x00"),
    ],
)
def test_bad_metadata_is_refused(key, value):
    device = make_device("d")
    with pytest.raises(InvalidInput):
        services.device_metadata_create(device=device, entries=[(key, value)])
    with pytest.raises(InvalidInput):
        services.device_metadata_set(device=device, key=key, value=value)
    assert not DeviceMetadata.objects.exists()


def test_metadata_quota_counts_what_is_stored():
    device = make_device("d")
    services.device_metadata_create(
        device=device, entries=[(f"k{i}", "") for i in range(services.MAX_METADATA_PER_DEVICE)]
    )
    with pytest.raises(QuotaExceeded):
        services.device_metadata_create(device=device, entries=[("more", "")])
    with pytest.raises(QuotaExceeded):
        services.device_metadata_set(device=device, key="more", value="")
    services.device_metadata_set(device=device, key="k1", value="changing one is fine")


def test_metadata_goes_with_its_device():
    device = make_device("d")
    services.device_metadata_create(device=device, entries=[("k", "v")])
    services.device_delete(device=device)
    assert not DeviceMetadata.objects.exists()


def test_description_on_create_and_update():
    device = services.device_create(controller_id="d", description="  the lab one ", generate=False)
    assert device.description == "the lab one"
    services.device_update(device=device, description="moved")
    device.refresh_from_db()
    assert device.description == "moved"
    with pytest.raises(InvalidInput):
        services.device_update(device=device, description="d" * 513)
    with pytest.raises(InvalidInput):
        services.device_create(controller_id="e", description="x\x00")


def test_request_attributes_can_be_set_but_not_cleared_by_an_operator():
    device = make_device("d", request_attributes=False)
    services.device_update(device=device, request_attributes=True)
    device.refresh_from_db()
    assert device.request_attributes is True
    with pytest.raises(InvalidInput):
        services.device_update(device=device, request_attributes=False)
