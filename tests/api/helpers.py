"""Shared by the operator API tests."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission


def user_with(*codenames: str):
    """A user holding exactly these permissions (by codename)."""
    user = get_user_model().objects.create_user(f"user-{'-'.join(codenames) or 'none'}", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def post(api, path: str, data: dict | None = None):
    return api.post(path, data or {}, content_type="application/json")
