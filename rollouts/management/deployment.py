"""Command-line options for how updates are offered (rollouts.options), shared by
``assign_software`` and ``create_rollout``."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from django.core.management.base import CommandParser
from django.utils.dateparse import parse_datetime

from rollouts.models import Action
from rollouts.options import DeploymentOptions, deployment_options_validate


def _datetime(raw: str) -> datetime:
    parsed = parse_datetime(raw.strip())
    if parsed is None:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date and time such as 2027-01-31T02:00:00Z, got {raw!r}"
        )
    return parsed


def add_deployment_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--action-type",
        choices=Action.ActionType.values,
        help="how devices are told to update (default forced)",
    )
    parser.add_argument(
        "--forcetime", type=_datetime, metavar="ISO-DATETIME", help="timeforced: forced from then on"
    )
    parser.add_argument("--weight", type=int, metavar="0-1000", help="priority (none counts as 1000)")
    parser.add_argument(
        "--maintenance-schedule",
        metavar="CRON",
        help="maintenance window: Quartz cron with seconds, e.g. '0 30 2 ? * *'",
    )
    parser.add_argument("--maintenance-duration", metavar="HH:MM:SS", help="how long each window lasts")
    parser.add_argument("--maintenance-timezone", metavar="+HH:MM", help="UTC offset of the schedule")


def deployment_options_from(options: dict[str, Any]) -> DeploymentOptions:
    """The validated options (InvalidOption, a DomainError, names the bad one)."""
    window_parts = {
        "schedule": options.get("maintenance_schedule"),
        "duration": options.get("maintenance_duration"),
        "timezone": options.get("maintenance_timezone"),
    }
    window = {key: value or "" for key, value in window_parts.items()} if any(window_parts.values()) else None
    return deployment_options_validate(
        action_type=options.get("action_type"),
        forcetime=options.get("forcetime"),
        weight=options.get("weight"),
        maintenance_window=window,
    )
