"""Show one rollout with its statistics, or list every rollout."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from goosebit_project.lib.commands import Output, ServiceCommand, get_one
from rollouts import selectors
from rollouts.management.output import rollout_data, rollout_text
from rollouts.models import Rollout


class Command(ServiceCommand):
    help = "Show a rollout's status and statistics (all rollouts, newest first, without an id)."

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("rollout", type=int, nargs="?", help="rollout id")

    def run(self, **options: Any) -> Output:
        rollouts = Rollout.objects.select_related("software")
        if options["rollout"] is not None:
            rollout = get_one(rollouts, "rollout", pk=options["rollout"])
            return Output(data=rollout_data(rollout), text=rollout_text(rollout))
        listed = list(rollouts.order_by("-created", "-id"))
        rows = []
        for rollout in listed:
            stats = selectors.rollout_stats(rollout=rollout)
            rows.append(
                f"{rollout.pk:>5}  {rollout.status:<8}  {stats.progress_percent:>3}%  "
                f"{rollout.feed}  {rollout.software.version}  {rollout.name}"
            )
        return Output(
            data=[rollout_data(rollout) for rollout in listed],
            text="\n".join(rows) if rows else "No rollouts.",
        )
