"""Project wiring: migrations in sync, health endpoint, first admin."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_migrations_match_the_models():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405


def test_ensure_admin_creates_one_admin_and_prints_the_password(monkeypatch):
    monkeypatch.delenv("GOOSEBIT_ADMIN_PASSWORD", raising=False)
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    user = get_user_model().objects.get()
    assert user.is_superuser and user.username == "admin"
    password = out.getvalue().split("password: ")[1].split()[0]
    assert user.check_password(password)

    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert get_user_model().objects.count() == 1
    assert "password" not in again.getvalue().lower().replace("users exist", "")


def test_ensure_admin_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("GOOSEBIT_ADMIN_PASSWORD", "correct horse battery")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert get_user_model().objects.get().check_password("correct horse battery")
    assert "correct horse battery" not in out.getvalue()


def test_argon2_is_the_first_password_hasher():
    from goosebit_project import settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_argon2_hashes_use_the_lighter_parameters_and_verify():
    from goosebit_project.hashers import GoosebitArgon2PasswordHasher

    hasher = GoosebitArgon2PasswordHasher()
    encoded = hasher.encode("correct horse", hasher.salt())
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify("correct horse", encoded)
    assert not hasher.verify("wrong horse", encoded)
