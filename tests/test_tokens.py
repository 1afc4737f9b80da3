"""goosebit_project.lib.tokens: encryption at rest, the keyed hash, key rotation, legacy hashes."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from goosebit_project.lib import tokens

TOKEN = "Zq8r3TtW2mYpL0aXc5VbN7dKf1HgJ4sE"


@pytest.fixture
def keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.GOOSEBIT_TOKEN_KEYS = [old]
    settings.GOOSEBIT_TOKEN_HASH_KEYS = ["hash-key-one-0123456789"]
    return old, new


def test_generated_tokens_are_32_alphanumerics_and_differ():
    token = tokens.generate_token()

    assert len(token) == 32 and token.isalnum() and token.isascii()
    assert token != tokens.generate_token()


def test_encryption_round_trips_and_hides_the_token(keys):
    stored = tokens.encrypt_token(TOKEN)

    assert TOKEN not in stored
    assert stored.startswith(tokens.key_id(keys[0]) + "$")
    assert tokens.decrypt_token(stored) == TOKEN
    assert tokens.token_state("h", stored) == tokens.TokenState.READABLE


def test_an_old_key_still_decrypts_after_a_new_one_goes_first_and_reencrypting_moves_it(keys, settings):
    old, new = keys
    stored = tokens.encrypt_token(TOKEN)
    settings.GOOSEBIT_TOKEN_KEYS = [new, old]

    assert tokens.decrypt_token(stored) == TOKEN
    assert not tokens.is_current(tokens.hash_token(TOKEN), stored)

    rotated = tokens.reencrypt_token(stored)
    assert rotated is not None and rotated.startswith(tokens.key_id(new) + "$")
    assert tokens.is_current(tokens.hash_token(TOKEN), rotated)
    settings.GOOSEBIT_TOKEN_KEYS = [new]  # the old key can go now
    assert tokens.decrypt_token(rotated) == TOKEN
    assert tokens.decrypt_token(stored) is None
    assert tokens.token_state("h", stored) == tokens.TokenState.UNREADABLE


def test_the_default_encryption_key_comes_from_the_secret_key(settings):
    settings.GOOSEBIT_TOKEN_KEYS = []
    stored = tokens.encrypt_token(TOKEN)
    assert stored.startswith(tokens.key_id(tokens.derive_encryption_key(settings.SECRET_KEY)) + "$")

    settings.SECRET_KEY = "another-secret-key-entirely"
    assert tokens.decrypt_token(stored) is None
    settings.SECRET_KEY_FALLBACKS = ["insecure-test-only-key"]
    assert tokens.decrypt_token(stored) == TOKEN


def test_the_keyed_hash_verifies_in_constant_time_and_names_its_key(keys):
    token_hash = tokens.hash_token(TOKEN)

    assert token_hash.startswith(f"hmac-sha256${tokens.key_id('hash-key-one-0123456789')}$")
    assert TOKEN not in token_hash
    assert tokens.token_matches(TOKEN, token_hash)
    assert not tokens.token_matches(TOKEN + "x", token_hash)
    assert not tokens.token_matches(TOKEN, "")
    # Not a plain SHA-256: a copy of the database does not let anyone test guesses without the key.
    assert token_hash.rpartition("$")[2] != tokens.legacy_hash(TOKEN)


def test_the_hash_does_not_depend_on_the_secret_key(settings):
    settings.GOOSEBIT_TOKEN_HASH_KEYS = []
    token_hash = tokens.hash_token(TOKEN)

    settings.SECRET_KEY = "another-secret-key-entirely"

    assert tokens.token_matches(TOKEN, token_hash)


def test_an_older_hash_key_still_verifies_but_is_not_current(keys, settings):
    token_hash = tokens.hash_token(TOKEN)
    encrypted = tokens.encrypt_token(TOKEN)
    settings.GOOSEBIT_TOKEN_HASH_KEYS = ["hash-key-two-0123456789", "hash-key-one-0123456789"]

    assert tokens.token_matches(TOKEN, token_hash)
    assert not tokens.is_current(token_hash, encrypted)
    assert tokens.is_current(tokens.hash_token(TOKEN), encrypted)


def test_a_hash_made_with_a_dropped_key_fails_loudly_without_the_token(keys, settings, caplog):
    token_hash = tokens.hash_token(TOKEN)
    settings.GOOSEBIT_TOKEN_HASH_KEYS = ["hash-key-two-0123456789"]

    with caplog.at_level(logging.ERROR):
        assert not tokens.token_matches(TOKEN, token_hash)

    assert "GOOSEBIT_TOKEN_HASH_KEYS no longer lists" in caplog.text
    assert tokens.key_id("hash-key-one-0123456789") in caplog.text
    assert TOKEN not in caplog.text


def test_legacy_unsalted_hashes_still_verify_and_are_not_current(keys):
    legacy = tokens.legacy_hash(TOKEN)

    assert tokens.token_matches(TOKEN, legacy)
    assert not tokens.token_matches("other", legacy)
    assert not tokens.is_current(legacy, "")
    assert tokens.token_state(legacy, "") == tokens.TokenState.LEGACY
    assert tokens.token_state("", "") == tokens.TokenState.NONE
