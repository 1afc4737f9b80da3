"""The settings the software app adds, parsed the way start-up parses them."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parents[2] / "goosebit_project" / "settings.py"


def load(monkeypatch, tmp_path, **env: str) -> dict:
    monkeypatch.setenv("GOOSEBIT_ENV_FILE", "")
    monkeypatch.setenv("GOOSEBIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GOOSEBIT_SECRET_KEY", "x")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_the_defaults(monkeypatch, tmp_path):
    for name in (
        "GOOSEBIT_STORAGE__S3__DOWNLOAD_MODE",
        "GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX",
        "GOOSEBIT_REMOTE_SOFTWARE_CACHE",
    ):
        monkeypatch.delenv(name, raising=False)

    values = load(monkeypatch, tmp_path)

    assert values["GOOSEBIT_S3_DOWNLOAD_MODE"] == "redirect"
    assert values["GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX"] == ""
    assert values["GOOSEBIT_REMOTE_SOFTWARE_CACHE"] is False


def test_values_are_read(monkeypatch, tmp_path):
    values = load(
        monkeypatch,
        tmp_path,
        GOOSEBIT_STORAGE__S3__DOWNLOAD_MODE="Proxy",
        GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX="/protected-artifacts/",
        GOOSEBIT_REMOTE_SOFTWARE_CACHE="true",
    )

    assert values["GOOSEBIT_S3_DOWNLOAD_MODE"] == "proxy"
    assert values["GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX"] == "/protected-artifacts/"
    assert values["GOOSEBIT_REMOTE_SOFTWARE_CACHE"] is True


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "GOOSEBIT_STORAGE__S3__DOWNLOAD_MODE",
            "stream",
            "GOOSEBIT_STORAGE__S3__DOWNLOAD_MODE must be one of",
        ),
        (
            "GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX",
            "protected",
            "GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX must start and end",
        ),
        (
            "GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX",
            "/protected",
            "GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX must start and end",
        ),
        (
            "GOOSEBIT_REMOTE_SOFTWARE_CACHE",
            "sometimes",
            "GOOSEBIT_REMOTE_SOFTWARE_CACHE must be true or false",
        ),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, tmp_path, variable, value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load(monkeypatch, tmp_path, **{variable: value})
