"""Start a running rollout's next group now, whatever the current group's condition says."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from goosebit_project.lib.commands import Output, ServiceCommand, get_one
from rollouts import services
from rollouts.management.output import rollout_data, rollout_text
from rollouts.models import Rollout


class Command(ServiceCommand):
    help = "Start the next scheduled group of a running rollout now (hawkBit's triggerNextGroup)."

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("rollout", type=int, help="rollout id")

    def run(self, **options: Any) -> Output:
        rollout = get_one(Rollout.objects.select_related("software"), "rollout", pk=options["rollout"])
        group = services.rollout_trigger_next_group(rollout=rollout)
        rollout.refresh_from_db()
        return Output(
            data=rollout_data(rollout),
            text=f"Rollout {rollout.pk}: started group {group.position + 1} ({group.name}).\n"
            + rollout_text(rollout),
        )
