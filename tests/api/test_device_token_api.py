"""GET /api/v1/devices/{id}/token/: reading a device's token again, and tokens generated on create."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import Group, User

from devices.models import Device
from goosebit_project.lib import tokens
from tests.api.helpers import post, user_with
from tests.factories import make_device

pytestmark = pytest.mark.django_db

URL = "/api/v1/devices/"
TOKEN = "Zq8r3TtW2mYpL0aXc5VbN7dKf1HgJ4sE"


def _member(client, group: str):
    user = User.objects.create_user(f"{group.lower()}-user", password="pw")
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return client


def test_a_permitted_user_reads_the_token_and_it_is_never_cached(client):
    make_device("dev-1", token=TOKEN)
    _member(client, "Operators")

    response = client.get(f"{URL}dev-1/token/")

    assert response.status_code == 200
    assert response.json() == {"token": TOKEN}
    assert "no-store" in response["Cache-Control"]


def test_without_the_permission_it_is_403_even_for_a_user_who_sees_the_device(client):
    make_device("dev-1", token=TOKEN)
    _member(client, "Viewers")

    assert client.get(f"{URL}dev-1/").status_code == 200
    response = client.get(f"{URL}dev-1/token/")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "reading device tokens needs the permission devices.view_device_token"
    }
    assert TOKEN not in response.content.decode()


def test_the_token_permission_alone_is_not_enough_without_viewing_devices(client):
    make_device("dev-1", token=TOKEN)
    client.force_login(user_with("view_device_token"))

    assert client.get(f"{URL}dev-1/token/").status_code == 403


def test_a_legacy_token_is_not_readable_until_the_device_authenticates_or_it_is_rotated(api):
    device = make_device("dev-1")
    Device.objects.filter(pk=device.pk).update(token_hash=tokens.legacy_hash(TOKEN))

    response = api.get(f"{URL}dev-1/token/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The token is from before tokens were kept encrypted: not readable until the "
        "device authenticates or the token is rotated."
    }
    rotated = post(api, f"{URL}dev-1/rotate-token/").json()["token"]
    assert api.get(f"{URL}dev-1/token/").json() == {"token": rotated}


def test_a_token_encrypted_with_a_key_no_longer_listed_is_not_readable(api, settings):
    make_device("dev-1", token=TOKEN)
    # (Changing SECRET_KEY would do the same, but it also ends the test's session.)
    settings.GOOSEBIT_TOKEN_KEYS = [Fernet.generate_key().decode()]

    response = api.get(f"{URL}dev-1/token/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The token was encrypted with a key GOOSEBIT_TOKEN_KEYS no longer lists (or "
        "GOOSEBIT_SECRET_KEY changed): not readable until the device authenticates or the token is "
        "rotated."
    }


def test_a_device_without_a_token_answers_404(api):
    make_device("dev-1")

    response = api.get(f"{URL}dev-1/token/")

    assert response.status_code == 404
    assert response.json() == {"detail": "device dev-1 has no token"}


def test_the_device_detail_never_shows_token_material(api):
    device = make_device("dev-1", token=TOKEN)

    body = api.get(f"{URL}dev-1/").content.decode()

    assert TOKEN not in body and device.token_hash not in body and device.token_encrypted not in body


@pytest.fixture
def strict(settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_DEVICE_AUTH_MODE = "strict"
    return settings


def test_creating_a_device_under_strict_authentication_generates_a_token(api, strict):
    response = post(api, URL, {"controller_id": "dev-1"})

    assert response.status_code == 201
    token = response.json()["token"]
    assert len(token) == 32 and token.isalnum()
    assert response.json()["has_token"] is True
    assert "no-store" in response["Cache-Control"]
    assert api.get(f"{URL}dev-1/token/").json() == {"token": token}


def test_creating_a_device_can_refuse_the_generated_token(api, strict):
    response = post(api, URL, {"controller_id": "dev-1", "generate_token": False})

    assert response.status_code == 201
    assert (response.json()["token"], response.json()["has_token"]) == (None, False)


@pytest.mark.parametrize("mode", ["setup", "lax"])
def test_in_setup_and_lax_mode_no_token_is_generated(api, strict, mode):
    # There the device brings its own token (or none): a stored one would refuse it.
    strict.GOOSEBIT_DEVICE_AUTH_MODE = mode

    response = post(api, URL, {"controller_id": "dev-1"})

    assert (response.json()["token"], response.json()["has_token"]) == (None, False)


def test_a_given_token_is_stored_encrypted_and_readable(api, strict):
    response = post(api, URL, {"controller_id": "dev-1", "token": "my-own-token"})

    assert response.json()["token"] == "my-own-token"
    device = Device.objects.get()
    assert "my-own-token" not in device.token_encrypted + device.token_hash
    assert api.get(f"{URL}dev-1/token/").json() == {"token": "my-own-token"}
