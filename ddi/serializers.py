"""DDI request parsing and response shapes, field for field as hawkBit's JSON model.

Plain functions rather than DRF serializers: this is the hot path, and the shapes are fixed by an
external contract, not by our models.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any
from urllib.parse import quote

from django.conf import settings

from devices.models import Device
from goosebit_project.lib.errors import InvalidInput
from rollouts.models import Action, ActionStatus
from rollouts.options import Offer, offer
from rollouts.services import (
    MAX_INITIATOR_LENGTH,
    MAX_REMARK_LENGTH,
    SERVER_PREFIX,
    ConfirmationFeedback,
    Feedback,
)
from software import selectors as software_selectors
from software.models import Artifact
from software.selectors import ArtifactRef, ModuleChunk

# What a device may report as feedback: every Execution except what the server records for
# itself and the answers of the confirmation channel (which has its own body).
DEVICE_EXECUTIONS = set(ActionStatus.Execution.values) - {
    ActionStatus.Execution.RETRIEVED,
    ActionStatus.Execution.CANCELING,
    ActionStatus.Execution.WAITING,
    ActionStatus.Execution.CONFIRMED,
    ActionStatus.Execution.DENIED,
}
FINISHED_VALUES = set(ActionStatus.Finished.values)
MAX_ACTION_HISTORY = 100


class BodyNotReadable(InvalidInput):
    """hawkBit's MessageNotReadableException: the body is not valid for this endpoint."""


# No DDI body is more than a few levels deep; the bound keeps json (recursive) and everything that
# walks the result far from Python's recursion limit.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


def _nested_too_deeply(text: str, limit: int) -> bool:
    """Is ``text`` nested more than ``limit`` arrays/objects deep? Linear, without recursion.

    Strings are cut out, every opening bracket becomes ``[`` and every closing one ``]``; each
    pass removes the innermost pairs, so what is left after ``limit`` passes is deeper than that.
    """
    structure = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    structure = structure.replace("{", "[").replace("}", "]")
    for _ in range(limit):
        if "[]" not in structure:
            break
        structure = structure.replace("[]", "")
    return "[]" in structure or structure.count("[") > limit


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        # What json.loads does with bytes, done here so the depth check sees the same text.
        text = body.decode(json.detect_encoding(body), "surrogatepass") if body else "null"
    except UnicodeDecodeError as exc:
        raise BodyNotReadable(f"the request body is not valid JSON: {exc}") from None
    if _nested_too_deeply(text, MAX_JSON_DEPTH):
        raise BodyNotReadable(f"the request body is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BodyNotReadable(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BodyNotReadable("the request body must be a JSON object")
    return data


_INT32 = 2**31 - 1


# ASCII digits only: str.isdigit() also accepts "²" and int() accepts "٣" and "1_0".
_DECIMAL = re.compile(r"-?[0-9]{1,18}", re.ASCII)


def _optional_int(value: Any, *, limit: int | None = None) -> int | None:
    # Lenient: real clients send odd counters; a value we cannot read (or, with a limit, store
    # in a 32-bit column) is ignored, not rejected.
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if _DECIMAL.fullmatch(text) else None
    if isinstance(value, int) and (limit is None or -limit <= value <= limit):
        return value
    return None


TRUNCATED_MARKER = " … [truncated]"


def truncate_detail(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, marker included, on a character boundary.

    Cut rather than refused: SWUpdate sends whole error output as one line with its final
    closed/failure, and refusing that feedback would leave the action running for ever.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return text
    room = max(0, limit - len(TRUNCATED_MARKER.encode()))
    return encoded[:room].decode("utf-8", "ignore") + TRUNCATED_MARKER


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` with what PostgreSQL cannot store (NUL, lone surrogates) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", "\ufffd"))


def _detail_text(detail: Any) -> str:
    text = detail if isinstance(detail, str) else json.dumps(detail)
    # SWUpdate inserts some error lines unescaped (ddi.md §3.3); PostgreSQL's JSON cannot hold
    # NUL or "\ud800", and a log line must never lose the feedback it belongs to.
    return truncate_detail(storable_text(text), settings.GOOSEBIT_DDI_MAX_DETAIL_BYTES)


def _choice(value: Any, choices: set[str]) -> str | None:
    """``value`` if it is one of ``choices``; a list or object (unhashable) is simply not."""
    return value if isinstance(value, str) and value in choices else None


def _shown(value: Any) -> str:
    """A device's value quoted in an error message, cut so the message stays short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def parse_feedback(body: bytes) -> Feedback:
    """Strict only where hawkBit is (status, execution, result.finished); lenient elsewhere."""
    data = parse_json_object(body)
    status = data.get("status")
    if not isinstance(status, dict):
        raise BodyNotReadable("feedback needs a 'status' object")
    execution = _choice(status.get("execution"), DEVICE_EXECUTIONS)
    if execution is None:
        choices = ", ".join(sorted(DEVICE_EXECUTIONS))
        raise BodyNotReadable(
            f"status.execution must be one of {choices}, got {_shown(status.get('execution'))}"
        )
    result = status.get("result")
    if not isinstance(result, dict):
        raise BodyNotReadable("feedback needs a 'status.result' object")
    finished = _choice(result.get("finished"), FINISHED_VALUES)
    if finished is None:
        raise BodyNotReadable(
            f"status.result.finished must be success, failure or none, got {_shown(result.get('finished'))}"
        )
    raw_progress = result.get("progress")
    progress: dict[str, Any] = raw_progress if isinstance(raw_progress, dict) else {}
    details = status.get("details") or []
    if not isinstance(details, list):
        details = [details]
    return Feedback(
        execution=execution,
        finished=finished,
        progress_cnt=_optional_int(progress.get("cnt")),
        progress_of=_optional_int(progress.get("of")),
        code=_optional_int(status.get("code"), limit=_INT32),
        details=[_detail_text(detail) for detail in details],
    )


CONFIRMATION_VALUES = ("confirmed", "denied")


def _strict_int32(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -_INT32 - 1 <= value <= _INT32:
        raise BodyNotReadable(
            f"{name} must be a whole number between {-_INT32 - 1} and {_INT32}, got {_shown(value)}"
        )
    return value


def _strict_details(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(detail, str) for detail in value):
        raise BodyNotReadable(f"details must be a list of strings, got {_shown(value)}")
    max_details = settings.GOOSEBIT_DDI_MAX_DETAILS_PER_FEEDBACK
    if len(value) > max_details:
        raise BodyNotReadable(f"details may hold at most {max_details} lines, got {len(value)}")
    return [_detail_text(detail) for detail in value]


def parse_confirmation_feedback(body: bytes) -> ConfirmationFeedback:
    """hawkBit's DdiConfirmationFeedback: ``confirmation`` (required), ``code``, ``details``.

    Strict, as hawkBit's JSON binding is: a wrong type is a 400 naming the field, not a guess.
    Unknown fields are ignored.
    """
    data = parse_json_object(body)
    confirmation = _choice(data.get("confirmation"), set(CONFIRMATION_VALUES))
    if confirmation is None:
        raise BodyNotReadable(
            f"confirmation must be confirmed or denied, got {_shown(data.get('confirmation'))}"
        )
    return ConfirmationFeedback(
        confirmed=confirmation == "confirmed",
        code=_strict_int32("code", data.get("code")),
        details=_strict_details(data.get("details")),
    )


def _strict_text(name: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BodyNotReadable(f"{name} must be a string, got {_shown(value)}")
    if len(value) > limit:
        raise BodyNotReadable(f"{name} is at most {limit} characters, got {len(value)}")
    return storable_text(value)


def parse_activate_auto_confirm(body: bytes) -> tuple[str | None, str | None]:
    """hawkBit's DdiActivateAutoConfirmation: optional ``initiator`` and ``remark`` strings."""
    data = parse_json_object(body)
    return (
        _strict_text("initiator", data.get("initiator"), MAX_INITIATOR_LENGTH),
        _strict_text("remark", data.get("remark"), MAX_REMARK_LENGTH),
    )


def auto_confirm_state(device: Device) -> dict[str, Any]:
    """hawkBit's DdiAutoConfirmationState: empty fields left out."""
    if not device.auto_confirm:
        return {"active": False}
    state: dict[str, Any] = {"active": True}
    if device.auto_confirm_initiator:
        state["initiator"] = device.auto_confirm_initiator
    if device.auto_confirm_remark:
        state["remark"] = device.auto_confirm_remark
    if device.auto_confirm_activated_at is not None:
        state["activatedAt"] = int(device.auto_confirm_activated_at.timestamp() * 1000)
    return state


def parse_config_data(body: bytes) -> tuple[dict[str, Any], str]:
    data = parse_json_object(body)
    attributes = data.get("data")
    if not isinstance(attributes, dict) or not attributes:
        raise BodyNotReadable("configData needs a non-empty 'data' object")
    mode = data.get("mode")
    if mode is None or mode == "":
        mode = "merge"
    if not isinstance(mode, str):
        raise BodyNotReadable("configData 'mode' must be merge, replace or remove")
    return attributes, mode.lower()


def deployment_c(action: Action, offered: Offer | None = None) -> int:
    """hawkBit's ``?c=`` value: any integer that changes when what we offer changes.

    That includes how it is offered (``offered``, computed now when not given): a time-forced
    update reaching its forcetime, a maintenance window opening or closing, an operator forcing
    a soft update. Clients that cache deploymentBase by its href then read it again.
    """
    offered = offered or offer(action)
    return zlib.crc32(
        f"{action.pk}:{action.software_id}:{action.reason}:"
        f"{offered.download}:{offered.update}:{offered.maintenance_window}".encode()
    )


def artifact(item: Artifact | ArtifactRef, *, base: str) -> dict[str, Any]:
    href = f"{base}/softwaremodules/{item.module_id}/artifacts/{quote(item.filename)}"
    md5sum = f"{href}.MD5SUM"
    return {
        "filename": item.filename,
        "hashes": {"sha1": item.sha1, "md5": item.md5, "sha256": item.sha256},
        "size": item.size,
        "_links": {
            "download": {"href": href},
            "download-http": {"href": href},
            "md5sum": {"href": md5sum},
            "md5sum-http": {"href": md5sum},
        },
    }


# hawkBit's legacy names for two module types (DdiRootController).
_LEGACY_PARTS = {"application": "bApp", "runtime": "jvm"}


def chunk_part(type_key: str) -> str:
    if type_key == "os":
        # Packages are os modules; GOOSEBIT_DDI_CHUNK_PART renames their part (bApp for Zephyr).
        return settings.GOOSEBIT_DDI_CHUNK_PART
    return _LEGACY_PARTS.get(type_key, type_key)


def chunk(module: ModuleChunk, *, base: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "part": chunk_part(module.type_key),
        "version": module.version,
        "name": module.name,
    }
    if module.encrypted:
        payload["encrypted"] = True
    payload["artifacts"] = [artifact(item, base=base) for item in module.artifacts]
    if module.visible_metadata:
        payload["metadata"] = [{"key": key, "value": value} for key, value in module.visible_metadata]
    return payload


def deployment(
    action: Action,
    *,
    base: str,
    history: list[str] | None,
    key: str = "deployment",
    offered: Offer | None = None,
) -> dict[str, Any]:
    """DdiDeploymentBase; with ``key="confirmation"`` DdiConfirmationBaseAction (same shape).

    ``download``/``update``/``maintenanceWindow`` follow the action type and window
    (rollouts.options.offer, computed now when not given).
    """
    modules = software_selectors.release_chunks(software_id=action.software_id)
    offered = offered or offer(action)
    payload: dict[str, Any] = {
        "id": str(action.pk),
        key: {
            "download": offered.download,
            "update": offered.update,
            "chunks": [chunk(module, base=base) for module in modules],
        },
    }
    if offered.maintenance_window is not None:  # only for actions with a maintenance window
        body = payload[key]
        payload[key] = {
            "download": body.pop("download"),
            "update": body.pop("update"),
            "maintenanceWindow": offered.maintenance_window,
            **body,
        }
    if history:  # hawkBit leaves an empty history out
        payload["actionHistory"] = {"status": action.status.upper(), "messages": history}
    return payload


def action_history(action: Action, requested: str | None) -> list[str] | None:
    """``actionHistory=N``: the N newest device messages (negative: up to 100; 0 or bare: none)."""
    if requested is None or requested.strip() == "":
        return None
    text = requested.strip()
    if not re.fullmatch(r"-?[0-9]+", text, re.ASCII):
        raise InvalidInput(f"actionHistory must be a number, got {_shown(requested)}")
    # Any count beyond the cap means the cap; a thousand digits need no int() to say so.
    count = int(text) if len(text) <= 18 else (-1 if text.startswith("-") else MAX_ACTION_HISTORY)
    if count == 0:
        return None
    limit = MAX_ACTION_HISTORY if count < 0 else min(count, MAX_ACTION_HISTORY)
    messages: list[str] = []
    statuses = action.statuses.filter(source=ActionStatus.Source.DEVICE).order_by("-id")
    for details in statuses.values_list("details", flat=True).iterator():
        for message in reversed(details or []):
            if not str(message).startswith(SERVER_PREFIX):
                messages.append(str(message))
            if len(messages) >= limit:
                return messages
    return messages
