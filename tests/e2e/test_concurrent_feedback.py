"""Feedback storms against the real server: several gunicorn workers, one database.

The suite's database decides which: a SQLite file (IMMEDIATE transactions serialise the workers)
or PostgreSQL (the action's row lock does). Either way the quota is exact and of two final
feedbacks sent at once exactly one wins.
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.helpers import Server
from tests.packages import build_swu

pytestmark = pytest.mark.e2e

_versions = itertools.count(1)
QUOTA = 1000  # the server runs with the default GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION


@pytest.fixture
def running_action(e2e_server: Server, tmp_path: Path, controller_id: str):
    """Makes a pinned device with a running action; returns (controller id, action id)."""
    made = itertools.count()

    def make() -> tuple[str, int]:
        version = f"5.0.{next(_versions)}"
        package = build_swu(tmp_path / f"storm-{version}.swu", version=version)
        software = e2e_server.call("create_software", path=str(package), version=version)
        cid = f"{controller_id}-{next(made)}"
        e2e_server.call("create_device", controller_id=cid, update_mode="pinned")
        return cid, e2e_server.call("create_action", controller_id=cid, software_id=software["id"])

    return make


def _post_all(server: Server, cid: str, action_id: int, bodies: list[dict], workers: int) -> list[int]:
    url = server.ddi_url(cid, f"/deploymentBase/{action_id}/feedback")
    start = threading.Barrier(min(workers, len(bodies)))

    def post(body: dict) -> int:
        if len(bodies) <= workers:
            start.wait(timeout=10)
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            with error:
                return error.code

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(post, bodies))


def _feedback(execution: str, finished: str, line: str) -> dict:
    return {"status": {"execution": execution, "result": {"finished": finished}, "details": [line]}}


def test_64_concurrent_feedbacks_fill_the_status_quota_exactly(e2e_server: Server, running_action):
    cid, action_id = running_action()
    assert e2e_server.call("add_statuses", action_id=action_id, count=QUOTA - 10) == QUOTA - 10

    codes = _post_all(
        e2e_server, cid, action_id, [_feedback("proceeding", "none", f"n{i}") for i in range(64)], workers=16
    )

    assert Counter(codes) == {200: 10, 429: 54}
    (action,) = e2e_server.call("actions", controller_id=cid)
    assert len(action["statuses"]) == QUOTA


@pytest.mark.parametrize("round_", range(3))
def test_conflicting_final_feedbacks_at_once_one_wins_the_other_gets_410(
    e2e_server: Server, running_action, round_
):
    cid, action_id = running_action()
    bodies = [_feedback("closed", "success", "installed"), _feedback("closed", "failure", "failed")]

    codes = _post_all(e2e_server, cid, action_id, bodies, workers=2)

    assert sorted(codes) == [200, 410]
    winner = bodies[codes.index(200)]["status"]["result"]["finished"]
    (action,) = e2e_server.call("actions", controller_id=cid)
    device = e2e_server.call("device", controller_id=cid)
    assert [s["finished"] for s in action["statuses"] if s["execution"] == "closed"] == [winner]
    expected = ("finished", "finished") if winner == "success" else ("error", "error")
    assert (action["status"], device["state"]) == expected
