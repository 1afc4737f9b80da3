"""The software admin: adding by upload or URL goes through the service, errors land on the form."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile

from software.models import Software
from tests.factories import make_action, make_device, make_module, make_software
from tests.packages import build_swu
from tests.software.http_server import PackageServer

pytestmark = pytest.mark.django_db

ADD = "/admin/software/software/add/"


@pytest.fixture(autouse=True)
def upload_tmp(settings, tmp_path):
    directory = tmp_path / "upload-tmp"
    directory.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(directory)
    return directory


def test_the_add_form_offers_a_file_a_url_modules_and_what_a_raw_file_needs(admin_client):
    response = admin_client.get(ADD)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == [
        "package",
        "remote_url",
        "cache",
        "compose",
        "release_name",
        "release_version",
        "module_type",
        "hardware",
    ]


def test_uploading_a_package_creates_the_software(admin_client, tmp_path):
    content = build_swu(tmp_path / "u.swu", version="3.1").read_bytes()

    response = admin_client.post(ADD, {"package": SimpleUploadedFile("fw.swu", content)})

    software = Software.objects.get()
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/software/software/"
    assert (software.version, software.package.filename, software.package.size) == (
        "3.1",
        "fw.swu",
        len(content),
    )


def test_a_parser_error_is_shown_on_the_form(admin_client, upload_tmp):
    response = admin_client.post(ADD, {"package": SimpleUploadedFile("fw.swu", b"garbage")})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "package": ["not a .swu or .raucb file (unknown file format)"]
    }
    assert Software.objects.count() == 0
    assert list(upload_tmp.iterdir()) == []


def test_a_duplicate_is_shown_on_the_form(admin_client, tmp_path):
    content = build_swu(tmp_path / "u.swu").read_bytes()
    existing = make_software("1.0.0", content=content, filename="first.swu")

    response = admin_client.post(ADD, {"package": SimpleUploadedFile("again.swu", content)})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "package": [f"this package is already stored as software {existing.pk} (first.swu, version 1.0.0)"]
    }


@pytest.mark.parametrize(
    "data",
    [{}, {"remote_url": "https://example.com/u.swu", "package": SimpleUploadedFile("u.swu", b"x")}],
)
def test_exactly_one_source_is_required(admin_client, data):
    response = admin_client.post(ADD, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Upload a file, give a package URL or pick modules (one of the three)."
    ]


def test_a_url_creates_remote_software_and_its_password_is_never_shown(admin_client, tmp_path):
    with PackageServer() as server:
        server.routes["/u.swu"] = (200, {}, build_swu(tmp_path / "u.swu").read_bytes())
        host = server.url.removeprefix("http://")

        response = admin_client.post(ADD, {"remote_url": f"http://ci:hunter2@{host}/u.swu"})

    software = Software.objects.get()
    assert response.status_code == 302
    assert software.package.url == f"http://ci:hunter2@{host}/u.swu"
    change = admin_client.get(f"/admin/software/software/{software.pk}/change/")
    listing = admin_client.get("/admin/software/software/")
    assert change.status_code == listing.status_code == 200
    for page in (change, listing):
        text = page.content.decode()
        assert "hunter2" not in text
        assert f"http://ci:***@{host}/u.swu" in text


def test_a_bad_url_is_shown_on_the_form(admin_client):
    response = admin_client.post(ADD, {"remote_url": "ftp://example.com/u.swu"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "remote_url": ["software URLs must start with http:// or https://"]
    }


def test_a_release_in_device_history_keeps_its_modules_but_can_be_renamed(admin_client):
    software = make_software("1.0")
    make_action(make_device(), software, status="finished")
    change = f"/admin/software/software/{software.pk}/change/"
    other = make_module(files={"extra.cfg": b"x"})

    renamed = admin_client.post(
        change,
        {
            "name": "Spring release",
            "description": "fixes",
            "modules": [software.package.module_id],
            "compatibility": [item.pk for item in software.compatibility.all()],
        },
    )
    refused = admin_client.post(
        change,
        {
            "name": "Spring release",
            "description": "fixes",
            "modules": [software.package.module_id, other.pk],
            "compatibility": [item.pk for item in software.compatibility.all()],
        },
    )

    assert renamed.status_code == 302
    software.refresh_from_db()
    assert (software.name, software.description) == ("Spring release", "fixes")
    assert refused.status_code == 200
    assert "its modules and hardware stay as they are" in str(refused.context["adminform"].form.errors)
    assert list(software.modules.values_list("pk", flat=True)) == [software.package.module_id]


def test_deleting_in_the_admin_removes_the_file_after_commit(
    admin_client, django_capture_on_commit_callbacks
):
    software = make_software("1.0")
    assert software.package is not None  # read before the release and its module are gone

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/software/software/{software.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert Software.objects.count() == 0
    assert software.package.file.name is not None
    assert not software.package.file.storage.exists(software.package.file.name)


def test_software_in_device_history_cannot_be_deleted_in_the_admin(admin_client):
    software = make_software("1.0")
    make_action(make_device(), software)

    response = admin_client.post(f"/admin/software/software/{software.pk}/delete/", {"post": "yes"})

    assert response.status_code == 200
    assert "protected" in response.content.decode().lower()
    assert Software.objects.count() == 1


def test_the_upload_bar_is_rendered_hidden_and_the_css_keeps_it_hidden(admin_client):
    html = admin_client.get(ADD).content.decode()

    assert '<div id="gb-upload" class="gb-upload" hidden>' in html
    # .gb-upload is display:flex, which beats the browser's own [hidden] rule without this one.
    found = finders.find("goosebit/admin.css")
    assert isinstance(found, str)
    css = Path(found).read_text(encoding="utf-8")
    assert '[hidden]:is([class^="gb-"], [class*=" gb-"]) { display: none !important; }' in css
