"""Fixtures for the DDI tests; the helpers they share live in tests/ddi/helpers.py."""

from __future__ import annotations

import importlib

import pytest
from django.test import Client

from tests.ddi.helpers import ddi_url, feedback_body  # noqa: F401  (the brief's helpers, re-exported)


@pytest.fixture
def ddi_client() -> Client:
    # Devices never send CSRF tokens: the DDI views must work with CSRF checks enforced.
    return Client(enforce_csrf_checks=True)


# The services are imported when a test runs, not when the module is collected, so a missing or
# broken service fails only the tests that use it.
@pytest.fixture
def device_services():
    return importlib.import_module("devices.services")


@pytest.fixture
def rollout_services():
    return importlib.import_module("rollouts.services")


@pytest.fixture(autouse=True)
def _pinned_settings(settings):
    # Payload assertions spell out sleep, tenant and chunk part: pin them whatever the environment says.
    settings.GOOSEBIT_POLL_TIME = "00:01:00"
    settings.GOOSEBIT_POLL_TIME_REGISTRATION = "00:00:10"
    settings.GOOSEBIT_TENANTS = ["DEFAULT"]
    settings.GOOSEBIT_DDI_CHUNK_PART = "os"
