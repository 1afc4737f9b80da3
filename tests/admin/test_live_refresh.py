"""Dashboard, device list and rollout pages load the live-refresh script and mark what it swaps."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_device, make_rollout, make_software

pytestmark = pytest.mark.django_db

SCRIPT = '<script src="/static/goosebit/live-refresh.js" data-fragments="{}" defer></script>'
LIST_FRAGMENTS = "#result_list tbody, #changelist-form .paginator"


def test_the_dashboard_refreshes_its_panels(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert SCRIPT.format("#gb-dashboard-live") in html
    assert re.search(r'<div id="gb-dashboard-live">\s*<div class="gb-dashboard">', html)


@pytest.mark.parametrize("url", ["/admin/devices/device/", "/admin/rollouts/rollout/"])
def test_the_lists_refresh_their_rows(admin_client, url):
    make_device("d1")
    make_rollout(make_software())

    html = admin_client.get(url).content.decode()

    assert SCRIPT.format(LIST_FRAGMENTS) in html
    assert '<table id="result_list">' in html
    assert '<p class="paginator">' in html


def test_a_rollout_page_refreshes_its_progress(admin_client):
    rollout = make_rollout(make_software())

    html = admin_client.get(f"/admin/rollouts/rollout/{rollout.pk}/change/").content.decode()

    assert SCRIPT.format("#gb-rollout-live") in html
    assert '<section class="gb-panel gb-section" id="gb-rollout-live"' in html
    # The add form has nothing live to show.
    assert "live-refresh.js" not in admin_client.get("/admin/rollouts/rollout/add/").content.decode()
