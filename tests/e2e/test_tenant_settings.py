"""A tenant setting changed by an operator reaches every gunicorn worker within seconds.

The e2e server runs three workers; the change is made by ``manage.py tenant_config`` (another
process), so no worker hears of it: each must read it again once GOOSEBIT_TENANT_CONFIG_TTL (5 s)
ran out.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.e2e.helpers import Server

pytestmark = pytest.mark.e2e

TTL = 5


def _sleep_of(server: Server, controller_id: str) -> str:
    request = urllib.request.Request(f"{server.base_url}/DEFAULT/controller/v1/{controller_id}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["config"]["polling"]["sleep"]


def _seconds_until_every_poll_says(server: Server, controller_id: str, sleep: str) -> float:
    """Seconds until 20 polls in a row (spread over the workers) answer ``sleep``."""
    started = time.monotonic()
    streak = 0
    while streak < 20:
        if time.monotonic() - started > TTL + 15:
            pytest.fail(f"polls still do not all answer sleep {sleep} after {TTL + 15} s")
        streak = streak + 1 if _sleep_of(server, controller_id) == sleep else 0
    return time.monotonic() - started


def test_a_polling_time_set_by_a_command_reaches_every_worker_within_the_ttl(
    e2e_server: Server, controller_id: str
):
    server = e2e_server
    server.call("create_device", controller_id=controller_id, sw_version="1.0.0")
    for _ in range(10):  # every worker has read the settings now
        assert _sleep_of(server, controller_id) == "00:00:01"

    try:
        server.manage("tenant_config", "set", "pollingTime", "00:00:02")
        assert _seconds_until_every_poll_says(server, controller_id, "00:00:02") < TTL + 5
    finally:
        server.manage("tenant_config", "reset", "pollingTime")
    assert _seconds_until_every_poll_says(server, controller_id, "00:00:01") < TTL + 5
