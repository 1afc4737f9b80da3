"""Parsing of GOOSEBIT_* settings.

Every parser raises ``ImproperlyConfigured`` with a message that names the variable and the
value it got, so a typo stops start-up with a sentence an operator can act on instead of a
traceback deep inside Django.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_POLL_TIME = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)$")


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def parse_int(name: str, raw: str, *, minimum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_optional_int(
    name: str, raw: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """A whole number, or None when empty (or "none"/"off"): the rule it sets is disabled."""
    if raw.strip().lower() in ("", "none", "off"):
        return None
    value = parse_int(name, raw, minimum=minimum)
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}")
    return value


def parse_poll_time(name: str, raw: str) -> str:
    """hawkBit's ``config.polling.sleep`` is HH:MM:SS and at most 23:59:59 (ddi.md §1.2)."""
    value = raw.strip()
    match = _POLL_TIME.match(value)
    if not match or int(match.group(1)) > 23:
        raise ImproperlyConfigured(f"{name} must be a time of the form HH:MM:SS, got {raw!r}")
    if value == "00:00:00":
        raise ImproperlyConfigured(f"{name} must be longer than 00:00:00")
    return value


def parse_optional_duration(name: str, raw: str) -> str:
    """An HH:MM:SS duration up to 23:59:59, 00:00:00 allowed; empty stays empty (no value)."""
    value = raw.strip()
    if not value:
        return ""
    match = _POLL_TIME.match(value)
    if not match or int(match.group(1)) > 23:
        raise ImproperlyConfigured(f"{name} must be a time of the form HH:MM:SS, got {raw!r}")
    return value


def format_duration(seconds: int) -> str:
    """Seconds as HH:MM:SS (hawkBit's duration format), capped at 23:59:59."""
    seconds = max(0, min(seconds, 23 * 3600 + 59 * 60 + 59))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def poll_seconds(poll_time: str) -> int:
    hours, minutes, seconds = (int(part) for part in poll_time.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def parse_list(name: str, raw: str) -> list[str]:
    """A JSON list (gooseBit's format) or a comma-separated list."""
    value = raw.strip()
    if value.startswith("["):
        try:
            items = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ImproperlyConfigured(f"{name} is not a valid JSON list: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ImproperlyConfigured(f"{name} must be a list of strings, got {raw!r}")
    else:
        items = value.split(",")
    return [item.strip() for item in items if item.strip()]


def parse_fernet_keys(name: str, raw: str) -> list[str]:
    """Comma-separated Fernet keys (32 url-safe base64 bytes each); errors never echo a key."""
    from cryptography.fernet import Fernet

    keys = [item.strip() for item in raw.split(",") if item.strip()]
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: key {number} is not a Fernet key (32 url-safe base64-encoded bytes); make "
                "one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from None
    return keys


def parse_secret_list(name: str, raw: str, *, min_length: int) -> list[str]:
    """Comma-separated secrets of at least ``min_length`` characters; errors never echo one."""
    keys = [item.strip() for item in raw.split(",") if item.strip()]
    for number, key in enumerate(keys, start=1):
        if len(key) < min_length:
            raise ImproperlyConfigured(f"{name}: key {number} is shorter than {min_length} characters")
    return keys


def parse_tenants(name: str, raw: str) -> list[str]:
    tenants = parse_list(name, raw)
    if not tenants:
        raise ImproperlyConfigured(f"{name} must name at least one tenant")
    for tenant in tenants:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", tenant):
            raise ImproperlyConfigured(
                f"{name} has an invalid tenant name {tenant!r}: use letters, digits, '.', '_', '-'"
            )
    return tenants


def parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def parse_regex(name: str, raw: str) -> str:
    try:
        re.compile(raw)
    except re.error as exc:
        raise ImproperlyConfigured(f"{name} is not a valid regular expression: {exc}") from None
    return raw


def parse_hardware(name: str, raw: str) -> tuple[str, str] | None:
    """``model:revision`` as a (model, revision) pair; empty is None (no default hardware)."""
    value = raw.strip()
    if not value:
        return None
    model, colon, revision = value.partition(":")
    model, revision = model.strip(), revision.strip()
    if not colon or not model or not revision or ":" in revision:
        raise ImproperlyConfigured(f"{name} must be model:revision (e.g. rpi4:1.0) or empty, got {raw!r}")
    if len(model) > 255 or len(revision) > 255:
        raise ImproperlyConfigured(f"{name}: model and revision are at most 255 characters each, got {raw!r}")
    return model, revision


def parse_database_url(name: str, raw: str, *, base_dir: Path, connect_timeout: int = 5) -> dict[str, Any]:
    """Turn GOOSEBIT_DB_URI into a Django DATABASES entry.

    Accepts gooseBit's forms: ``sqlite:///relative/or/absolute.db``, ``sqlite:////abs.db`` and
    ``postgres://user:password@host:5432/name`` (also ``postgresql://``). Query parameters of a
    postgres URI (``sslmode=require``...) are passed to psycopg as connection options.
    ``connect_timeout`` (seconds) bounds opening a PostgreSQL connection, so a database that
    accepts TCP but never answers costs a request a few seconds (then 503), not a hung worker.
    """
    parts = urlsplit(raw.strip())
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if path in ("", "/"):
            raise ImproperlyConfigured(f"{name} has no database file: {raw!r}")
        # sqlite:///data/db.sqlite3 is relative to the project, sqlite:////abs/db.sqlite3 absolute.
        file = Path(path[1:])
        if not file.is_absolute():
            file = base_dir / file
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(file),
            # A busy device fleet writes from several gunicorn workers: wait rather than fail.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    if scheme in ("postgres", "postgresql", "pgsql"):
        options: dict[str, str] = {}
        for pair in filter(None, parts.query.split("&")):
            key, _, value = pair.partition("=")
            options[unquote(key)] = unquote(value)
        options.setdefault("connect_timeout", str(connect_timeout))
        # Notice a peer that vanished (no FIN) on an idle pooled connection.
        options.setdefault("keepalives_idle", "30")
        options.setdefault("keepalives_interval", "5")
        options.setdefault("keepalives_count", "3")
        # Data unacknowledged this long (the database host vanished mid-query) breaks the
        # connection instead of waiting for the kernel's ~15 minutes of retransmissions.
        options.setdefault("tcp_user_timeout", str(max(connect_timeout, 10) * 1000))
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise ImproperlyConfigured(f"{name} has no database name: {raw!r}")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": dbname,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 600,
            # No health-check SELECT before every request's first query: it was a second round
            # trip on every poll. A connection PostgreSQL dropped fails one request, and Django
            # replaces it for the next.
            "CONN_HEALTH_CHECKS": False,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"{name} has an unsupported scheme {parts.scheme!r}: use sqlite:/// or postgres://"
    )


def load_or_create_secret_key(path: Path) -> str:
    """A key generated once and kept in the data folder, so sessions survive restarts."""
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # Create exclusively so two workers starting at once cannot write different keys.
    try:
        with path.open("x") as handle:
            handle.write(key)
        path.chmod(0o600)
    except FileExistsError:
        return path.read_text().strip()
    return key
