"""Offer devices their target software again (after a failed or canceled update)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from devices.management.commands._device_command import DevicesCommand
from devices.management.output import device_summary, device_summary_text
from goosebit_project.lib.commands import Output
from rollouts import services as rollout_services


class Command(DevicesCommand):
    help = "Retry the update of devices on their next poll (also reinstalls an installed version)."

    def run(self, **options: Any) -> Output:
        devices = self.get_devices(options["devices"])
        with transaction.atomic():
            for device in devices:
                rollout_services.device_retry(device=device)
        return Output(
            data=[device_summary(device) for device in devices],
            text="\n".join(device_summary_text(device) for device in devices),
        )
