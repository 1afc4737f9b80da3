"""Everything about one device's updates: mode, target, state, last contact, current action."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from devices.management.output import device_status_data, device_status_text
from devices.models import Device
from goosebit_project.lib.commands import Output, ServiceCommand, get_one


class Command(ServiceCommand):
    help = "Show a device's update mode, target, state, last contact and its current action's log."

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("device", metavar="DEVICE", help="controller id")
        parser.add_argument("--lines", type=int, default=10, help="log lines of the action (default 10)")

    def run(self, **options: Any) -> Output:
        device = get_one(Device.objects.select_related("hardware"), "device", controller_id=options["device"])
        data = device_status_data(device, log_lines=max(0, options["lines"]))
        return Output(data=data, text=device_status_text(data))
