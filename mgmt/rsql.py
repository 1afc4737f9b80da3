"""PLACEHOLDER on the integration branch: the real compiler arrives from the `rsql` branch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import Q


class RsqlError(ValueError):
    pass


class UnknownField(RsqlError):
    pass


@dataclass(frozen=True)
class Field:
    lookup: str
    type: Literal["string", "number", "boolean", "timestamp", "enum"] = "string"
    choices: Mapping[str, Any] | None = None
    json_key: bool = False
    related_key: tuple[str, str] | None = None


def compile_query(query: str, fields: Mapping[str, Field], **limits: int) -> Q:
    raise RsqlError("q= is not supported yet")
