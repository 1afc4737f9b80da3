"""Domain errors raised by services; every interface maps them to a 4xx with the message.

Services never return HTTP responses, and views never re-implement the rules: a service raises
one of these with a sentence an operator or a device developer can act on, and the DDI views, the
DRF API, the admin and the management commands each turn it into their own kind of error.
"""

from __future__ import annotations

import errno


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    status_code = 400


class NotFound(DomainError):
    status_code = 404


class NotAllowed(DomainError):
    """The operation does not apply to the object in its current state."""

    status_code = 405


class Conflict(DomainError):
    status_code = 409


class Gone(DomainError):
    status_code = 410


class QuotaExceeded(DomainError):
    status_code = 429


# Write errors that mean "no room on the disk", answered 507 rather than 500.
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def is_no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS
