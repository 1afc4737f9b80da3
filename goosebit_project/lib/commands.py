"""A base for operator management commands: thin wrappers over services.

Every command prints a short human summary, or with ``--json`` one JSON document on stdout for
scripts. Bad input ends with a one-line message on stderr and exit status 1: services raise
goosebit_project.lib.errors.DomainError, lookups raise CommandError, and Django's
``run_from_argv`` turns a CommandError into ``CommandError: <message>`` and the exit status.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Model, QuerySet

from goosebit_project.lib.errors import DomainError

M = TypeVar("M", bound=Model)


@dataclass
class Output:
    """What a command reports: ``data`` for --json, ``text`` for people."""

    data: Any
    text: str


class ServiceCommand(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        self.add_command_arguments(parser)

    def add_command_arguments(self, parser: CommandParser) -> None:
        """Arguments of the command itself (``--json`` is added for every command)."""

    def run(self, **options: Any) -> Output:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            output = self.run(**options)
        except DomainError as error:
            raise CommandError(error.message) from None
        if options["json"]:
            self.stdout.write(json.dumps(output.data, indent=2, default=str))
        else:
            self.stdout.write(output.text)


def get_one(queryset: QuerySet[M], label: str, **lookup: Any) -> M:
    """The one object matching ``lookup``, or a CommandError naming what was not found."""
    found = queryset.filter(**lookup).first()
    if found is None:
        raise CommandError(f"unknown {label}: {', '.join(str(value) for value in lookup.values())}")
    return found


def get_many(queryset: QuerySet[M], label: str, field: str, values: Sequence[str]) -> list[M]:
    """Objects in the order given; one CommandError lists every value that matched nothing."""
    found = {getattr(obj, field): obj for obj in queryset.filter(**{f"{field}__in": list(values)})}
    missing = [value for value in values if value not in found]
    if missing:
        raise CommandError(f"unknown {label}{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    return [found[value] for value in dict.fromkeys(values)]


def optional_number(raw: str) -> int | None:
    """argparse type for a safety setting: a whole number, or "off" to disable the rule."""
    if raw.strip().lower() in ("off", "none"):
        return None
    try:
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'off', got {raw!r}") from None


def lines(items: Iterable[str]) -> str:
    return "\n".join(items)
