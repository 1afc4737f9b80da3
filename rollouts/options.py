"""How an update is offered: hawkBit's action type, forcetime, weight and maintenance window.

An assignment or a rollout carries these options; every Action it creates copies them. What the
device is told (``deploymentBase``'s ``download``/``update``/``maintenanceWindow``) follows from
them and the current time (``offer``), as in hawkBit's ``DdiRootController`` (ddi.md §1.3).

Maintenance windows are hawkBit's: a Quartz cron expression *with seconds* (``0 30 2 ? * *``:
every day at 02:30:00, optionally a 7th year field), a duration ``HH:mm:ss`` and a time zone given
as a UTC offset (``+02:00``). A window opens at each time the schedule fires and stays open for
the duration. Quartz numbers the days of the week 1-7 from Sunday; croniter 0-6 from Sunday, so
numeric days are shifted before croniter reads the expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from goosebit_project.lib.config import format_duration, poll_seconds
from goosebit_project.lib.errors import InvalidInput
from rollouts.models import Action

ActionType = Action.ActionType

MAX_WEIGHT = 1000
# hawkBit's ``actionWeightIfAbsent``: an action without a weight ranks as the heaviest.
WEIGHT_IF_ABSENT = 1000
MAX_SCHEDULE_LENGTH = 128

_DURATION = re.compile(r"([0-9]{2}):([0-5][0-9]):([0-5][0-9])", re.ASCII)
_OFFSET = re.compile(r"([+-])([0-9]{2}):([0-5][0-9])", re.ASCII)
# A number in Quartz's day-of-week field that names a day (not a step after "/" nor the nth
# after "#").
_DAY_NUMBER = re.compile(r"(?<![/#0-9])([0-9]+)", re.ASCII)


def now() -> datetime:
    """The time windows and forcetimes are judged by (one place, so tests can move it)."""
    return timezone.now()


class InvalidOption(InvalidInput):
    """A bad deployment option: ``field`` names it, ``problem`` says what is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def _quartz_to_croniter(schedule: str) -> str:
    fields = schedule.split()
    if len(fields) not in (6, 7):
        raise InvalidOption(
            "maintenance_window.schedule",
            f"must be a Quartz cron expression with seconds (6 or 7 fields, e.g. '0 30 2 ? * *'), "
            f"got {schedule!r}",
        )
    day_of_week = fields[5]

    def shift(match: re.Match[str]) -> str:
        day = int(match.group(1))
        if not 1 <= day <= 7:
            raise InvalidOption(
                "maintenance_window.schedule", f"day of week {day} is out of range 1-7 (1 is Sunday)"
            )
        return str(day - 1)

    fields[5] = _DAY_NUMBER.sub(shift, day_of_week)
    return " ".join(fields)


def _cron(schedule: str, start: datetime) -> croniter:
    try:
        return croniter(_quartz_to_croniter(schedule), start, second_at_beginning=True)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        # croniter quotes its own (reordered) form of the expression first: leave that out.
        reason = re.sub(r"^\[.*?\]\s*(is not acceptable[,.]?\s*)?", "", str(exc)).strip() or "not understood"
        raise InvalidOption(
            "maintenance_window.schedule",
            f"{schedule!r} is not a valid Quartz cron expression (seconds minutes hours "
            f"day-of-month month day-of-week [year]): {reason}",
        ) from None


def parse_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text or "")
    if match is None:
        raise InvalidOption("maintenance_window.duration", f"must be HH:mm:ss, e.g. '01:00:00', got {text!r}")
    hours, minutes, seconds = (int(part) for part in match.groups())
    duration = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        raise InvalidOption("maintenance_window.duration", "must be longer than 00:00:00")
    return duration


def parse_offset(text: str) -> dt_timezone:
    match = _OFFSET.fullmatch(text or "")
    if match is None:
        raise InvalidOption(
            "maintenance_window.timezone", f"must be a UTC offset such as '+02:00' or '-05:30', got {text!r}"
        )
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset > timedelta(hours=18):
        raise InvalidOption("maintenance_window.timezone", f"must be within ±18:00, got {text!r}")
    return dt_timezone(-offset if sign == "-" else offset)


@dataclass(frozen=True)
class Window:
    """One maintenance window: when it opens and closes, in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class MaintenanceWindow:
    schedule: str
    duration: str
    timezone: str

    def window_at(self, now: datetime) -> Window | None:
        """The window open at ``now``, else the next one; None when the schedule has lapsed."""
        length = parse_duration(self.duration)
        zone = parse_offset(self.timezone)
        # The window containing ``now`` started after now - duration (its end is after now).
        iterator = _cron(self.schedule, (now - length).astimezone(zone))
        try:
            start = iterator.get_next(datetime)
        except (CroniterBadDateError, CroniterError):
            return None
        start = start.astimezone(UTC)
        return Window(start=start, end=start + length)

    def is_open(self, now: datetime) -> bool:
        window = self.window_at(now)
        return window is not None and window.start <= now < window.end

    def as_dict(self) -> dict[str, str]:
        return {"schedule": self.schedule, "duration": self.duration, "timezone": self.timezone}


def maintenance_window_validate(
    *, schedule: str, duration: str, timezone_offset: str, at: datetime | None = None
) -> MaintenanceWindow:
    """All three or none (the caller passes None for none); refused without a future window."""
    schedule = " ".join((schedule or "").split())
    if len(schedule) > MAX_SCHEDULE_LENGTH:
        raise InvalidOption("maintenance_window.schedule", f"is longer than {MAX_SCHEDULE_LENGTH} characters")
    window = MaintenanceWindow(
        schedule=schedule, duration=(duration or "").strip(), timezone=(timezone_offset or "").strip()
    )
    missing = [name for name, value in window.as_dict().items() if not value]
    if missing:
        raise InvalidOption(
            "maintenance_window",
            f"needs schedule, duration and timezone together; {', '.join(missing)} missing",
        )
    parse_duration(window.duration)
    parse_offset(window.timezone)
    current = at or now()
    _cron(window.schedule, current)
    if window.window_at(current) is None:
        raise InvalidOption("maintenance_window.schedule", f"{schedule!r} has no future maintenance window")
    return window


@dataclass(frozen=True)
class DeploymentOptions:
    """What an assignment or rollout says about how its updates are offered."""

    action_type: str = ActionType.FORCED
    forcetime: datetime | None = None
    weight: int | None = None
    maintenance_window: MaintenanceWindow | None = None

    def model_fields(self) -> dict[str, Any]:
        """The Action / Rollout columns holding these options."""
        window = self.maintenance_window
        return {
            "action_type": self.action_type,
            "forcetime": self.forcetime,
            "weight": self.weight,
            "maintenance_schedule": window.schedule if window else "",
            "maintenance_duration": window.duration if window else "",
            "maintenance_timezone": window.timezone if window else "",
        }

    def as_json(self) -> dict[str, Any]:
        """For storing on the device (its assignment); read back with ``from_json``."""
        return {
            "action_type": self.action_type,
            "forcetime": self.forcetime.isoformat() if self.forcetime else None,
            "weight": self.weight,
            "maintenance_window": self.maintenance_window.as_dict() if self.maintenance_window else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DeploymentOptions:
        """Stored options as they were validated; anything unreadable means the defaults."""
        if not data:
            return cls()
        window = data.get("maintenance_window")
        forcetime = parse_datetime(data["forcetime"]) if data.get("forcetime") else None
        return cls(
            action_type=data.get("action_type") or ActionType.FORCED,
            forcetime=forcetime,
            weight=data.get("weight"),
            maintenance_window=MaintenanceWindow(**window) if window else None,
        )

    @classmethod
    def of(cls, holder: Any) -> DeploymentOptions:
        """The options stored in an Action's or Rollout's columns."""
        window = None
        if holder.maintenance_schedule:
            window = MaintenanceWindow(
                holder.maintenance_schedule, holder.maintenance_duration, holder.maintenance_timezone
            )
        return cls(holder.action_type, holder.forcetime, holder.weight, window)


def deployment_options_validate(
    *,
    action_type: str | None = None,
    forcetime: datetime | None = None,
    weight: int | None = None,
    maintenance_window: dict[str, str] | None = None,
) -> DeploymentOptions:
    """Check what an operator gave and return it normalised; InvalidOption names the problem.

    ``maintenance_window`` is ``{"schedule", "duration", "timezone"}`` or None.
    """
    action_type = action_type or ActionType.FORCED
    if action_type not in ActionType.values:
        raise InvalidOption(
            "action_type", f"must be one of {', '.join(ActionType.values)}, got {action_type!r}"
        )
    if action_type == ActionType.TIMEFORCED:
        if forcetime is None:
            raise InvalidOption("forcetime", "is required for a timeforced update")
        if timezone.is_naive(forcetime):
            forcetime = timezone.make_aware(forcetime)
    elif forcetime is not None:
        raise InvalidOption("forcetime", f"only applies to timeforced updates, not {action_type}")
    if weight is not None:
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise InvalidOption("weight", f"must be a whole number from 0 to {MAX_WEIGHT}, got {weight!r}")
        if not 0 <= weight <= MAX_WEIGHT:
            raise InvalidOption("weight", f"must be from 0 to {MAX_WEIGHT}, got {weight}")
    window = None
    if maintenance_window is not None:
        if not isinstance(maintenance_window, dict):
            raise InvalidOption(
                "maintenance_window", "must be an object with schedule, duration and timezone"
            )
        window = maintenance_window_validate(
            schedule=str(maintenance_window.get("schedule") or ""),
            duration=str(maintenance_window.get("duration") or ""),
            timezone_offset=str(maintenance_window.get("timezone") or ""),
        )
    return DeploymentOptions(
        action_type=action_type, forcetime=forcetime, weight=weight, maintenance_window=window
    )


# --- what the device is told ------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """deploymentBase's ``download``, ``update`` and ``maintenanceWindow`` (None: left out)."""

    download: str
    update: str
    maintenance_window: str | None = None


def offer(action: Action, *, at: datetime | None = None) -> Offer:
    """hawkBit's calculateDownloadType / calculateUpdateType (ddi.md §1.3's table)."""
    current = at or now()
    kind = action.action_type
    if kind == ActionType.SOFT or (
        kind == ActionType.TIMEFORCED and (action.forcetime is None or current < action.forcetime)
    ):
        download = update = "attempt"
    elif kind == ActionType.DOWNLOAD_ONLY:
        download, update = "forced", "skip"
    else:  # forced, and timeforced once its forcetime has passed
        download = update = "forced"
    if not action.maintenance_schedule:
        return Offer(download, update)
    window = MaintenanceWindow(
        action.maintenance_schedule, action.maintenance_duration, action.maintenance_timezone
    )
    if window.is_open(current):
        return Offer(download, update, "available")
    return Offer(download, "skip", "unavailable")


def window_lapsed(action: Action, *, at: datetime | None = None) -> bool:
    """The action's maintenance schedule has no window now nor later: it can never install."""
    if not action.maintenance_schedule:
        return False
    window = MaintenanceWindow(
        action.maintenance_schedule, action.maintenance_duration, action.maintenance_timezone
    )
    return window.window_at(at or now()) is None


def window_closed(action: Action, *, at: datetime | None = None) -> bool:
    """The action has a maintenance window and it is closed now."""
    return offer(action, at=at).maintenance_window == "unavailable"


# hawkBit's minPollingTime: a device near its window is never told to poll faster than this.
MIN_POLLING_SECONDS = 30


def polling_time(action: Action | None, *, default: str, poll_count: int, at: datetime | None = None) -> str:
    """config.polling.sleep for a device whose ``action`` may wait for a maintenance window.

    hawkBit's getPollingTimeForAction: until the next window opens the device polls at least
    ``poll_count`` times, so it learns of the open window soon after it opens: the interval is
    (window start - now) / poll_count, never longer than ``default`` nor shorter than 30 s
    (nor than ``default`` if that is shorter still). Without a window, or with the window open
    or lapsed, it is ``default``.
    """
    if action is None or not action.maintenance_schedule:
        return default
    current = at or now()
    window = MaintenanceWindow(
        action.maintenance_schedule, action.maintenance_duration, action.maintenance_timezone
    ).window_at(current)
    if window is None or window.start <= current:
        return default
    regular = poll_seconds(default)
    seconds = int((window.start - current).total_seconds()) // max(1, poll_count)
    return format_duration(max(min(seconds, regular), min(MIN_POLLING_SECONDS, regular)))


def describe(holder: Any) -> str:
    """One line for people: "soft, weight 500, maintenance window '0 30 2 ? * *' for 01:00:00 (+02:00)"."""
    parts = [ActionType(holder.action_type).label.lower()]
    if holder.forcetime is not None:
        parts[0] += f" (forced from {holder.forcetime.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"
    if holder.weight is not None:
        parts.append(f"weight {holder.weight}")
    if holder.maintenance_schedule:
        parts.append(
            f"maintenance window {holder.maintenance_schedule!r} for {holder.maintenance_duration} "
            f"({holder.maintenance_timezone})"
        )
    return ", ".join(parts)
