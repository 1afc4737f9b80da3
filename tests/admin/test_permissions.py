"""Users and groups: the groups the data migration creates, and what each may see and do."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from tests.factories import make_device

pytestmark = pytest.mark.django_db

FLEET_MODELS = [
    "device",
    "hardware",
    "software",
    "rollout",
    "action",
    "actionstatus",
    "devicefilter",
    "devicetag",
    "releasetag",
]


def codenames(group: str) -> set[str]:
    return set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))


def test_operators_may_add_change_delete_and_view_the_fleet_read_tokens_and_view_tenant_settings():
    assert codenames("Operators") == {
        f"{verb}_{model}" for verb in ["add", "change", "delete", "view"] for model in FLEET_MODELS
    } | {"view_device_token", "view_tenantconfiguration"}


def test_viewers_may_only_view_the_fleet_and_the_tenant_settings():
    assert codenames("Viewers") == {f"view_{model}" for model in FLEET_MODELS} | {"view_tenantconfiguration"}


def test_the_navigation_shows_only_what_the_user_may_open(viewer_client, operator_client, admin_client):
    def links(client) -> str:
        html = client.get("/admin/").content.decode()
        return html[html.index('<nav class="gb-nav"') : html.index("</nav>")]

    viewer_nav = links(viewer_client)
    for label in ["Dashboard", "Devices", "Software", "Rollouts", "Update history", "Hardware"]:
        assert f">{label}</a>" in viewer_nav
    assert ">Users</a>" not in viewer_nav and ">Groups</a>" not in viewer_nav
    assert ">Users</a>" in links(admin_client)


def test_the_current_page_is_marked_in_the_navigation(admin_client):
    html = admin_client.get("/admin/devices/device/").content.decode()

    assert '<a href="/admin/devices/device/" class="current" aria-current="page">Devices</a>' in html


def test_a_viewer_cannot_add_a_device(viewer_client):
    response = viewer_client.post(
        "/admin/devices/device/add/", {"controller_id": "x", "update_mode": "latest"}
    )

    assert response.status_code == 403


def test_a_viewer_cannot_delete_a_device(viewer_client):
    device = make_device("d1")

    response = viewer_client.post(f"/admin/devices/device/{device.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    device.refresh_from_db()


def test_an_operator_changes_a_device(operator_client):
    device = make_device("d1")

    response = operator_client.post(
        f"/admin/devices/device/{device.pk}/change/",
        {"name": "Renamed", "update_mode": "latest", "feed": "default", "new_token": ""},
    )

    assert response.status_code == 302
    device.refresh_from_db()
    assert device.name == "Renamed"


def test_anonymous_users_are_sent_to_the_login_page(client):
    device = make_device("d1")

    for url in ["/admin/", "/admin/devices/device/", f"/admin/devices/device/{device.pk}/log/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


# transaction=True: migrating inside the usual test transaction is not possible on SQLite.
@pytest.mark.django_db(transaction=True)
def test_the_groups_migration_runs_backwards_and_forwards():

    call_command("migrate", "devices", "0003", verbosity=0)
    assert not Group.objects.filter(name__in=["Operators", "Viewers"]).exists()
    call_command("migrate", verbosity=0)  # every app: rollouts' filter grants depend on the groups
    assert codenames("Viewers") == {f"view_{model}" for model in FLEET_MODELS} | {"view_tenantconfiguration"}
    assert "view_device_token" in codenames("Operators")
    assert User.objects.count() == 0
