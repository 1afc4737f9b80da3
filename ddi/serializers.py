"""DDI request parsing and response shapes, field for field as hawkBit's JSON model.

Plain functions rather than DRF serializers: this is the hot path, and the shapes are fixed by an
external contract, not by our models.
"""

from __future__ import annotations

import json
import zlib
from typing import Any
from urllib.parse import quote

from django.conf import settings

from goosebit_project.lib.errors import InvalidInput
from rollouts.models import Action, ActionStatus
from rollouts.services import SERVER_PREFIX, Feedback
from software.models import Software

# What a device may report: every Execution except the two the server records for itself.
DEVICE_EXECUTIONS = set(ActionStatus.Execution.values) - {
    ActionStatus.Execution.RETRIEVED,
    ActionStatus.Execution.CANCELING,
}
FINISHED_VALUES = set(ActionStatus.Finished.values)
MAX_ACTION_HISTORY = 100


class BodyNotReadable(InvalidInput):
    """hawkBit's MessageNotReadableException: the body is not valid for this endpoint."""


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyNotReadable(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BodyNotReadable("the request body must be a JSON object")
    return data


_INT32 = 2**31 - 1


def _optional_int(value: Any, *, limit: int | None = None) -> int | None:
    # Lenient: real clients send odd counters; a value we cannot read (or, with a limit, store
    # in a 32-bit column) is ignored, not rejected.
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, int) and (limit is None or -limit <= value <= limit):
        return value
    return None


def _detail_text(detail: Any) -> str:
    text = detail if isinstance(detail, str) else json.dumps(detail)
    # SWUpdate inserts some error lines unescaped (ddi.md §3.3); PostgreSQL's JSON cannot hold
    # NUL, and a log line must never lose the feedback it belongs to.
    return text.replace("\x00", "\ufffd")


def parse_feedback(body: bytes) -> Feedback:
    """Strict only where hawkBit is (status, execution, result.finished); lenient elsewhere."""
    data = parse_json_object(body)
    status = data.get("status")
    if not isinstance(status, dict):
        raise BodyNotReadable("feedback needs a 'status' object")
    execution = status.get("execution")
    if execution not in DEVICE_EXECUTIONS:
        raise BodyNotReadable(
            f"status.execution must be one of {', '.join(sorted(DEVICE_EXECUTIONS))}, got {execution!r}"
        )
    result = status.get("result")
    if not isinstance(result, dict):
        raise BodyNotReadable("feedback needs a 'status.result' object")
    finished = result.get("finished")
    if finished not in FINISHED_VALUES:
        raise BodyNotReadable(f"status.result.finished must be success, failure or none, got {finished!r}")
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


def parse_config_data(body: bytes) -> tuple[dict[str, Any], str]:
    data = parse_json_object(body)
    attributes = data.get("data")
    if not isinstance(attributes, dict) or not attributes:
        raise BodyNotReadable("configData needs a non-empty 'data' object")
    mode = data.get("mode") or "merge"
    if not isinstance(mode, str):
        raise BodyNotReadable("configData 'mode' must be merge, replace or remove")
    return attributes, mode.lower()


def deployment_c(action: Action) -> int:
    """hawkBit's ``?c=`` value: any integer that changes when what we offer changes."""
    return zlib.crc32(f"{action.pk}:{action.software_id}:{action.reason}".encode())


def artifact(software: Software, *, base: str) -> dict[str, Any]:
    href = f"{base}/softwaremodules/{software.pk}/artifacts/{quote(software.filename)}"
    md5sum = f"{href}.MD5SUM"
    return {
        "filename": software.filename,
        "hashes": {"sha1": software.sha1, "md5": software.md5, "sha256": software.sha256},
        "size": software.size,
        "_links": {
            "download": {"href": href},
            "download-http": {"href": href},
            "md5sum": {"href": md5sum},
            "md5sum-http": {"href": md5sum},
        },
    }


def deployment(action: Action, *, base: str, history: list[str] | None) -> dict[str, Any]:
    software = action.software
    payload: dict[str, Any] = {
        "id": str(action.pk),
        "deployment": {
            "download": "forced",
            "update": "forced",
            "chunks": [
                {
                    "part": settings.GOOSEBIT_DDI_CHUNK_PART,
                    "version": software.version,
                    "name": software.filename,
                    "artifacts": [artifact(software, base=base)],
                }
            ],
        },
    }
    if history:  # hawkBit leaves an empty history out
        payload["actionHistory"] = {"status": action.status.upper(), "messages": history}
    return payload


def action_history(action: Action, requested: str | None) -> list[str] | None:
    """``actionHistory=N``: the N newest device messages (negative: up to 100; 0 or bare: none)."""
    if requested is None or requested.strip() == "":
        return None
    try:
        count = int(requested)
    except ValueError:
        raise InvalidInput(f"actionHistory must be a number, got {requested!r}") from None
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
