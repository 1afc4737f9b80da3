"""The real SWUpdate 2022.12 (Debian) against the real server under gunicorn.

Each test drives one device through a whole flow and waits on the server's state (never on fixed
sleeps). On a failure the client's verbose log, which shows every request and response, and the
server log are printed with the report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import Server, SWUpdateClient, wait_for
from tests.packages import SigningPair, build_swu

pytestmark = pytest.mark.e2e


def last_action(server: Server, controller_id: str) -> dict | None:
    actions = server.call("actions", controller_id=controller_id)
    return actions[-1] if actions else None


def device_details(server: Server, controller_id: str) -> list[str]:
    action = last_action(server, controller_id)
    if action is None:
        return []
    return [
        line for status in action["statuses"] if status["source"] == "device" for line in status["details"]
    ]


def wait_registered(server: Server, client: SWUpdateClient) -> dict:
    """The client polled, was registered and sent its configData (hardware and version)."""
    return wait_for(
        lambda: (
            (d := server.call("device", controller_id=client.controller_id))
            and d["hardware"] == [client.board, client.revision]
            and d["sw_version"] == client.sw_version
            and d
        ),
        timeout=30,
        message="the device to register and send its configData",
        diagnostics=lambda: client.diagnostics() + "\n" + server.diagnostics(),
    )


def upload(server: Server, tmp_path: Path, *, version: str, signer: SigningPair, name: str = "update") -> int:
    package = build_swu(
        tmp_path / f"{name}-{version}.swu",
        version=version,
        board="board",
        revisions=["1"],
        files={"rootfs.img": f"rootfs {version}\n".encode()},
        signer=signer,
    )
    return server.call("create_software", path=str(package), version=version)["id"]


def test_swupdate_registers_installs_and_confirms_the_update_after_a_reboot(
    e2e_server: Server, swupdate: SWUpdateClient, signer: SigningPair, tmp_path: Path
):
    server, client = e2e_server, swupdate
    client.start()

    device = wait_registered(server, client)
    assert device["attributes"] == {"sw_version": "1.0.0", "hw_boardname": "board", "hw_revision": "1"}
    assert device["state"] == "registered"
    assert server.call("actions", controller_id=client.controller_id) == []

    software_id = upload(server, tmp_path, version="2.0.0", signer=signer)
    server.call("assign_software", controller_id=client.controller_id, software_id=software_id)

    # The client downloads, verifies the signature and installs into its sandbox, then reports
    # "All Chunks Installed." and waits for a reboot: the action must stay open for the confirm.
    client.wait(
        lambda: "All Chunks Installed." in device_details(server, client.controller_id),
        message="SWUpdate to report 'All Chunks Installed.'",
        server=server,
    )
    assert (client.out / "rootfs.img").read_bytes() == b"rootfs 2.0.0\n"
    action = last_action(server, client.controller_id)
    assert action is not None
    assert action["status"] == "running"
    assert action["software_id"] == software_id
    executions = [(s["source"], s["execution"]) for s in action["statuses"]]
    assert ("server", "retrieved") in executions
    assert ("server", "download") in executions
    assert ("device", "closed") not in executions
    assert server.call("device", controller_id=client.controller_id)["state"] == "running"

    # The "reboot": the new image runs version 2.0.0 and SWUpdate starts in TESTING state (-c 2).
    client.stop()
    action = last_action(server, client.controller_id)
    assert action is not None
    assert action["status"] == "running"
    client.sw_version = "2.0.0"
    client.start(confirm=2)

    action = client.wait(
        lambda: (a := last_action(server, client.controller_id)) and a["status"] == "finished" and a,
        timeout=30,
        message="the action to finish after the confirm",
        server=server,
    )
    closed = [s for s in action["statuses"] if s["execution"] == "closed"]
    assert [(s["source"], s["finished"]) for s in closed] == [("device", "success")]
    assert "Update Installed." in closed[0]["details"]
    device = wait_for(
        lambda: (
            (d := server.call("device", controller_id=client.controller_id))
            and d["sw_version"] == "2.0.0"
            and d
        ),
        timeout=15,
        message="the device to run 2.0.0",
    )
    assert device["state"] == "finished"
    assert device["progress"] == 100
    assert len(server.call("actions", controller_id=client.controller_id)) == 1


def test_swupdate_reports_a_package_signed_by_an_untrusted_key_as_a_failed_update(
    e2e_server: Server, swupdate: SWUpdateClient, stranger: SigningPair, tmp_path: Path
):
    server, client = e2e_server, swupdate
    client.start()
    wait_registered(server, client)
    software_id = upload(server, tmp_path, version="2.1.0", signer=stranger, name="untrusted")

    server.call("assign_software", controller_id=client.controller_id, software_id=software_id)

    action = client.wait(
        lambda: (a := last_action(server, client.controller_id)) and a["status"] == "error" and a,
        message="the action to fail",
        server=server,
    )
    closed = [s for s in action["statuses"] if s["execution"] == "closed"]
    assert [(s["source"], s["finished"]) for s in closed] == [("device", "failure")]
    # The device's log of the failed install is kept for the operator, with the reason.
    assert "ERROR : Authentication of all signatures failed" in device_details(server, client.controller_id)
    assert not (client.out / "rootfs.img").exists()
    device = server.call("device", controller_id=client.controller_id)
    assert device["state"] == "error"
    assert device["sw_version"] == "1.0.0"


def test_swupdate_acknowledges_the_cancel_of_an_update_it_has_not_started(
    e2e_server: Server, swupdate: SWUpdateClient, signer: SigningPair, tmp_path: Path
):
    server, client = e2e_server, swupdate
    # Pinned: once canceled, nothing offers the device a new action for the same software.
    server.call("create_device", controller_id=client.controller_id, update_mode="pinned")
    software_id = upload(server, tmp_path, version="3.0.0", signer=signer, name="canceled")
    action_id = server.call("create_action", controller_id=client.controller_id, software_id=software_id)

    assert server.call("cancel_action", action_id=action_id) == "canceling"

    client.start()
    action = client.wait(
        lambda: (a := last_action(server, client.controller_id)) and a["status"] == "canceled" and a,
        timeout=30,
        message="the action to be canceled",
        server=server,
    )
    assert action["id"] == action_id
    cancel_feedback = [s for s in action["statuses"] if s["source"] == "device"]
    assert [(s["channel"], s["execution"], s["finished"]) for s in cancel_feedback] == [
        ("cancel", "closed", "success")
    ]
    assert cancel_feedback[0]["details"] == ["cancellation acknowledged."]
    assert not (client.out / "rootfs.img").exists()
    device = server.call("device", controller_id=client.controller_id)
    assert device["state"] == "registered"
    assert device["sw_version"] == "1.0.0"


def test_swupdate_installs_every_module_of_a_two_module_release(
    e2e_server: Server, swupdate: SWUpdateClient, signer: SigningPair, tmp_path: Path
):
    server, client = e2e_server, swupdate
    client.start()
    wait_registered(server, client)
    os_id = upload(server, tmp_path, version="3.2.0", signer=signer, name="os")
    app_swu = build_swu(
        tmp_path / "dashboard.swu",
        version="5.1",
        board="board",
        revisions=["1"],
        files={"dashboard.img": b"dashboard 5.1\n"},
        signer=signer,
    )
    notes = tmp_path / "notes.txt"
    notes.write_text("read me\n")
    release = server.call(
        "create_release",
        name="full",
        version="3.2.0-full",
        os_software_id=os_id,
        app_files=[str(app_swu), str(notes)],
        app_version="5.1",
    )
    server.call("assign_software", controller_id=client.controller_id, software_id=release["id"])

    # Both chunks' .swu images are installed; the text file is not an image and is skipped.
    client.wait(
        lambda: "All Chunks Installed." in device_details(server, client.controller_id),
        message="SWUpdate to install both chunks",
        server=server,
    )
    assert (client.out / "rootfs.img").read_bytes() == b"rootfs 3.2.0\n"
    assert (client.out / "dashboard.img").read_bytes() == b"dashboard 5.1\n"
    action = last_action(server, client.controller_id)
    assert action is not None
    downloads = [
        line
        for status in action["statuses"]
        if status["execution"] == "download"
        for line in status["details"]
    ]
    assert any("os-3.2.0.swu" in line for line in downloads)
    assert any("dashboard.swu" in line for line in downloads)

    client.stop()
    client.sw_version = "3.2.0-full"
    client.start(confirm=2)
    action = client.wait(
        lambda: (a := last_action(server, client.controller_id)) and a["status"] == "finished" and a,
        timeout=30,
        message="the two-module update to finish after the confirm",
        server=server,
    )
    assert action["software_id"] == release["id"]


def test_an_assignment_canceled_before_the_first_poll_is_never_offered(
    e2e_server: Server, swupdate: SWUpdateClient, signer: SigningPair, tmp_path: Path
):
    server, client = e2e_server, swupdate
    # The operator creates the device, assigns an update and cancels it: the device never polled.
    server.call("create_device", controller_id=client.controller_id)
    software_id = upload(server, tmp_path, version="3.1.0", signer=signer, name="withdrawn")
    server.call("assign_software", controller_id=client.controller_id, software_id=software_id)
    assigned = last_action(server, client.controller_id)
    assert assigned is not None and assigned["status"] == "pending"

    canceled = server.call("cancel_update", controller_id=client.controller_id)

    assert canceled == {"id": assigned["id"], "status": "canceled"}
    root_poll = f'"GET /DEFAULT/controller/v1/{client.controller_id} HTTP'
    client.start()
    # Three polls (one a second): had the update been offered, SWUpdate would have fetched it.
    client.wait(
        lambda: server.log.read_text().count(root_poll) >= 3,
        message="SWUpdate to poll three times",
        server=server,
    )
    actions = server.call("actions", controller_id=client.controller_id)
    assert [(a["id"], a["status"]) for a in actions] == [(assigned["id"], "canceled")]
    assert not (client.out / "rootfs.img").exists()
    assert f"{client.controller_id}/deploymentBase" not in server.log.read_text()
