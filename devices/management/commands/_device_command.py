"""Shared by the commands that act on devices named by controller id."""

from __future__ import annotations

from django.core.management.base import CommandParser

from devices.models import Device
from goosebit_project.lib.commands import ServiceCommand, get_many


class DevicesCommand(ServiceCommand):
    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("devices", nargs="+", metavar="DEVICE", help="controller ids")
        self.add_device_arguments(parser)

    def add_device_arguments(self, parser: CommandParser) -> None:
        pass

    def get_devices(self, controller_ids: list[str]) -> list[Device]:
        """All the devices, or a CommandError listing every unknown id before anything changes."""
        return get_many(
            Device.objects.select_related("hardware", "assigned_software"),
            "device",
            "controller_id",
            controller_ids,
        )
