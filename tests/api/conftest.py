from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def api(client):
    """A test client logged in as a superuser."""
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client
