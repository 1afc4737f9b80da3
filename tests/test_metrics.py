from __future__ import annotations

import pytest

from rollouts.models import Action
from tests.factories import make_action, make_device, make_software

pytestmark = pytest.mark.django_db


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_count_rows_by_state(client, settings):
    settings.GOOSEBIT_METRICS_ENABLE = True
    device = make_device("a", state="running")
    make_device("b", state="error")
    make_action(device, make_software("2.0"), status=Action.Status.RUNNING)

    response = client.get("/metrics")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'goosebit_devices{state="running"} 1.0' in body
    assert 'goosebit_devices{state="error"} 1.0' in body
    assert 'goosebit_devices{state="finished"} 0.0' in body
    assert 'goosebit_updates{status="running"} 1.0' in body
    assert "goosebit_software 1.0" in body


def test_metrics_require_the_bearer_token_when_one_is_set(client, settings):
    settings.GOOSEBIT_METRICS_ENABLE = True
    settings.GOOSEBIT_METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
