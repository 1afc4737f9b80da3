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
