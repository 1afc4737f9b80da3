"""Tell how many devices a rollout of a software on a feed would reach, before creating it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from goosebit_project.lib.commands import Output, ServiceCommand, get_one
from rollouts import selectors
from software.models import Software


class Command(ServiceCommand):
    help = "Preview a rollout: devices reached per hardware and how many already run the version."

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feed", required=True)
        parser.add_argument("--software", required=True, type=int, help="software id")

    def run(self, **options: Any) -> Output:
        software = get_one(Software.objects.all(), "software", pk=options["software"])
        preview = selectors.rollout_preview(feed=options["feed"].strip(), software=software)
        out = [
            f"A rollout of {software.version} on feed {preview.feed!r} would reach {preview.devices} devices "
            f"({preview.to_update} to update, {preview.already_on_version} already on {software.version})."
        ]
        out += [
            f"  {item.model} {item.revision}: {item.devices} devices, {item.already_on_version} on version"
            for item in preview.by_hardware
        ]
        if preview.incompatible:
            out.append(
                f"Not reached: {preview.incompatible} devices of the feed with hardware it does not fit."
            )
        if preview.not_following:
            out.append(f"Not reached: {preview.not_following} devices of the feed in another update mode.")
        return Output(data=preview.as_dict(), text="\n".join(out))
