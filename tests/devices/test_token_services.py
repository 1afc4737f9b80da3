"""Token services: storing, clearing, re-encrypting with a new key, and reading back."""

from __future__ import annotations

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from devices import selectors, services
from devices.models import Device
from goosebit_project.lib import tokens
from goosebit_project.lib.errors import Conflict, InvalidInput, NotFound
from tests.factories import make_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_key(settings):
    key = Fernet.generate_key().decode()
    settings.GOOSEBIT_TOKEN_KEYS = [key]
    return key


def test_setting_a_token_stores_it_hashed_and_encrypted_and_clearing_removes_both():
    device = make_device("d1")

    services.device_set_token(device=device, token=" s3cret-token ")
    device.refresh_from_db()
    assert tokens.token_matches("s3cret-token", device.token_hash)
    assert selectors.device_token(device=device) == "s3cret-token"

    services.device_clear_token(device=device)
    device.refresh_from_db()
    assert (device.token_hash, device.token_encrypted) == ("", "")
    with pytest.raises(NotFound, match="device d1 has no token"):
        selectors.device_token(device=device)


def test_rotating_many_tokens_keeps_each_readable():
    make_device("a", token="old-a")
    make_device("b")

    pairs = services.devices_rotate_tokens(devices=Device.objects.all())

    for device, token in pairs:
        device.refresh_from_db()
        assert selectors.device_token(device=device) == token


def test_reencrypting_moves_every_readable_token_to_the_first_key(settings, old_key):
    make_device("a", token="token-a")
    make_device("b", token="token-b")
    legacy = make_device("c")
    Device.objects.filter(pk=legacy.pk).update(token_hash=tokens.legacy_hash("token-c"))
    make_device("d")
    new_key = Fernet.generate_key().decode()
    settings.GOOSEBIT_TOKEN_KEYS = [new_key, old_key]

    out = io.StringIO()
    call_command("reencrypt_tokens", "--json", stdout=out)

    assert json.loads(out.getvalue()) == {"reencrypted": 2, "current": 0, "unreadable": 0, "legacy": 1}
    settings.GOOSEBIT_TOKEN_KEYS = [new_key]  # the old key can go
    for controller_id, token in [("a", "token-a"), ("b", "token-b")]:
        device = Device.objects.get(controller_id=controller_id)
        assert device.token_encrypted.startswith(tokens.key_id(new_key) + "$")
        assert selectors.device_token(device=device) == token
    assert services.devices_reencrypt_tokens() == {
        "reencrypted": 0,
        "current": 2,
        "unreadable": 0,
        "legacy": 1,
    }


def test_reencrypting_counts_tokens_no_key_decrypts(settings, old_key):
    device = make_device("a", token="token-a")
    settings.GOOSEBIT_TOKEN_KEYS = [Fernet.generate_key().decode()]

    assert services.devices_reencrypt_tokens()["unreadable"] == 1
    with pytest.raises(Conflict, match="no longer lists"):
        selectors.device_token(device=Device.objects.get(pk=device.pk))


def test_creating_a_device_can_generate_or_refuse_a_token():
    generated = services.device_create(controller_id="g", generate=True)
    plain = services.device_create(controller_id="p")

    assert len(selectors.device_token(device=generated)) == 32
    assert plain.has_token is False
    with pytest.raises(InvalidInput, match="give a token or generate one, not both"):
        services.device_create(controller_id="x", token="abc", generate=True)
