"""Device tokens: generated with enough entropy, stored only as a hash, compared in constant time.

Tokens are checked on every DDI request, so the hash must be cheap: SHA-256 of a random
32-character token is as good as a slow password hash (there is nothing to brute-force), and it
keeps a poll at microseconds. Tokens a device chose itself (gooseBit's setup mode) are hashed the
same way; operators who want strong tokens rotate them from the admin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 32  # hawkBit generates 32 alphanumeric characters
MAX_TOKEN_LENGTH = 128  # hawkBit accepts operator-set tokens up to 128 characters


def generate_token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    if not token_hash:
        return False
    return hmac.compare_digest(hash_token(token), token_hash)
