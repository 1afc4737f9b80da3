"""Bulk-create registered devices for benchmarks and demos.

Creating 100,000 devices one poll at a time takes minutes; this writes them in batches with
``bulk_create`` in seconds. The devices look like devices that have registered and sent their
configData: hardware, ``sw_version`` and attributes are set and no configData is requested, so
their next poll is a steady-state poll. Ids are ``<prefix><number>`` with the number zero-padded
to ``--width`` digits (``dev-00001``), the layout load generators such as wrk scripts use.

    python manage.py seed_devices --count 10000 --prefix dev- --feed default --json
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from devices.models import Device, Hardware
from devices.services import tokens_required
from goosebit_project.lib.tokens import MAX_TOKEN_LENGTH, encrypt_token, generate_token, hash_token

MAX_COUNT = 10_000_000


def seed_devices(
    *,
    count: int,
    prefix: str,
    start: int = 1,
    width: int = 5,
    feed: str = "default",
    board: str = "default",
    revision: str = "default",
    sw_version: str = "1.0.0",
    token: str = "",
    generate_tokens: bool = False,
    batch_size: int = 5000,
) -> dict[str, Any]:
    """Create devices ``prefix+start`` .. ``prefix+(start+count-1)``; existing ids are left alone.

    ``token`` is a template ('{id}' is the controller id); without one, ``generate_tokens`` gives
    every device a random token (readable later in the admin or GET /api/v1/devices/{id}/token/).
    """
    hardware, _ = Hardware.objects.get_or_create(model=board, revision=revision)
    attributes = {"hw_boardname": board, "hw_revision": revision, "sw_version": sw_version}
    # Seeding counts as contact: the devices are "seen", like a fleet that is already polling.
    now = timezone.now()
    before = Device.objects.count()
    started = time.monotonic()
    ids = (f"{prefix}{number:0{width}d}" for number in range(start, start + count))
    with transaction.atomic():
        batch: list[Device] = []
        for controller_id in ids:
            device_token = token.replace("{id}", controller_id) if token else ""
            if not device_token and generate_tokens:
                device_token = generate_token()
            batch.append(
                Device(
                    controller_id=controller_id,
                    hardware=hardware,
                    feed=feed,
                    sw_version=sw_version,
                    attributes=attributes,
                    state=Device.State.REGISTERED,
                    request_attributes=False,
                    last_seen=now,
                    token_hash=hash_token(device_token) if device_token else "",
                    token_encrypted=encrypt_token(device_token) if device_token else "",
                )
            )
            if len(batch) >= batch_size:
                Device.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        if batch:
            Device.objects.bulk_create(batch, ignore_conflicts=True)
    created = Device.objects.count() - before
    return {
        "requested": count,
        "created": created,
        "existing": count - created,
        "first": f"{prefix}{start:0{width}d}",
        "last": f"{prefix}{start + count - 1:0{width}d}",
        "feed": feed,
        "hardware": {"model": board, "revision": revision},
        "sw_version": sw_version,
        "token": bool(token),
        "generated_tokens": bool(generate_tokens and not token),
        "seconds": round(time.monotonic() - started, 3),
    }


class Command(BaseCommand):
    help = "Bulk-create N registered devices (hardware, sw_version, attributes) for benchmarks and demos."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True, help="number of devices")
        parser.add_argument("--prefix", default="dev-", help="controller id prefix (default dev-)")
        parser.add_argument("--start", type=int, default=1, help="first number (default 1 -> dev-00001)")
        parser.add_argument("--width", type=int, default=5, help="zero padding of the number (default 5)")
        parser.add_argument("--feed", default="default", help="feed of the devices (default 'default')")
        parser.add_argument(
            "--hardware",
            default="default:default",
            help="hw_boardname:hw_revision of the devices (default default:default)",
        )
        parser.add_argument("--sw-version", default="1.0.0", help="installed version (default 1.0.0)")
        parser.add_argument(
            "--token",
            default="",
            help="TargetToken of every device; '{id}' is replaced by the controller id (default: a "
            "generated token each when device authentication is strict, else none)",
        )
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")

    def handle(self, *args: object, **options: Any) -> None:
        count, start, width = options["count"], options["start"], options["width"]
        if not 1 <= count <= MAX_COUNT:
            raise CommandError(f"--count must be between 1 and {MAX_COUNT}, got {count}")
        if start < 0 or not 1 <= width <= 20 or options["batch_size"] < 1:
            raise CommandError("--start must be >= 0, --width 1..20 and --batch-size >= 1")
        prefix, feed = options["prefix"], options["feed"]
        longest = len(f"{prefix}{start + count - 1:0{width}d}")
        if longest > cast(int, Device._meta.get_field("controller_id").max_length):
            raise CommandError(f"controller ids would be {longest} characters long; the limit is 256")
        if len(feed) > cast(int, Device._meta.get_field("feed").max_length):
            raise CommandError("--feed is longer than 255 characters")
        board, sep, revision = options["hardware"].partition(":")
        if not board or len(board) > 255 or len(revision) > 255:
            raise CommandError("--hardware must be 'board' or 'board:revision' (each up to 255 characters)")
        if len(options["sw_version"]) > cast(int, Device._meta.get_field("sw_version").max_length):
            raise CommandError("--sw-version is longer than 255 characters")
        token = options["token"]
        if len(token.replace("{id}", "x" * longest)) > MAX_TOKEN_LENGTH:
            raise CommandError(f"--token would be longer than {MAX_TOKEN_LENGTH} characters")
        summary = seed_devices(
            count=count,
            prefix=prefix,
            start=start,
            width=width,
            feed=feed,
            board=board,
            revision=revision if sep and revision else "default",
            sw_version=options["sw_version"],
            token=token,
            generate_tokens=not token and tokens_required(),
            batch_size=options["batch_size"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(summary, sort_keys=True))
        else:
            self.stdout.write(
                f"Created {summary['created']} devices {summary['first']} .. {summary['last']} "
                f"({summary['existing']} existed) in {summary['seconds']} s."
            )
