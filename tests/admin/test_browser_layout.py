"""Layout in a real browser: what hides stays hidden, and the admin fits a phone (390 px)."""

from __future__ import annotations

import pytest

from tests.admin.test_browser import browser, logged_in, page  # noqa: F401 (fixtures)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_upload_bar_is_invisible_until_an_upload_starts(logged_in):  # noqa: F811
    logged_in.goto("/admin/software/software/add/")

    sync_api.expect(logged_in.locator("#gb-upload")).to_be_hidden()
    assert logged_in.locator("#gb-upload").evaluate("el => getComputedStyle(el).display") == "none"
