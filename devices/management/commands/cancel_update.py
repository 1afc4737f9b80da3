"""Cancel devices' updates; --force closes a cancel the device never confirms."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction

from devices.management.commands._device_command import DevicesCommand
from goosebit_project.lib.commands import Output
from rollouts import services as rollout_services


class Command(DevicesCommand):
    help = (
        "Cancel the update under way on devices: at once if the device has not started it, else the "
        "device is asked to stop. --force closes a cancel the device has not confirmed."
    )

    def add_device_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="force-quit: close an unconfirmed cancel without the device"
        )

    def run(self, **options: Any) -> Output:
        devices = self.get_devices(options["devices"])
        change = (
            rollout_services.device_force_quit if options["force"] else rollout_services.device_cancel_update
        )
        with transaction.atomic():
            actions = [change(device=device) for device in devices]
        data = [
            {"device": device.controller_id, "action": action.pk, "status": action.status}
            for device, action in zip(devices, actions, strict=True)
        ]
        text = "\n".join(
            f"{device.controller_id}: action {action.pk} "
            + ("canceled" if action.status == action.Status.CANCELED else "cancel requested from the device")
            for device, action in zip(devices, actions, strict=True)
        )
        return Output(data=data, text=text)
