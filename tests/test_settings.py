"""Settings parsing: good values work, bad values stop start-up with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from goosebit_project.lib import config

ROOT = Path(__file__).resolve().parent.parent


def test_poll_time_accepts_hh_mm_ss():
    assert config.parse_poll_time("GOOSEBIT_POLL_TIME", "00:05:00") == "00:05:00"
    assert config.poll_seconds("01:02:03") == 3723


@pytest.mark.parametrize("value", ["5m", "00:60:00", "24:00:00", "0:05:00", "00:00:00", ""])
def test_poll_time_rejects_other_forms(value):
    with pytest.raises(ImproperlyConfigured, match="GOOSEBIT_POLL_TIME"):
        config.parse_poll_time("GOOSEBIT_POLL_TIME", value)


def test_tenants_from_a_single_name_a_json_list_or_commas():
    assert config.parse_tenants("T", "DEFAULT") == ["DEFAULT"]
    assert config.parse_tenants("T", '["A", "b"]') == ["A", "b"]
    assert config.parse_tenants("T", "A, B") == ["A", "B"]
    with pytest.raises(ImproperlyConfigured, match="T"):
        config.parse_tenants("T", "a/b")


def test_bool_rejects_garbage():
    assert config.parse_bool("X", "True") is True
    assert config.parse_bool("X", "0") is False
    with pytest.raises(ImproperlyConfigured, match="X must be true or false"):
        config.parse_bool("X", "maybe")


def test_sqlite_uri_relative_and_absolute(tmp_path):
    relative = config.parse_database_url("DB", "sqlite:///data/db.sqlite3", base_dir=tmp_path)
    assert relative["NAME"] == str(tmp_path / "data" / "db.sqlite3")
    absolute = config.parse_database_url("DB", "sqlite:////var/lib/g.db", base_dir=tmp_path)
    assert absolute["NAME"] == "/var/lib/g.db"


def test_postgres_uri():
    db = config.parse_database_url(
        "DB", "postgres://user:p%40ss@db.local:5433/goose?sslmode=require", base_dir=ROOT
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "goose",
        "user",
        "p@ss",
        "db.local",
        "5433",
    )
    assert db["OPTIONS"] == {
        "sslmode": "require",
        "connect_timeout": "5",
        "keepalives_idle": "30",
        "keepalives_interval": "5",
        "keepalives_count": "3",
        "tcp_user_timeout": "10000",
    }


def test_unknown_database_scheme_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="GOOSEBIT_DB_URI has an unsupported scheme"):
        config.parse_database_url("GOOSEBIT_DB_URI", "mysql://x/y", base_dir=ROOT)


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = config.load_or_create_secret_key(tmp_path / "secret_key")
    second = config.load_or_create_secret_key(tmp_path / "secret_key")
    assert first == second
    assert len(first) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def _start(tmp_path, **env):
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GOOSEBIT_") and key != "DJANGO_SETTINGS_MODULE"
    }
    environment.update({"GOOSEBIT_DATA_DIR": str(tmp_path), "GOOSEBIT_ENV_FILE": "", **env})
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GOOSEBIT_POLL_TIME", "5 minutes", "GOOSEBIT_POLL_TIME must be a time of the form HH:MM:SS"),
        ("GOOSEBIT_DB_URI", "oracle://x/y", "GOOSEBIT_DB_URI has an unsupported scheme"),
        ("GOOSEBIT_MAX_CONCURRENT_UPDATES", "lots", "GOOSEBIT_MAX_CONCURRENT_UPDATES must be a whole"),
        ("GOOSEBIT_DEVICE_AUTH__MODE", "open", "GOOSEBIT_DEVICE_AUTH__MODE must be one of"),
        ("GOOSEBIT_STORAGE__BACKEND", "ftp", "GOOSEBIT_STORAGE__BACKEND must be one of"),
        ("GOOSEBIT_DB_CONNECT_TIMEOUT", "0", "GOOSEBIT_DB_CONNECT_TIMEOUT must be at least 1"),
        ("GOOSEBIT_DB_STATEMENT_TIMEOUT", "soon", "GOOSEBIT_DB_STATEMENT_TIMEOUT must be a whole"),
        ("GOOSEBIT_UPLOAD_TEMP_DIR", "/proc/no/such", "GOOSEBIT_UPLOAD_TEMP_DIR cannot be created"),
        ("GOOSEBIT_DEFAULT_HARDWARE", "rpi4", "GOOSEBIT_DEFAULT_HARDWARE must be model:revision"),
        ("GOOSEBIT_HARDWARE_MODEL_KEYS", " , ", "GOOSEBIT_HARDWARE_MODEL_KEYS must name at least one"),
        ("GOOSEBIT_TOKEN_KEYS", "nope", "GOOSEBIT_TOKEN_KEYS: key 1 is not a Fernet key"),
        ("GOOSEBIT_TOKEN_HASH_KEYS", "short", "GOOSEBIT_TOKEN_HASH_KEYS: key 1 is shorter than 16"),
        ("GOOSEBIT_POLL_OVERDUE_TIME", "5m", "GOOSEBIT_POLL_OVERDUE_TIME must be a time of the form"),
        ("GOOSEBIT_TENANT_CONFIG_TTL", "-1", "GOOSEBIT_TENANT_CONFIG_TTL must be at least 0"),
        ("GOOSEBIT_CONFIRMATION_FLOW", "sometimes", "GOOSEBIT_CONFIRMATION_FLOW must be true or false"),
    ],
)
def test_a_bad_value_stops_start_up_with_a_message_naming_the_variable(tmp_path, variable, value, message):
    result = _start(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_token_keys_are_fernet_keys_and_a_bad_one_is_named_by_position_not_echoed():
    good = "x" * 43 + "="
    assert config.parse_fernet_keys("GOOSEBIT_TOKEN_KEYS", f" {good}, ") == [good]
    assert config.parse_fernet_keys("GOOSEBIT_TOKEN_KEYS", "") == []
    with pytest.raises(ImproperlyConfigured, match="GOOSEBIT_TOKEN_KEYS: key 2 is not a Fernet key") as error:
        config.parse_fernet_keys("GOOSEBIT_TOKEN_KEYS", f"{good},not-a-key-secret")
    assert "not-a-key-secret" not in str(error.value)


def test_token_hash_keys_must_be_long_and_a_short_one_is_not_echoed():
    assert config.parse_secret_list("K", f"{'a' * 16}, {'b' * 16}", min_length=16) == ["a" * 16, "b" * 16]
    with pytest.raises(ImproperlyConfigured, match="K: key 1 is shorter than 16 characters") as error:
        config.parse_secret_list("K", "short-secret", min_length=16)
    assert "short-secret" not in str(error.value)


def test_defaults_need_no_configuration(tmp_path):
    result = _start(tmp_path)
    assert result.returncode == 0, result.stderr
    # The generated secret key is persisted in the data folder.
    assert (tmp_path / "secret_key").exists()


def test_env_file_is_read(tmp_path):
    env_file = tmp_path / "goosebit.env"
    env_file.write_text("GOOSEBIT_POLL_TIME=bogus\n")
    result = _start(tmp_path, GOOSEBIT_ENV_FILE=str(env_file))
    assert "GOOSEBIT_POLL_TIME must be a time" in result.stderr


def test_default_hardware_is_model_colon_revision_or_empty():
    assert config.parse_hardware("GOOSEBIT_DEFAULT_HARDWARE", "") is None
    assert config.parse_hardware("GOOSEBIT_DEFAULT_HARDWARE", " rpi4 : 1.0 ") == ("rpi4", "1.0")
    assert config.parse_hardware("GOOSEBIT_DEFAULT_HARDWARE", "default:default") == ("default", "default")


@pytest.mark.parametrize("value", ["rpi4", "rpi4:", ":1.0", "a:b:c"])
def test_default_hardware_rejects_other_forms(value):
    with pytest.raises(ImproperlyConfigured, match="GOOSEBIT_DEFAULT_HARDWARE must be model:revision"):
        config.parse_hardware("GOOSEBIT_DEFAULT_HARDWARE", value)


def test_optional_duration_is_hh_mm_ss_zero_allowed_or_empty():
    assert config.parse_optional_duration("GOOSEBIT_POLL_OVERDUE_TIME", " 00:05:00 ") == "00:05:00"
    assert config.parse_optional_duration("GOOSEBIT_POLL_OVERDUE_TIME", "00:00:00") == "00:00:00"
    assert config.parse_optional_duration("GOOSEBIT_POLL_OVERDUE_TIME", "") == ""
    with pytest.raises(ImproperlyConfigured, match="GOOSEBIT_POLL_OVERDUE_TIME must be a time"):
        config.parse_optional_duration("GOOSEBIT_POLL_OVERDUE_TIME", "24:00:00")


def test_format_duration_is_hh_mm_ss_capped_at_a_day():
    assert config.format_duration(42) == "00:00:42"
    assert config.format_duration(3725) == "01:02:05"
    assert config.format_duration(10**6) == "23:59:59"


@pytest.mark.django_db
def test_the_confirmation_flow_is_read_through_one_selector_from_the_tenant_settings(settings):
    from devices.services import tenant_setting_set
    from rollouts.selectors import confirmation_flow_enabled

    settings.GOOSEBIT_CONFIRMATION_FLOW = False
    assert confirmation_flow_enabled() is False
    settings.GOOSEBIT_CONFIRMATION_FLOW = True
    assert confirmation_flow_enabled() is True
    tenant_setting_set(key="user.confirmation.flow.enabled", value=False, user="test")
    assert confirmation_flow_enabled() is False
