"""Security hardening: login throttling, token-bearing responses, API auth answers, pagination
bounds, and an admin and API docs that load no asset from outside."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db.models import F

from tests.factories import make_device

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-1"
LIMIT = 3


@pytest.fixture
def api(client):
    """A test client logged in as a superuser."""
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


@pytest.fixture
def throttled(settings):
    """axes on (the suite runs with it off), with a small limit."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = LIMIT
    get_user_model().objects.create_superuser("alice", password=PASSWORD)
    return settings


def _basic(password: str, user: str = "alice") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def _admin_login(client, password: str, remote_addr: str = "203.0.113.7"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": password},
        REMOTE_ADDR=remote_addr,
    )


def _cool_off_passes() -> None:
    """Move every recorded failure back past the cool-off: the same as waiting it out."""
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - django_settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
    )


# --- admin login ---------------------------------------------------------------------------


def test_admin_login_locks_out_after_the_limit_then_lets_the_real_user_in(client, throttled):
    for _ in range(LIMIT - 1):
        response = _admin_login(client, "wrong")
        assert response.status_code == 200  # the form again, with its error
        assert b"Please enter the correct username and password" in response.content

    locked = _admin_login(client, "wrong")
    assert locked.status_code == 429
    assert locked["Retry-After"] == str(15 * 60)
    assert b"Too many failed logins for this user from your address." in locked.content

    still_locked = _admin_login(client, PASSWORD)
    assert still_locked.status_code == 429
    assert "_auth_user_id" not in client.session

    _cool_off_passes()
    response = _admin_login(client, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.session["_auth_user_id"]


def test_a_locked_out_attacker_does_not_lock_the_user_out_elsewhere(client, throttled):
    for _ in range(LIMIT + 2):
        _admin_login(client, "wrong", remote_addr="198.51.100.66")
    assert _admin_login(client, PASSWORD, remote_addr="198.51.100.66").status_code == 429

    response = _admin_login(client, PASSWORD, remote_addr="203.0.113.7")

    assert response.status_code == 302


def test_behind_the_proxy_the_forwarded_address_is_throttled(client, throttled):
    throttled.GOOSEBIT_BEHIND_PROXY = True
    for _ in range(LIMIT):
        client.post(
            "/admin/login/",
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="198.51.100.66",
        )

    attacker = client.post(
        "/admin/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.66",
    )
    user = client.post(
        "/admin/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )

    assert attacker.status_code == 429
    assert user.status_code == 302


# --- API Basic auth ------------------------------------------------------------------------


def test_api_basic_auth_locks_out_with_429_then_lets_the_real_user_in(client, throttled):
    for _ in range(LIMIT - 1):
        response = client.get("/api/v1/devices/", **_basic("wrong"))
        assert response.status_code == 401
        assert response.json() == {"detail": "invalid username or password"}

    locked = client.get("/api/v1/devices/", **_basic("wrong"))
    assert locked.status_code == 429
    assert locked["Retry-After"] == str(15 * 60)
    assert locked.json() == {
        "detail": "too many failed logins for this user from this address; try again in 15 minutes"
    }

    still_locked = client.get("/api/v1/devices/", **_basic(PASSWORD))
    assert still_locked.status_code == 429

    _cool_off_passes()
    assert client.get("/api/v1/devices/", **_basic(PASSWORD)).status_code == 200


def test_api_lockout_is_per_user_and_address(client, throttled):
    for _ in range(LIMIT):
        client.get("/api/v1/devices/", REMOTE_ADDR="198.51.100.66", **_basic("wrong"))

    assert client.get("/api/v1/devices/", REMOTE_ADDR="198.51.100.66", **_basic(PASSWORD)).status_code == 429
    assert client.get("/api/v1/devices/", REMOTE_ADDR="203.0.113.7", **_basic(PASSWORD)).status_code == 200


def test_device_requests_are_never_throttled(client, throttled):
    # Even through the full middleware stack (in production the DDI handler has none), device
    # requests never call authenticate(): a Basic header there is ignored, nothing is counted.
    make_device("dev-1")
    ddi = client
    for _ in range(LIMIT + 2):
        assert ddi.get("/DEFAULT/controller/v1/dev-1", **_basic("wrong")).status_code == 200
    assert not AccessAttempt.objects.exists()


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run manage.py with only these GOOSEBIT_* variables (production settings, no test module)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GOOSEBIT_") and key != "DJANGO_SETTINGS_MODULE"
    }
    environment.update({"GOOSEBIT_DATA_DIR": str(tmp_path), "GOOSEBIT_ENV_FILE": "", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=django_settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_login_throttle_settings_come_from_the_environment(tmp_path):
    result = _manage(
        tmp_path,
        "shell",
        "--verbosity",
        "0",
        "-c",
        "from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds())",
        GOOSEBIT_LOGIN_FAILURE_LIMIT="4",
        GOOSEBIT_LOGIN_COOLOFF_MINUTES="2",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4", "120.0"]


@pytest.mark.parametrize("name", ["GOOSEBIT_LOGIN_FAILURE_LIMIT", "GOOSEBIT_LOGIN_COOLOFF_MINUTES"])
def test_bad_login_throttle_settings_stop_start_up(tmp_path, name):
    result = _manage(tmp_path, "check", **{name: "0"})

    assert result.returncode != 0
    assert f"{name} must be at least 1, got 0" in result.stderr


# --- API answers ---------------------------------------------------------------------------


def test_unauthenticated_api_calls_get_401_with_a_basic_challenge(client):
    response = client.post("/api/v1/rollouts/", {}, content_type="application/json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_api_responses_with_a_token_are_not_stored(api):
    created = api.post(
        "/api/v1/devices/",
        {"controller_id": "dev-1", "generate_token": True},
        content_type="application/json",
    )
    rotated = api.post("/api/v1/devices/dev-1/rotate-token/")

    for response in (created, rotated):
        assert response.status_code in (200, 201)
        assert response.json()["token"]
        assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("limit=9223372036854775809", "limit: must be a whole number from 1 to 500"),
        ("limit=501", "limit: must be a whole number from 1 to 500"),
        ("limit=0", "limit: must be a whole number from 1 to 500"),
        ("limit=-1", "limit: must be a whole number from 1 to 500"),
        ("limit=ten", "limit: must be a whole number from 1 to 500"),
        ("limit=%C2%B2", "limit: must be a whole number from 1 to 500"),
        ("offset=-5", "offset: must be a whole number from 0 to 4611686018427387904"),
        ("offset=9223372036854775809", "offset: must be a whole number from 0 to 4611686018427387904"),
        ("offset=x", "offset: must be a whole number from 0 to 4611686018427387904"),
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/devices/", "/api/v1/software/", "/api/v1/rollouts/", "/api/v1/actions/"]
)
def test_bad_pagination_parameters_are_a_400_naming_them(api, path, query, detail):
    response = api.get(f"{path}?{query}")

    assert response.status_code == 400
    assert response.json() == {"detail": detail}


def test_pagination_accepts_the_largest_page_and_offset(api):
    for index in range(3):
        make_device(f"dev-{index}")

    page = api.get("/api/v1/devices/?limit=500&offset=1")
    far = api.get("/api/v1/devices/?limit=500&offset=4611686018427387904")

    assert page.status_code == 200
    assert [device["controller_id"] for device in page.json()["results"]] == ["dev-1", "dev-2"]
    assert far.status_code == 200
    assert far.json()["results"] == []


# --- no asset from outside -----------------------------------------------------------------

_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def test_the_api_docs_load_only_local_assets_and_those_are_served(api, settings):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the installed apps, as after collectstatic
    response = api.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert not _EXTERNAL.search(html)
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    local = [url for url in assets if url.startswith("/static/")]
    assert any(url.endswith("swagger-ui-bundle.js") for url in local)
    for url in local:
        served = api.get(url)
        assert served.status_code == 200, url
        assert b"".join(served.streaming_content if served.streaming else [served.content])


def test_no_template_or_static_file_references_an_external_asset():
    root = Path(django_settings.BASE_DIR)
    offenders = [
        str(path.relative_to(root))
        for folder in ("templates", "static")
        for path in (root / folder).rglob("*")
        if path.suffix in (".html", ".css", ".js") and _EXTERNAL.search(path.read_text(errors="replace"))
    ]

    assert offenders == []


# --- HTTPS settings ------------------------------------------------------------------------

# The production environment README's "HTTPS and security settings" documents.
PRODUCTION_ENV = {
    "GOOSEBIT_SECRET_KEY": "k3J9x0PqL2vT8mN4bR6yW1sZ5cF7hD0gA2eU9iO3pX6wQ8tY4rE1nM5bV7cK0jL2",
    "GOOSEBIT_ALLOWED_HOSTS": "updates.example.com",
    "GOOSEBIT_CSRF_TRUSTED_ORIGINS": "https://updates.example.com",
    "GOOSEBIT_BEHIND_PROXY": "true",
    "GOOSEBIT_HTTPS": "true",
    "GOOSEBIT_HSTS_INCLUDE_SUBDOMAINS": "true",
    "GOOSEBIT_HSTS_PRELOAD": "true",
}


def test_check_deploy_passes_with_the_documented_production_settings(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_without_https_settings(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_https_turns_on_secure_cookies_redirect_and_hsts(tmp_path):
    result = _manage(
        tmp_path,
        "shell",
        "--verbosity",
        "0",
        "-c",
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)",
        GOOSEBIT_HTTPS="true",
        GOOSEBIT_BEHIND_PROXY="true",
        GOOSEBIT_HSTS_SECONDS="600",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True True 600 ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_a_bad_hsts_value_stops_start_up(tmp_path):
    result = _manage(tmp_path, "check", GOOSEBIT_HTTPS="true", GOOSEBIT_HSTS_SECONDS="a year")

    assert result.returncode != 0
    assert "GOOSEBIT_HSTS_SECONDS must be a whole number" in result.stderr


@pytest.fixture
def https(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^[^/]+/controller/v1/", r"^healthz$", r"^metrics$"]
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


def test_https_redirects_the_admin_but_not_devices_or_probes(client, https):
    make_device("dev-1")

    admin = client.get("/admin/login/")
    device = client.get("/DEFAULT/controller/v1/dev-1")
    health = client.get("/healthz")

    assert admin.status_code == 301
    assert admin["Location"] == "https://testserver/admin/login/"
    assert device.status_code == 200
    assert health.status_code == 200


def test_https_answers_carry_hsts(client, https):
    response = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=3600"
