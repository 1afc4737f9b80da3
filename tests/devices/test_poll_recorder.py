"""last_seen is recorded without a write per poll: throttled per device, buffered per worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from devices import services
from devices.models import Device
from tests.factories import make_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorder(settings):
    settings.GOOSEBIT_LAST_SEEN_FLUSH_SECONDS = 3600
    recorder = services._PollRecorder()
    yield recorder
    recorder.flush()


def test_polls_are_buffered_and_written_in_one_statement(recorder, django_assert_num_queries):
    devices = [make_device(f"d{i}") for i in range(3)]
    now = timezone.now()
    with django_assert_num_queries(0):
        for device in devices:
            recorder.record(device.pk, {"last_seen": now})
    assert not Device.objects.filter(last_seen__isnull=False).exists()

    with django_assert_num_queries(1):
        recorder.flush()
    assert Device.objects.filter(last_seen=now).count() == 3


def test_new_addresses_are_written_per_address(recorder, django_assert_num_queries):
    a, b, c = (make_device(f"d{i}") for i in range(3))
    now = timezone.now()
    recorder.record(a.pk, {"last_seen": now, "last_ip": "10.0.0.1"})
    recorder.record(b.pk, {"last_ip": "10.0.0.1"})
    recorder.record(c.pk, {"last_ip": "2001:db8::1"})
    with django_assert_num_queries(3):
        recorder.flush()
    assert dict(Device.objects.values_list("controller_id", "last_ip")) == {
        "d0": "10.0.0.1",
        "d1": "10.0.0.1",
        "d2": "2001:db8::1",
    }


def test_a_full_buffer_is_written_without_waiting(recorder, django_assert_num_queries):
    devices = Device.objects.bulk_create(Device(controller_id=f"d{i}") for i in range(500))
    now = timezone.now()
    for device in devices[:-1]:
        recorder.record(device.pk, {"last_seen": now})
    with django_assert_num_queries(1):
        recorder.record(devices[-1].pk, {"last_seen": now})
    assert Device.objects.filter(last_seen=now).count() == 500


def test_a_recent_last_seen_is_not_recorded_again(settings, django_assert_num_queries):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 60
    device = make_device("d", last_seen=timezone.now() - timedelta(seconds=10), last_ip="10.0.0.1")
    with django_assert_num_queries(0):
        services.device_record_poll(device=device, ip="10.0.0.1")
    stale = make_device("s", last_seen=timezone.now() - timedelta(seconds=61), last_ip="10.0.0.1")
    with django_assert_num_queries(1):
        services.device_record_poll(device=stale, ip="10.0.0.1")
    stale.refresh_from_db()
    assert stale.last_seen is not None
    assert timezone.now() - stale.last_seen < timedelta(seconds=5)
