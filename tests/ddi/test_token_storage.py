"""Device tokens at rest on the DDI side: keyed hash checked per request, legacy hashes upgraded.

The poll path never decrypts: the upgrade of a legacy row happens once, on the device's first
successful authentication after the change, in one UPDATE; later polls are one query again.
"""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.models import Device
from goosebit_project.lib import tokens
from rollouts.models import Action
from tests.ddi.helpers import ddi_url, known_device, poll
from tests.factories import make_action, make_rollout, make_software

pytestmark = pytest.mark.django_db

TOKEN = "Zq8r3TtW2mYpL0aXc5VbN7dKf1HgJ4sE"


def target(token: str = TOKEN) -> dict:
    return {"HTTP_AUTHORIZATION": f"TargetToken {token}", "HTTP_ACCEPT": "application/json"}


@pytest.fixture
def strict(settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_DEVICE_AUTH_MODE = "strict"
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 300  # steady polls write nothing
    return settings


def _steady_device(**fields) -> Device:
    """A device that runs its rollout's software: a poll has nothing to do but authenticate."""
    software = make_software("1.0.0")
    make_rollout(software)
    device = known_device("steady", sw_version="1.0.0", state=Device.State.FINISHED, **fields)
    device.installed_action = make_action(
        device, software, status=Action.Status.FINISHED, reason=Action.Reason.ROLLOUT
    )
    device.save()
    return device


def _make_legacy(device: Device, token: str = TOKEN) -> None:
    """The row as it was before encryption: an unsalted SHA-256 and nothing to decrypt."""
    Device.objects.filter(pk=device.pk).update(token_hash=tokens.legacy_hash(token), token_encrypted="")


def test_a_legacy_hash_authenticates_and_is_upgraded_in_one_update_then_polls_are_one_query(
    ddi_client, strict, django_assert_num_queries
):
    device = _steady_device(token=TOKEN)
    poll(ddi_client, "steady", **target())  # records last_seen and warms the target cache
    _make_legacy(device)

    with CaptureQueriesContext(connection) as upgrade:
        poll(ddi_client, "steady", **target())

    writes = [
        q["sql"] for q in upgrade.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert len(upgrade.captured_queries) == 2 and len(writes) == 1
    assert "token_encrypted" in writes[0] and TOKEN not in writes[0]
    device.refresh_from_db()
    assert device.token_hash == tokens.hash_token(TOKEN)
    assert tokens.decrypt_token(device.token_encrypted) == TOKEN
    assert device.token_state == tokens.TokenState.READABLE

    with django_assert_num_queries(1):
        poll(ddi_client, "steady", **target())


def test_a_current_token_costs_a_steady_poll_one_query(ddi_client, strict, django_assert_num_queries):
    _steady_device(token=TOKEN)
    poll(ddi_client, "steady", **target())

    with django_assert_num_queries(1):
        poll(ddi_client, "steady", **target())


def test_a_wrong_token_against_a_legacy_hash_is_refused_and_changes_nothing(ddi_client, strict):
    device = _steady_device(token=TOKEN)
    _make_legacy(device)

    response = ddi_client.get(ddi_url("steady"), **target("wrong-token"))

    assert response.status_code == 401
    assert response.content == b""
    device.refresh_from_db()
    assert (device.token_hash, device.token_encrypted) == (tokens.legacy_hash(TOKEN), "")


def test_a_wrong_token_against_a_keyed_hash_is_refused(ddi_client, strict):
    _steady_device(token=TOKEN)

    assert ddi_client.get(ddi_url("steady"), **target(TOKEN[:-1] + "x")).status_code == 401


def test_a_legacy_hash_is_upgraded_in_lax_and_setup_mode_too(ddi_client, strict):
    for mode in ("lax", "setup"):
        strict.GOOSEBIT_DEVICE_AUTH_MODE = mode
        device = known_device(f"dev-{mode}", token=TOKEN)
        _make_legacy(device)

        poll(ddi_client, f"dev-{mode}", **target())

        device.refresh_from_db()
        assert tokens.decrypt_token(device.token_encrypted) == TOKEN, mode
        assert device.token_hash == tokens.hash_token(TOKEN), mode


def test_an_operator_rotation_racing_the_upgrade_wins(strict):
    from devices import services

    device = known_device("dev-1", token=TOKEN)
    _make_legacy(device)
    device.refresh_from_db()
    stale = Device.objects.get(pk=device.pk)  # the poll read the legacy row ...
    new_token = services.device_rotate_token(device=device)  # ... then the operator rotated

    services.device_refresh_token(device=stale, token=TOKEN)

    device.refresh_from_db()
    assert tokens.decrypt_token(device.token_encrypted) == new_token
    assert not tokens.token_matches(TOKEN, device.token_hash)


def test_a_new_hash_key_keeps_devices_in_and_moves_them_over_on_their_next_poll(ddi_client, strict):
    strict.GOOSEBIT_TOKEN_HASH_KEYS = ["first-hash-key-0123456789"]
    device = known_device("dev-1", token=TOKEN)
    strict.GOOSEBIT_TOKEN_HASH_KEYS = ["second-hash-key-0123456789", "first-hash-key-0123456789"]

    poll(ddi_client, "dev-1", **target())

    device.refresh_from_db()
    assert device.token_hash.startswith(f"hmac-sha256${tokens.key_id('second-hash-key-0123456789')}$")
    strict.GOOSEBIT_TOKEN_HASH_KEYS = ["second-hash-key-0123456789"]
    poll(ddi_client, "dev-1", **target())


def test_changing_the_secret_key_keeps_devices_in_and_their_next_poll_makes_the_token_readable(
    ddi_client, strict
):
    strict.GOOSEBIT_TOKEN_KEYS = []
    device = known_device("dev-1", token=TOKEN)
    strict.SECRET_KEY = "a-brand-new-secret-key-for-django"
    device.refresh_from_db()
    assert device.token_state == tokens.TokenState.UNREADABLE

    poll(ddi_client, "dev-1", **target())

    device.refresh_from_db()
    assert device.token_state == tokens.TokenState.READABLE
    assert tokens.decrypt_token(device.token_encrypted) == TOKEN


def test_a_new_encryption_key_re_encrypts_on_the_next_poll(ddi_client, strict):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    strict.GOOSEBIT_TOKEN_KEYS = [old]
    device = known_device("dev-1", token=TOKEN)
    strict.GOOSEBIT_TOKEN_KEYS = [new, old]

    poll(ddi_client, "dev-1", **target())

    device.refresh_from_db()
    assert device.token_encrypted.startswith(tokens.key_id(new) + "$")


def test_setup_mode_stores_the_first_token_hashed_and_encrypted(ddi_client, strict):
    strict.GOOSEBIT_DEVICE_AUTH_MODE = "setup"

    poll(ddi_client, "brand-new", **target())

    device = Device.objects.get(controller_id="brand-new")
    assert device.token_hash == tokens.hash_token(TOKEN)
    assert tokens.decrypt_token(device.token_encrypted) == TOKEN


def test_no_token_reaches_the_logs(ddi_client, strict, caplog):
    device = known_device("dev-1", token=TOKEN)
    _make_legacy(device)

    with caplog.at_level(logging.DEBUG):
        poll(ddi_client, "dev-1", **target())  # the upgrade
        ddi_client.get(ddi_url("dev-1"), **target("Wr0ngT0kenWr0ngT0kenWr0ngT0ken00"))
        strict.GOOSEBIT_DEVICE_AUTH_MODE = "setup"
        poll(ddi_client, "brand-new", **target("S3tupT0kenS3tupT0kenS3tupT0ken00"))

    assert caplog.records  # the requests were logged, the tokens were not
    for secret in (TOKEN, "Wr0ngT0kenWr0ngT0kenWr0ngT0ken00", "S3tupT0kenS3tupT0kenS3tupT0ken00"):
        assert secret not in caplog.text
