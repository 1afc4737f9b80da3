"""Writes to the device registry: registration, what a device reports, what operators decide.

Operator decisions (mode, feed, assigned software, retry, tokens) only change the device row:
the update decision runs on the device's next poll (rollouts.services.device_reconcile), so one
code path creates, keeps or cancels actions whoever changed what.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.db.models import Case, DateTimeField, F, QuerySet, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from devices import tenant_config as _tenant_config
from devices.models import Device, DeviceMetadata, Hardware, TenantConfiguration, TenantConfigurationChange
from goosebit_project.lib import tokens
from goosebit_project.lib.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from goosebit_project.lib.tokens import MAX_TOKEN_LENGTH, generate_token

# hawkBit's allowed characters for attribute keys and values.
_ATTRIBUTE_TEXT = re.compile(r"^[a-zA-Z0-9_\-!@#$%^&*()+=\[\]{}|;:'\",.<>/\\?\s~`]*$")
ATTRIBUTE_MODES = ("merge", "replace", "remove")

logger = logging.getLogger(__name__)


def device_register(
    *, controller_id: str, token: str | None = None, state: str = Device.State.REGISTERED
) -> Device:
    """Plug-and-play: create the device on first contact, or return the one a racing worker made.

    A token (gooseBit's setup mode stores the one a device presents) is validated first, so a bad
    one registers nothing.
    """
    stored = _stored_token(_valid_token(token)) if token else {}
    try:
        with transaction.atomic():
            return Device.objects.create(controller_id=controller_id, state=state, **stored)
    except IntegrityError:
        return Device.objects.get(controller_id=controller_id)


class _PollRecorder:
    """Buffers last-seen records per process and writes them in one statement.

    Polls dominate traffic; a transaction per poll would make the write path, not the read path,
    the ceiling (hawkBit persists poll times lazily for the same reason). A daemon thread per
    worker writes the buffer every GOOSEBIT_LAST_SEEN_FLUSH_SECONDS, so a poll is visible that
    soon even when no further request reaches the worker; a crash loses at most that many seconds
    of last-seen times, never anything else.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, dict[str, Any]] = {}
        self._stop = threading.Event()
        # The process the timer runs in: threads do not survive a fork (gunicorn forks its workers
        # after import), so each process starts its own on its first record.
        self._timer_pid: int | None = None
        self._timer: threading.Thread | None = None

    def record(self, device_id: int, fields: dict[str, Any]) -> None:
        with self._lock:
            self._pending.setdefault(device_id, {}).update(fields)
            if settings.GOOSEBIT_LAST_SEEN_FLUSH_SECONDS > 0 and len(self._pending) < 500:
                self._start_timer()
                return
            pending, self._pending = self._pending, {}
        self._write(pending)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        self._write(pending)

    def stop(self) -> None:
        """End the timer thread and wait for it (tests; a worker's timer ends with its process)."""
        self._stop.set()
        if self._timer is not None and self._timer_pid == os.getpid():
            self._timer.join()

    def _start_timer(self) -> None:
        """Start this process's timer thread unless it runs; called with the lock held."""
        pid = os.getpid()
        if self._timer_pid == pid:
            return
        self._timer_pid = pid
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._run_timer, name="last-seen-flush", daemon=True)
        self._timer.start()

    def _run_timer(self) -> None:
        try:
            self._flush_until(self._stop)
        finally:
            connection.close()

    def _flush_until(self, stop: threading.Event) -> None:
        while not stop.wait(settings.GOOSEBIT_LAST_SEEN_FLUSH_SECONDS):
            with self._lock:
                idle = not self._pending
            if idle:
                continue
            # As a request would: drop a connection the database closed or that outlived
            # CONN_MAX_AGE, so a database restart costs one lost batch, not the thread.
            close_old_connections()
            try:
                self.flush()
            except DatabaseError as error:
                logger.warning("last-seen times not written: %s", error)
            finally:
                close_old_connections()

    @staticmethod
    def _write(pending: dict[int, dict[str, Any]]) -> None:
        """One UPDATE for all last-seen times, each device its own poll time, never earlier than
        the device's creation (a clock step back must not show a device seen before it existed);
        one UPDATE per distinct new address (rare: devices keep their address)."""
        seen = {pk: fields["last_seen"] for pk, fields in pending.items() if "last_seen" in fields}
        if seen:
            own_time = Case(
                *(When(pk=pk, then=Value(when)) for pk, when in seen.items()),
                output_field=DateTimeField(),
            )
            Device.objects.filter(pk__in=list(seen)).update(
                last_seen=Greatest(own_time, F("created"), output_field=DateTimeField())
            )
        by_address: dict[str | None, list[int]] = defaultdict(list)
        for pk, fields in pending.items():
            if "last_ip" in fields:
                by_address[fields["last_ip"]].append(pk)
        for address, pks in by_address.items():
            Device.objects.filter(pk__in=pks).update(last_ip=address)


_poll_recorder = _PollRecorder()
atexit.register(_poll_recorder.flush)


def device_record_poll(*, device: Device, ip: str | None) -> None:
    """Record last_seen and the client IP without a write on most polls.

    Nothing is written while the stored last_seen is younger than GOOSEBIT_LAST_SEEN_INTERVAL and
    the address is unchanged; otherwise the record is buffered (see _PollRecorder). The first poll
    of a pre-commissioned device (UNKNOWN → REGISTERED) is written at once.
    """
    now = timezone.now()
    fields: dict[str, Any] = {}
    interval = timedelta(seconds=settings.GOOSEBIT_LAST_SEEN_INTERVAL)
    if device.last_seen is None or now - device.last_seen >= interval:
        fields["last_seen"] = now
    if settings.GOOSEBIT_TRACK_DEVICE_IP:
        if ip and ip != device.last_ip:
            fields["last_ip"] = ip
    elif device.last_ip is not None:
        fields["last_ip"] = None
    for name, value in fields.items():
        setattr(device, name, value)
    if device.state == Device.State.UNKNOWN:
        device.state = Device.State.REGISTERED
        Device.objects.filter(pk=device.pk).update(state=device.state, **fields)
    elif fields:
        _poll_recorder.record(device.pk, fields)


class InvalidAttributes(InvalidInput):
    """A configData key or value breaks hawkBit's attribute rules (length, characters, type)."""


def _validate_attribute_text(kind: str, text: str) -> None:
    limit = settings.GOOSEBIT_DDI_MAX_ATTRIBUTE_LENGTH
    if len(text) > limit:
        raise InvalidAttributes(f"attribute {kind} longer than {limit} characters: {text[:40]!r}…")
    if not _ATTRIBUTE_TEXT.match(text):
        raise InvalidAttributes(f"attribute {kind} has characters that are not allowed: {text[:40]!r}")


def _first_present(attributes: dict[str, str], keys: list[str]) -> str:
    return next((attributes[key] for key in keys if attributes.get(key)), "")


def _hardware_from_attributes(attributes: dict[str, str], *, known: bool) -> Hardware | None:
    """The hardware the attributes name (keys from GOOSEBIT_HARDWARE_*_KEYS), else None.

    A device whose attributes name no model and whose hardware is not ``known`` gets
    GOOSEBIT_DEFAULT_HARDWARE when it is set; a device that reported its hardware once keeps it.
    """
    model = _first_present(attributes, settings.GOOSEBIT_HARDWARE_MODEL_KEYS)
    if model:
        revision = _first_present(attributes, settings.GOOSEBIT_HARDWARE_REVISION_KEYS) or "default"
    elif settings.GOOSEBIT_DEFAULT_HARDWARE and not known:
        model, revision = settings.GOOSEBIT_DEFAULT_HARDWARE
    else:
        return None
    hardware, _ = Hardware.objects.get_or_create(model=model[:255], revision=revision[:255])
    return hardware


@transaction.atomic
def device_update_attributes(
    *,
    device: Device,
    data: dict[str, Any],
    mode: str = "merge",
    on_version_change: Callable[[Device], object] | None = None,
) -> Device:
    """Apply a DDI configData: keep every attribute, map hardware and installed version.

    merge upserts (a null value deletes its key), replace sets exactly ``data`` (nulls dropped),
    remove deletes the listed keys. The configData link is cleared by any successful call.
    ``on_version_change(device)`` runs in the same transaction, with the row still locked, when
    the reported version changed (rollouts uses it to notice a rollback without devices
    knowing about actions).
    """
    if mode not in ATTRIBUTE_MODES:
        raise InvalidInput(f"unknown configData mode {mode!r}: use merge, replace or remove")
    if not isinstance(data, dict) or not data:
        raise InvalidInput("configData needs a non-empty 'data' object")
    for key, value in data.items():
        _validate_attribute_text("key", key)
        if value is not None:
            if not isinstance(value, str | int | float | bool):
                raise InvalidAttributes(f"attribute {key!r} must be a string, got {type(value).__name__}")
            _validate_attribute_text("value", str(value))

    device = Device.objects.select_for_update().get(pk=device.pk)
    attributes: dict[str, str] = dict(device.attributes or {})
    if mode == "replace":
        attributes = {key: str(value) for key, value in data.items() if value is not None}
    elif mode == "remove":
        for key in data:
            attributes.pop(key, None)
    else:
        for key, value in data.items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = str(value)
    if len(attributes) > settings.GOOSEBIT_DDI_MAX_ATTRIBUTES:
        raise QuotaExceeded(
            f"a device may have at most {settings.GOOSEBIT_DDI_MAX_ATTRIBUTES} attributes, "
            f"this configData would leave {len(attributes)}"
        )

    device.attributes = attributes
    hardware = _hardware_from_attributes(attributes, known=device.hardware_id is not None)
    if hardware is not None:
        device.hardware = hardware
    reported_version = device.sw_version
    if "sw_version" in attributes:
        device.sw_version = attributes["sw_version"][:255]
    device.request_attributes = False
    if device.state == Device.State.UNKNOWN:
        device.state = Device.State.REGISTERED
    device.save(
        update_fields=["attributes", "hardware", "sw_version", "request_attributes", "state", "updated"]
    )
    if on_version_change is not None and device.sw_version != reported_version:
        on_version_change(device)
    return device


def device_validate_feed(*, feed: str) -> str:
    """Return the feed name as it will be stored (stripped), or raise InvalidInput."""
    feed = (feed or "").strip()
    if not feed:
        raise InvalidInput("a feed name is required for rollout mode")
    if len(feed) > 255:
        raise InvalidInput("a feed name is at most 255 characters")
    return feed


def _valid_token(token: str) -> str:
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or any(ch.isspace() for ch in token):
        raise InvalidInput(f"a device token is 1 to {MAX_TOKEN_LENGTH} characters without spaces")
    return token


def device_validate_token(*, token: str) -> str:
    """Return the token as it will be stored (stripped), or raise InvalidInput (for forms)."""
    return _valid_token(token)


def _stored_token(token: str) -> dict[str, str]:
    """The columns that keep a token: its keyed hash and the token encrypted."""
    return {"token_hash": tokens.hash_token(token), "token_encrypted": tokens.encrypt_token(token)}


def device_set_token(*, device: Device, token: str) -> Device:
    for field, value in _stored_token(_valid_token(token)).items():
        setattr(device, field, value)
    device.save(update_fields=["token_hash", "token_encrypted", "updated"])
    return device


def device_refresh_token(*, device: Device, token: str) -> None:
    """After ``token`` authenticated the device: store it with the current keys if it is not yet.

    Rows from before encryption hold an unsalted SHA-256 and no encrypted token; rows made with
    a hash or encryption key that is no longer the first one are behind too. Now that the token
    is known, both columns are rewritten in one compare-and-swap UPDATE on the old hash, so an
    operator's concurrent rotation wins. A current row (every later poll) costs no query.
    """
    if tokens.is_current(device.token_hash, device.token_encrypted):
        return
    stored = _stored_token(token)
    updated = Device.objects.filter(pk=device.pk, token_hash=device.token_hash).update(**stored)
    if updated:
        device.token_hash = stored["token_hash"]
        device.token_encrypted = stored["token_encrypted"]


def device_claim_token(*, device: Device, token: str) -> bool:
    """Setup mode: store the device's first token; True when the device's token is now this one.

    The first token stored wins: a different one later is refused, so nobody can take a device
    over by polling with their own token before the switch to strict. The store is a
    compare-and-swap on an empty hash, so of two concurrent first polls only one can win.
    """
    token = _valid_token(token)
    if not device.token_hash:
        stored = _stored_token(token)
        claimed = Device.objects.filter(pk=device.pk, token_hash="").update(**stored, updated=timezone.now())
        if claimed:
            device.token_hash = stored["token_hash"]
            device.token_encrypted = stored["token_encrypted"]
            return True
        row = Device.objects.filter(pk=device.pk).values_list("token_hash", "token_encrypted").first()
        device.token_hash, device.token_encrypted = row or ("", "")
    return tokens.token_matches(token, device.token_hash)


def device_rotate_token(*, device: Device) -> str:
    """Give the device a new random token; returns it (stored hashed and encrypted)."""
    token = generate_token()
    device_set_token(device=device, token=token)
    return token


def device_clear_token(*, device: Device) -> Device:
    device.token_hash = ""
    device.token_encrypted = ""
    device.save(update_fields=["token_hash", "token_encrypted", "updated"])
    return device


def tokens_required() -> bool:
    """Whether devices need a TargetToken to connect: device authentication on, strict mode.

    Only then does creating a device without a token generate one. In setup and lax mode a
    token stored in advance would refuse the token the device brings (or its having none).
    """
    return _tenant_config.cache.get().target_token_enabled and settings.GOOSEBIT_DEVICE_AUTH_MODE == "strict"


@transaction.atomic
def devices_reencrypt_tokens(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every readable token with the first GOOSEBIT_TOKEN_KEYS key (after adding one).

    Returns counts: ``reencrypted``, ``current`` (already the first key), ``unreadable`` (no
    configured key decrypts it: rotate those tokens) and ``legacy`` (unsalted hashes from before
    encryption, upgraded when their device next authenticates).
    """
    counts = {"reencrypted": 0, "current": 0, "unreadable": 0, "legacy": 0}
    changed: list[Device] = []
    # Locked until the end, so an operator's rotation meanwhile cannot be overwritten with the
    # re-encrypted old token (PostgreSQL; SQLite serialises writers anyway).
    rows = (
        Device.objects.exclude(token_hash="").only("pk", "token_encrypted").order_by("pk").select_for_update()
    )
    for device in rows.iterator(chunk_size=batch_size):
        if not device.token_encrypted:
            counts["legacy"] += 1
            continue
        rotated = tokens.reencrypt_token(device.token_encrypted)
        if rotated is None:
            counts["unreadable"] += 1
        elif rotated.partition("$")[0] == device.token_encrypted.partition("$")[0]:
            counts["current"] += 1
        else:
            device.token_encrypted = rotated
            changed.append(device)
            counts["reencrypted"] += 1
    Device.objects.bulk_update(changed, ["token_encrypted"], batch_size=batch_size)
    return counts


# --- operator registry edits (API, admin, commands) -------------------------------------------

MAX_CONTROLLER_ID_LENGTH = 256


def _clean_feed(feed: str) -> str:
    feed = (feed or "").strip()
    if not feed:
        raise InvalidInput("a feed name must not be empty")
    if len(feed) > 255:
        raise InvalidInput("a feed name is at most 255 characters")
    return feed


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if len(name) > 255:
        raise InvalidInput("a device name is at most 255 characters")
    return name


MAX_DESCRIPTION_LENGTH = 512


MAX_ADDRESS_LENGTH = 512
_ADDRESS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s]+$")


def _clean_address(address: str) -> str:
    """hawkBit's target address: a URI such as ``https://192.168.1.100`` or ``amqp://exchange/x``."""
    address = (address or "").strip()
    if address and (len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.match(address)):
        raise InvalidInput(
            f"a device address is a URI of at most {MAX_ADDRESS_LENGTH} characters, like https://192.168.1.100"
        )
    return address


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"a device description is at most {MAX_DESCRIPTION_LENGTH} characters")
    if "\x00" in description:
        raise InvalidInput("a device description must not contain NUL characters")
    return description


def device_validate_controller_id(*, controller_id: str) -> str:
    """Return ``controller_id`` if an operator may register it, else raise InvalidInput."""
    controller_id = controller_id or ""
    if not controller_id.strip():
        raise InvalidInput("a device needs a controller id")
    if controller_id != controller_id.strip():
        raise InvalidInput("a controller id must not start or end with spaces")
    if len(controller_id) > MAX_CONTROLLER_ID_LENGTH:
        raise InvalidInput(f"a controller id is at most {MAX_CONTROLLER_ID_LENGTH} characters")
    if "/" in controller_id:
        # It is a path segment of every DDI URL.
        raise InvalidInput("a controller id must not contain '/'")
    return controller_id


@transaction.atomic
def device_create(
    *,
    controller_id: str,
    name: str = "",
    feed: str = "default",
    token: str | None = None,
    generate: bool | None = None,
    description: str = "",
    address: str = "",
) -> Device:
    """Pre-register a device (e.g. with its token for strict authentication) before it polls.

    It starts in state "unknown" and in rollout mode on ``feed``; its first poll makes it
    "registered", its configData tells its hardware. Without ``token`` it gets a generated one
    when ``generate`` says so, or (None) when devices need one (tokens_required), as hawkBit
    generates one for a target created without; read it back with selectors.device_token.
    """
    if token is not None and generate:
        raise InvalidInput("give a token or generate one, not both")
    if token is None and (generate if generate is not None else tokens_required()):
        token = generate_token()
    controller_id = device_validate_controller_id(controller_id=controller_id)
    if Device.objects.filter(controller_id=controller_id).exists():
        raise Conflict(f"device {controller_id} exists already")
    device = Device(
        controller_id=controller_id,
        name=_clean_name(name),
        description=_clean_description(description),
        address=_clean_address(address),
        feed=_clean_feed(feed),
        state=Device.State.UNKNOWN,
    )
    try:
        with transaction.atomic():
            device.save()
    except IntegrityError:
        raise Conflict(f"device {controller_id} exists already") from None
    if token is not None:
        device_set_token(device=device, token=token)
    return device


def device_update(
    *,
    device: Device,
    name: str | None = None,
    feed: str | None = None,
    description: str | None = None,
    request_attributes: bool | None = None,
    address: str | None = None,
) -> Device:
    """Rename or describe a device or change its feed without touching its update mode.

    (device_set_feed is "follow this feed": it also switches to rollout mode.)
    ``request_attributes=True`` asks the device to send its configData again on its next poll
    (hawkBit's requestAttributes); only the device itself clears it, by sending them.
    """
    if request_attributes is False:
        raise InvalidInput(
            "request_attributes can only be set (the device clears it by sending its attributes)"
        )
    fields = []
    if name is not None:
        device.name = _clean_name(name)
        fields.append("name")
    if description is not None:
        device.description = _clean_description(description)
        fields.append("description")
    if request_attributes:
        device.request_attributes = True
        fields.append("request_attributes")
    if address is not None:
        device.address = _clean_address(address)
        fields.append("address")
    if feed is not None:
        device.feed = _clean_feed(feed)
        fields.append("feed")
    if fields:
        device.save(update_fields=[*fields, "updated"])
    return device


def device_delete(*, device: Device) -> None:
    """Forget a device and its update history. If it polls again it registers anew."""
    device.delete()


# --- operator metadata (hawkBit's target metadata) ---------------------------------------------

MAX_METADATA_KEY_LENGTH = 128
MAX_METADATA_VALUE_LENGTH = 4000
# hawkBit's default quota maxMetaDataEntriesPerTarget.
MAX_METADATA_PER_DEVICE = 100


def _clean_metadata_key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput("a metadata key must be a non-empty string")
    if len(key) > MAX_METADATA_KEY_LENGTH:
        raise InvalidInput(f"a metadata key is at most {MAX_METADATA_KEY_LENGTH} characters")
    if "\x00" in key or "/" in key:
        # The key is a path segment of /rest/v1/targets/{id}/metadata/{key}.
        raise InvalidInput("a metadata key must not contain '/' or NUL characters")
    return key


def _clean_metadata_value(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("a metadata value must be a string")
    if len(value) > MAX_METADATA_VALUE_LENGTH:
        raise InvalidInput(f"a metadata value is at most {MAX_METADATA_VALUE_LENGTH} characters")
    if "\x00" in value:
        raise InvalidInput("a metadata value must not contain NUL characters")
    return value


def _check_metadata_quota(device: Device, adding: int) -> None:
    count = DeviceMetadata.objects.filter(device=device).count()
    if count + adding > MAX_METADATA_PER_DEVICE:
        raise QuotaExceeded(
            f"device {device.controller_id} may hold at most {MAX_METADATA_PER_DEVICE} metadata entries "
            f"({count} stored, {adding} more requested)"
        )


@transaction.atomic
def device_metadata_create(*, device: Device, entries: list[tuple[Any, Any]]) -> list[DeviceMetadata]:
    """Add operator metadata; Conflict if a key exists already (on the device or twice in entries)."""
    cleaned = [(_clean_metadata_key(key), _clean_metadata_value(value)) for key, value in entries]
    keys = [key for key, _ in cleaned]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise Conflict(f"metadata key {duplicates[0]!r} is given more than once")
    existing = (
        DeviceMetadata.objects.filter(device=device, key__in=keys).values_list("key", flat=True).first()
    )
    if existing is not None:
        raise Conflict(f"device {device.controller_id} has metadata {existing!r} already")
    _check_metadata_quota(device, len(cleaned))
    try:
        with transaction.atomic():
            return DeviceMetadata.objects.bulk_create(
                [DeviceMetadata(device=device, key=key, value=value) for key, value in cleaned]
            )
    except IntegrityError:
        raise Conflict(f"device {device.controller_id} got one of these metadata keys meanwhile") from None


@transaction.atomic
def device_metadata_set(*, device: Device, key: str, value: Any) -> DeviceMetadata:
    """Set one metadata value, creating the key if the device has none (hawkBit's PUT)."""
    key, value = _clean_metadata_key(key), _clean_metadata_value(value)
    entry = DeviceMetadata.objects.select_for_update().filter(device=device, key=key).first()
    if entry is None:
        _check_metadata_quota(device, 1)
        return DeviceMetadata.objects.create(device=device, key=key, value=value)
    entry.value = value
    entry.save(update_fields=["value"])
    return entry


def device_metadata_delete(*, device: Device, key: str) -> None:
    deleted, _ = DeviceMetadata.objects.filter(device=device, key=key).delete()
    if not deleted:
        raise NotFound(f"device {device.controller_id} has no metadata {key!r}")


def devices_update_fields(devices: QuerySet[Device], **fields: Any) -> int:
    """One UPDATE of ``fields`` on every device; returns how many rows changed."""
    # update() skips auto_now: set it, so "changed" sorting in the admin stays truthful.
    return devices.order_by().update(updated=timezone.now(), **fields)


@transaction.atomic
def devices_rotate_tokens(*, devices: QuerySet[Device]) -> list[tuple[Device, str]]:
    """Give every device a new random token; returns (device, token) pairs, the only copy."""
    now = timezone.now()
    pairs = []
    for device in devices.order_by("controller_id"):
        token = generate_token()
        for field, value in _stored_token(token).items():
            setattr(device, field, value)
        device.updated = now
        pairs.append((device, token))
    Device.objects.bulk_update(
        [device for device, _ in pairs], ["token_hash", "token_encrypted", "updated"], batch_size=500
    )
    return pairs


@transaction.atomic
def devices_delete(*, devices: QuerySet[Device]) -> int:
    """Delete devices with their update history; returns how many devices were deleted."""
    _, per_model = devices.order_by().delete()
    return per_model.get(Device._meta.label, 0)


# --- tenant settings ------------------------------------------------------------------------


def _tenant_config_changed() -> None:
    # At once for this process (its next read sees the new row), and again after the commit so a
    # read by another thread in between cannot keep the old value for a whole TTL.
    _tenant_config.cache.invalidate()
    transaction.on_commit(_tenant_config.cache.invalidate)


@transaction.atomic
def tenant_settings_update(*, values: dict[str, Any], user: str = "") -> None:
    """Store several tenant settings at once, all or none; each value is validated for its key.

    A value equal to the stored one is not recorded again. Raises NotFound for an unknown key and
    InvalidInput naming the key for an invalid value, before anything is written.
    """
    cleaned = {key: _tenant_config.validate(key, value) for key, value in values.items()}
    now = timezone.now()
    rows = {row.key: row for row in TenantConfiguration.objects.select_for_update().filter(key__in=cleaned)}
    changed = False
    for key, value in cleaned.items():
        row = rows.get(key)
        if row is not None and row.value == value:
            continue
        if row is None:
            TenantConfiguration.objects.create(
                key=key,
                value=value,
                created_at=now,
                created_by=user,
                last_modified_at=now,
                last_modified_by=user,
            )
        else:
            row.value = value
            row.last_modified_at = now
            row.last_modified_by = user
            row.save(update_fields=["value", "last_modified_at", "last_modified_by"])
        # The history never holds the gateway key itself.
        recorded = "********" if _tenant_config.KEYS[key].secret else value
        TenantConfigurationChange.objects.create(key=key, value=recorded, changed_at=now, changed_by=user)
        logger.info("tenant setting %s changed by %s", key, user or "a script")
        changed = True
    if changed:
        _tenant_config_changed()


def tenant_setting_set(*, key: str, value: Any, user: str = "") -> None:
    tenant_settings_update(values={key: value}, user=user)


@transaction.atomic
def tenant_setting_reset(*, key: str, user: str = "") -> None:
    """Drop the stored value: the key takes its default from the environment again."""
    _tenant_config.key_for(key)
    deleted, _ = TenantConfiguration.objects.filter(key=key).delete()
    if deleted:
        TenantConfigurationChange.objects.create(
            key=key, value=None, changed_at=timezone.now(), changed_by=user
        )
        logger.info("tenant setting %s reset to its default by %s", key, user or "a script")
        _tenant_config_changed()
