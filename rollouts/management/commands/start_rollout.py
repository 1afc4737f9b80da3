"""Start a draft rollout: devices of its feed get its software on their next poll."""

from rollouts import services
from rollouts.management.commands._rollout_command import RolloutTransitionCommand


class Command(RolloutTransitionCommand):
    help = "Start a draft rollout."
    transition = staticmethod(services.rollout_start)
    done = "started"
