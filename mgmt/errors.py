"""hawkBit's error body and status codes for everything /rest/v1 answers with an error.

hawkBit answers ``{"exceptionClass": ..., "errorCode": ..., "message": ...}`` (its ExceptionInfo,
empty fields left out) with the status its RestConfiguration maps the error code to. Tools
written for hawkBit branch on ``errorCode``, so each of our errors carries the hawkBit code that
means the same thing; the message is ours and names the problem.

Our services raise goosebit_project.lib.errors.DomainError subclasses; ``from_domain_error``
gives them hawkBit's code by their kind (a view that knows better raises MgmtError itself).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from goosebit_project.api_errors import flatten_validation_errors
from goosebit_project.lib import errors as domain

_REPOSITORY = "org.eclipse.hawkbit.repository.exception."
_REST = "org.eclipse.hawkbit.rest.exception."


class MgmtError(Exception):
    """An error with hawkBit's code, exception class and status."""

    def __init__(self, status: int, code: str, exception_class: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.exception_class = exception_class
        self.message = message


class _Kind:
    """One of hawkBit's errors: ``errors.not_found("target 'x' does not exist")`` makes it."""

    def __init__(self, status: int, code: str, exception_class: str) -> None:
        self.status, self.code, self.exception_class = status, code, exception_class

    def __call__(self, message: str) -> MgmtError:
        return MgmtError(self.status, self.code, self.exception_class, message)


not_found = _Kind(404, "hawkbit.server.error.repo.entityNotFound", _REPOSITORY + "EntityNotFoundException")
already_exists = _Kind(
    409, "hawkbit.server.error.repo.entityAlreadyExists", _REPOSITORY + "EntityAlreadyExistsException"
)
bad_request = _Kind(
    400, "hawkbit.server.error.repo.constraintViolation", "jakarta.validation.ConstraintViolationException"
)
body_not_readable = _Kind(
    400, "hawkbit.server.error.rest.body.notReadable", _REST + "MessageNotReadableException"
)
sort_syntax = _Kind(
    400, "hawkbit.server.error.rest.param.sortParamSyntax", _REST + "SortParameterSyntaxErrorException"
)
sort_field = _Kind(
    400, "hawkbit.server.error.rest.param.invalidField", _REST + "SortParameterUnsupportedFieldException"
)
sort_direction = _Kind(
    400,
    "hawkbit.server.error.rest.param.invalidDirection",
    _REST + "SortParameterUnsupportedDirectionException",
)
rsql_syntax = _Kind(
    400, "hawkbit.server.error.rest.param.rsqlParamSyntax", _REPOSITORY + "RSQLParameterSyntaxException"
)
rsql_field = _Kind(
    400,
    "hawkbit.server.error.rest.param.rsqlInvalidField",
    _REPOSITORY + "RSQLParameterUnsupportedFieldException",
)
insufficient_permission = _Kind(
    403, "hawkbit.server.error.insufficientPermission", _REPOSITORY + "InsufficientPermissionException"
)
locked = _Kind(423, "hawkbit.server.error.locked", _REPOSITORY + "LockedException")
rollout_illegal_state = _Kind(
    400, "hawkbit.server.error.rollout.illegalState", _REPOSITORY + "RolloutIllegalStateException"
)
config_key_invalid = _Kind(
    400, "hawkbit.server.error.configKeyInvalid", _REPOSITORY + "TenantConfigurationKeyInvalidException"
)
config_value_invalid = _Kind(
    400, "hawkbit.server.error.configValueInvalid", _REPOSITORY + "TenantConfigurationValidatorException"
)


def from_domain_error(exc: domain.DomainError) -> MgmtError:
    """hawkBit's nearest code for one of our service errors, keeping our status and message."""
    by_kind: list[tuple[type[domain.DomainError], str, str]] = [
        (domain.NotFound, "hawkbit.server.error.repo.entityNotFound", "EntityNotFoundException"),
        (domain.Conflict, "hawkbit.server.error.repo.entityAlreadyExists", "EntityAlreadyExistsException"),
        (domain.NotAllowed, "hawkbit.server.error.action.notCancelable", "CancelActionNotAllowedException"),
        (domain.Gone, "hawkbit.server.error.artifact.binaryDeleted", "ArtifactBinaryGoneException"),
        (
            domain.QuotaExceeded,
            "hawkbit.server.error.quota.tooManyEntries",
            "AssignmentQuotaExceededException",
        ),
    ]
    for kind, code, name in by_kind:
        if isinstance(exc, kind):
            return MgmtError(exc.status_code, code, _REPOSITORY + name, exc.message)
    return MgmtError(
        exc.status_code,
        "hawkbit.server.error.repo.constraintViolation",
        "jakarta.validation.ConstraintViolationException",
        exc.message,
    )


def _body(error: MgmtError) -> dict[str, Any]:
    return {"exceptionClass": error.exception_class, "errorCode": error.code, "message": error.message}


def _from_drf(exc: exceptions.APIException) -> MgmtError:
    if isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
        return MgmtError(
            exc.status_code,
            "hawkbit.server.error.rest.body.notReadable",
            _REST + "MessageNotReadableException",
            str(exc.detail),
        )
    if isinstance(exc, exceptions.ValidationError):
        return bad_request("; ".join(flatten_validation_errors(exc.detail)))
    if isinstance(exc, exceptions.PermissionDenied):
        return insufficient_permission(str(exc.detail))
    if isinstance(exc, exceptions.NotFound):
        return not_found(str(exc.detail))
    # 401, 405, 406, 429 and the like: hawkBit answers them from Spring without an error code.
    return MgmtError(exc.status_code, "", "", str(exc.detail))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler for the /rest/v1 views: every error in hawkBit's shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, domain.DomainError):
        exc = from_domain_error(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        exc = _from_drf(exc)
    if not isinstance(exc, MgmtError):
        return None
    set_rollback()
    body = {key: value for key, value in _body(exc).items() if value}
    return Response(body, status=exc.status, headers=headers)
