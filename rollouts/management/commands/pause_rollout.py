"""Pause a running rollout: no new device starts; updates under way finish."""

from rollouts import services
from rollouts.management.commands._rollout_command import RolloutTransitionCommand


class Command(RolloutTransitionCommand):
    help = "Pause a running rollout (it keeps holding its feed)."
    transition = staticmethod(services.rollout_pause)
    done = "paused"
