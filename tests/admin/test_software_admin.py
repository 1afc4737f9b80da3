"""The software list as operators use it: by version, where each package is used, download."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action
from software.models import Software
from tests.factories import make_action, make_device, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db

URL = "/admin/software/software/"


def versions(response) -> list[str]:
    assert response.status_code == 200
    return [software.version for software in response.context["cl"].result_list]


def test_the_list_is_ordered_by_version_semantics_not_by_text_or_date(admin_client):
    for version in ["1.10.0", "1.9.0", "2.0.0-rc1", "2.0.0", "1.2"]:
        make_software(version)
    Software.objects.filter(version="1.10.0").update(created=timezone.now() - timedelta(days=9))

    assert versions(admin_client.get(URL)) == ["2.0.0", "2.0.0-rc1", "1.10.0", "1.9.0", "1.2"]


def test_a_column_header_still_sorts_by_that_column(admin_client):
    make_software("1.0", content=b"x" * 10)
    make_software("2.0", content=b"x" * 5)

    # The size column is the fifth in list_display.
    assert versions(admin_client.get(URL + "?o=5")) == ["2.0", "1.0"]


def test_the_list_shows_compatibility_size_and_a_download_link(admin_client):
    software = make_software("2.0.0", content=b"z" * 2048, compatibility=[make_hardware("rpi4", "1.2")])

    html = admin_client.get(URL).content.decode()

    assert "rpi4 1.2" in html and "2.0\xa0KB" in html
    assert f'<a href="/admin/software/software/{software.pk}/download/" download>Download</a>' in html


def test_where_used_counts_rollouts_installs_and_assignments_with_links(admin_client):
    software = make_software("2.0.0")
    make_software("3.0.0")
    make_rollout(software, name="Spring")
    installed = make_device("installed")
    action = make_action(installed, software, status=Action.Status.FINISHED)
    Device.objects.filter(pk=installed.pk).update(installed_action=action)
    make_device("assigned", update_mode="assigned", assigned_software=software)

    html = admin_client.get(URL).content.decode()

    assert f'<a href="/admin/rollouts/rollout/?software__id__exact={software.pk}">1 rollout</a>' in html
    assert f'<a href="/admin/devices/device/?installed_software={software.pk}">installed on 1</a>' in html
    assert (
        f'<a href="/admin/devices/device/?assigned_software__id__exact={software.pk}">assigned to 1</a>'
        in html
    )
    assert "unused" in html  # 3.0.0
    devices = admin_client.get(f"/admin/devices/device/?installed_software={software.pk}")
    assert [device.controller_id for device in devices.context["cl"].result_list] == ["installed"]


def test_the_lists_query_count_does_not_grow_with_its_rows(admin_client, django_assert_num_queries):
    board = make_hardware("rpi4", "1")

    def add(start: int, count: int) -> None:
        for index in range(start, start + count):
            software = make_software(f"1.{index}.0", compatibility=[board])
            make_rollout(software)

    add(0, 3)
    with CaptureQueriesContext(connection) as small:
        assert len(versions(admin_client.get(URL))) == 3
    add(3, 20)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(versions(admin_client.get(URL))) == 23


def test_downloading_a_stored_package_from_the_admin(admin_client):
    software = make_software("2.0.0", content=b"firmware bytes")

    response = admin_client.get(f"{URL}{software.pk}/download/")

    assert response.status_code == 200
    # Reading the stream to the end closes the file (the test client's WSGI emulation).
    assert b"".join(response.streaming_content) == b"firmware bytes"
    assert response["Content-Disposition"] == "attachment;filename=update-2.0.0.swu"


def test_a_viewer_may_download_but_a_user_without_permission_may_not(viewer_client, client):
    software = make_software("2.0.0")
    allowed = viewer_client.get(f"{URL}{software.pk}/download/")
    assert allowed.status_code == 200
    assert len(b"".join(allowed.streaming_content)) == software.package.size

    client.force_login(User.objects.create_user("nobody", password="x-secret-123", is_staff=True))
    assert client.get(f"{URL}{software.pk}/download/").status_code == 403


def test_remote_or_unknown_software_has_no_admin_download(admin_client):
    assert admin_client.get(f"{URL}999999/download/").status_code == 404


def test_deleting_software_in_use_is_refused_with_the_reason(admin_client):
    software = make_software("2.0.0")
    make_rollout(software, name="Spring")

    page = admin_client.get(f"{URL}{software.pk}/delete/")
    response = admin_client.post(f"{URL}{software.pk}/delete/", {"post": "yes"})

    assert page.status_code == response.status_code == 200
    assert "Spring" in page.content.decode()
    assert Software.objects.filter(pk=software.pk).exists()


def test_the_add_page_carries_the_upload_progress_script(admin_client):
    html = admin_client.get(URL + "add/").content.decode()

    assert 'src="/static/goosebit/upload.js"' in html
    assert '<div id="gb-upload" class="gb-upload" hidden>' in html
