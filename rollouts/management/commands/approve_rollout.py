"""Approve a rollout waiting for approval (four eyes: not by its creator)."""

from rollouts import services
from rollouts.management.commands._decision_command import RolloutDecisionCommand


class Command(RolloutDecisionCommand):
    help = "Approve a rollout waiting for approval: it becomes a draft (or starts, if due)."
    decide = staticmethod(services.rollout_approve)
    done = "approved"
