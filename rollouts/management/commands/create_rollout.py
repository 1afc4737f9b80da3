"""Create a rollout of one software to the devices following a feed (a draft unless --start)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from goosebit_project.lib.commands import Output, ServiceCommand, get_one, optional_number
from rollouts import selectors, services
from rollouts.management.deployment import add_deployment_arguments, deployment_options_from
from rollouts.management.output import rollout_data, rollout_text
from software.models import Software

SAFETY_OPTIONS = {
    "pause_on_failure_percent": "pause once this share (1-100) of finished devices failed",
    "pause_min_results": "judge the percentage only after this many devices finished",
    "pause_on_failure_count": "pause once this many devices failed",
    "max_parallel": "at most this many devices of the rollout update at once",
}


class Command(ServiceCommand):
    help = (
        "Create a rollout. Safety settings not given take the GOOSEBIT_ROLLOUT_* defaults; "
        "'off' disables a rule."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--feed", required=True, help="devices following this feed get the software")
        parser.add_argument("--software", required=True, type=int, help="software id")
        parser.add_argument("--start", action="store_true", help="start it at once instead of a draft")
        parser.add_argument(
            "--no-confirmation",
            dest="confirmation_required",
            action="store_false",
            help="with the confirmation flow on, devices get the update without confirming it",
        )
        add_deployment_arguments(parser)
        for option, text in SAFETY_OPTIONS.items():
            parser.add_argument(
                "--" + option.replace("_", "-"),
                dest=option,
                type=optional_number,
                default=services.UNSET,
                metavar="N|off",
                help=text,
            )

    def run(self, **options: Any) -> Output:
        software = get_one(Software.objects.all(), "software", pk=options["software"])
        rollout = services.rollout_create(
            name=options["name"],
            feed=options["feed"],
            software=software,
            start=options["start"],
            confirmation_required=options["confirmation_required"],
            options=deployment_options_from(options),
            **{option: options[option] for option in SAFETY_OPTIONS},
        )
        rollout.refresh_from_db()
        warnings = selectors.rollout_warnings(rollout=rollout)
        verb = "Created and started" if options["start"] else "Created draft"
        text = f"{verb} rollout {rollout.pk}.\n" + rollout_text(rollout)
        return Output(
            data={**rollout_data(rollout), "warnings": warnings},
            text="\n".join([text, *(f"Warning: {warning}" for warning in warnings)]),
        )
