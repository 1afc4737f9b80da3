"""What devices report about their actions: DDI feedback, confirmation, auto-confirm.

Feedback moves the Action and the Device summary with the same compare-and-swap updates as the
state machine (rollouts.services.actions), bounded by the log quotas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, Count, Func, Sum
from django.utils import timezone

from devices.models import Device
from goosebit_project.lib.errors import Conflict, Gone, InvalidInput, NotAllowed, NotFound, QuotaExceeded
from rollouts import options as deployment_options
from rollouts import selectors
from rollouts.models import Action, ActionStatus
from rollouts.services.actions import (
    CLOSED_ACTION_STATUSES,
    DOWNLOADED_PERCENT,
    SERVER_PREFIX,
    Execution,
    Finished,
    auto_confirm_message,
    server_note,
    set_device_idle,
)
from rollouts.services.safety import rollout_check_finished, rollout_check_safety


@dataclass
class Feedback:
    """One DDI feedback, already validated by the protocol layer."""

    execution: str
    finished: str = Finished.NONE
    progress_cnt: int | None = None
    progress_of: int | None = None
    code: int | None = None
    details: list[str] = field(default_factory=list)


def _progress(feedback: Feedback) -> int | None:
    for line in reversed(feedback.details):
        matches = DOWNLOADED_PERCENT.findall(line)
        if matches:
            return min(100, int(matches[-1]))
    if feedback.progress_cnt is not None and feedback.progress_of:
        # SWUpdate's counters are not always sane (ddi.md §3.3): clamp rather than reject.
        return max(0, min(100, feedback.progress_cnt * 100 // feedback.progress_of))
    return None


class LogQuotaExceeded(QuotaExceeded):
    """The action's log reached GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION (hawkBit: storage quota)."""


class _JsonBytes(Func):
    """The size in bytes of a JSON column's text, on PostgreSQL and SQLite."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="octet_length((%(expressions)s)::text)", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="length(CAST(%(expressions)s AS BLOB))", **extra)


LOG_FULL_MARKER = "[earlier lines of this feedback dropped: the update log reached its size limit]"


def _details_bytes(details: list[str]) -> int:
    return len(json.dumps(details).encode())


def _fit_final_details(details: list[str], room: int) -> list[str]:
    """The newest lines of a final feedback that fit in ``room`` bytes, after a marker line.

    A final feedback must be stored so the action can close; its last lines (where SWUpdate puts
    the error) matter most. At least one line is kept, so the log can overshoot its limit by
    at most one line (GOOSEBIT_DDI_MAX_DETAIL_BYTES).
    """
    kept: list[str] = []
    for line in reversed(details):
        if kept and _details_bytes([LOG_FULL_MARKER, line, *kept]) > room:
            break
        kept.insert(0, line)
    return [LOG_FULL_MARKER, *kept]


def _check_quotas(action: Action, feedback: Feedback) -> list[str]:
    """Raise QuotaExceeded when the feedback does not fit; return the details to store.

    Runs under the action's lock (action_record_feedback), so concurrent feedbacks count each
    other: the caps are exact.
    """
    max_details = settings.GOOSEBIT_DDI_MAX_DETAILS_PER_FEEDBACK
    if len(feedback.details) > max_details:
        raise QuotaExceeded(f"a feedback may carry at most {max_details} details")
    stored = ActionStatus.objects.filter(action_id=action.pk).aggregate(
        count=Count("id"), size=Sum(_JsonBytes("details"))
    )
    final = feedback.execution == Execution.CLOSED
    max_statuses = settings.GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION
    # A final feedback is never blocked, or the action could never close.
    if not final and stored["count"] >= max_statuses:
        raise QuotaExceeded(f"action {action.pk} has reached {max_statuses} status messages")
    max_bytes = settings.GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION
    room = max_bytes - (stored["size"] or 0)
    if _details_bytes(feedback.details) <= room:
        return feedback.details
    if not final:
        raise LogQuotaExceeded(
            f"the log of action {action.pk} would exceed {max_bytes} bytes "
            "(GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION); only a final (closed) feedback is accepted now"
        )
    return _fit_final_details(feedback.details, room)


def _lock_action(action: Action) -> str | None:
    """Lock the action's row until the transaction ends and return its current status.

    PostgreSQL: a row lock, so feedbacks for one action wait for each other (feedbacks for other
    actions do not). SQLite needs nothing more: our connections open IMMEDIATE transactions,
    which serialise writers.
    """
    return Action.objects.select_for_update().filter(pk=action.pk).values_list("status", flat=True).first()


def action_record_feedback(*, action: Action, channel: str, feedback: Feedback) -> Action:
    """Store a device's feedback and move the action and the device summary.

    Deployment channel: proceeding/scheduled/resumed/download/downloaded → running;
    closed+success|none → finished (the device runs the software); closed+failure → error;
    rejected and canceled are logged only (hawkBit keeps the action active).
    Cancel channel: closed+success|none → canceled; closed+failure or rejected → running again.

    Everything happens under the action's lock: the quotas count what concurrent feedbacks
    stored, and of two final feedbacks sent at once the first closes the action and the second
    gets Gone (410) with nothing stored.
    """
    progress = _progress(feedback) if channel == ActionStatus.Channel.DEPLOYMENT else None
    with transaction.atomic():
        status = _lock_action(action)
        if status is None:
            raise Gone(f"action {action.pk} no longer exists")
        action.status = status
        if action.status in CLOSED_ACTION_STATUSES:
            raise Gone(f"action {action.pk} is closed ({action.get_status_display().lower()})")
        if (
            action.status == Action.Status.WAIT_FOR_CONFIRMATION
            and channel == ActionStatus.Channel.DEPLOYMENT
        ):
            # hawkBit: 404 until the device confirmed it (ddi.md §1.4).
            raise NotFound(f"action {action.pk} is waiting for confirmation")
        if channel == ActionStatus.Channel.CANCEL and action.status != Action.Status.CANCELING:
            raise NotAllowed(f"action {action.pk} is not being canceled")
        details = _check_quotas(action, feedback)
        deployment = channel == ActionStatus.Channel.DEPLOYMENT
        waiting_note = _window_skip_note(action, feedback) if deployment else None
        if waiting_note is not None and _newest_waiting_note(action) == waiting_note:
            return action  # SWUpdate skips again on every poll while the window is closed
        ActionStatus.objects.create(
            action=action,
            channel=channel,
            execution=feedback.execution,
            finished=feedback.finished,
            progress=progress,
            code=feedback.code,
            details=details,
        )
        if channel == ActionStatus.Channel.CANCEL:
            _apply_cancel_feedback(action, feedback)
        elif waiting_note is not None:
            server_note(action, Execution.SCHEDULED, waiting_note)
        else:
            _apply_deployment_feedback(action, feedback, progress)
    return action


# A skip reported this soon after the window opened answers a deployment fetched before it did.
SKIP_GRACE = timedelta(seconds=60)


def _window_skip_note(action: Action, feedback: Feedback) -> str | None:
    """The note for a device that "finished" an update it was told to skip for its window.

    SWUpdate answers ``update: skip`` with closed/success "Skipped Update." (ddi.md §3.3) without
    installing anything. Outside the maintenance window that must not finish an update meant to
    install: the action stays open and is offered again, with a new ``c``, once the window opens.
    A closed/success counts as such a skip when the window is closed now, or opened less than
    SKIP_GRACE ago (the device fetched the deployment, still saying skip, just before the window
    opened), and the device has not reported any work on the action (a device that installed
    inside the window and confirms after a reboot has sent progress first). Download-only updates
    finish on it instead.
    """
    if feedback.execution != Execution.CLOSED or feedback.finished == Finished.FAILURE:
        return None
    if action.action_type == Action.ActionType.DOWNLOAD_ONLY or not action.maintenance_schedule:
        return None
    now = deployment_options.now()
    closed_lately = deployment_options.window_closed(action, at=now) or deployment_options.window_closed(
        action, at=now - SKIP_GRACE
    )
    if not closed_lately:
        return None
    worked = (
        ActionStatus.objects.filter(action_id=action.pk, source=ActionStatus.Source.DEVICE)
        .exclude(execution=Execution.CLOSED)
        .exists()
    )
    if worked:
        return None
    window = deployment_options.DeploymentOptions.of(action).maintenance_window
    assert window is not None  # maintenance_schedule is set
    upcoming = window.window_at(now)
    if upcoming is None:
        when = "never (the schedule has lapsed)"
    elif upcoming.start <= now:
        when = "now (the window has just opened)"
    else:
        when = upcoming.start.strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        "the device skipped the update outside its maintenance window; it stays open and is "
        f"offered again when the window opens: {when}"
    )


def _newest_waiting_note(action: Action) -> str | None:
    details = (
        ActionStatus.objects.filter(
            action_id=action.pk, source=ActionStatus.Source.SERVER, execution=Execution.SCHEDULED
        )
        .order_by("-id")
        .values_list("details", flat=True)
        .first()
    )
    return details[0].removeprefix(SERVER_PREFIX) if details else None


def _finish_download_only(action: Action, feedback: Feedback) -> None:
    """A download-only update is done once the device has the file: it did not install it, so
    the device's installed version and installed update stay as they were (ddi.md §1.4)."""
    if Action.objects.filter(pk=action.pk, status__in=Action.ACTIVE_STATUSES).update(
        status=Action.Status.FINISHED, finished_at=timezone.now(), progress=100, last_code=feedback.code
    ):
        action.status = Action.Status.FINISHED
        device = Device.objects.only("pk", "installed_action", "sw_version", "state").get(pk=action.device_id)
        device.force_update = False
        Device.objects.filter(pk=device.pk).update(force_update=False)
        set_device_idle(device)
        if action.rollout is not None:  # no query without a rollout_id
            rollout_check_finished(rollout=action.rollout)


def _apply_deployment_feedback(action: Action, feedback: Feedback, progress: int | None) -> None:
    device_id = action.device_id
    now = timezone.now()
    if action.action_type == Action.ActionType.DOWNLOAD_ONLY and feedback.finished != Finished.FAILURE:
        # rauc-hawkbit-updater reports downloaded/success; SWUpdate closed/success "Skipped Update.".
        if feedback.execution in (Execution.DOWNLOADED, Execution.CLOSED):
            _finish_download_only(action, feedback)
            return
    if feedback.execution == Execution.CLOSED:
        if feedback.finished == Finished.FAILURE:
            if Action.objects.filter(pk=action.pk, status__in=Action.ACTIVE_STATUSES).update(
                status=Action.Status.ERROR, finished_at=now, last_code=feedback.code
            ):
                action.status = Action.Status.ERROR
                Device.objects.filter(pk=device_id).update(state=Device.State.ERROR, force_update=False)
                if action.rollout is not None:  # no query without a rollout_id
                    rollout_check_safety(rollout=action.rollout)
            return
        # success or none: the device runs this software now ("install wins over cancel").
        if Action.objects.filter(pk=action.pk, status__in=Action.ACTIVE_STATUSES).update(
            status=Action.Status.FINISHED, finished_at=now, progress=100, last_code=feedback.code
        ):
            action.status = Action.Status.FINISHED
            Device.objects.filter(pk=device_id).update(
                state=Device.State.FINISHED,
                progress=100,
                sw_version=action.software.version,
                installed_action=action,
                request_attributes=True,
                force_update=False,
            )
            if action.rollout is not None:  # no query without a rollout_id
                rollout_check_finished(rollout=action.rollout)
        return

    if feedback.execution in (Execution.REJECTED, Execution.CANCELED):
        return  # informational: the action stays active (hawkBit)
    # proceeding, scheduled, resumed, download, downloaded: the device is working on it.
    action_fields: dict = {"last_code": feedback.code} if feedback.code is not None else {}
    if progress is not None:
        action_fields["progress"] = progress
    if Action.objects.filter(pk=action.pk, status=Action.Status.PENDING).update(
        status=Action.Status.RUNNING, **action_fields
    ):
        action.status = Action.Status.RUNNING
    elif action_fields:
        Action.objects.filter(pk=action.pk).update(**action_fields)
    device_fields: dict = {"progress": progress} if progress is not None else {}
    # Not while canceling: the device summary keeps saying a cancel is under way.
    Device.objects.filter(pk=device_id).exclude(state=Device.State.CANCELING).update(
        state=Device.State.RUNNING, **device_fields
    )


def _apply_cancel_feedback(action: Action, feedback: Feedback) -> None:
    device = action.device
    if feedback.execution == Execution.CLOSED and feedback.finished != Finished.FAILURE:
        if Action.objects.filter(pk=action.pk, status=Action.Status.CANCELING).update(
            status=Action.Status.CANCELED, finished_at=timezone.now()
        ):
            action.status = Action.Status.CANCELED
            set_device_idle(device)
        return
    if feedback.execution == Execution.REJECTED or feedback.execution == Execution.CLOSED:
        # The device could not (or would not) stop: the update carries on via deploymentBase.
        if Action.objects.filter(pk=action.pk, status=Action.Status.CANCELING).update(
            status=Action.Status.RUNNING
        ):
            action.status = Action.Status.RUNNING
            Device.objects.filter(pk=device.pk).update(state=Device.State.RUNNING)


# --- confirmation (hawkBit's user-consent flow, ddi.md §1.8) --------------------------------
#
# With the flow on (selectors.confirmation_flow_enabled), an action whose assignment or rollout
# requires confirmation starts in WAIT_FOR_CONFIRMATION: the device sees confirmationBase instead
# of deploymentBase until it confirms (or its auto-confirm does). Confirmed, the action is pending
# like any other; a denial keeps it waiting. Existing waiting actions stay answerable after the
# flow is turned off.

AUTO_CONFIRM_FALLBACK_REMARK = "Initiated using the Device Direct Integration API without providing a remark."
MAX_INITIATOR_LENGTH = 64  # hawkBit's USERNAME_FIELD_LENGTH
MAX_REMARK_LENGTH = 512  # hawkBit's DESCRIPTION_MAX_SIZE


@dataclass
class ConfirmationFeedback:
    """One DDI confirmation feedback (``confirmed`` or ``denied``), validated by the protocol layer."""

    confirmed: bool
    code: int | None = None
    details: list[str] = field(default_factory=list)
    # Who answered in the device's name (an operator through /rest/v1); empty: the device itself.
    by: str = ""

    @property
    def who(self) -> str:
        return f"operator {self.by}" if self.by else "the device"


def action_record_confirmation(*, action: Action, feedback: ConfirmationFeedback) -> Action:
    """Store the device's answer to a confirmation request and move the action.

    confirmed: waiting → pending; the device is then offered deploymentBase. denied: the action
    keeps waiting; a confirmed action the device has not fetched yet goes back to waiting (a
    revoked confirmation, only while the flow is on). Gone when the action is closed; NotFound
    when it is not waiting for confirmation (e.g. being canceled, or already under way).
    """
    execution = Execution.CONFIRMED if feedback.confirmed else Execution.DENIED
    with transaction.atomic():
        status = _lock_action(action)
        if status is None:
            raise Gone(f"action {action.pk} no longer exists")
        action.status = status
        if status in CLOSED_ACTION_STATUSES:
            raise Gone(f"action {action.pk} is closed ({action.get_status_display().lower()})")
        revoke = (
            not feedback.confirmed
            and status == Action.Status.PENDING
            and action.confirmation_required
            and selectors.confirmation_flow_enabled()
        )
        if status != Action.Status.WAIT_FOR_CONFIRMATION and not revoke:
            raise NotFound(f"action {action.pk} is not waiting for confirmation")
        details = _check_quotas(
            action, Feedback(execution=execution, code=feedback.code, details=feedback.details)
        )
        ActionStatus.objects.create(
            action=action,
            channel=ActionStatus.Channel.CONFIRMATION,
            execution=execution,
            code=feedback.code,
            details=details,
        )
        channel = ActionStatus.Channel.CONFIRMATION
        if feedback.confirmed:
            _confirm(action, note=f"{feedback.who} confirmed the update: it proceeds")
        elif revoke:
            Action.objects.filter(pk=action.pk, status=Action.Status.PENDING).update(
                status=Action.Status.WAIT_FOR_CONFIRMATION
            )
            action.status = Action.Status.WAIT_FOR_CONFIRMATION
            Device.objects.filter(pk=action.device_id, state=Device.State.PENDING).update(
                state=Device.State.WAIT_FOR_CONFIRMATION
            )
            server_note(
                action,
                Execution.WAITING,
                f"{feedback.who} revoked the confirmation: the update waits for confirmation again",
                channel=channel,
            )
        else:
            server_note(
                action,
                Execution.WAITING,
                f"{feedback.who} denied the update: it keeps waiting for confirmation",
                channel=channel,
            )
    return action


def _confirm(action: Action, *, note: str) -> bool:
    """waiting → pending (compare-and-swap), with a server note; False if it was not waiting."""
    if not Action.objects.filter(pk=action.pk, status=Action.Status.WAIT_FOR_CONFIRMATION).update(
        status=Action.Status.PENDING
    ):
        return False
    action.status = Action.Status.PENDING
    Device.objects.filter(pk=action.device_id, state=Device.State.WAIT_FOR_CONFIRMATION).update(
        state=Device.State.PENDING
    )
    server_note(action, Execution.CONFIRMED, note, channel=ActionStatus.Channel.CONFIRMATION)
    return True


def _clean_optional_text(name: str, value: str | None, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{name} is at most {limit} characters, got {len(value)}")
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain NUL characters")
    return value


def device_activate_auto_confirm(
    *, device: Device, initiator: str | None = None, remark: str | None = None
) -> list[Action]:
    """Turn on the device's auto-confirm (hawkBit's activateAutoConfirm, by the device or an operator).

    Every update waiting for its confirmation is confirmed now, and future ones as they are
    created, in the name of ``initiator``. Conflict when it is active already. Returns the
    actions confirmed now.
    """
    initiator = _clean_optional_text("initiator", initiator, MAX_INITIATOR_LENGTH)
    remark = _clean_optional_text("remark", remark, MAX_REMARK_LENGTH)
    now = timezone.now()
    with transaction.atomic():
        if not Device.objects.filter(pk=device.pk, auto_confirm=False).update(
            auto_confirm=True,
            auto_confirm_initiator=initiator,
            auto_confirm_remark=remark,
            auto_confirm_activated_at=now,
            updated=now,
        ):
            if not Device.objects.filter(pk=device.pk).exists():
                raise NotFound(f"device {device.controller_id} no longer exists")
            raise Conflict(f"auto-confirm is already active for device {device.controller_id}")
        device.auto_confirm, device.auto_confirm_activated_at = True, now
        device.auto_confirm_initiator, device.auto_confirm_remark = initiator, remark
        waiting = Action.objects.filter(device_id=device.pk, status=Action.Status.WAIT_FOR_CONFIRMATION)
        confirmed = [action for action in waiting if _confirm(action, note=auto_confirm_message(device))]
    if confirmed and device.state == Device.State.WAIT_FOR_CONFIRMATION:
        device.state = Device.State.PENDING
    return confirmed


def device_deactivate_auto_confirm(*, device: Device) -> Device:
    """Turn the device's auto-confirm off: later updates wait for its confirmation again.

    Idempotent, as in hawkBit (deactivating an inactive auto-confirm answers 200).
    """
    now = timezone.now()
    Device.objects.filter(pk=device.pk, auto_confirm=True).update(
        auto_confirm=False,
        auto_confirm_initiator="",
        auto_confirm_remark="",
        auto_confirm_activated_at=None,
        updated=now,
    )
    device.auto_confirm, device.auto_confirm_activated_at = False, None
    device.auto_confirm_initiator = device.auto_confirm_remark = ""
    return device


# --- rollout safety --------------------------------------------------------------------------
