"""Small HTML pieces the admin pages share: state badges, progress bars, relative times.

They are plain functions (not template tags) so list_display columns, readonly fields and
templates (through devices.templatetags.fleet) render a device the same way everywhere. Every
value that may come from a device goes through format_html, so it is escaped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from devices.models import Device
from devices.selectors import is_overdue
from rollouts import options as rollouts_options
from rollouts.models import Action, ActionStatus, Rollout, RolloutGroup

DASH = mark_safe('<span class="gb-muted">–</span>')  # an empty cell
# Tones are CSS modifiers (static/goosebit/admin.css): muted, info, warn, active, ok, bad.
DEVICE_STATE_TONES: dict[str, str] = {
    Device.State.UNKNOWN: "muted",
    Device.State.REGISTERED: "info",
    Device.State.PENDING: "warn",
    Device.State.WAIT_FOR_CONFIRMATION: "warn",
    Device.State.RUNNING: "active",
    Device.State.FINISHED: "ok",
    Device.State.ERROR: "bad",
    Device.State.CANCELING: "warn",
    Device.State.ROLLED_BACK: "bad",
}
ACTION_STATUS_TONES: dict[str, str] = {
    Action.Status.PENDING: "warn",
    Action.Status.WAIT_FOR_CONFIRMATION: "warn",
    Action.Status.RUNNING: "active",
    Action.Status.CANCELING: "warn",
    Action.Status.CANCELED: "muted",
    Action.Status.FINISHED: "ok",
    Action.Status.ERROR: "bad",
}
ROLLOUT_STATUS_TONES: dict[str, str] = {
    Rollout.Status.DRAFT: "muted",
    Rollout.Status.RUNNING: "active",
    Rollout.Status.PAUSED: "warn",
    Rollout.Status.STOPPED: "bad",
    Rollout.Status.FINISHED: "ok",
}
# Order of the segments of a stacked progress bar: done first, then failures, then in flight.
ACTION_BAR_ORDER = (
    Action.Status.FINISHED,
    Action.Status.ERROR,
    Action.Status.RUNNING,
    Action.Status.PENDING,
    Action.Status.WAIT_FOR_CONFIRMATION,
    Action.Status.CANCELING,
    Action.Status.CANCELED,
)
UPDATE_MODE_SHORT: dict[str, str] = {
    Device.UpdateMode.ROLLOUT: "Rollout",
    Device.UpdateMode.LATEST: "Latest",
    Device.UpdateMode.ASSIGNED: "Assigned",
    Device.UpdateMode.PINNED: "Pinned",
}


def badge(label: str, tone: str) -> SafeString:
    return format_html('<span class="gb-badge gb-badge--{}">{}</span>', tone, label)


def device_state_badge(device: Device) -> SafeString:
    return badge(device.get_state_display(), DEVICE_STATE_TONES.get(device.state, "muted"))


def action_status_badge(action: Action) -> SafeString:
    return badge(action.get_status_display(), ACTION_STATUS_TONES.get(action.status, "muted"))


def rollout_status_badge(rollout: Rollout) -> SafeString:
    return badge(rollout.get_status_display(), ROLLOUT_STATUS_TONES.get(rollout.status, "muted"))


def progress_parts(percent: int | None, *, failed: bool, tone: str) -> tuple[int, str, str]:
    """(width, bar tone, label) of a progress bar; the live log JSON sends the same three.

    A failed update keeps the share it reached, in a "failed" tone, and says so: a full red bar
    would read as "complete" (the download often reached 100 % before the install failed).
    """
    percent = max(0, min(100, int(percent or 0)))
    if failed:
        return percent, "failed", f"failed at {percent}%"
    return percent, tone, f"{percent}%"


def _bar(width: int, tone: str, label: str) -> SafeString:
    return format_html(
        '<span class="gb-progress" role="progressbar" aria-valuenow="{0}" aria-valuemin="0" '
        'aria-valuemax="100"><span class="gb-progress__track"><span class="gb-progress__bar '
        'gb-progress__bar--{1}" style="width: {0}%"></span></span>'
        '<span class="gb-progress__label gb-progress__label--{1}">{2}</span></span>',
        width,
        tone,
        label,
    )


def progress_bar(percent: int | None, *, tone: str = "active") -> SafeString:
    if percent is None:
        return DASH
    return _bar(*progress_parts(percent, failed=False, tone=tone))


def device_progress_parts(device: Device) -> tuple[int, str, str]:
    return progress_parts(
        device.progress,
        failed=device.state == Device.State.ERROR,
        tone=DEVICE_STATE_TONES.get(device.state, "active"),
    )


def device_progress_fields(device: Device) -> dict[str, Any]:
    """The live log's JSON for the device page's bar (static/goosebit/live-log.js applies it)."""
    width, tone, label = device_progress_parts(device)
    return {"progress_width": width, "progress_tone": tone, "progress_label": label}


def device_progress(device: Device) -> SafeString:
    """A bar while an update is under way or just ended; nothing for idle devices."""
    if device.progress is None:
        return progress_bar(None)
    return _bar(*device_progress_parts(device))


def local_timestamp(value: datetime | None) -> str:
    """A moment in the operator's time zone (settings.TIME_ZONE), e.g. 2026-11-27 17:48:03 CET."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def relative_time(value: datetime, *, now: datetime | None = None) -> str:
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days != 1 else ''} ago"


def when(value: datetime | None, *, now: datetime | None = None) -> SafeString:
    """Relative time with the exact local timestamp on hover."""
    if value is None:
        return mark_safe('<span class="gb-muted">never</span>')
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        local_timestamp(value),
        relative_time(value, now=now),
    )


def last_seen(device: Device, *, now: datetime | None = None) -> SafeString:
    if device.last_seen is not None and is_overdue(device.last_seen, now=now):
        return format_html(
            '{} <span class="gb-badge gb-badge--bad">overdue</span>', when(device.last_seen, now=now)
        )
    return when(device.last_seen, now=now)


def rollout_hold(rollout: Rollout, group: RolloutGroup | None = None) -> str:
    """Why a rollout offers nothing now: "paused: <reason>", "paused", "stopped", or that the
    device's group has not started yet."""
    if rollout.status in (Rollout.Status.RUNNING, Rollout.Status.FINISHED) and group is not None:
        return f"waiting for its group {group.name!r} to start"
    if rollout.status == Rollout.Status.PAUSED:
        return f"paused: {rollout.pause_reason}" if rollout.pause_reason else "paused"
    return rollout.get_status_display().lower()


def stacked_bar(segments: list[tuple[str, int, str]], *, total: int | None = None) -> SafeString:
    """A bar of coloured segments: (label, count, tone). Widths are shares of ``total``."""
    total = total if total is not None else sum(count for _, count, _ in segments)
    if not total:
        return mark_safe('<span class="gb-stack gb-stack--empty" title="nothing yet"></span>')
    parts = [
        format_html(
            '<span class="gb-stack__seg gb-stack__seg--{}" style="width: {}%" title="{}: {}"></span>',
            tone,
            f"{count * 100 / total:.2f}",
            label,
            count,
        )
        for label, count, tone in segments
        if count
    ]
    return format_html('<span class="gb-stack">{}</span>', SafeString("".join(parts)))


def details_text(details: Any) -> str:
    """An ActionStatus's details (the lines a device sent) as text, one line each."""
    if isinstance(details, list):
        return "\n".join(str(line) for line in details)
    return "" if details is None else str(details)


def log_line(status: ActionStatus) -> dict[str, Any]:
    """One update-log line as plain strings: the live log's JSON and its first render share it."""
    execution = status.get_execution_display()
    if status.channel == ActionStatus.Channel.CANCEL:
        execution = f"Cancel: {execution.lower()}"
    elif status.channel == ActionStatus.Channel.CONFIRMATION:
        execution = f"Confirmation: {execution.lower()}"
    result = "" if status.finished == ActionStatus.Finished.NONE else status.get_finished_display()
    return {
        "id": status.pk,
        "time": timezone.localtime(status.created).strftime("%H:%M:%S"),
        "timestamp": local_timestamp(status.created),
        "source": status.get_source_display(),
        "execution": execution,
        "result": result,
        "tone": {"success": "ok", "failure": "bad"}.get(status.finished, ""),
        "progress": "" if status.progress is None else f"{status.progress}%",
        "code": "" if status.code is None else str(status.code),
        "details": details_text(status.details),
    }


# Rollout statistics (rollouts.selectors.RolloutStats): label and tone of each bucket, in bar order.
# The labels are README's glossary words, the same as the device and action states'.
ROLLOUT_BUCKET_DISPLAY = {
    "succeeded": ("succeeded", "ok"),
    "already_on_version": ("already on version", "info"),
    "failed": ("failed", "bad"),
    "rolled_back": ("rolled back", "bad"),
    "running": ("in progress", "active"),
    "pending": ("waiting", "warn"),
    "canceled": ("canceled", "muted"),
    "not_started": ("not started", ""),
    "left": ("left the rollout", ""),
}


def rollout_devices_url(rollout: Rollout, bucket: str | None = None) -> str:
    """The device list filtered to the devices behind one number of a rollout's statistics."""
    value = f"{rollout.pk}:{bucket}" if bucket else str(rollout.pk)
    return reverse("admin:devices_device_changelist") + f"?rollout={value}"


def rollout_counts(rollout: Rollout, stats) -> list[dict[str, Any]]:
    """The non-zero numbers of ``stats`` with label, tone and a link to their devices."""
    return [
        {
            "bucket": bucket,
            "label": label,
            "tone": tone,
            "count": getattr(stats, bucket),
            "url": rollout_devices_url(rollout, bucket),
        }
        for bucket, (label, tone) in ROLLOUT_BUCKET_DISPLAY.items()
        if getattr(stats, bucket)
    ]


def rollout_bar(stats) -> SafeString:
    """Targeted devices as one bar: done, failed, in flight; the rest (not started) stays empty."""
    segments = [
        (label, getattr(stats, bucket), tone)
        for bucket, (label, tone) in ROLLOUT_BUCKET_DISPLAY.items()
        if tone and bucket != "left"
    ]
    return stacked_bar(segments, total=stats.targeted)


def rollout_summary(rollout: Rollout, stats) -> SafeString:
    """Bar, percentage and linked counts: the rollout list's, page's and dashboard's progress."""
    counts = format_html_join(
        " ",
        '<a href="{}"><span class="gb-dot gb-dot--{}"></span>{} {}</a>',
        (
            (item["url"], item["tone"] or "none", item["count"], item["label"])
            for item in rollout_counts(rollout, stats)
        ),
    )
    return format_html(
        '<div class="gb-rollout">{}<div class="gb-rollout__line"><strong>{}%</strong> '
        '<span class="gb-muted">({}/{}, {} failed)</span> <span class="gb-counts">{}</span></div></div>',
        rollout_bar(stats),
        stats.progress_percent,
        stats.done,
        stats.targeted,
        stats.failed,
        counts or format_html('<span class="gb-muted">{}</span>', "no device targeted yet"),
    )


def offered(holder: Any) -> str:
    """How an action or rollout is offered, and for an open action with a window whether it is
    open now: "soft, maintenance window '0 30 2 ? * *' for 01:00:00 (+02:00): closed now"."""
    text = rollouts_options.describe(holder)
    if isinstance(holder, Action) and holder.is_active and holder.maintenance_schedule:
        text += ": window closed now" if rollouts_options.window_closed(holder) else ": window open now"
    return text
