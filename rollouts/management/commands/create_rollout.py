"""Create a rollout of one software to the devices of a feed and/or a device query (a draft
unless --start), in one group, N even groups, or a canary and waves."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser

from goosebit_project.lib.commands import Output, ServiceCommand, get_one, optional_number
from rollouts import selectors, services
from rollouts.management.deployment import add_deployment_arguments, deployment_options_from
from rollouts.management.output import rollout_data, rollout_text
from rollouts.models import Rollout
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
        parser.add_argument("--feed", default="", help="devices following this feed get the software")
        parser.add_argument("--query", default="", help="RSQL device query (with or without --feed)")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--no-dynamic",
            dest="dynamic",
            action="store_false",
            help="devices that come to match after the start stay out",
        )
        parser.add_argument(
            "--start-at",
            type=_aware_datetime,
            metavar="ISO",
            help="start by itself then, e.g. 2030-01-01T02:00Z",
        )
        layout = parser.add_mutually_exclusive_group()
        layout.add_argument("--amount-groups", type=int, metavar="N", help="N groups of equal size")
        layout.add_argument("--canary", type=int, metavar="N", help="a canary group of N devices, then waves")
        layout.add_argument(
            "--canary-percent",
            type=float,
            metavar="P",
            help="a canary group of P%% of the devices, then waves",
        )
        parser.add_argument("--waves", type=int, metavar="W", help="waves after the canary (default 1)")
        parser.add_argument(
            "--pause-after-canary", action="store_true", help="wait for an operator after the canary"
        )
        parser.add_argument(
            "--success-threshold", type=int, default=100, metavar="P", help="%% done before the next group"
        )
        parser.add_argument("--error-threshold", type=int, metavar="P", help="%% failed that pauses a group")
        parser.add_argument("--error-count", type=int, metavar="N", help="failed devices that pause a group")
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
        try:
            rollout = self._create(software, options)
        except services.InvalidSetting as error:
            raise CommandError(f"{SETTING_OPTIONS.get(error.field, error.field)} {error.problem}") from None
        rollout.refresh_from_db()
        warnings = selectors.rollout_warnings(rollout=rollout)
        verb = "Created and started" if options["start"] else "Created draft"
        text = f"{verb} rollout {rollout.pk}.\n" + rollout_text(rollout)
        return Output(
            data={**rollout_data(rollout), "warnings": warnings},
            text="\n".join([text, *(f"Warning: {warning}" for warning in warnings)]),
        )

    def _create(self, software: Software, options: dict[str, Any]) -> Rollout:
        return services.rollout_create(
            name=options["name"],
            feed=options["feed"],
            query=options["query"],
            description=options["description"],
            dynamic=options["dynamic"],
            start_at=options["start_at"],
            groups=_groups(options),
            software=software,
            start=options["start"],
            confirmation_required=options["confirmation_required"],
            options=deployment_options_from(options),
            **{option: options[option] for option in SAFETY_OPTIONS},
        )


# InvalidSetting.field -> the option that sets it.
SETTING_OPTIONS = {"amountGroups": "--amount-groups", "start_at": "--start-at", "query": "--query"}


def _aware_datetime(raw: str) -> dt.datetime:
    """argparse type for --start-at: ISO 8601 with its time zone."""
    try:
        value = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 date and time, got {raw!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time zone, e.g. {raw}+02:00 or {raw}Z")
    return value


def _groups(options: dict[str, Any]) -> list[services.GroupSpec] | None:
    """The groups the options ask for; None (one group) when no layout is given."""
    canary = options["canary"] is not None or options["canary_percent"] is not None
    if not canary and (options["waves"] is not None or options["pause_after_canary"]):
        raise CommandError("--waves and --pause-after-canary need --canary N or --canary-percent P")
    conditions = {
        "success_threshold": options["success_threshold"],
        "error_threshold": options["error_threshold"],
        "error_count": options["error_count"],
    }
    if canary:
        return services.groups_canary(
            canary_count=options["canary"],
            canary_percentage=options["canary_percent"],
            waves=options["waves"] if options["waves"] is not None else 1,
            pause_after_canary=options["pause_after_canary"],
            **conditions,
        )
    if options["amount_groups"] is not None:
        return services.groups_even(options["amount_groups"], **conditions)
    if conditions != {"success_threshold": 100, "error_threshold": None, "error_count": None}:
        return [services.GroupSpec(name="All devices", **conditions)]
    return None
