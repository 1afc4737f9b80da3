"""Runtime tenant settings: hawkBit's TenantConfiguration keys, their defaults and a per-process cache.

An operator may change these without a restart (admin "Tenant settings", ``/api/v1/tenant-settings/``,
``manage.py tenant_config``). A key nobody changed has its default from the environment, so a
fresh installation behaves exactly as the GOOSEBIT_* variables say; a stored value wins over the
environment. Key names, value types and formats are hawkBit's (``/rest/v1/system/configs``), so
the Management API can expose them unchanged.

How the authentication keys map onto GOOSEBIT_DEVICE_AUTH__* (defaults reproduce it exactly):

- ``authentication.targettoken.enabled`` defaults to GOOSEBIT_DEVICE_AUTH__ENABLE. When on,
  TargetTokens are checked as GOOSEBIT_DEVICE_AUTH__MODE (strict / lax / setup, env only) says.
- ``authentication.gatewaytoken.enabled`` defaults to GOOSEBIT_DEVICE_AUTH__ENABLE and a
  GOOSEBIT_DEVICE_AUTH__GATEWAY_TOKEN being set; ``authentication.gatewaytoken.key`` to that token.
- ``authentication.header.enabled`` defaults to GOOSEBIT_DEVICE_AUTH__ENABLE and trusted
  authorities being set; ``authentication.header.authority`` to GOOSEBIT_DEVICE_AUTH__TRUSTED_AUTHORITIES
  (hawkBit's one string, several hashes separated by ``;``). Which proxy addresses may send the
  headers stays GOOSEBIT_DEVICE_AUTH__TRUSTED_PROXIES (env only: it is network setup).
- With none of the three enabled the DDI API is open, as with GOOSEBIT_DEVICE_AUTH__ENABLE=false.

Every worker keeps the stored values for GOOSEBIT_TENANT_CONFIG_TTL seconds (one query per TTL,
none on a steady poll); a change through devices.services applies at once in the process that
made it, and within the TTL in every other worker.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError

from goosebit_project.faults import DATABASE_UNAVAILABLE
from goosebit_project.lib.config import format_duration, poll_seconds
from goosebit_project.lib.errors import InvalidInput, NotFound

logger = logging.getLogger("devices.tenant_config")

_DURATION = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)$")
_AUTHORITY = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no blanks: a hash or a name
MAX_GATEWAY_KEY_LENGTH = 256
MAX_AUTHORITY_LENGTH = 4096


# --- value parsers: a JSON value in, the normalized JSON value out, InvalidInput naming the key ---


def _duration(key: str, value: Any, *, allow_zero: bool) -> str:
    if not isinstance(value, str) or not _DURATION.match(value.strip()) or int(value.strip()[:2]) > 23:
        raise InvalidInput(f"{key} must be a duration of the form HH:mm:ss up to 23:59:59, got {value!r}")
    value = value.strip()
    if not allow_zero and value == "00:00:00":
        raise InvalidInput(f"{key} must be longer than 00:00:00")
    return value


def _polling_time(key: str, value: Any) -> str:
    return _duration(key, value, allow_zero=False)


def _overdue_time(key: str, value: Any) -> str:
    return _duration(key, value, allow_zero=True)


def _boolean(key: str, value: Any) -> bool:
    # hawkBit's Boolean validator accepts the JSON boolean and the strings "true"/"false".
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidInput(f"{key} must be true or false, got {value!r}")


def _gateway_key(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string, got {value!r}")
    if len(value) > MAX_GATEWAY_KEY_LENGTH:
        raise InvalidInput(f"{key} must be at most {MAX_GATEWAY_KEY_LENGTH} characters")
    if value and not _AUTHORITY.match(value):
        # "Authorization: GatewayToken <key>" carries one word: a key with blanks never matches.
        raise InvalidInput(f"{key} must be printable ASCII without spaces")
    return value


def _authorities(key: str, value: Any) -> str:
    """hawkBit stores one string; a list is accepted too. Stored lower case, ``;``-separated."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        parts = value
    elif isinstance(value, str):
        parts = re.split(r"[,;]", value)
    else:
        raise InvalidInput(f"{key} must be a string of authorities separated by ';', got {value!r}")
    cleaned = [part.strip().lower() for part in parts if part.strip()]
    bad = [part for part in cleaned if not _AUTHORITY.match(part)]
    if bad:
        raise InvalidInput(f"{key} holds an authority with blanks or non-ASCII characters: {bad[0]!r}")
    joined = ";".join(dict.fromkeys(cleaned))
    if len(joined) > MAX_AUTHORITY_LENGTH:
        raise InvalidInput(f"{key} must be at most {MAX_AUTHORITY_LENGTH} characters")
    return joined


MAX_POLL_COUNT = 100


def _poll_count(key: str, value: Any) -> int:
    """A whole number of polls from 1 to MAX_POLL_COUNT (JSON number or its digits)."""
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_POLL_COUNT:
        raise InvalidInput(f"{key} must be a whole number from 1 to {MAX_POLL_COUNT}, got {value!r}")
    return int(text)


# --- defaults from the environment -------------------------------------------------------


def _default_overdue() -> str:
    if settings.GOOSEBIT_POLL_OVERDUE_TIME:
        return str(settings.GOOSEBIT_POLL_OVERDUE_TIME)
    # last_seen may lag the device's real poll by the recording interval and the flush; ten more
    # seconds absorb network and clock jitter (gooseBit uses +10 s).
    lag = settings.GOOSEBIT_LAST_SEEN_INTERVAL + settings.GOOSEBIT_LAST_SEEN_FLUSH_SECONDS
    return format_duration(lag + 10)


@dataclass(frozen=True)
class Key:
    name: str
    label: str
    kind: str  # "duration", "boolean", "count", "secret" or "authorities": how the admin shows it
    help: str
    default: Callable[[], Any]
    parse: Callable[[str, Any], Any]
    secret: bool = False


KEYS: dict[str, Key] = {
    key.name: key
    for key in (
        Key(
            "pollingTime",
            "Polling time",
            "duration",
            "How long devices wait between polls (config.polling.sleep), HH:mm:ss.",
            lambda: settings.GOOSEBIT_POLL_TIME,
            _polling_time,
        ),
        Key(
            "pollingOverdueTime",
            "Polling overdue time",
            "duration",
            "How long past its polling time a device is shown as overdue, HH:mm:ss.",
            _default_overdue,
            _overdue_time,
        ),
        Key(
            "maintenanceWindowPollCount",
            "Polls before a maintenance window",
            "count",
            "A device whose update waits for a maintenance window polls at least this many times "
            "before the window opens: its polling time shrinks (never below 30 s) as the window nears.",
            lambda: settings.GOOSEBIT_MAINTENANCE_WINDOW_POLL_COUNT,
            _poll_count,
        ),
        Key(
            "authentication.targettoken.enabled",
            "Target token authentication",
            "boolean",
            "Devices authenticate with their own token (Authorization: TargetToken …), checked as "
            "GOOSEBIT_DEVICE_AUTH__MODE says.",
            lambda: settings.GOOSEBIT_DEVICE_AUTH_ENABLE,
            _boolean,
        ),
        Key(
            "authentication.gatewaytoken.enabled",
            "Gateway token authentication",
            "boolean",
            "The tenant-wide gateway key (Authorization: GatewayToken …) acts for any device and "
            "lets unknown devices register.",
            lambda: bool(settings.GOOSEBIT_DEVICE_AUTH_ENABLE and settings.GOOSEBIT_GATEWAY_TOKEN),
            _boolean,
        ),
        Key(
            "authentication.gatewaytoken.key",
            "Gateway token key",
            "secret",
            "The gateway key itself; empty: no gateway token is accepted.",
            lambda: settings.GOOSEBIT_GATEWAY_TOKEN,
            _gateway_key,
            secret=True,
        ),
        Key(
            "authentication.header.enabled",
            "Certificate header authentication",
            "boolean",
            "A TLS-terminating proxy at a trusted address (GOOSEBIT_DEVICE_AUTH__TRUSTED_PROXIES) "
            "vouches for the device's client certificate with headers.",
            lambda: bool(settings.GOOSEBIT_DEVICE_AUTH_ENABLE and settings.GOOSEBIT_TRUSTED_AUTHORITIES),
            _boolean,
        ),
        Key(
            "authentication.header.authority",
            "Trusted certificate authorities",
            "authorities",
            "Issuer hashes (X-Ssl-Issuer-Hash-N / X-Authority-N) accepted, separated by ';'.",
            lambda: ";".join(settings.GOOSEBIT_TRUSTED_AUTHORITIES),
            _authorities,
        ),
        Key(
            "user.confirmation.flow.enabled",
            "User confirmation flow",
            "boolean",
            "Devices ask for their user's consent before installing (hawkBit's confirmation flow).",
            lambda: settings.GOOSEBIT_CONFIRMATION_FLOW,
            _boolean,
        ),
        Key(
            "rollout.approval.enabled",
            "Rollout approval",
            "boolean",
            "A rollout must be approved by another operator before it can start (four eyes).",
            lambda: settings.GOOSEBIT_ROLLOUT_APPROVAL,
            _boolean,
        ),
        Key(
            "auto.assignment.approval.enabled",
            "Auto-assignment approval",
            "boolean",
            "A saved filter's auto-assignment reaches devices only once a second operator approved it.",
            lambda: settings.GOOSEBIT_AUTO_ASSIGNMENT_APPROVAL,
            _boolean,
        ),
    )
}


def key_for(name: str) -> Key:
    key = KEYS.get(name)
    if key is None:
        raise NotFound(f"unknown tenant setting {name!r}; known keys: {', '.join(KEYS)}")
    return key


def validate(name: str, value: Any) -> Any:
    """The normalized value to store for ``name``; InvalidInput or NotFound naming the key."""
    return key_for(name).parse(name, value)


def default_value(name: str) -> Any:
    return key_for(name).default()


# --- the typed configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class TenantConfig:
    polling_time: str
    polling_overdue_time: str
    maintenance_window_poll_count: int
    target_token_enabled: bool
    gateway_token_enabled: bool
    gateway_token_key: str
    header_enabled: bool
    header_authorities: tuple[str, ...]
    confirmation_flow_enabled: bool
    rollout_approval_enabled: bool
    auto_assignment_approval_enabled: bool

    @property
    def device_auth_enabled(self) -> bool:
        """Any mechanism on: credentials are required. None on: the DDI API is open."""
        return self.target_token_enabled or self.gateway_token_enabled or self.header_enabled

    @property
    def polling_overdue_seconds(self) -> int:
        return poll_seconds(self.polling_overdue_time)


def effective_values(stored: dict[str, Any]) -> dict[str, Any]:
    """Every key's value: the stored one when it is still valid, else the default."""
    values: dict[str, Any] = {}
    for name, key in KEYS.items():
        if name in stored:
            try:
                values[name] = key.parse(name, stored[name])
                continue
            except InvalidInput as error:
                logger.warning("ignoring the stored tenant setting, using its default: %s", error.message)
        values[name] = key.default()
    return values


def build(stored: dict[str, Any]) -> TenantConfig:
    values = effective_values(stored)
    authorities = str(values["authentication.header.authority"])
    return TenantConfig(
        polling_time=str(values["pollingTime"]),
        polling_overdue_time=str(values["pollingOverdueTime"]),
        maintenance_window_poll_count=int(values["maintenanceWindowPollCount"]),
        target_token_enabled=bool(values["authentication.targettoken.enabled"]),
        gateway_token_enabled=bool(values["authentication.gatewaytoken.enabled"]),
        gateway_token_key=str(values["authentication.gatewaytoken.key"]),
        header_enabled=bool(values["authentication.header.enabled"]),
        header_authorities=tuple(part.lower() for part in re.split(r"[,;]", authorities) if part.strip()),
        confirmation_flow_enabled=bool(values["user.confirmation.flow.enabled"]),
        rollout_approval_enabled=bool(values["rollout.approval.enabled"]),
        auto_assignment_approval_enabled=bool(values["auto.assignment.approval.enabled"]),
    )


# --- the per-process cache -------------------------------------------------------------------


class _Cache:
    """The stored values as this process last read them, and the config built from them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stored: dict[str, Any] | None = None
        self._read_at = 0.0
        self._config: TenantConfig | None = None

    def _fresh(self) -> bool:
        age = time.monotonic() - self._read_at
        return self._stored is not None and age < settings.GOOSEBIT_TENANT_CONFIG_TTL

    def get(self) -> TenantConfig:
        config = self._config
        if config is not None and self._fresh():
            return config
        with self._lock:
            if not self._fresh():
                self._read()
            if self._config is None:
                self._config = build(self._stored or {})
            return self._config

    def _read(self) -> None:
        from devices.models import TenantConfiguration

        try:
            stored = dict(TenantConfiguration.objects.values_list("key", "value"))
        except DATABASE_UNAVAILABLE:
            if self._stored is None:
                raise  # nothing known yet: the caller's 503 (goosebit_project.faults)
            # Keep what we had and try again after the TTL; the request itself goes on.
            logger.warning("tenant settings unreadable, keeping the values read before")
            self._read_at = time.monotonic()
            return
        except DatabaseError as error:  # e.g. the table is not migrated yet
            logger.error("tenant settings unreadable, using the environment's defaults: %s", error)
            stored = self._stored if self._stored is not None else {}
        self._stored = stored
        self._read_at = time.monotonic()
        self._config = None

    def invalidate(self) -> None:
        """Read the stored values again on the next access (after a change in this process)."""
        with self._lock:
            self._stored = None
            self._config = None

    def prime(self, stored: dict[str, Any]) -> None:
        """Take ``stored`` as just read (tests: a warm cache over an empty table)."""
        with self._lock:
            self._stored = dict(stored)
            self._read_at = time.monotonic()
            self._config = None

    def rebuild(self) -> None:
        """Build the config again from the values already read (an env default changed)."""
        self._config = None


cache = _Cache()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("GOOSEBIT_"):
        cache.rebuild()


setting_changed.connect(_on_setting_changed, dispatch_uid="devices.tenant_config")
