"""Decide what devices run: a software, the latest compatible one, nothing (pinned), or a feed."""

from __future__ import annotations

from typing import Any, cast

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from devices.management.commands._device_command import DevicesCommand
from devices.management.output import device_summary, device_summary_text
from goosebit_project.lib.commands import Output, get_one
from rollouts import services as rollout_services
from rollouts.management.deployment import add_deployment_arguments, deployment_options_from
from software.models import Software


class Command(DevicesCommand):
    help = (
        "Set the update mode of devices: --software ID (assigned), --software latest, "
        "--software pinned (no updates), or --feed FEED (follow that feed's rollouts). "
        "With --software ID, --action-type, --forcetime, --weight and --maintenance-* say how "
        "the update is offered. "
        "All devices change or none does."
    )

    def add_device_arguments(self, parser: CommandParser) -> None:
        choice = parser.add_mutually_exclusive_group(required=True)
        choice.add_argument("--software", metavar="ID|latest|pinned")
        choice.add_argument("--feed", metavar="FEED", help="rollout mode: follow this feed")
        parser.add_argument(
            "--no-confirmation",
            dest="confirmation_required",
            action="store_false",
            help="with --software ID and the confirmation flow on: the devices get the update without "
            "confirming it",
        )
        add_deployment_arguments(parser)  # with --software ID: how the assignment is offered

    def run(self, **options: Any) -> Output:
        devices = self.get_devices(options["devices"])
        choice = options["software"]
        software = None
        if choice is not None and choice not in ("latest", "pinned"):
            if not choice.isdigit():
                raise CommandError(f"--software takes a software id, 'latest' or 'pinned', got {choice!r}")
            software = get_one(Software.objects.all(), "software", pk=int(choice))
        deployment = deployment_options_from(options)
        # One transaction: an incompatible device leaves every device as it was.
        with transaction.atomic():
            for device in devices:
                if options["feed"] is not None:
                    rollout_services.device_set_feed(device=device, feed=options["feed"])
                elif choice == "latest":
                    rollout_services.device_set_latest(device=device)
                elif choice == "pinned":
                    rollout_services.device_pin(device=device)
                else:
                    rollout_services.device_assign_software(
                        device=device,
                        software=cast(Software, software),  # an id: set above
                        confirmation_required=options["confirmation_required"],
                        options=deployment,
                    )
        return Output(
            data=[device_summary(device) for device in devices],
            text="\n".join(device_summary_text(device) for device in devices),
        )
