"""The device page's "Show token": only with devices.view_device_token, POST with CSRF, never cached."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.test import Client

from devices.models import Device
from goosebit_project.lib import tokens
from tests.factories import make_device

pytestmark = pytest.mark.django_db

TOKEN = "Zq8r3TtW2mYpL0aXc5VbN7dKf1HgJ4sE"


def page_url(device: Device, suffix: str = "change/") -> str:
    return f"/admin/devices/device/{device.pk}/{suffix}"


def test_the_control_shows_only_for_users_allowed_to_read_tokens(operator_client, viewer, db):
    device = make_device("d1", token=TOKEN)
    tokenless = make_device("d2")

    html = operator_client.get(page_url(device)).content.decode()
    assert f'href="{page_url(device, "token/")}">Show token…</a>' in html
    assert TOKEN not in html
    assert "Show token…" not in operator_client.get(page_url(tokenless)).content.decode()

    viewer_client = Client()
    viewer_client.force_login(viewer)
    page = viewer_client.get(page_url(device))
    assert page.status_code == 200
    assert "Show token…" not in page.content.decode()


def test_get_asks_first_and_post_with_csrf_shows_the_token_uncached(operator):
    device = make_device("d1", token=TOKEN)
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)

    confirm = client.get(page_url(device, "token/"))
    assert confirm.status_code == 200
    assert TOKEN not in confirm.content.decode()
    assert "Show the token" in confirm.content.decode()

    assert client.post(page_url(device, "token/")).status_code == 403  # no CSRF token

    response = client.post(
        page_url(device, "token/"), {"csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    )
    assert response.status_code == 200
    assert f'<code id="gb-device-token">{TOKEN}</code>' in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_users_without_the_permission_get_403(viewer_client):
    device = make_device("d1", token=TOKEN)

    for response in (
        viewer_client.get(page_url(device, "token/")),
        viewer_client.post(page_url(device, "token/")),
    ):
        assert response.status_code == 403
        assert TOKEN not in response.content.decode()


def test_a_legacy_token_says_when_it_becomes_readable(admin_client):
    device = make_device("d1")
    Device.objects.filter(pk=device.pk).update(token_hash=tokens.legacy_hash(TOKEN))
    reason = (
        "The token is from before tokens were kept encrypted: not readable until the device "
        "authenticates or the token is rotated."
    )

    assert reason in admin_client.get(page_url(device)).content.decode()
    response = admin_client.post(page_url(device, "token/"))
    assert response.status_code == 200
    assert f'<p class="gb-warning" id="gb-token-error">{reason}</p>' in response.content.decode()


def test_reading_is_in_the_history_and_no_history_entry_holds_a_token(admin_client):
    admin_client.post(
        "/admin/devices/device/add/",
        {"controller_id": "d1", "update_mode": "rollout", "feed": "default", "new_token": "first-token-123"},
    )
    device = Device.objects.get()
    admin_client.post(
        page_url(device),
        {
            "name": "",
            "update_mode": "rollout",
            "feed": "default",
            "assigned_software": "",
            "new_token": TOKEN,
        },
    )
    rotated = admin_client.post(page_url(device, "rotate-token/")).context["pairs"][0][1]
    shown = admin_client.post(page_url(device, "token/"))
    assert rotated in shown.content.decode()

    messages = list(
        LogEntry.objects.filter(object_id=str(device.pk)).values_list("change_message", flat=True)
    )
    assert "Viewed the device token." in messages
    everything = " ".join(messages)
    for secret in ("first-token-123", TOKEN, rotated):
        assert secret not in everything


def test_adding_a_device_under_strict_authentication_generates_a_token(admin_client, settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_DEVICE_AUTH_MODE = "strict"

    response = admin_client.post(
        "/admin/devices/device/add/", {"controller_id": "d1", "update_mode": "rollout", "feed": "default"}
    )

    assert response.status_code == 302
    device = Device.objects.get()
    token = tokens.decrypt_token(device.token_encrypted)
    assert token is not None and len(token) == 32 and tokens.token_matches(token, device.token_hash)
    notes = [str(message) for message in get_messages(response.wsgi_request)]
    assert "A token was generated for the device: use “Show token” on its page to read it." in notes
    assert token not in " ".join(notes)
    assert token not in " ".join(LogEntry.objects.values_list("change_message", flat=True))


def test_adding_a_device_with_authentication_off_stores_no_token(admin_client):
    admin_client.post(
        "/admin/devices/device/add/", {"controller_id": "d1", "update_mode": "rollout", "feed": "default"}
    )

    assert Device.objects.get().has_token is False


def test_error_reports_of_the_device_form_hide_the_token(admin_client):
    device = make_device("d1")

    response = admin_client.post(
        page_url(device),
        {
            "name": "",
            "update_mode": "rollout",
            "feed": "default",
            "assigned_software": "",
            "new_token": TOKEN,
        },
    )

    assert response.status_code == 302
    assert response.wsgi_request.sensitive_post_parameters == ("new_token",)
