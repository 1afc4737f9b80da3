"""Template tags of the admin: the fleet dashboard, the top navigation and display filters."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from devices import display, selectors
from devices.models import Device
from rollouts import selectors as rollout_selectors

register = template.Library()

register.filter("device_state_badge", display.device_state_badge)
register.filter("device_progress", display.device_progress)
register.filter("action_badge", display.action_status_badge)
register.filter("rollout_badge", display.rollout_status_badge)
register.filter("when", display.when)
register.filter("local_timestamp", display.local_timestamp)
register.filter("details_text", display.details_text)
register.filter("offered", display.offered)

CHART_HEIGHT = 90  # px of the tallest bar in the "updates per day" chart
CHART_BAR = 18
CHART_GAP = 6


@register.filter
def progress(percent):
    return display.progress_bar(percent)


@register.simple_tag(takes_context=True)
def nav_item(context, url_name: str, label: str, perm: str = "") -> str:
    """A link of the top navigation, shown only to users who may open it, marked when current."""
    request = context.get("request")
    if request is None or (perm and not request.user.has_perm(perm)):
        return ""
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return ""
    index = reverse("admin:index")
    current = request.path == url if url == index else request.path.startswith(url)
    return format_html(
        '<a href="{}"{}>{}</a>',
        url,
        mark_safe(' class="current" aria-current="page"') if current else "",
        label,
    )


def _devices_url(**params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("admin:devices_device_changelist") + (f"?{query}" if query else "")


def _device_panels() -> dict:
    states = selectors.device_state_counts()
    presence = selectors.device_presence_counts()
    total = sum(states.values())
    state_rows: list[dict[str, Any]] = [
        {
            "label": label,
            "count": states[value],
            "tone": display.DEVICE_STATE_TONES[value],
            "url": _devices_url(state__exact=value),
        }
        for value, label in Device.State.choices
    ]
    presence_rows: list[dict[str, Any]] = [
        {"label": "On time", "count": presence.online, "tone": "ok", "url": _devices_url(presence="online")},
        {
            "label": "Overdue",
            "count": presence.overdue,
            "tone": "bad",
            "url": _devices_url(presence="overdue"),
        },
        {
            "label": "Never seen",
            "count": presence.never_seen,
            "tone": "muted",
            "url": _devices_url(presence="never"),
        },
    ]
    updating = (
        states[Device.State.PENDING]
        + states[Device.State.WAIT_FOR_CONFIRMATION]
        + states[Device.State.RUNNING]
        + states[Device.State.CANCELING]
    )
    return {
        "total": total,
        "devices_url": _devices_url(),
        "tiles": [
            {"label": "Devices", "count": total, "url": _devices_url(), "tone": ""},
            {
                "label": "On time",
                "count": presence.online,
                "url": _devices_url(presence="online"),
                "tone": "ok",
            },
            {
                "label": "Overdue",
                "count": presence.overdue,
                "url": _devices_url(presence="overdue"),
                "tone": "bad" if presence.overdue else "",
            },
            {
                # Not "In progress" alone: that is the state of running devices only (a row below).
                "label": "Waiting or in progress",
                "count": updating,
                "url": _devices_url(state__in="pending,running,canceling"),
                "tone": "active",
            },
            {
                "label": "Failed",
                "count": states[Device.State.ERROR],
                "url": _devices_url(failed="now"),
                "tone": "bad" if states[Device.State.ERROR] else "",
            },
        ],
        "state_rows": state_rows,
        "state_bar": display.stacked_bar([(r["label"], r["count"], r["tone"]) for r in state_rows]),
        "presence_rows": presence_rows,
        "presence_bar": display.stacked_bar([(r["label"], r["count"], r["tone"]) for r in presence_rows]),
        "overdue_after": int(selectors.overdue_after().total_seconds()),
        "failures": rollout_selectors.action_failures_recent(),
        "chart": _chart(rollout_selectors.updates_per_day()),
    }


def _chart(days: list[rollout_selectors.DayCount]) -> dict:
    peak = max([day.finished + day.failed for day in days] + [1])
    bars = []
    for index, day in enumerate(days):
        ok = round(day.finished * CHART_HEIGHT / peak)
        bad = round(day.failed * CHART_HEIGHT / peak)
        x = index * (CHART_BAR + CHART_GAP)
        bars.append(
            {
                "x": x,
                "label_x": x + CHART_BAR / 2,
                "day": day.day,
                "finished": day.finished,
                "failed": day.failed,
                "ok_y": CHART_HEIGHT - ok,
                "ok_h": ok,
                "bad_y": CHART_HEIGHT - ok - bad,
                "bad_h": bad,
            }
        )
    return {
        "bars": bars,
        "width": len(days) * (CHART_BAR + CHART_GAP),
        "height": CHART_HEIGHT,
        "bar": CHART_BAR,
        "peak": peak,
        "total_finished": sum(day.finished for day in days),
        "total_failed": sum(day.failed for day in days),
    }


def _rollout_panel() -> dict:
    rows = [
        {"rollout": rollout, "stats": stats, "summary": display.rollout_summary(rollout, stats)}
        for rollout, stats in rollout_selectors.rollouts_active()
    ]
    return {"rollouts": rows}


@register.inclusion_tag("goosebit/dashboard.html", takes_context=True)
def fleet_dashboard(context) -> dict:
    user = context["request"].user
    data: dict = {"now": timezone.now(), "request": context["request"], "perms": context.get("perms")}
    if user.has_perm("devices.view_device"):
        data["devices"] = _device_panels()
    if user.has_perm("rollouts.view_rollout"):
        data["rollouts"] = _rollout_panel()
    return data
