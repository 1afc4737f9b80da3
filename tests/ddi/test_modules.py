"""Releases of several modules on the DDI: one chunk per module, artifacts per module."""

from __future__ import annotations

import hashlib

import pytest

from software import services
from software.models import SoftwareModuleType
from tests.ddi.helpers import abs_url, ddi_url, known_device, start_action
from tests.factories import make_module, make_software

pytestmark = pytest.mark.django_db

OCTETS = {"HTTP_ACCEPT": "application/octet-stream"}


@pytest.fixture
def release():
    """An OS package plus an application module with a config file and a checksum list."""
    package = make_software("2.0.0")
    app = make_module(type_key="application", name="dashboard", version="5.1", files={"app.tar": b"app"})
    app.artifacts.create(
        filename="app.sha256", size=4, sha1="1" * 40, md5="2" * 32, sha256="3" * 64, url="https://e.com/s"
    )
    services.module_set_metadata(module=app, key="install-path", value="/opt/dash", target_visible=True)
    services.module_set_metadata(module=app, key="build-host", value="ci-7", target_visible=False)
    return services.release_create(
        name="Spring", version="2.0.0-full", modules=[package.package.module, app], compatibility=[]
    )


def test_every_module_is_a_chunk_with_its_artifacts_and_visible_metadata(ddi_client, release):
    action = start_action(known_device("dev-1"), release)
    os_module, app = release.modules.order_by("pk")

    body = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk)).json()

    chunks = body["deployment"]["chunks"]
    assert [(c["part"], c["name"], c["version"]) for c in chunks] == [
        ("os", os_module.name, "2.0.0"),
        ("bApp", "dashboard", "5.1"),
    ]
    assert [a["filename"] for a in chunks[1]["artifacts"]] == ["app.tar", "app.sha256"]
    assert chunks[1]["metadata"] == [{"key": "install-path", "value": "/opt/dash"}]
    assert "metadata" not in chunks[0]
    href = abs_url("dev-1", "softwaremodules", app.pk, "artifacts", "app.tar")
    assert chunks[1]["artifacts"][0] == {
        "filename": "app.tar",
        "hashes": {
            "sha1": hashlib.sha1(b"app").hexdigest(),
            "md5": hashlib.md5(b"app").hexdigest(),
            "sha256": hashlib.sha256(b"app").hexdigest(),
        },
        "size": 3,
        "_links": {
            "download": {"href": href},
            "download-http": {"href": href},
            "md5sum": {"href": href + ".MD5SUM"},
            "md5sum-http": {"href": href + ".MD5SUM"},
        },
    }


def test_module_types_map_to_hawkbits_parts_and_encryption_is_flagged(ddi_client):
    SoftwareModuleType.objects.get_or_create(key="firmware", defaults={"name": "Firmware"})
    runtime = make_module(type_key="runtime", name="jre", files={"jre.bin": b"j"})
    firmware = make_module(type_key="firmware", name="modem", files={"m.bin": b"m"})
    firmware.encrypted = True
    firmware.save()
    release = services.release_create(name="parts", version="1", modules=[runtime, firmware])
    action = start_action(known_device("dev-1"), release)

    chunks = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk)).json()["deployment"]["chunks"]

    assert [(c["part"], c.get("encrypted")) for c in chunks] == [("jvm", None), ("firmware", True)]


def test_a_release_without_modules_offers_an_empty_chunk_list(ddi_client):
    release = services.release_create(name="empty", version="0", modules=[])
    action = start_action(known_device("dev-1"), release)

    body = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk)).json()

    assert body["deployment"]["chunks"] == []


def test_the_deployment_costs_the_same_queries_for_one_module_or_many(
    ddi_client, release, django_assert_max_num_queries
):
    action = start_action(known_device("dev-1"), release)
    url = ddi_url("dev-1", "deploymentBase", action.pk)
    ddi_client.get(url)  # the first retrieval also writes its RETRIEVED status

    with django_assert_max_num_queries(6):
        assert ddi_client.get(url).status_code == 200


def test_each_module_serves_its_own_artifacts_and_only_them(ddi_client, release):
    start_action(known_device("dev-1"), release)
    os_module, app = release.modules.order_by("pk")

    listing = ddi_client.get(ddi_url("dev-1", "softwaremodules", app.pk, "artifacts"))
    download = ddi_client.get(ddi_url("dev-1", "softwaremodules", app.pk, "artifacts", "app.tar"), **OCTETS)
    md5 = ddi_client.get(ddi_url("dev-1", "softwaremodules", app.pk, "artifacts", "app.tar.MD5SUM"), **OCTETS)
    crossed = ddi_client.get(
        ddi_url("dev-1", "softwaremodules", os_module.pk, "artifacts", "app.tar"), **OCTETS
    )

    assert [item["filename"] for item in listing.json()] == ["app.tar", "app.sha256"]
    assert (download.status_code, b"".join(download.streaming_content)) == (200, b"app")
    assert md5.content.decode() == f"{hashlib.md5(b'app').hexdigest()}  app.tar"
    assert crossed.status_code == 404


def test_a_module_of_another_devices_release_is_not_downloadable(ddi_client, release):
    start_action(known_device("dev-1"), make_software("9.0"))
    known_device("dev-2")
    start_action(known_device("dev-3"), release)
    app = release.modules.order_by("pk").last()

    response = ddi_client.get(ddi_url("dev-1", "softwaremodules", app.pk, "artifacts", "app.tar"), **OCTETS)

    assert response.status_code == 404


def test_a_remote_artifact_redirects(ddi_client, release):
    start_action(known_device("dev-1"), release)
    app = release.modules.order_by("pk").last()

    response = ddi_client.get(
        ddi_url("dev-1", "softwaremodules", app.pk, "artifacts", "app.sha256"), **OCTETS
    )

    assert (response.status_code, response["Location"]) == (302, "https://e.com/s")
