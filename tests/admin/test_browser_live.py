"""Live refresh in a real browser: rows change in place, and wait while the operator selects."""

from __future__ import annotations

import pytest

from devices.models import Device
from tests.admin.test_browser import browser, logged_in, page  # noqa: F401 (fixtures)
from tests.factories import make_device

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def label(state: Device.State) -> str:
    """A state's label as the list shows it (the wording lives in the model's choices)."""
    return str(state.label)


def ticks(tab) -> int:
    return int(tab.evaluate("document.documentElement.dataset.gbTicks || '0'"))


def test_the_device_list_refreshes_in_place_and_waits_while_rows_are_selected(logged_in):  # noqa: F811
    tab = logged_in
    make_device("d1", state=Device.State.RUNNING, progress=10)
    make_device("d2", state=Device.State.REGISTERED)
    tab.goto("/admin/devices/device/")
    # Survives only if the page is never reloaded.
    tab.evaluate("window.notReloaded = true")
    row = tab.locator("#result_list tbody tr", has_text="d1")
    sync_api.expect(row).to_contain_text(label(Device.State.RUNNING))

    Device.objects.filter(controller_id="d1").update(state=Device.State.ERROR)
    sync_api.expect(row).to_contain_text(label(Device.State.ERROR), timeout=10_000)

    # A selected row means a bulk action is coming: the list holds still...
    row.locator("input.action-select").check()
    sync_api.expect(tab.locator(".action-counter")).to_have_text("1 of 2 selected")
    Device.objects.filter(controller_id="d1").update(state=Device.State.FINISHED, progress=None)
    seen = ticks(tab)
    tab.wait_for_function(f"Number(document.documentElement.dataset.gbTicks) >= {seen + 2}")
    sync_api.expect(row).to_contain_text(label(Device.State.ERROR))

    # ... and carries on once nothing is selected; Django's selection counter still works.
    row.locator("input.action-select").uncheck()
    sync_api.expect(row).to_contain_text(label(Device.State.FINISHED), timeout=10_000)
    row.locator("input.action-select").check()
    sync_api.expect(tab.locator(".action-counter")).to_have_text("1 of 2 selected")
    assert tab.evaluate("window.notReloaded") is True


def test_the_dashboard_refreshes_in_place(logged_in):  # noqa: F811
    tab = logged_in
    tab.goto("/admin/")
    tab.evaluate("window.notReloaded = true")
    tiles = tab.locator("#gb-dashboard-live")
    sync_api.expect(tiles).not_to_contain_text(label(Device.State.FINISHED), timeout=10_000)

    make_device("d1", state=Device.State.FINISHED)

    sync_api.expect(tiles).to_contain_text(label(Device.State.FINISHED), timeout=10_000)
    assert tab.evaluate("window.notReloaded") is True


def test_the_list_waits_while_the_operator_types_in_the_search_box(logged_in):  # noqa: F811
    tab = logged_in
    make_device("d1", state=Device.State.REGISTERED)
    tab.goto("/admin/devices/device/")
    row = tab.locator("#result_list tbody tr", has_text="d1")
    tab.locator("#searchbar").fill("d")

    Device.objects.filter(controller_id="d1").update(state=Device.State.ERROR)
    seen = ticks(tab)
    tab.wait_for_function(f"Number(document.documentElement.dataset.gbTicks) >= {seen + 2}")
    sync_api.expect(row).to_contain_text(label(Device.State.REGISTERED))
    assert tab.locator("#searchbar").input_value() == "d"

    tab.locator("#searchbar").blur()
    sync_api.expect(row).to_contain_text(label(Device.State.ERROR), timeout=10_000)
