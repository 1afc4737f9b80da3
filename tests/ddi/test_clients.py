"""Contract tests: the exact request sequences real clients send (clients.md, ddi.md §3-4).

Each test replays one client's wire behaviour — its headers, its bodies, the URLs it builds itself
and the hrefs it follows — and checks what that client needs to see at every step.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from devices.models import Device
from rollouts import options
from rollouts.models import Action, Rollout
from tests.ddi.helpers import abs_url, content_of, ddi_url, deployment_href_matches
from tests.factories import make_device, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db

TOKEN = "k3Jd9sLq0PwX7vBn2MzR5tYc8HgF1aEu"
IMAGE = b"SWU image bytes " * 512  # 8 KiB


@pytest.fixture(autouse=True)
def _strict_auth(settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_DEVICE_AUTH_MODE = "strict"


def _path(href: str) -> str:
    """What the test client requests for an href: its path and query (the host is testserver)."""
    assert href.startswith("http://testserver/"), href
    return href.removeprefix("http://testserver")


class SWUpdate:
    """SWUpdate 2022.12 suricatta (server_hawkbit.c + channel_curl.c) on the wire."""

    json_headers = {
        "HTTP_ACCEPT": "application/json",
        "CONTENT_TYPE": "application/json",  # sent even on GET
        "HTTP_USER_AGENT": "libcurl-agent/1.0",
        "HTTP_AUTHORIZATION": f"TargetToken {TOKEN}",
    }
    download_headers = {
        "HTTP_ACCEPT": "application/octet-stream",
        "CONTENT_TYPE": "application/octet-stream",
        "HTTP_USER_AGENT": "libcurl-agent/1.0",
        "HTTP_AUTHORIZATION": f"TargetToken {TOKEN}",
    }

    def __init__(self, client, controller_id: str) -> None:
        self.client = client
        self.cid = controller_id

    def get(self, path: str):
        return self.client.get(path, **self.json_headers)

    def root(self) -> dict:
        response = self.get(ddi_url(self.cid))
        assert response.status_code == 200, response.status_code
        body = response.json()
        sleep = body["config"]["polling"]["sleep"]  # required; parsed with strptime("%H:%M:%S")
        assert len(sleep) == 8 and sleep[2] == sleep[5] == ":"
        return body

    def send(self, method: str, path: str, body: dict, **extra):
        headers = {key: value for key, value in self.json_headers.items() if key != "CONTENT_TYPE"}
        return getattr(self.client, method)(
            path, data=json.dumps(body), content_type="application/json", **headers, **extra
        )

    def config_data(self, data: dict):
        body = {
            "id": "",
            "time": "20240101T120000",
            "status": {"result": {"finished": "success"}, "execution": "closed", "details": [""]},
            "data": data,
        }
        return self.send("put", ddi_url(self.cid, "configData"), body, HTTP_EXPECT="100-continue")

    def feedback(self, action_id: str, execution: str, finished: str, details: list[str], progress=None):
        result: dict = {"finished": finished}
        if progress is not None:
            result = {"progress": progress, "finished": finished}
        body = {
            "id": int(action_id),  # SWUpdate sends the id as a JSON number
            "time": "20240101T120500",
            "status": {"result": result, "execution": execution, "details": details},
        }
        return self.send("post", ddi_url(self.cid, "deploymentBase", action_id, "feedback"), body)


class RaucHawkbitUpdater:
    """rauc-hawkbit-updater (hawkbit-client.c) on the wire."""

    json_headers = {
        "HTTP_ACCEPT": "application/json;charset=UTF-8",
        "HTTP_USER_AGENT": "rauc-hawkbit-c-agent/1.0",
        "HTTP_AUTHORIZATION": f"TargetToken {TOKEN}",
    }
    download_headers = {
        "HTTP_ACCEPT": "application/octet-stream",
        "HTTP_USER_AGENT": "rauc-hawkbit-c-agent/1.0",
        "HTTP_AUTHORIZATION": f"TargetToken {TOKEN}",
    }

    def __init__(self, client, controller_id: str) -> None:
        self.client = client
        self.cid = controller_id

    def get(self, path: str):
        return self.client.get(path, **self.json_headers)

    def root(self) -> dict:
        response = self.get(ddi_url(self.cid))
        assert response.status_code == 200
        return response.json()

    def send(self, method: str, path: str, body: dict):
        return getattr(self.client, method)(
            path, data=json.dumps(body), content_type="application/json;charset=UTF-8", **self.json_headers
        )

    def config_data(self, data: dict):
        body = {
            "time": "20240101T120000",
            "status": {"result": {"finished": "success"}, "execution": "closed"},
            "data": data,
        }
        return self.send("put", ddi_url(self.cid, "configData"), body)

    def feedback(self, action_id: str, execution: str, finished: str, message: str, channel="deploymentBase"):
        body = {
            "id": action_id,  # rauc sends the id as a JSON string
            "time": "20240101T120500",
            "status": {"result": {"finished": finished}, "execution": execution, "details": [message]},
        }
        return self.send("post", ddi_url(self.cid, channel, action_id, "feedback"), body)


@pytest.fixture
def fleet():
    """A device with a token that has never talked to us, and a rollout waiting for it."""
    device = make_device("swu-1", token=TOKEN, request_attributes=True, attributes={}, sw_version="")
    # Pre-commissioned with its token only: the hardware comes from its first configData.
    Device.objects.filter(pk=device.pk).update(hardware=None)
    device.refresh_from_db()
    software = make_software("2.0.0", content=IMAGE, filename="image-2.0.0.swu")
    make_rollout(software)
    return device, software


# --- SWUpdate ------------------------------------------------------------------------------


def test_swupdate_2022_12_full_update_cycle_across_a_reboot(ddi_client, fleet):
    device, software = fleet
    swupdate = SWUpdate(ddi_client, "swu-1")

    # Start-up: poll, then configData from the identify section, then poll again at once.
    first = swupdate.root()
    assert first["_links"] == {"configData": {"href": abs_url("swu-1", "configData")}}
    response = swupdate.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"})
    assert (response.status_code, response.content) == (200, b"")

    links = swupdate.root()["_links"]
    assert set(links) == {"deploymentBase"}
    deployment_href = links["deploymentBase"]["href"]
    action = Action.objects.get(device=device, status__in=Action.ACTIVE_STATUSES)
    assert deployment_href_matches(deployment_href, "swu-1", action.pk)

    # server_install_update re-fetches root and deploymentBase before installing.
    for _ in range(2):
        response = swupdate.get(_path(deployment_href))
        assert response.status_code == 200
    deployment = response.json()
    action_id = deployment["id"]
    assert action_id == str(action.pk)
    assert isinstance(deployment["deployment"]["update"], str)
    chunk = deployment["deployment"]["chunks"][0]
    assert all(isinstance(chunk[key], str) for key in ("part", "version", "name"))
    artifact = chunk["artifacts"][0]
    assert artifact["filename"].endswith(".swu")
    assert isinstance(artifact["size"], int)
    url = _path(artifact["_links"]["download"]["href"])

    response = swupdate.feedback(
        action_id, "proceeding", "none", ["Installing Update Chunk Artifacts."], progress={"cnt": 0, "of": 1}
    )
    assert (response.status_code, response.content) == (200, b"")

    head = ddi_client.head(url, **SWUpdate.download_headers)
    assert head.status_code == 200
    assert head["Content-Length"] == str(artifact["size"])
    content_of(head)
    download = ddi_client.get(url, **SWUpdate.download_headers)
    assert download.status_code == 200
    payload = content_of(download)
    assert hashlib.sha1(payload).hexdigest() == artifact["hashes"]["sha1"]

    # While streaming, a second connection polls root and deploymentBase.
    assert set(swupdate.root()["_links"]) == {"deploymentBase"}
    assert swupdate.get(_path(deployment_href)).status_code == 200

    log_lines = [
        f"[NOTIFY] : SWUPDATE running :  [install_single_image] : line {i} " + "x" * 100 for i in range(48)
    ]
    for cnt, of in [(0, 0), (12, 1), (100, 3)]:  # SWUpdate's progress is not a fraction
        response = swupdate.feedback(
            action_id, "proceeding", "none", log_lines, progress={"cnt": cnt, "of": of}
        )
        assert (response.status_code, response.content) == (200, b"")
    response = swupdate.feedback(
        action_id, "proceeding", "none", ["Installed Chunk."], progress={"cnt": 1, "of": 1}
    )
    assert response.status_code == 200
    response = swupdate.feedback(
        action_id, "proceeding", "none", ["All Chunks Installed."], progress={"cnt": 1, "of": 1}
    )
    assert response.status_code == 200
    action.refresh_from_db()
    assert action.status == Action.Status.RUNNING

    # Reboot. With -c 2 it reports success only if the server still offers deploymentBase.
    links = swupdate.root()["_links"]
    assert set(links) == {"deploymentBase"}
    assert deployment_href_matches(links["deploymentBase"]["href"], "swu-1", action.pk)
    assert swupdate.get(_path(links["deploymentBase"]["href"])).json()["id"] == action_id
    response = swupdate.feedback(
        action_id, "closed", "success", ["Update Installed."], progress={"cnt": 0, "of": 0}
    )
    assert (response.status_code, response.content) == (200, b"")
    response = swupdate.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "2.0.0"})
    assert response.status_code == 200

    assert swupdate.root() == {
        "config": {"polling": {"sleep": "00:01:00"}},
        "_links": {"installedBase": {"href": abs_url("swu-1", "installedBase", action.pk)}},
    }
    action.refresh_from_db()
    device.refresh_from_db()
    assert action.status == Action.Status.FINISHED
    assert (device.sw_version, device.state) == ("2.0.0", Device.State.FINISHED)


def test_swupdate_reports_a_failed_install_and_is_not_offered_it_again(ddi_client, fleet):
    device, _ = fleet
    swupdate = SWUpdate(ddi_client, "swu-1")
    swupdate.root()
    swupdate.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"})
    action_id = swupdate.get(_path(swupdate.root()["_links"]["deploymentBase"]["href"])).json()["id"]

    response = swupdate.feedback(
        action_id,
        "closed",
        "failure",
        ["No suitable .swu image found", "Update Failed."],
        progress={"cnt": 0, "of": 0},
    )

    assert (response.status_code, response.content) == (200, b"")
    assert swupdate.root() == {"config": {"polling": {"sleep": "00:01:00"}}}
    device.refresh_from_db()
    assert (device.state, device.sw_version) == (Device.State.ERROR, "1.0.0")


def test_swupdate_acknowledges_a_cancel_through_the_cancel_href(ddi_client, fleet, rollout_services):
    device, _ = fleet
    swupdate = SWUpdate(ddi_client, "swu-1")
    swupdate.root()
    swupdate.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"})
    action_id = swupdate.get(_path(swupdate.root()["_links"]["deploymentBase"]["href"])).json()["id"]
    swupdate.feedback(
        action_id, "proceeding", "none", ["Installing Update Chunk Artifacts."], {"cnt": 0, "of": 1}
    )
    rollout_services.action_cancel(action=Action.objects.get(pk=int(action_id)))

    cancel_href = swupdate.root()["_links"]["cancelAction"]["href"]
    assert "?" not in cancel_href  # SWUpdate appends /feedback to it
    cancel = swupdate.get(_path(cancel_href)).json()
    stop_id = cancel["cancelAction"]["stopId"]
    response = swupdate.send(
        "post",
        _path(cancel_href) + "/feedback",
        {
            "id": int(stop_id),
            "time": "20240101T121000",
            "status": {
                "result": {"finished": "success"},
                "execution": "closed",
                "details": ["cancellation acknowledged."],
            },
        },
    )

    assert (response.status_code, response.content) == (200, b"")
    assert Action.objects.get(pk=int(action_id)).status == Action.Status.CANCELED


# --- rauc-hawkbit-updater ------------------------------------------------------------------


def test_rauc_hawkbit_updater_full_update_cycle(ddi_client, fleet):
    device, software = fleet
    rauc = RaucHawkbitUpdater(ddi_client, "swu-1")

    links = rauc.root()["_links"]
    assert set(links) == {"configData"}
    response = rauc.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"})
    assert (response.status_code, response.content) == (200, b"")

    links = rauc.root()["_links"]
    assert set(links) == {"deploymentBase"}
    response = rauc.get(_path(links["deploymentBase"]["href"]))
    assert response.status_code == 200
    deployment = response.json()
    assert isinstance(deployment["id"], str)
    assert deployment["deployment"]["download"] == "forced"
    assert deployment["deployment"]["update"] == "forced"
    (chunk,) = deployment["deployment"]["chunks"]  # exactly one chunk with one artifact
    (artifact,) = chunk["artifacts"]
    assert (chunk["version"], chunk["name"]) == ("2.0.0", "image-2.0.0.swu")
    assert artifact["size"] == len(IMAGE)
    url = _path(artifact["_links"]["download"]["href"])
    action_id = deployment["id"]

    # The download is interrupted after 3000 bytes and resumed with a Range request.
    first = ddi_client.get(url, HTTP_RANGE="bytes=0-2999", **RaucHawkbitUpdater.download_headers)
    assert first.status_code == 206
    rest = ddi_client.get(url, HTTP_RANGE="bytes=3000-", **RaucHawkbitUpdater.download_headers)
    assert rest.status_code == 206
    bundle = content_of(first) + content_of(rest)
    assert hashlib.sha1(bundle).hexdigest() == artifact["hashes"]["sha1"]
    # A resume of a complete file must be 416 ("already complete"), never a full 200 it would append.
    again = ddi_client.get(url, HTTP_RANGE=f"bytes={len(IMAGE)}-", **RaucHawkbitUpdater.download_headers)
    assert again.status_code == 416
    content_of(again)

    messages = ["Download complete. 8.00 MB/s", "File checksum OK."]
    messages += [
        f"{percent}% Installing: {step}" for percent, step in zip(range(0, 100, 4), range(25), strict=True)
    ]
    for message in messages:
        response = rauc.feedback(action_id, "proceeding", "none", message)
        assert (response.status_code, response.content) == (200, b"")
        assert set(rauc.root()["_links"]) == {"deploymentBase"}  # it polls every 5 s while busy
    response = rauc.feedback(action_id, "closed", "success", "Software bundle installed successfully.")
    assert (response.status_code, response.content) == (200, b"")

    # After an install the server asks for attributes again; rauc sends its [device] section.
    assert rauc.root()["_links"] == {
        "installedBase": {"href": abs_url("swu-1", "installedBase", action_id)},
        "configData": {"href": abs_url("swu-1", "configData")},
    }
    response = rauc.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "2.0.0"})
    assert response.status_code == 200
    assert set(rauc.root()["_links"]) == {"installedBase"}
    device.refresh_from_db()
    assert (device.sw_version, device.state) == ("2.0.0", Device.State.FINISHED)
    assert device.attributes == {"hw_boardname": "board", "hw_revision": "1", "sw_version": "2.0.0"}


def test_rauc_hawkbit_updater_cancels_an_action_it_has_not_started(ddi_client, fleet, rollout_services):
    device, _ = fleet
    rauc = RaucHawkbitUpdater(ddi_client, "swu-1")
    rauc.root()
    rauc.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"})
    action_id = rauc.get(_path(rauc.root()["_links"]["deploymentBase"]["href"])).json()["id"]
    rauc.feedback(action_id, "proceeding", "none", "Download complete. 8.00 MB/s")
    rollout_services.action_cancel(action=Action.objects.get(pk=int(action_id)))

    cancel = rauc.get(_path(rauc.root()["_links"]["cancelAction"]["href"])).json()
    stop_id = cancel["cancelAction"]["stopId"]
    assert isinstance(stop_id, str)
    response = rauc.feedback(stop_id, "closed", "success", "Action canceled.", channel="cancelAction")

    assert (response.status_code, response.content) == (200, b"")
    assert Action.objects.get(pk=int(action_id)).status == Action.Status.CANCELED


def test_rauc_hawkbit_updater_refusing_a_cancel_continues_the_install(ddi_client, fleet, rollout_services):
    device, _ = fleet
    rauc = RaucHawkbitUpdater(ddi_client, "swu-1")
    rauc.root()
    rauc.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"})
    action_id = rauc.get(_path(rauc.root()["_links"]["deploymentBase"]["href"])).json()["id"]
    rauc.feedback(action_id, "proceeding", "none", "File checksum OK.")
    rollout_services.action_cancel(action=Action.objects.get(pk=int(action_id)))
    stop_id = rauc.get(_path(rauc.root()["_links"]["cancelAction"]["href"])).json()["cancelAction"]["stopId"]

    response = rauc.feedback(
        stop_id,
        "rejected",
        "success",
        "Cancelation impossible, installation started already.",
        channel="cancelAction",
    )
    assert response.status_code == 200
    response = rauc.feedback(action_id, "closed", "success", "Software bundle installed successfully.")

    assert response.status_code == 200
    device.refresh_from_db()
    assert device.sw_version == "2.0.0"


def test_a_client_sending_no_accept_header_like_hawkbit_rs_gets_hal_json(ddi_client, fleet):
    device, _ = fleet
    device.attributes = {"hw_boardname": "board", "hw_revision": "1"}
    device.hardware = make_hardware("board", "1")
    device.sw_version = "1.0.0"
    device.save()

    response = ddi_client.get(ddi_url("swu-1"), HTTP_AUTHORIZATION=f"TargetToken {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/hal+json"
    href = response.json()["_links"]["deploymentBase"]["href"]
    # hawkbit-rs and the hawkBit SDK cut the action id out between the last '/' and the '?'.
    assert href[href.rindex("/") + 1 : href.index("?")].isdigit()


# --- action types and maintenance windows (ddi.md §4.3) ------------------------------------


def test_rauc_hawkbit_updater_download_only_reports_downloaded_and_the_update_closes(ddi_client, fleet):
    device, software = fleet
    Rollout.objects.update(action_type="downloadonly")
    rauc = RaucHawkbitUpdater(ddi_client, "swu-1")
    rauc.root()
    rauc.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"})

    links = rauc.root()["_links"]
    deployment = rauc.get(_path(links["deploymentBase"]["href"])).json()
    assert (deployment["deployment"]["download"], deployment["deployment"]["update"]) == ("forced", "skip")
    assert "maintenanceWindow" not in deployment["deployment"]
    url = _path(deployment["deployment"]["chunks"][0]["artifacts"][0]["_links"]["download"]["href"])
    assert content_of(ddi_client.get(url, **RaucHawkbitUpdater.download_headers)) == IMAGE
    action_id = deployment["id"]
    assert rauc.feedback(action_id, "proceeding", "none", "Download complete. 8.00 MB/s").status_code == 200
    # update=skip without a window (or with it available): "downloaded", and the action is done.
    assert rauc.feedback(action_id, "downloaded", "success", "File checksum OK.").status_code == 200

    action = Action.objects.get(pk=action_id)
    device.refresh_from_db()
    assert action.status == Action.Status.FINISHED
    assert (device.sw_version, device.installed_action_id) == ("1.0.0", None)
    assert "deploymentBase" not in rauc.root().get("_links", {})


def test_rauc_hawkbit_updater_downloads_outside_the_window_and_installs_when_it_opens(
    ddi_client, fleet, monkeypatch
):
    device, software = fleet
    Rollout.objects.update(
        maintenance_schedule="0 0 3 ? * *", maintenance_duration="01:00:00", maintenance_timezone="+00:00"
    )
    day = datetime(2027, 3, 10, tzinfo=UTC)
    monkeypatch.setattr(options, "now", lambda: day.replace(hour=2))
    rauc = RaucHawkbitUpdater(ddi_client, "swu-1")
    rauc.root()
    rauc.config_data({"hw_boardname": "board", "hw_revision": "1", "sw_version": "1.0.0"})

    closed_href = rauc.root()["_links"]["deploymentBase"]["href"]
    deployment = rauc.get(_path(closed_href)).json()
    assert {k: v for k, v in deployment["deployment"].items() if k != "chunks"} == {
        "download": "forced",
        "update": "skip",
        "maintenanceWindow": "unavailable",
    }
    url = _path(deployment["deployment"]["chunks"][0]["artifacts"][0]["_links"]["download"]["href"])
    assert content_of(ddi_client.get(url, **RaucHawkbitUpdater.download_headers)) == IMAGE
    action_id = deployment["id"]
    assert rauc.feedback(action_id, "proceeding", "none", "Download complete. 8.00 MB/s").status_code == 200
    # "Deployment … is still waiting (maintenance window is 'unavailable')": it only polls.
    assert rauc.root()["_links"]["deploymentBase"]["href"] == closed_href

    monkeypatch.setattr(options, "now", lambda: day.replace(hour=3, minute=1))
    open_href = rauc.root()["_links"]["deploymentBase"]["href"]
    assert open_href != closed_href  # a new c: the client reads it again
    deployment = rauc.get(_path(open_href)).json()
    assert deployment["id"] == action_id
    assert (deployment["deployment"]["update"], deployment["deployment"]["maintenanceWindow"]) == (
        "forced",
        "available",
    )
    # "Resuming download from offset <full size>": already complete.
    again = ddi_client.get(url, HTTP_RANGE=f"bytes={len(IMAGE)}-", **RaucHawkbitUpdater.download_headers)
    assert again.status_code == 416
    content_of(again)
    assert rauc.feedback(action_id, "proceeding", "none", "File checksum OK.").status_code == 200
    response = rauc.feedback(action_id, "closed", "success", "Software bundle installed successfully.")
    assert response.status_code == 200

    device.refresh_from_db()
    assert Action.objects.get(pk=action_id).status == Action.Status.FINISHED
    assert (device.sw_version, device.installed_action_id) == ("2.0.0", int(action_id))
