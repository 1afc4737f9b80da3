"""Users of the admin: a superuser, an operator and a viewer (the groups from the data migration)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User


def _member(username: str, group: str) -> User:
    user = User.objects.create_user(username, password="secret-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def operator(db) -> User:
    return _member("olivia", "Operators")


@pytest.fixture
def viewer(db) -> User:
    return _member("victor", "Viewers")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client
