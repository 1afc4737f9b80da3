"""Deny a rollout waiting for approval, for good."""

from rollouts import services
from rollouts.management.commands._decision_command import RolloutDecisionCommand


class Command(RolloutDecisionCommand):
    help = "Deny a rollout waiting for approval (create a new one to try again)."
    decide = staticmethod(services.rollout_deny)
    done = "denied"
