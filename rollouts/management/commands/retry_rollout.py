"""Create a new rollout of the devices whose update in a paused, stopped or finished one failed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from goosebit_project.lib.commands import Output, ServiceCommand, get_one
from rollouts import services
from rollouts.management.output import rollout_data, rollout_text
from rollouts.models import Rollout


class Command(ServiceCommand):
    help = "Retry a rollout's failed devices in a new rollout (a draft unless --start)."

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("rollout", type=int, help="rollout id")
        parser.add_argument("--start", action="store_true", help="start the new rollout at once")

    def run(self, **options: Any) -> Output:
        rollout = get_one(Rollout.objects.select_related("software"), "rollout", pk=options["rollout"])
        retry = services.rollout_retry(rollout=rollout, start=options["start"])
        retry = Rollout.objects.select_related("software").get(pk=retry.pk)
        return Output(
            data=rollout_data(retry),
            text=f"Rollout {retry.pk} retries the failed devices of rollout {rollout.pk}.\n"
            + rollout_text(retry),
        )
