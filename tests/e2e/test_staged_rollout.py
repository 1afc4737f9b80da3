"""A staged rollout against the real server: a canary, then waves, stopped by a wave's errors.

Twenty devices register and report over HTTP exactly as SWUpdate's suricatta does (root poll,
configData PUT, deploymentBase GET, artifact download, feedback POST). The rollout is made inside
the server (its state agent calls rollouts.services.rollout_create) with a canary of two devices
and two waves that pause the rollout once 30 % of a wave failed. Its devices have hardware of
their own, so neither the rollout nor its pause touches the devices of other tests on the shared
server.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import Server, wait_for
from tests.packages import build_swu

pytestmark = pytest.mark.e2e

_versions = itertools.count(1)
FLEET = 20
CANARY = 2
WAVE = 9  # half of the 18 after the canary
ERROR_THRESHOLD = 30  # % of a wave: 2 of 9 failed is below, 3 of 9 reaches it


class Device:
    """One device speaking DDI over HTTP, as SWUpdate does."""

    def __init__(self, server: Server, controller_id: str) -> None:
        self.server = server
        self.controller_id = controller_id

    def _request(self, method: str, suffix: str = "", body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.server.ddi_url(self.controller_id, suffix), data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read()

    def poll(self) -> dict[str, Any]:
        """One root poll: the links offered."""
        status, body = self._request("GET")
        assert status == 200, (self.controller_id, status, body)
        return json.loads(body).get("_links", {})

    def register(self, *, board: str) -> None:
        links = self.poll()
        assert "configData" in links, f"{self.controller_id} was not asked for its attributes: {links}"
        status, body = self._request(
            "PUT",
            "/configData",
            {"mode": "merge", "data": {"hw_boardname": board, "hw_revision": "1", "sw_version": "1.0.0"}},
        )
        assert status == 200, body

    def offered(self) -> int | None:
        """The action id of the deploymentBase link of one poll, None when nothing is offered."""
        link = self.poll().get("deploymentBase")
        if link is None:
            return None
        return int(link["href"].split("/deploymentBase/")[1].split("?")[0])

    def wait_offered(self) -> int:
        # Another worker may answer from its target cache for up to a second after a change.
        return wait_for(self.offered, timeout=10, message=f"{self.controller_id} to be offered the update")

    def download(self, action_id: int) -> bytes:
        """Read the deployment and download its one artifact through its download-http link."""
        status, body = self._request("GET", f"/deploymentBase/{action_id}")
        assert status == 200, body
        (chunk,) = json.loads(body)["deployment"]["chunks"]
        (artifact,) = chunk["artifacts"]
        with urllib.request.urlopen(artifact["_links"]["download-http"]["href"], timeout=10) as response:
            content = response.read()
        assert hashlib.sha256(content).hexdigest() == artifact["hashes"]["sha256"]
        return content

    def feedback(self, action_id: int, execution: str, finished: str = "none") -> None:
        body = {"status": {"execution": execution, "result": {"finished": finished}, "details": [execution]}}
        status, answer = self._request("POST", f"/deploymentBase/{action_id}/feedback", body)
        assert status == 200, (self.controller_id, answer)

    def install(self, *, finished: str, package: bytes) -> int:
        """What SWUpdate does with an offered update: download it, install, report the result."""
        action_id = self.wait_offered()
        assert self.download(action_id) == package
        self.feedback(action_id, "proceeding")
        self.feedback(action_id, "closed", finished)
        return action_id


def group_states(server: Server, rollout_id: int) -> list[str]:
    return [group["status"] for group in server.call("rollout", rollout_id=rollout_id)["groups"]]


def never_offered(devices: list[Device], *, rounds: int = 2) -> None:
    """Nothing is offered to any of them over more than a target-cache generation (1 s)."""
    for round_ in range(rounds):
        if round_:
            time.sleep(1.1)
        offered = {device.controller_id: device.offered() for device in devices}
        assert not any(offered.values()), f"offered although they must wait: {offered}"


def test_canary_then_waves_and_a_waves_errors_pause_the_rollout(e2e_server: Server, tmp_path: Path):
    started = time.monotonic()
    suffix = secrets.token_hex(4)
    board = f"staged-{suffix}"
    version = f"7.0.{next(_versions)}"
    package_path = build_swu(tmp_path / "staged.swu", version=version, board=board)
    package = package_path.read_bytes()
    software = e2e_server.call("create_software", path=str(package_path), version=version, board=board)

    fleet = [Device(e2e_server, f"staged-{suffix}-{index:02d}") for index in range(FLEET)]
    for device in fleet:  # one after another: ids in this order, and groups fill lowest ids first
        device.register(board=board)
    assert e2e_server.call("device", controller_id=fleet[-1].controller_id)["hardware"] == [board, "1"]

    wave_settings = {"error_threshold": ERROR_THRESHOLD}
    rollout_id = e2e_server.call(
        "create_rollout",
        name=f"staged {suffix}",
        software_id=software["id"],
        feed="default",
        groups=[
            {"name": "Canary", "target_count": CANARY},
            {"name": "Wave 1", "target_percentage": 50, **wave_settings},
            {"name": "Wave 2", **wave_settings},
        ],
        start=True,
        # The rollout-wide safety rules off: the wave's own error threshold is what stops it.
        pause_on_failure_percent=None,
        pause_on_failure_count=None,
        max_parallel=None,
    )
    canary, wave_1, wave_2 = fleet[:CANARY], fleet[CANARY : CANARY + WAVE], fleet[CANARY + WAVE :]

    state = e2e_server.call("rollout", rollout_id=rollout_id)
    assert state["status"] == "running"
    assert [g["frozen_total"] for g in state["groups"]] == [CANARY, WAVE, WAVE]
    assert [g["devices"] for g in state["groups"]] == [
        [d.controller_id for d in group] for group in (canary, wave_1, wave_2)
    ]
    assert [g["status"] for g in state["groups"]] == ["running", "scheduled", "scheduled"]
    never_offered([wave_1[0], wave_2[0]], rounds=1)

    # The canary installs for real; its success opens wave 1 and only wave 1.
    for device in canary:
        device.install(finished="success", package=package)
    assert group_states(e2e_server, rollout_id) == ["finished", "running", "scheduled"]
    in_wave = {device.controller_id: device.wait_offered() for device in wave_1[:4]}
    never_offered(wave_2)

    # Two failures of nine (22 %) stay below the threshold ...
    failing, in_flight, untouched = wave_1[:3], wave_1[3], wave_1[4:]
    for device in failing[:2]:
        device.install(finished="failure", package=package)
    assert e2e_server.call("rollout", rollout_id=rollout_id)["status"] == "running"
    # ... the third (33 %) reaches it: the rollout pauses and says why.
    failing[2].install(finished="failure", package=package)

    state = e2e_server.call("rollout", rollout_id=rollout_id)
    assert state["status"] == "paused"
    reason = f"3 of {WAVE} devices failed (33%), reaching its error threshold of {ERROR_THRESHOLD}%"
    assert state["pause_reason"] == f"Paused automatically: group 'Wave 1': {reason}"
    assert [g["status"] for g in state["groups"]] == ["finished", "error", "scheduled"]
    assert state["groups"][1]["status_reason"] == reason
    assert state["groups"][1]["stats"]["failed"] == 3 and state["groups"][0]["stats"]["succeeded"] == CANARY

    # Nobody new gets the update: not wave 2, not the rest of wave 1.
    never_offered(untouched + wave_2)
    # A wave-1 device that was offered the update before the pause may still finish it.
    assert in_flight.offered() == in_wave[in_flight.controller_id]
    for device in untouched + wave_2:
        assert e2e_server.call("actions", controller_id=device.controller_id) == []
    assert e2e_server.call("rollout", rollout_id=rollout_id)["status"] == "paused"
    assert time.monotonic() - started < 60
