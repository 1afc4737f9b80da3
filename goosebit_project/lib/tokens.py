"""Device tokens: generated with enough entropy, kept encrypted and as a keyed hash.

A device's TargetToken is stored twice (devices.models.Device):

- ``token_hash``, ``hmac-sha256$<key id>$<hex>``: HMAC-SHA256 of the token under a hash key from
  GOOSEBIT_TOKEN_HASH_KEYS. Every DDI request checks it, so it is one HMAC and a constant-time
  compare, never a decryption. A slow password hash would buy nothing: generated tokens have 190
  bits of entropy, and the key keeps a copy of the database alone from testing guesses of weak
  device-chosen tokens (setup mode).
- ``token_encrypted``, ``<key id>$<Fernet token>``: the token encrypted with the first key of
  GOOSEBIT_TOKEN_KEYS, so operators with ``devices.view_device_token`` can read it again
  (hawkBit's READ_TARGET_SECURITY_TOKEN). All listed keys decrypt (MultiFernet).

The key ids (a short fingerprint of the key, never the key) let a poll tell without decrypting
whether a row is current; when it is not, the device's next successful authentication rewrites
both columns with the first keys (devices.services.device_refresh_token).

The rule that keeps devices from being locked out: **the hash never depends on SECRET_KEY**. With
GOOSEBIT_TOKEN_HASH_KEYS empty it uses a built-in key (no better, no worse than the unsalted
SHA-256 this replaces); the encryption keys default to one derived from SECRET_KEY. So changing
SECRET_KEY alone makes stored tokens unreadable until each device authenticates again (which
re-encrypts its token) or its token is rotated, but no device stops authenticating. Dropping a
hash key that rows still use does lock those devices out; that is logged as an error naming the
key id.

Rows from before this scheme hold an unsalted SHA-256 (64 hex digits) and no encrypted token;
they still authenticate and are upgraded on the device's next successful authentication.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import secrets
import string
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 32  # hawkBit generates 32 alphanumeric characters
MAX_TOKEN_LENGTH = 128  # hawkBit accepts operator-set tokens up to 128 characters

HASH_SCHEME = "hmac-sha256"
# The hash key while GOOSEBIT_TOKEN_HASH_KEYS is empty: public, so only as good as a plain hash,
# but it never changes behind the operator's back.
BUILTIN_HASH_KEY = "goosebit-device-token-hash-v1"
_ENCRYPTION_INFO = b"goosebit device token encryption"

logger = logging.getLogger(__name__)


def generate_token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))


def key_id(key: str) -> str:
    """A short public fingerprint of a key: tells which key made a stored value."""
    return hashlib.sha256(b"goosebit key id:" + key.encode()).hexdigest()[:8]


def derive_encryption_key(secret: str) -> str:
    """The Fernet key used while GOOSEBIT_TOKEN_KEYS is empty (HKDF-SHA256 of the secret)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_ENCRYPTION_INFO).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(derived).decode()


@dataclass(frozen=True)
class _Keys:
    hash_keys: dict[str, bytes]  # key id -> key; the first one hashes
    hash_id: str
    hash_prefix: str  # what a current token_hash starts with
    encryption_ids: frozenset[str]
    encryption_id: str  # of the key that encrypts
    encryption_prefix: str  # what a current token_encrypted starts with
    primary: Fernet
    fernet: MultiFernet


@functools.lru_cache(maxsize=8)
def _build_keys(
    encryption_keys: tuple[str, ...], hash_keys: tuple[str, ...], secret: str, fallbacks: tuple[str, ...]
) -> _Keys:
    if not encryption_keys:
        encryption_keys = tuple(derive_encryption_key(value) for value in (secret, *fallbacks))
    if not hash_keys:
        hash_keys = (BUILTIN_HASH_KEY,)
    fernets = [Fernet(key) for key in encryption_keys]
    return _Keys(
        hash_keys={key_id(key): key.encode() for key in reversed(hash_keys)},
        hash_id=key_id(hash_keys[0]),
        hash_prefix=f"{HASH_SCHEME}${key_id(hash_keys[0])}$",
        encryption_ids=frozenset(key_id(key) for key in encryption_keys),
        encryption_id=key_id(encryption_keys[0]),
        encryption_prefix=f"{key_id(encryption_keys[0])}$",
        primary=fernets[0],
        fernet=MultiFernet(fernets),
    )


def _keys() -> _Keys:
    # Read on every call (cached per value), so tests' settings overrides apply.
    return _build_keys(
        tuple(settings.GOOSEBIT_TOKEN_KEYS),
        tuple(settings.GOOSEBIT_TOKEN_HASH_KEYS),
        settings.SECRET_KEY,
        tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())),
    )


def legacy_hash(token: str) -> str:
    """The unsalted SHA-256 that rows from before the keyed hash hold."""
    return hashlib.sha256(token.encode()).hexdigest()


def _hmac(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def hash_token(token: str) -> str:
    keys = _keys()
    return f"{HASH_SCHEME}${keys.hash_id}${_hmac(keys.hash_keys[keys.hash_id], token)}"


def encrypt_token(token: str) -> str:
    keys = _keys()
    return f"{keys.encryption_id}${keys.primary.encrypt(token.encode()).decode()}"


def token_matches(token: str, token_hash: str) -> bool:
    """Whether ``token`` is the one ``token_hash`` was made from (constant time, no decryption)."""
    if not token_hash:
        return False
    scheme, _, rest = token_hash.partition("$")
    if scheme != HASH_SCHEME:
        return hmac.compare_digest(legacy_hash(token).encode(), token_hash.encode())
    hash_id, _, digest = rest.partition("$")
    key = _keys().hash_keys.get(hash_id)
    if key is None:
        logger.error(
            "A device token hash was made with hash key %s, which GOOSEBIT_TOKEN_HASH_KEYS no "
            "longer lists: that device cannot authenticate until the key is listed again or its "
            "token is rotated.",
            hash_id,
        )
        return False
    return hmac.compare_digest(_hmac(key, token).encode(), digest.encode())


def is_current(token_hash: str, token_encrypted: str) -> bool:
    """Whether a stored token uses the first hash key and the first encryption key (cheap)."""
    keys = _keys()
    return token_hash.startswith(keys.hash_prefix) and token_encrypted.startswith(keys.encryption_prefix)


class TokenState:
    NONE = "none"
    READABLE = "readable"
    # An unsalted hash from before encryption: nothing to decrypt yet.
    LEGACY = "legacy"
    # Encrypted with a key GOOSEBIT_TOKEN_KEYS does not list (e.g. SECRET_KEY changed).
    UNREADABLE = "unreadable"


def token_state(token_hash: str, token_encrypted: str) -> str:
    if not token_hash:
        return TokenState.NONE
    if not token_encrypted:
        return TokenState.LEGACY
    encryption_id, _, _ = token_encrypted.partition("$")
    if encryption_id not in _keys().encryption_ids:
        return TokenState.UNREADABLE
    return TokenState.READABLE


def decrypt_token(token_encrypted: str) -> str | None:
    """The token, or None when no configured key decrypts it."""
    _, _, ciphertext = token_encrypted.partition("$")
    try:
        return _keys().fernet.decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        return None


def reencrypt_token(token_encrypted: str) -> str | None:
    """The same token encrypted with the first key (MultiFernet.rotate), or None if unreadable."""
    keys = _keys()
    _, _, ciphertext = token_encrypted.partition("$")
    try:
        rotated = keys.fernet.rotate(ciphertext.encode()).decode()
    except InvalidToken:
        return None
    return f"{keys.encryption_id}${rotated}"
