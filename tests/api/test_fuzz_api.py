"""Fuzz every /api/v1 operation from the OpenAPI schema the app serves: no answer is a 5xx.

schemathesis generates requests (valid and invalid) from /api/schema/ and sends them through the
WSGI application in-process, as an operator with every permission. The sample is small and
derandomized so the suite stays deterministic and fast; bench/fuzz_api.py sends >= 10,000 of them
against a real gunicorn.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from goosebit_project.wsgi import application
from tests.factories import make_device, make_software


def _buffered_application(environ: dict, start_response: Callable) -> list[bytes]:
    """The app, with each body read and closed at once (the test client leaves downloads open).

    Like Django's test client, it keeps the request signals from closing the test's database
    connection (PostgreSQL would lose its test transaction).
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        try:
            return [b"".join(result)]
        finally:
            if hasattr(result, "close"):
                result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_wsgi("/api/schema/", _buffered_application).include(path_regex="^/api/v1/")

OPERATOR = {"HTTP_USER": "fuzz-operator", "PASSWORD": "fuzz-operator-password"}


@pytest.fixture
def operator_headers(db) -> dict[str, str]:
    user_model = get_user_model()
    if not user_model.objects.filter(username=OPERATOR["HTTP_USER"]).exists():
        user_model.objects.create_superuser(OPERATOR["HTTP_USER"], password=OPERATOR["PASSWORD"])
        # Something to find, so ids and controller ids hit real rows now and then.
        make_device("1")
        make_software("1.0.0")
    credentials = base64.b64encode(f"{OPERATOR['HTTP_USER']}:{OPERATOR['PASSWORD']}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


@schema.parametrize()
@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_api_operation_answers_a_server_error(case, operator_headers):
    response = case.call(headers=operator_headers)

    case.validate_response(response, checks=[not_a_server_error])
