"""Shared by approve_rollout and deny_rollout: the decision of another operator (four eyes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandParser

from goosebit_project.lib.commands import Output, ServiceCommand, get_one
from rollouts.management.output import rollout_data, rollout_text
from rollouts.models import Rollout


class RolloutDecisionCommand(ServiceCommand):
    decide: Callable[..., Rollout]
    done: str

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("rollout", type=int, help="rollout id")
        parser.add_argument("--user", required=True, help="who decides (not the rollout's creator)")
        parser.add_argument("--remark", default="", help="why (at most 512 characters)")

    def run(self, **options: Any) -> Output:
        rollout = get_one(Rollout.objects.select_related("software"), "rollout", pk=options["rollout"])
        user = get_one(get_user_model().objects.all(), "user", username=options["user"])
        rollout = self.decide(rollout=rollout, by=user, remark=options["remark"])
        rollout.refresh_from_db()
        return Output(
            data=rollout_data(rollout),
            text=f"Rollout {rollout.pk} {self.done} by {user.get_username()}.\n" + rollout_text(rollout),
        )
