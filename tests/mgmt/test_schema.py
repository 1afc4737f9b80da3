"""/rest/v1 has its own OpenAPI document; /api/schema/ stays our own API's."""

from __future__ import annotations

import pytest
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def test_the_management_api_document_lists_rest_v1_and_nothing_else(client):
    response = client.get("/rest/v1/openapi.json", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    paths = set(schema["paths"])
    assert {"/rest/v1/userinfo", "/rest/v1/system/configs", "/rest/v1/system/configs/{key}"} <= paths
    assert all(path.startswith("/rest/v1/") for path in paths)
    operation_ids = [
        operation["operationId"] for methods in schema["paths"].values() for operation in methods.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_our_own_api_document_leaves_the_management_api_out(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert not [path for path in schema["paths"] if path.startswith("/rest/")]
    assert "/api/v1/devices/" in schema["paths"]
