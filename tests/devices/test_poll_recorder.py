"""last_seen is recorded without a write per poll: throttled per device, buffered per worker."""

from __future__ import annotations

import time
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
    recorder.stop()
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


def test_each_device_gets_its_own_poll_time(recorder, django_assert_num_queries):
    first, second = make_device("first"), make_device("second")
    early = timezone.now()
    late = early + timedelta(seconds=7)
    recorder.record(first.pk, {"last_seen": early})
    recorder.record(second.pk, {"last_seen": late})
    with django_assert_num_queries(1):
        recorder.flush()
    assert dict(Device.objects.values_list("controller_id", "last_seen")) == {
        "first": early,
        "second": late,
    }


def test_a_later_poll_in_the_same_window_keeps_the_later_time(recorder):
    device = make_device("d")
    now = timezone.now()
    recorder.record(device.pk, {"last_seen": now - timedelta(seconds=1)})
    recorder.record(device.pk, {"last_seen": now})
    recorder.flush()
    device.refresh_from_db()
    assert device.last_seen == now


def test_no_device_is_seen_before_it_was_created(recorder):
    older = make_device("older")
    batch_start = timezone.now()
    newer = make_device("newer")
    recorder.record(older.pk, {"last_seen": batch_start})
    # A poll time earlier than the row (a clock step back, a record made before a re-create).
    recorder.record(newer.pk, {"last_seen": batch_start - timedelta(hours=1)})
    recorder.flush()
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.last_seen == batch_start
    assert newer.last_seen == newer.created


@pytest.mark.django_db(transaction=True)
def test_the_timer_writes_without_a_further_request(settings):
    settings.GOOSEBIT_LAST_SEEN_FLUSH_SECONDS = 1
    recorder = services._PollRecorder()
    device = make_device("d")
    now = timezone.now()
    try:
        recorder.record(device.pk, {"last_seen": now})
        device.refresh_from_db()
        assert device.last_seen is None  # buffered, not written by the request
        deadline = time.monotonic() + 10
        while device.last_seen is None and time.monotonic() < deadline:
            time.sleep(0.1)
            device.refresh_from_db()
    finally:
        recorder.stop()
    assert device.last_seen == now


def test_a_polled_device_is_seen_through_the_shared_recorder(client, settings):
    """The request path end to end: a first poll is on the device row at once (test settings
    flush at once; production's timer is covered above), with the poll's own time."""
    device = make_device("d")
    before = timezone.now()
    response = client.get("/DEFAULT/controller/v1/d")
    assert response.status_code == 200
    device.refresh_from_db()
    assert device.last_seen is not None
    assert before <= device.last_seen <= timezone.now()
