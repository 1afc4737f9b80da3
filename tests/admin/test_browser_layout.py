"""Layout in a real browser: what hides stays hidden, and the admin fits a phone (390 px)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action, ActionStatus
from tests.admin.test_browser import browser, logged_in, page  # noqa: F401 (fixtures)
from tests.factories import make_action, make_device, make_hardware, make_rollout, make_software

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_upload_bar_is_invisible_until_an_upload_starts(logged_in):  # noqa: F811
    logged_in.goto("/admin/software/software/add/")

    sync_api.expect(logged_in.locator("#gb-upload")).to_be_hidden()
    assert logged_in.locator("#gb-upload").evaluate("el => getComputedStyle(el).display") == "none"


@pytest.fixture
def phone(logged_in):  # noqa: F811
    """The logged-in page at an iPhone's width, with a small fleet that fills every screen."""
    logged_in.set_viewport_size({"width": 390, "height": 844})
    board = make_hardware("rpi4", "1.2")
    software = make_software("2.0.0", compatibility=[board])
    rollout = make_rollout(software, name="Spring rollout for the gateways")
    device = make_device(
        "gateway-0001-with-a-long-id",
        name="Gateway in the north building",
        hardware=board,
        sw_version="1.0.0",
        state=Device.State.RUNNING,
        progress=40,
        last_ip="2001:db8:1234:5678::1",
        last_seen=timezone.now(),
        attributes={"hw_boardname": "rpi4", "serial": "SN-0123456789"},
    )
    action = make_action(device, software, rollout=rollout, status=Action.Status.ERROR, reason="rollout")
    ActionStatus.objects.create(
        action=action, execution="closed", finished="failure", details=["checksum mismatch " * 8]
    )
    logged_in.device = device
    return logged_in


def scroll_width(tab, url: str) -> int:
    tab.goto(url)
    return tab.evaluate("document.scrollingElement.scrollWidth")


def test_the_admin_fits_a_phone_without_horizontal_scrolling(phone):
    widths = {
        url: scroll_width(phone, url)
        for url in [
            "/admin/",
            "/admin/devices/device/",
            f"/admin/devices/device/{phone.device.pk}/change/",
        ]
    }

    assert widths == {url: width for url, width in widths.items() if width <= 400}, widths
    # The navigation stays on screen: its last link is within the viewport's width.
    phone.goto("/admin/")
    box = phone.locator("nav.gb-nav a").last.bounding_box()
    assert box["x"] + box["width"] <= 390
