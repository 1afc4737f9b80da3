"""The real SWUpdate 2022.12 with hawkBit's action types and maintenance windows.

SWUpdate installs whatever is not ``update: skip`` (soft's ``attempt`` included) and answers a
skip with closed/success "Skipped Update." without installing (ddi.md §3.3): that finishes a
download-only update but must leave an update held by its maintenance window open until the
window opens.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.helpers import Server, SWUpdateClient
from tests.e2e.test_swupdate import device_details, last_action, upload, wait_registered
from tests.packages import SigningPair

pytestmark = pytest.mark.e2e


def _deployment(server: Server, controller_id: str, action_id: int) -> dict:
    request = urllib.request.Request(
        server.ddi_url(controller_id, f"/deploymentBase/{action_id}"), headers={"Accept": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["deployment"]


def test_swupdate_finishes_a_download_only_update_without_installing_it(
    e2e_server: Server, swupdate: SWUpdateClient, signer: SigningPair, tmp_path: Path
):
    server, client = e2e_server, swupdate
    client.start()
    wait_registered(server, client)
    software_id = upload(server, tmp_path, version="4.0.0", signer=signer, name="download-only")

    server.call(
        "assign_software",
        controller_id=client.controller_id,
        software_id=software_id,
        action_type="downloadonly",
    )

    action = client.wait(
        lambda: (a := last_action(server, client.controller_id)) and a["status"] == "finished" and a,
        timeout=30,
        message="the download-only action to finish",
        server=server,
    )
    assert action["action_type"] == "downloadonly"
    closed = [s for s in action["statuses"] if s["execution"] == "closed"]
    assert [(s["source"], s["finished"], s["details"]) for s in closed] == [
        ("device", "success", ["Skipped Update."])
    ]
    assert not (client.out / "rootfs.img").exists()
    device = server.call("device", controller_id=client.controller_id)
    assert (device["sw_version"], device["installed_action_id"]) == ("1.0.0", None)
    # Done: SWUpdate is not offered it again.
    time.sleep(2)
    assert len(server.call("actions", controller_id=client.controller_id)) == 1


def test_swupdate_installs_a_soft_update(
    e2e_server: Server, swupdate: SWUpdateClient, signer: SigningPair, tmp_path: Path
):
    server, client = e2e_server, swupdate
    client.start()
    wait_registered(server, client)
    software_id = upload(server, tmp_path, version="4.1.0", signer=signer, name="soft")

    server.call(
        "assign_software", controller_id=client.controller_id, software_id=software_id, action_type="soft"
    )
    action = last_action(server, client.controller_id)
    assert action is not None
    deployment = _deployment(server, client.controller_id, action["id"])
    assert (deployment["download"], deployment["update"]) == ("attempt", "attempt")

    client.wait(
        lambda: "All Chunks Installed." in device_details(server, client.controller_id),
        message="SWUpdate to install the soft update",
        server=server,
    )
    assert (client.out / "rootfs.img").read_bytes() == b"rootfs 4.1.0\n"

    client.stop()
    client.sw_version = "4.1.0"
    client.start(confirm=2)
    client.wait(
        lambda: (a := last_action(server, client.controller_id)) and a["status"] == "finished",
        timeout=30,
        message="the soft update to finish after the confirm",
        server=server,
    )
    assert server.call("device", controller_id=client.controller_id)["sw_version"] == "4.1.0"


def test_swupdate_installs_an_update_held_by_its_maintenance_window_once_it_opens(
    e2e_server: Server, swupdate: SWUpdateClient, signer: SigningPair, tmp_path: Path
):
    server, client = e2e_server, swupdate
    client.start()
    wait_registered(server, client)
    software_id = upload(server, tmp_path, version="4.2.0", signer=signer, name="window")
    # A daily window that opens a few seconds from now, for five minutes.
    opens = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    window = {
        "schedule": f"{opens.second} {opens.minute} {opens.hour} ? * *",
        "duration": "00:05:00",
        "timezone": "+00:00",
    }

    server.call(
        "assign_software",
        controller_id=client.controller_id,
        software_id=software_id,
        maintenance_window=window,
    )

    # Before the window: SWUpdate skips ("Skipped Update."), the update stays open, nothing installed.
    client.wait(
        lambda: "Skipped Update." in device_details(server, client.controller_id),
        timeout=max(1.0, (opens - datetime.now(UTC)).total_seconds() - 1),
        message="SWUpdate to skip the update outside its window",
        server=server,
    )
    assert datetime.now(UTC) < opens
    action = last_action(server, client.controller_id)
    assert action is not None
    assert action["status"] == "running"
    assert not (client.out / "rootfs.img").exists()

    # Once the window opens, the same action is installed.
    client.wait(
        lambda: "All Chunks Installed." in device_details(server, client.controller_id),
        timeout=60,
        message="SWUpdate to install once the window opened",
        server=server,
    )
    assert datetime.now(UTC) >= opens
    assert (client.out / "rootfs.img").read_bytes() == b"rootfs 4.2.0\n"
    actions = server.call("actions", controller_id=client.controller_id)
    assert [a["id"] for a in actions] == [action["id"]]
    assert actions[0]["status"] == "running"  # waiting for the reboot's confirmation
    # However often SWUpdate skipped, the log recorded the skip once.
    skips = [s for s in actions[0]["statuses"] if s["details"] == ["Skipped Update."]]
    assert len(skips) == 1
