"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(settings, tmp_path):
    """Every test stores artifacts in its own folder, so no test sees another's files."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "artifacts")},
        },
    }
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from rollouts.selectors.targets import _worker_targets

    cache.clear()
    _worker_targets.reset(0)  # each test starts with a cold per-worker target cache
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _warm_tenant_config(settings):
    """Each test starts with no stored tenant settings, as if just read: a warm per-process cache
    over the empty table, so query counts on the poll see the steady state. A long TTL keeps it
    warm however slow the machine; tests of the cache itself set their own."""
    from devices.tenant_config import cache

    settings.GOOSEBIT_TENANT_CONFIG_TTL = 60
    cache.prime({})
    yield
    cache.invalidate()
