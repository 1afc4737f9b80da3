"""rauc-hawkbit 0.2.0 (PyPI), an independent hawkBit DDI client library, against the live server.

Its device loop needs D-Bus and RAUC, so the test drives the library's own DDI client the way
its loop does (rauc_dbus_ddi_client.process_deployment): parse the action id and ``c`` from the
deploymentBase href, take chunk 0 / artifact 0, download through the softwaremodules API and
compare the md5 it computed with ``hashes.md5``, then report feedback. clients.md: it crashes
without ``?c=`` in the href and without ``hashes.md5``, and sends ``progress: {}``.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from rauc_hawkbit.ddi.client import ConfigStatusExecution, ConfigStatusResult, DDIClient
from rauc_hawkbit.ddi.deployment_base import DeploymentStatusExecution, DeploymentStatusResult

from devices.models import Device
from rollouts import services as rollout_services
from rollouts.models import Action
from tests.factories import make_hardware, make_software

pytestmark = pytest.mark.django_db(transaction=True)


async def _register(host: str) -> dict:
    async with aiohttp.ClientSession() as session:
        ddi = DDIClient(session, host, False, "any-token", "DEFAULT", "py-device")
        base = await ddi()
        await ddi.configData(
            ConfigStatusExecution.closed,
            ConfigStatusResult.success,
            hw_boardname="board",
            hw_revision="1",
            sw_version="1.0.0",
        )
        return {"first": base, "after_config": await ddi()}


async def _deploy(host: str, download_to: str) -> dict:
    async with aiohttp.ClientSession() as session:
        ddi = DDIClient(session, host, False, "any-token", "DEFAULT", "py-device")
        base = await ddi()
        href = base["_links"]["deploymentBase"]["href"]
        match = re.search(r"/deploymentBase/(.+)\?c=(.+)$", href)
        assert match is not None
        action_id, resource = match.groups()
        info = await ddi.deploymentBase[action_id](resource)
        artifact = info["deployment"]["chunks"][0]["artifacts"][0]
        url = artifact["_links"].get("download", artifact["_links"].get("download-http"))["href"]
        match = re.search(r"/softwaremodules/(.+)/artifacts/(.+)$", url)
        assert match is not None
        module, filename = match.groups()
        checksum = await ddi.softwaremodules[module].artifacts[filename](download_to)
        await ddi.deploymentBase[action_id].feedback(
            DeploymentStatusExecution.proceeding, DeploymentStatusResult.none, ["Download complete"]
        )
        result = (
            DeploymentStatusResult.success
            if checksum == artifact["hashes"]["md5"]
            else DeploymentStatusResult.failure
        )
        await ddi.deploymentBase[action_id].feedback(
            DeploymentStatusExecution.closed, result, ["Software bundle installed successfully."]
        )
        return {"action_id": action_id, "checksum": checksum, "after": await ddi()}


def test_the_rauc_hawkbit_library_registers_downloads_and_reports_success(live_server, tmp_path):
    host = live_server.url.removeprefix("http://")
    make_hardware("board", "1")

    registration = asyncio.run(_register(host))
    assert registration["first"]["_links"]["configData"]["href"].endswith(
        "/DEFAULT/controller/v1/py-device/configData"
    )
    assert "configData" not in registration["after_config"].get("_links", {})
    device = Device.objects.get(controller_id="py-device")
    assert device.hardware is not None
    assert (device.hardware.model, device.hardware.revision, device.sw_version) == ("board", "1", "1.0.0")

    content = b"rauc bundle bytes " * 4096
    software = make_software("2.0.0", content=content, filename="bundle-2.0.0.raucb", image_format="rauc")
    rollout_services.device_assign_software(device=device, software=software)

    outcome = asyncio.run(_deploy(host, str(tmp_path / "bundle.raucb")))

    assert (tmp_path / "bundle.raucb").read_bytes() == content
    assert outcome["checksum"] == software.package.md5
    action = Action.objects.get(pk=int(outcome["action_id"]))
    assert action.status == Action.Status.FINISHED
    device.refresh_from_db()
    assert (device.state, device.sw_version) == (Device.State.FINISHED, "2.0.0")
    assert "deploymentBase" not in outcome["after"]["_links"]
    assert outcome["after"]["_links"]["installedBase"]["href"].endswith(f"/installedBase/{action.pk}")
