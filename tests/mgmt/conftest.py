"""Fixtures for the hawkBit Management API tests: clients that authenticate as hawkBit's do."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client


class MgmtClient:
    """A test client speaking to /rest/v1 with HTTP Basic and JSON, like hawkBit's tools."""

    def __init__(self, username: str, password: str) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.client = Client(HTTP_AUTHORIZATION=f"Basic {token}")

    def _url(self, path: str) -> str:
        return path if path.startswith("/") else f"/rest/v1/{path}"

    def get(self, path: str, **params: Any):
        return self.client.get(self._url(path), params)

    def post(self, path: str, body: Any = None, **extra: Any):
        return self.client.post(self._url(path), json.dumps(body), content_type="application/json", **extra)

    def put(self, path: str, body: Any = None):
        return self.client.put(self._url(path), json.dumps(body), content_type="application/json")

    def delete(self, path: str, **params: Any):
        query = "&".join(f"{key}={value}" for key, value in params.items())
        return self.client.delete(self._url(path) + (f"?{query}" if query else ""))

    def upload(self, path: str, **data: Any):
        return self.client.post(self._url(path), data)


@pytest.fixture
def mgmt(db) -> MgmtClient:
    """A Management API client signed in as a superuser (every hawkBit permission)."""
    get_user_model().objects.create_superuser("hawkbit", password="pw")
    return MgmtClient("hawkbit", "pw")


@pytest.fixture
def mgmt_as(db):
    """``mgmt_as("view_device", ...)``: a client whose user holds exactly these Django permissions."""
    counter = iter(range(1000))

    def make(*codenames: str) -> MgmtClient:
        username = f"user{next(counter)}"
        user = get_user_model().objects.create_user(username, password="pw")
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        return MgmtClient(username, "pw")

    return make
