"""Stop a rollout for good: it holds its feed but gives no device its software any more."""

from rollouts import services
from rollouts.management.commands._rollout_command import RolloutTransitionCommand


class Command(RolloutTransitionCommand):
    help = "Stop a rollout for good; updates not started yet are canceled, running ones finish."
    transition = staticmethod(services.rollout_stop)
    done = "stopped"
