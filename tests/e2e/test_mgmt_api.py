"""A script that knows only hawkBit's Management API drives real device clients through updates.

Every step an operator takes goes through /rest/v1 with HTTP Basic (tests/e2e/hawkbit_mgmt_client),
exactly as a tool written for Eclipse hawkBit would: create the target, the software module, upload
its artifact, build the distribution set, assign it, and follow the action through the target's
actions and their status log. The devices are the real SWUpdate 2022.12 and the replayed wire
exchanges of rauc-hawkbit-updater. The only thing done behind the API is creating the operator
account (hawkBit ships one; we ship none).

What the script asserts are hawkBit's words: action ``status`` and ``forceType``, the status
entries' ``type`` (newest first with ``sort=id:DESC``), the target's ``updateStatus``. (hawkBit's
current MgmtAction has no ``detailStatus``: its ``status`` carries the detailed word.)
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hawkbit_mgmt_client import Answer, HawkbitMgmtClient
from tests.e2e.helpers import PROJECT_ROOT, Server, SWUpdateClient, wait_for
from tests.packages import SigningPair, build_raucb, build_swu

pytestmark = pytest.mark.e2e

# MgmtActionStatus.Type, lower-cased as hawkBit writes it.
STATUS_TYPES = {
    "finished",
    "error",
    "warning",
    "running",
    "canceled",
    "canceling",
    "retrieved",
    "download",
    "scheduled",
    "cancel_rejected",
    "downloaded",
    "wait_for_confirmation",
}
# Action.Status lower-cased (MgmtActionMapper: action.getStatus().toString().toLowerCase()).
ACTION_STATUSES = STATUS_TYPES
UPDATE_STATUSES = {"unknown", "in_sync", "pending", "error", "registered"}


def make_operator(server: Server) -> HawkbitMgmtClient:
    """An operator account (made with manage.py, as an installation would) and its API client."""
    username, password = f"operator-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--no-input", "--username", username, "--email", ""],
        cwd=PROJECT_ROOT,
        env={**server.env, "DJANGO_SUPERUSER_PASSWORD": password},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return HawkbitMgmtClient(server.base_url, username, password)


@pytest.fixture(scope="module")
def operator(e2e_server: Server) -> HawkbitMgmtClient:
    return make_operator(e2e_server)


@pytest.fixture(scope="module")
def strict_operator(strict_server: Server) -> HawkbitMgmtClient:
    return make_operator(strict_server)


def expect(answer: Answer, status: int) -> Any:
    assert answer.status == status, f"expected {status}, got {answer.status}: {answer.body!r}"
    return answer.body


# --------------------------------------------------------------------------- what the script does
def create_target(api: HawkbitMgmtClient, controller_id: str, token: str) -> dict:
    (target,) = expect(
        api.post("targets", [{"controllerId": controller_id, "name": controller_id, "securityToken": token}]),
        201,
    )
    assert target["controllerId"] == controller_id
    assert target["updateStatus"] in UPDATE_STATUSES
    return target


def create_module_with_artifact(api: HawkbitMgmtClient, *, name: str, version: str, package: Path) -> dict:
    """An ``os`` software module holding ``package`` as its one artifact; returns the module."""
    (module,) = expect(
        api.post(
            "softwaremodules",
            [
                {
                    "name": name,
                    "version": version,
                    "type": "os",
                    "vendor": "e2e",
                    "description": "via /rest/v1",
                }
            ],
        ),
        201,
    )
    assert (module["type"], module["version"]) == ("os", version)
    content = package.read_bytes()
    hashes = {
        "md5": hashlib.md5(content).hexdigest(),  # noqa: S324 - hawkBit's checksum, not security
        "sha1": hashlib.sha1(content).hexdigest(),  # noqa: S324
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    artifact = expect(
        api.upload(
            f"softwaremodules/{module['id']}/artifacts",
            package.name,
            content,
            md5sum=hashes["md5"],
            sha1sum=hashes["sha1"],
            sha256sum=hashes["sha256"],
        ),
        201,
    )
    assert artifact["providedFilename"] == package.name
    assert artifact["size"] == len(content)
    assert artifact["hashes"] == hashes
    listed = expect(api.get(f"softwaremodules/{module['id']}/artifacts"), 200)
    assert [item["id"] for item in listed] == [artifact["id"]]
    module["artifact"] = artifact
    return module


def create_distribution_set(api: HawkbitMgmtClient, *, name: str, version: str, module_id: int) -> dict:
    (ds,) = expect(
        api.post(
            "distributionsets",
            [
                {
                    "name": name,
                    "version": version,
                    "modules": [{"id": module_id}],
                    "requiredMigrationStep": False,
                }
            ],
        ),
        201,
    )
    assert [module["id"] for module in ds["modules"]] == [module_id]
    assert ds["complete"] is True
    return ds


def only_action_id(assignment: dict) -> int:
    """The one action id of a MgmtTargetAssignmentResponseBody."""
    assert (assignment["assigned"], assignment["alreadyAssigned"], assignment["total"]) == (1, 0, 1)
    (action,) = assignment["assignedActions"]
    return action["id"]


class ActionWatcher:
    """Follows one action through /rest/v1 as an operator's dashboard would, keeping what it saw."""

    def __init__(self, api: HawkbitMgmtClient, controller_id: str, action_id: int) -> None:
        self.api = api
        self.cid = controller_id
        self.action_id = action_id
        self.seen_statuses: list[str] = []

    def action(self) -> dict:
        action = expect(self.api.get(f"targets/{self.cid}/actions/{self.action_id}"), 200)
        assert action["id"] == self.action_id
        assert action["status"] in ACTION_STATUSES, action
        if not self.seen_statuses or self.seen_statuses[-1] != action["status"]:
            self.seen_statuses.append(action["status"])
        return action

    def statuses(self) -> list[dict]:
        """The action's status log, newest first."""
        page = expect(
            self.api.get(f"targets/{self.cid}/actions/{self.action_id}/status", sort="id:DESC", limit=100),
            200,
        )
        entries = page["content"]
        assert page["total"] == len(entries)
        assert [entry["id"] for entry in entries] == sorted((entry["id"] for entry in entries), reverse=True)
        for entry in entries:
            assert entry["type"] in STATUS_TYPES, entry
            assert isinstance(entry["reportedAt"], int)
            assert all(isinstance(message, str) for message in entry.get("messages", []))
        return entries

    def messages(self) -> list[str]:
        return [message for entry in self.statuses() for message in entry.get("messages", [])]

    def finished(self) -> dict | None:
        action = self.action()
        return action if action["status"] == "finished" else None

    def says(self, text: str) -> bool:
        self.action()
        return any(text in message for message in self.messages())


def newest_action_of(api: HawkbitMgmtClient, controller_id: str) -> dict:
    page = expect(api.get(f"targets/{controller_id}/actions", sort="id:DESC"), 200)
    assert page["total"] == len(page["content"]) >= 1
    ids = [action["id"] for action in page["content"]]
    assert ids == sorted(ids, reverse=True)
    return page["content"][0]


def follow_forced_install(
    server: Server, api: HawkbitMgmtClient, device: SWUpdateClient, watch: ActionWatcher, *, version: str
) -> None:
    """SWUpdate installs, reboots into ``version`` and confirms; the script watches it all."""
    cid = watch.cid
    # SWUpdate installs and waits for its reboot: the action stays running until it confirms.
    device.wait(
        lambda: watch.says("All Chunks Installed."), timeout=60, message="SWUpdate to install", server=server
    )
    assert (device.out / "rootfs.img").read_bytes() == f"rootfs {version}\n".encode()
    assert watch.action()["status"] == "running"
    assert expect(api.get(f"targets/{cid}"), 200)["updateStatus"] == "pending"

    device.stop()  # the "reboot" into the new version, SWUpdate in its TESTING state
    device.sw_version = version
    device.start(confirm=2)
    action = device.wait(watch.finished, timeout=60, message="the forced action to finish", server=server)
    assert action["active"] is False
    log = watch.statuses()
    assert log[0]["type"] == "finished"
    assert any("Update Installed." in message for message in log[0]["messages"])
    assert {"retrieved", "running"} <= {entry["type"] for entry in log}
    assert watch.seen_statuses[0] == "running" and watch.seen_statuses[-1] == "finished"
    wait_for(
        lambda: expect(api.get(f"targets/{cid}"), 200)["updateStatus"] == "in_sync",
        timeout=15,
        message="the target to be in sync",
    )


# --------------------------------------------------------------------------- SWUpdate
def test_a_hawkbit_script_updates_a_real_swupdate_device_download_only_then_forced(
    e2e_server: Server,
    operator: HawkbitMgmtClient,
    swupdate_factory,
    signer: SigningPair,
    controller_id: str,
    tmp_path: Path,
):
    server, api, cid = e2e_server, operator, controller_id
    token = secrets.token_hex(16)
    target = create_target(api, cid, token)
    assert target["securityToken"] == token
    assert expect(api.get(f"targets/{cid}/actions"), 200)["total"] == 0

    first_swu = build_swu(tmp_path / "mgmt-e2e-7.1.0.swu", version="7.1.0", signer=signer)
    first_module = create_module_with_artifact(api, name="mgmt-e2e-os", version="7.1.0", package=first_swu)
    first_ds = create_distribution_set(api, name="mgmt-e2e", version="7.1.0", module_id=first_module["id"])

    # 1. Download only, assigned from the target's side before the device ever polled.
    assignment = expect(
        api.post(f"targets/{cid}/assignedDS", [{"id": first_ds["id"], "type": "downloadonly"}]), 200
    )
    watch = ActionWatcher(api, cid, only_action_id(assignment))
    download_only_id = watch.action_id
    assert newest_action_of(api, cid)["id"] == download_only_id
    action = watch.action()
    assert (action["type"], action["forceType"], action["active"]) == ("update", "downloadonly", True)
    assert expect(api.get(f"targets/{cid}/assignedDS"), 200)["id"] == first_ds["id"]
    assert expect(api.get(f"targets/{cid}"), 200)["updateStatus"] == "pending"

    device: SWUpdateClient = swupdate_factory(server, token=token)
    device.start()
    action = device.wait(
        watch.finished, timeout=60, message="the download-only action to finish", server=server
    )
    assert (action["forceType"], action["active"]) == ("downloadonly", False)
    log = watch.statuses()
    assert log[0]["type"] == "finished"
    assert "Skipped Update." in log[0]["messages"]
    assert "retrieved" in {entry["type"] for entry in log}
    assert watch.seen_statuses[-1] == "finished"
    assert not (device.out / "rootfs.img").exists()  # downloaded only: nothing installed
    attributes = expect(api.get(f"targets/{cid}/attributes"), 200)
    assert attributes == {"sw_version": "1.0.0", "hw_boardname": "board", "hw_revision": "1"}

    # 2. Forced, assigned from the distribution set's side, while the device keeps polling.
    second_swu = build_swu(tmp_path / "mgmt-e2e-7.2.0.swu", version="7.2.0", signer=signer)
    second_module = create_module_with_artifact(api, name="mgmt-e2e-os", version="7.2.0", package=second_swu)
    second_ds = create_distribution_set(api, name="mgmt-e2e", version="7.2.0", module_id=second_module["id"])
    assignment = expect(
        api.post(f"distributionsets/{second_ds['id']}/assignedTargets", [{"id": cid, "type": "forced"}]), 200
    )
    watch = ActionWatcher(api, cid, only_action_id(assignment))
    assert (watch.action()["forceType"], watch.action()["active"]) == ("forced", True)
    assigned = expect(api.get(f"distributionsets/{second_ds['id']}/assignedTargets"), 200)
    assert [item["controllerId"] for item in assigned["content"]] == [cid]

    follow_forced_install(server, api, device, watch, version="7.2.0")

    page = expect(api.get(f"targets/{cid}/actions", sort="id:DESC"), 200)
    assert [(item["id"], item["status"]) for item in page["content"]] == [
        (watch.action_id, "finished"),
        (download_only_id, "finished"),
    ]
    global_view = expect(api.get(f"actions/{watch.action_id}"), 200)
    assert (global_view["id"], global_view["status"]) == (watch.action_id, "finished")
    assert expect(api.get(f"targets/{cid}/installedDS"), 200)["id"] == second_ds["id"]
    assert expect(api.get(f"targets/{cid}/assignedDS"), 200)["id"] == second_ds["id"]
    target = wait_for(
        lambda: (t := expect(api.get(f"targets/{cid}"), 200))["updateStatus"] == "in_sync" and t,
        timeout=15,
        message="the target to be in sync",
    )
    assert isinstance(target["installedAt"], int)
    installed = expect(api.get(f"distributionsets/{second_ds['id']}/installedTargets"), 200)
    assert [item["controllerId"] for item in installed["content"]] == [cid]


def test_a_hawkbit_script_installs_a_forced_update_assigned_before_the_first_poll(
    e2e_server: Server,
    operator: HawkbitMgmtClient,
    swupdate_factory,
    signer: SigningPair,
    controller_id: str,
    tmp_path: Path,
):
    # The same forced install as above on a device that has not reported its hardware yet, so it
    # does not depend on what a /rest/v1 distribution set says about hardware.
    server, api, cid = e2e_server, operator, controller_id
    token = secrets.token_hex(16)
    create_target(api, cid, token)
    package = build_swu(tmp_path / "mgmt-e2e-7.4.0.swu", version="7.4.0", signer=signer)
    module = create_module_with_artifact(api, name="mgmt-e2e-first-poll", version="7.4.0", package=package)
    ds = create_distribution_set(api, name="mgmt-e2e-first-poll", version="7.4.0", module_id=module["id"])
    assignment = expect(
        api.post(f"distributionsets/{ds['id']}/assignedTargets", [{"id": cid, "type": "forced"}]), 200
    )
    watch = ActionWatcher(api, cid, only_action_id(assignment))
    assert (watch.action()["forceType"], watch.action()["status"]) == ("forced", "running")

    device: SWUpdateClient = swupdate_factory(server, token=token)
    device.start()
    follow_forced_install(server, api, device, watch, version="7.4.0")
    assert expect(api.get(f"targets/{cid}/installedDS"), 200)["id"] == ds["id"]
    installed = expect(api.get(f"distributionsets/{ds['id']}/installedTargets"), 200)
    assert [item["controllerId"] for item in installed["content"]] == [cid]


# --------------------------------------------------------------------------- rauc-hawkbit-updater
def rauc_binary() -> str:
    """Debian's rauc builds the bundle: a CI run fails without it, a developer machine skips."""
    binary = shutil.which("rauc")
    if binary:
        return binary
    message = "rauc is not installed: run `make system-deps` (apt-get install rauc)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
    return ""


class RaucHawkbitUpdater:
    """rauc-hawkbit-updater's HTTP exchanges (hawkbit-client.c), replayed against the live server.

    The same requests as tests/ddi/test_clients.py sends through Django's test client: its
    headers, its bodies (the action id as a JSON string), and the hrefs it follows.
    """

    json_headers = {"Accept": "application/json;charset=UTF-8", "User-Agent": "rauc-hawkbit-c-agent/1.0"}

    def __init__(self, server: Server, controller_id: str, token: str) -> None:
        self.server = server
        self.cid = controller_id
        self.auth = {"Authorization": f"TargetToken {token}"}

    def _send(self, method: str, url: str, body: dict | None = None, headers: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        all_headers = {**self.json_headers, **self.auth, **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json;charset=UTF-8"
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get_json(self, url: str) -> dict:
        status, raw = self._send("GET", url)
        assert status == 200, (status, raw)
        return json.loads(raw)

    def root(self) -> dict:
        return self.get_json(self.server.ddi_url(self.cid))

    def config_data(self, data: dict) -> None:
        body = {
            "time": "20240101T120000",
            "status": {"result": {"finished": "success"}, "execution": "closed"},
            "data": data,
        }
        assert self._send("PUT", self.server.ddi_url(self.cid, "/configData"), body) == (200, b"")

    def download(self, url: str, byte_range: str) -> tuple[int, bytes]:
        return self._send("GET", url, headers={"Accept": "application/octet-stream", "Range": byte_range})

    def feedback(self, action_id: str, execution: str, finished: str, message: str) -> None:
        body = {
            "id": action_id,
            "time": "20240101T120500",
            "status": {"result": {"finished": finished}, "execution": execution, "details": [message]},
        }
        url = self.server.ddi_url(self.cid, f"/deploymentBase/{action_id}/feedback")
        assert self._send("POST", url, body) == (200, b"")


@pytest.fixture
def rauc_bundle(signer: SigningPair, tmp_path: Path) -> Iterator[Path]:
    rauc_binary()
    yield build_raucb(tmp_path / "mgmt-e2e-7.3.0.raucb", version="7.3.0", signer=signer)


def test_replayed_rauc_hawkbit_updater_installs_what_a_hawkbit_script_assigned(
    strict_server: Server, strict_operator: HawkbitMgmtClient, rauc_bundle: Path, controller_id: str
):
    # The server requires device credentials: the token the script gave the target is the key.
    server, api, cid = strict_server, strict_operator, controller_id
    token = secrets.token_hex(16)
    create_target(api, cid, token)
    status, _ = RaucHawkbitUpdater(server, cid, "not-" + token)._send("GET", server.ddi_url(cid))
    assert status == 401
    module = create_module_with_artifact(api, name="mgmt-e2e-rauc", version="7.3.0", package=rauc_bundle)
    ds = create_distribution_set(api, name="mgmt-e2e-rauc", version="7.3.0", module_id=module["id"])
    assignment = expect(api.post(f"targets/{cid}/assignedDS", [{"id": ds["id"], "type": "forced"}]), 200)
    watch = ActionWatcher(api, cid, only_action_id(assignment))
    assert watch.action()["forceType"] == "forced"

    rauc = RaucHawkbitUpdater(server, cid, token)
    links = rauc.root()["_links"]
    assert "configData" in links  # a target created through /rest/v1 is asked for its attributes
    rauc.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"})
    assert expect(api.get(f"targets/{cid}/attributes"), 200)["sw_version"] == "1.0.0"

    links = rauc.root()["_links"]
    assert set(links) == {"deploymentBase"}
    deployment = rauc.get_json(links["deploymentBase"]["href"])
    action_id = deployment["id"]
    assert action_id == str(watch.action_id)  # the action the script was told about
    assert (deployment["deployment"]["download"], deployment["deployment"]["update"]) == ("forced", "forced")
    (chunk,) = deployment["deployment"]["chunks"]
    assert (chunk["part"], chunk["version"], chunk["name"]) == ("os", "7.3.0", "mgmt-e2e-rauc")
    (artifact,) = chunk["artifacts"]
    assert artifact["filename"] == rauc_bundle.name
    assert artifact["hashes"]["sha1"] == module["artifact"]["hashes"]["sha1"]
    assert "retrieved" in {entry["type"] for entry in watch.statuses()}

    # rauc-hawkbit-updater resumes an interrupted download with a Range request.
    url = artifact["_links"]["download"]["href"]
    status, head = rauc.download(url, "bytes=0-999")
    assert status == 206
    status, rest = rauc.download(url, "bytes=1000-")
    assert status == 206
    assert head + rest == rauc_bundle.read_bytes()

    rauc.feedback(action_id, "proceeding", "none", "Download complete. 8.00 MB/s")
    rauc.feedback(action_id, "proceeding", "none", "50% Installing: rootfs")
    assert watch.action()["status"] == "running"
    log = watch.statuses()
    assert (log[0]["type"], log[0]["messages"]) == ("running", ["50% Installing: rootfs"])
    rauc.feedback(action_id, "closed", "success", "Software bundle installed successfully.")

    action = watch.finished()
    assert action is not None and action["active"] is False
    log = watch.statuses()
    assert (log[0]["type"], log[0]["messages"]) == ("finished", ["Software bundle installed successfully."])
    assert [entry["type"] for entry in log].count("running") >= 2
    assert watch.seen_statuses == ["running", "finished"]
    assert expect(api.get(f"targets/{cid}/installedDS"), 200)["id"] == ds["id"]

    # A HAL client gets to the same things by following _links instead of building URLs.
    target = expect(api.get(f"targets/{cid}"), 200)
    listed = expect(api.get(target["_links"]["actions"]["href"]), 200)["content"]
    assert [item["id"] for item in listed] == [watch.action_id]
    action = expect(api.get(listed[0]["_links"]["self"]["href"]), 200)
    assert expect(api.get(action["_links"]["status"]["href"]), 200)["content"] == log
    assert action["_links"]["distributionset"]["name"] == "mgmt-e2e-rauc:7.3.0"
    assert expect(api.get(action["_links"]["distributionset"]["href"]), 200)["id"] == ds["id"]
    assert expect(api.get(target["_links"]["installedDS"]["href"]), 200)["id"] == ds["id"]

    # After an install the server asks for attributes again; rauc sends its [device] section.
    assert "configData" in rauc.root()["_links"]
    rauc.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "7.3.0"})
    assert expect(api.get(f"targets/{cid}/attributes"), 200)["sw_version"] == "7.3.0"
    assert expect(api.get(f"targets/{cid}"), 200)["updateStatus"] == "in_sync"
