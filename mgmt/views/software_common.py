"""What the software resources' views share: hawkBit's codes for our software errors, reading
request bodies field by field (a 400 names the field), ``soft_deleted_mode``, lookups by id."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from django.db import transaction
from django.db.models import Model, QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib import rsql
from mgmt import errors
from mgmt.paging import paged_response
from mgmt.views.base import MgmtView
from software import selectors
from software.exceptions import ChecksumMismatch, ModuleTypeNotAllowed, SoftwareLocked, TypeInUse

M = TypeVar("M", bound=Model)

_REPOSITORY = "org.eclipse.hawkbit.repository.exception."
_MAX_ID = 2**63 - 1
_CHECKSUM_EXCEPTIONS = {
    "md5": "InvalidMd5HashException",
    "sha1": "InvalidSha1HashException",
    "sha256": "InvalidSha256HashException",
}


def _software_error(exc: Exception) -> errors.MgmtError | None:
    """hawkBit's code for the software errors whose kind alone does not say it."""
    message = getattr(exc, "message", str(exc))
    if isinstance(exc, SoftwareLocked):
        return errors.locked(message)
    if isinstance(exc, TypeInUse):
        return errors.MgmtError(
            403, "hawkbit.server.error.entityReadOnly", _REPOSITORY + "EntityReadOnlyException", message
        )
    if isinstance(exc, ChecksumMismatch):
        return errors.MgmtError(
            400,
            f"hawkbit.server.error.artifact.uploadFailed.checksum.{exc.algorithm}.match",
            _REPOSITORY + _CHECKSUM_EXCEPTIONS.get(exc.algorithm, "InvalidMd5HashException"),
            message,
        )
    if isinstance(exc, ModuleTypeNotAllowed):
        return errors.MgmtError(
            400,
            "hawkbit.server.error.distributionset.modules.unsupported",
            _REPOSITORY + "UnsupportedSoftwareModuleForThisDistributionSetException",
            message,
        )
    return None


class SoftwareView(MgmtView):
    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(_software_error(exc) or exc)


class CollectionView(SoftwareView):
    """A hawkBit collection: GET answers a page of it, POST takes a list of new entries and
    creates all of them or none, answering 201 with each as GET would show it."""

    paged = True
    sort_fields: ClassVar[dict[str, str]]
    query_fields: ClassVar[dict[str, rsql.Field]]

    def items(self, deleted_mode: str) -> QuerySet[Any]:
        raise NotImplementedError

    def render(self, request: Request, item: Any) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, body: dict[str, Any], where: str) -> Model:
        """Create one entry from its body; ``where`` (``[2].``) prefixes the field in errors."""
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        return paged_response(
            request,
            self.items(deleted_mode(request)),
            render=lambda item: self.render(request, item),
            sort_fields=self.sort_fields,
            default_sort=["pk"],
            query_fields=self.query_fields,
        )

    def post(self, request: Request) -> Response:
        bodies = [entry(item, f"[{index}].") for index, item in enumerate(self.body_list(request))]
        with transaction.atomic():
            created = [self.create(body, f"[{index}].").pk for index, body in enumerate(bodies)]
        items = self.items("INCLUDE_SOFT_DELETED").filter(pk__in=created).order_by("pk")
        return Response([self.render(request, item) for item in items], status=201)


def deleted_mode(request: Request) -> str:
    raw = request.query_params.get("soft_deleted_mode", "").strip().upper()
    if not raw:
        return "EXCLUDE_SOFT_DELETED"
    if raw not in selectors.SOFT_DELETED_MODES:
        raise errors.bad_request(
            f"soft_deleted_mode must be one of {', '.join(selectors.SOFT_DELETED_MODES)}"
        )
    return raw


def get_or_404(queryset: QuerySet[M], pk: int, what: str) -> M:
    found = queryset.filter(pk=pk).first() if 0 < pk <= _MAX_ID else None
    if found is None:
        raise errors.not_found(f"{what} with id {pk} does not exist")
    return found


def text(body: dict[str, Any], name: str, *, required: bool = False, where: str = "") -> str | None:
    """A string field; absent or null reads as None (refused when required)."""
    value = body.get(name)
    if value is None:
        if required:
            raise errors.bad_request(f"{where}{name} is required")
        return None
    if not isinstance(value, str):
        raise errors.bad_request(f"{where}{name} must be a string")
    if required and not value.strip():
        raise errors.bad_request(f"{where}{name} must not be empty")
    return value


def flag(body: dict[str, Any], name: str, *, where: str = "") -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise errors.bad_request(f"{where}{name} must be true or false")
    return value


def whole_number(body: dict[str, Any], name: str, *, required: bool = False, where: str = "") -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise errors.bad_request(f"{where}{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.bad_request(f"{where}{name} must be a whole number")
    return value


def entry(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.bad_request(f"{where.rstrip('.') or 'the body'} must be a JSON object")
    return value


def entity_id(value: Any, where: str) -> int:
    """``{"id": N}`` (hawkBit's MgmtId) -> N."""
    number = whole_number(entry(value, where), "id", required=True, where=where)
    assert number is not None
    if not 0 < number <= _MAX_ID:
        raise errors.bad_request(f"{where}id must be a positive number")
    return number


def id_list(value: Any, name: str) -> list[int]:
    """A list of ``{"id": N}``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.bad_request(f'{name} must be a list of {{"id": ...}} objects')
    if len(value) > 500:
        raise errors.bad_request(f"{name} takes at most 500 entries")
    return [entity_id(item, f"{name}[{index}].") for index, item in enumerate(value)]


def unsupported_flag(body: dict[str, Any], name: str, *, current: bool, where: str = "") -> None:
    """hawkBit lets ``locked``/``requiredMigrationStep`` be set; ours are derived or absent, so only
    the value we have is accepted."""
    value = flag(body, name, where=where)
    if value is not None and value != current:
        raise errors.bad_request(f"{where}{name} cannot be set to {str(value).lower()} here")
