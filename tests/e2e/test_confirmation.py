"""The user-consent flow with the real SWUpdate 2022.12 (Debian), which knows nothing of it.

SWUpdate only follows deploymentBase: while its update waits for confirmation the root links
confirmationBase, so it keeps polling and installs nothing. The test then confirms the way the
hawkBit SDK device client does (DDI feedback, or activateAutoConfirm), and SWUpdate installs.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.helpers import Server, SWUpdateClient, wait_for
from tests.e2e.test_swupdate import device_details, last_action, upload, wait_registered
from tests.packages import SigningPair

pytestmark = pytest.mark.e2e


def _post(server: Server, controller_id: str, suffix: str, body: dict | None) -> int:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(
        server.ddi_url(controller_id, suffix),
        data=data,
        headers={"Content-Type": "application/json"} if body is not None else {},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def _polls(server: Server, controller_id: str) -> int:
    return len(server.log_lines(f'"GET /DEFAULT/controller/v1/{controller_id} HTTP/1.1" 200'))


def _held_until_confirmed(server: Server, client: SWUpdateClient, software_id: int) -> dict:
    """Assign; SWUpdate polls several times and gets nothing to install. Returns the action."""
    server.call("assign_software", controller_id=client.controller_id, software_id=software_id)
    action = last_action(server, client.controller_id)
    assert action is not None and action["status"] == "wait_for_confirmation"
    seen = _polls(server, client.controller_id)
    client.wait(
        lambda: _polls(server, client.controller_id) >= seen + 3,
        message="SWUpdate to poll three more times",
        server=server,
    )
    action = last_action(server, client.controller_id)
    assert action is not None and action["status"] == "wait_for_confirmation"
    assert [(s["source"], s["execution"]) for s in action["statuses"]] == [("server", "waiting")]
    assert not server.log_lines(f"/controller/v1/{client.controller_id}/deploymentBase/")
    assert not (client.out / "rootfs.img").exists()
    assert server.call("device", controller_id=client.controller_id)["state"] == "wait_for_confirmation"
    return action


def _installs(server: Server, client: SWUpdateClient, version: str) -> dict:
    client.wait(
        lambda: "All Chunks Installed." in device_details(server, client.controller_id),
        message="SWUpdate to report 'All Chunks Installed.'",
        server=server,
    )
    assert (client.out / "rootfs.img").read_bytes() == f"rootfs {version}\n".encode()
    action = last_action(server, client.controller_id)
    assert action is not None and action["status"] == "running"
    return action


def test_swupdate_installs_an_update_requiring_confirmation_only_once_it_is_confirmed(
    confirmation_server: Server, swupdate_factory, signer: SigningPair, tmp_path: Path
):
    server = confirmation_server
    client = swupdate_factory(server)
    client.start()
    wait_registered(server, client)
    software_id = upload(server, tmp_path, version="2.0.0", signer=signer)

    action = _held_until_confirmed(server, client, software_id)
    body = {"confirmation": "confirmed", "code": 10, "details": ["the user agreed"]}
    assert _post(server, client.controller_id, f"/confirmationBase/{action['id']}/feedback", body) == 200

    action = _installs(server, client, "2.0.0")
    channels = [(s["source"], s["channel"], s["execution"]) for s in action["statuses"]]
    assert channels[:3] == [
        ("server", "confirmation", "waiting"),
        ("device", "confirmation", "confirmed"),
        ("server", "confirmation", "confirmed"),
    ]
    assert ("server", "deployment", "retrieved") in channels


def test_swupdate_installs_once_auto_confirm_is_activated(
    confirmation_server: Server, swupdate_factory, signer: SigningPair, tmp_path: Path
):
    server = confirmation_server
    client = swupdate_factory(server)
    client.start()
    wait_registered(server, client)
    software_id = upload(server, tmp_path, version="3.0.0", signer=signer, name="auto")

    _held_until_confirmed(server, client, software_id)
    assert _post(server, client.controller_id, "/confirmationBase/activateAutoConfirm", None) == 200

    action = _installs(server, client, "3.0.0")
    auto = [s for s in action["statuses"] if s["channel"] == "confirmation" and s["execution"] == "confirmed"]
    assert [s["source"] for s in auto] == ["server"]
    assert "auto-confirm is active" in auto[0]["details"][0]
    wait_for(
        lambda: server.call("device", controller_id=client.controller_id)["state"] == "running",
        timeout=15,
        message="the device to be updating",
    )
