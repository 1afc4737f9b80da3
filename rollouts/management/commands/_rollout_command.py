"""Shared by the commands that act on one rollout by id (start, pause, resume, stop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandParser

from goosebit_project.lib.commands import Output, ServiceCommand, get_one
from rollouts.management.output import rollout_data, rollout_text
from rollouts.models import Rollout


class RolloutTransitionCommand(ServiceCommand):
    transition: Callable[..., Rollout]
    done: str

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("rollout", type=int, help="rollout id")

    def run(self, **options: Any) -> Output:
        rollout = get_one(Rollout.objects.select_related("software"), "rollout", pk=options["rollout"])
        rollout = self.transition(rollout=rollout)
        rollout.refresh_from_db()
        return Output(
            data=rollout_data(rollout),
            text=f"Rollout {rollout.pk} {self.done}.\n" + rollout_text(rollout),
        )
