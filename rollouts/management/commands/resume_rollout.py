"""Resume a paused rollout (paused by an operator or automatically)."""

from rollouts import services
from rollouts.management.commands._rollout_command import RolloutTransitionCommand


class Command(RolloutTransitionCommand):
    help = "Resume a paused rollout; clears its pause reason."
    transition = staticmethod(services.rollout_resume)
    done = "resumed"
