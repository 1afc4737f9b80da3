"""Feedback sent at the same moment: the quotas stay exact and one final feedback wins.

Real threads, each with its own database connection, on committed data: this is where the
PostgreSQL row lock matters. SQLite's in-memory test database cannot take concurrent writers (its
shared-cache table locks fail at once instead of waiting), so on SQLite the same guarantees are
tested against gunicorn and a SQLite file in tests/e2e/test_concurrent_feedback.py.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.test import Client

from devices.models import Device
from rollouts.models import Action, ActionStatus
from tests.ddi.helpers import feedback_body, known_device, post_feedback, start_action
from tests.factories import make_software

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a database with concurrent writers"),
]


def _send_all(action: Action, bodies: list[dict], workers: int = 16) -> list[int]:
    """POST every body at once (threads released together); the status codes, in order."""
    start = threading.Barrier(min(workers, len(bodies)))

    def send(body: dict) -> int:
        try:
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait(timeout=10)
            return post_feedback(Client(), "dev-1", action.pk, body).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(send, bodies))


@pytest.fixture
def action():
    return start_action(known_device("dev-1", sw_version="1.0.0"), make_software("2.0.0"))


def test_64_concurrent_feedbacks_never_overshoot_the_status_quota(settings, action):
    settings.GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION = 20
    bodies = [feedback_body("proceeding", "none", [f"line {index}"]) for index in range(64)]

    codes = _send_all(action, bodies)

    assert Counter(codes) == {200: 20, 429: 44}
    assert ActionStatus.objects.filter(action=action).count() == 20


def test_concurrent_feedbacks_never_overshoot_the_log_size(settings, action):
    settings.GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION = 10_000
    line = "x" * 1000  # 1,004 bytes stored per feedback: nine fit, the tenth would not
    bodies = [feedback_body("proceeding", "none", [line]) for _ in range(32)]

    codes = _send_all(action, bodies)

    assert Counter(codes) == {200: 9, 429: 23}
    stored = [len(json.dumps(s.details).encode()) for s in ActionStatus.objects.filter(action=action)]
    assert sum(stored) <= 10_000


@pytest.mark.parametrize("repeat", range(3))
def test_two_conflicting_final_feedbacks_at_once_one_wins_the_other_gets_410(action, repeat):
    bodies = [
        feedback_body("closed", "success", ["installed"]),
        feedback_body("closed", "failure", ["failed"]),
    ]

    codes = _send_all(action, bodies, workers=2)

    assert sorted(codes) == [200, 410]
    winner = bodies[codes.index(200)]["status"]["result"]["finished"]
    action.refresh_from_db()
    device = Device.objects.get(pk=action.device_id)
    finals = list(ActionStatus.objects.filter(action=action, execution="closed"))
    assert [status.finished for status in finals] == [winner]
    if winner == "success":
        assert (action.status, device.state, device.sw_version) == ("finished", "finished", "2.0.0")
        assert device.installed_action_id == action.pk
    else:
        assert (action.status, device.state, device.sw_version) == ("error", "error", "1.0.0")
