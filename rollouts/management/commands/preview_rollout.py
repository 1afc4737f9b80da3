"""Tell how many devices a rollout of a software on a feed would reach, before creating it; or,
for a rollout created already (--rollout), how many each of its groups holds."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from goosebit_project.lib.commands import Output, ServiceCommand, get_one
from rollouts import selectors
from rollouts.models import Rollout
from software.models import Software


class Command(ServiceCommand):
    help = "Preview a rollout: devices reached per hardware and how many already run the version."

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feed")
        parser.add_argument("--software", type=int, help="software id")
        parser.add_argument("--rollout", type=int, help="a rollout's id: preview each of its groups instead")

    def run(self, **options: Any) -> Output:
        if options["rollout"] is not None:
            if options["feed"] is not None or options["software"] is not None:
                raise CommandError("give either --rollout ID, or --feed and --software")
            return self._groups(options["rollout"])
        if options["feed"] is None or options["software"] is None:
            raise CommandError("give --feed and --software (or --rollout ID for a rollout's groups)")
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

    def _groups(self, rollout_id: int) -> Output:
        rollout = get_one(Rollout.objects.select_related("software"), "rollout", pk=rollout_id)
        previews = selectors.rollout_group_preview(rollout=rollout)
        out = [f"Rollout {rollout.pk} {rollout.name!r} of {rollout.software.version}, by group:"]
        for preview in previews:
            data = preview.as_dict()
            out.append(
                f"  {preview.position + 1}. {preview.name}: {preview.devices} devices "
                f"({data['to_update']} to update, {preview.already_on_version} already on version)"
                + (f", e.g. {', '.join(preview.sample)}" if preview.sample else "")
            )
            out += [
                f"     {item['model']} {item['revision']}: {item['devices']} devices"
                for item in data["by_hardware"]
            ]
        return Output(data=[preview.as_dict() for preview in previews], text="\n".join(out))
