"""The admin in a real browser: Debian's Chromium driven by Playwright against a live server.

Devices talk to the same live server over HTTP (urllib), so what the browser shows is what a
real fleet would produce. Waiting is Playwright's (expect/wait_for_selector), never a sleep.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from devices.models import Device
from rollouts.models import Action, ActionStatus
from tests.factories import make_hardware, make_software
from tests.packages import build_swu

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The live server runs in another thread: it sees only committed data (transaction=True).
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed (make system-deps installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are ordinary synchronous code, so Django's async guard must not fire.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def logged_in(page, live_server):
    """A page with an operator's session (the login form itself is covered once, below)."""
    user = User.objects.create_superuser("admin", password="admin-pass-123")
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return page


class Device_:
    """A device speaking DDI to the live server over real HTTP."""

    _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __init__(self, live_server, controller_id: str):
        self.base = f"{live_server.url}/DEFAULT/controller/v1/{controller_id}"
        self.controller_id = controller_id

    def _send(self, method: str, path: str = "", body: dict | None = None) -> bytes:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        with self._opener.open(request, timeout=10) as response:
            assert response.status == 200
            return response.read()

    def poll(self) -> dict:
        return json.loads(self._send("GET"))

    def register(self, board: str, revision: str, version: str) -> None:
        self.poll()
        data = {"hw_boardname": board, "hw_revision": revision, "sw_version": version}
        self._send("PUT", "/configData", {"mode": "merge", "data": data})

    def feedback(self, action_id: int, execution: str, finished: str = "none", details=()) -> None:
        status = {"execution": execution, "result": {"finished": finished}, "details": list(details)}
        self._send("POST", f"/deploymentBase/{action_id}/feedback", {"id": str(action_id), "status": status})


def test_an_operator_logs_in_and_finds_a_device_that_just_polled(page, live_server):
    User.objects.create_superuser("admin", password="admin-pass-123")
    Device_(live_server, "gw-0001").register("rpi4", "1.2", "1.0.0")

    page.goto("/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-pass-123")
    page.click("input[type=submit]")
    sync_api.expect(page.locator("h1")).to_have_text("Fleet overview")
    page.click("nav.gb-nav >> text=Devices")

    row = page.locator("#result_list tbody tr", has_text="gw-0001")
    sync_api.expect(row).to_contain_text("rpi4 1.2")
    sync_api.expect(row).to_contain_text("Registered")
    sync_api.expect(row).to_contain_text("127.0.0.1")


def test_bulk_assign_offers_compatible_software_and_devices_then_update(logged_in, live_server):
    page = logged_in
    board = make_hardware("rpi4", "1.2")
    make_software("1.5.0", compatibility=[board])
    make_software("2.0.0", compatibility=[board])
    make_software("9.9.9", compatibility=[make_hardware("imx8", "B")])
    devices = [Device_(live_server, f"gw-{index}") for index in (1, 2)]
    for device in devices:
        device.register("rpi4", "1.2", "1.0.0")

    page.goto("/admin/devices/device/")
    for device in devices:
        page.locator("#result_list tr", has_text=device.controller_id).locator("input.action-select").check()
    page.select_option("select[name=action]", "assign_software")
    page.click("button[name=index]")

    sync_api.expect(page.locator("h1")).to_have_text("Assign software")
    options = page.locator("#id_software label")
    sync_api.expect(options).to_have_count(2)  # 9.9.9 fits neither device
    sync_api.expect(options.first).to_contain_text("2.0.0")
    options.first.click()
    page.click("input[value=Assign]")

    sync_api.expect(page.locator(".messagelist")).to_have_text(
        "Assigned 2.0.0 to 2 devices; they update on their next poll."
    )
    assert "deploymentBase" in devices[0].poll()["_links"]


def test_the_live_log_grows_while_the_device_reports(logged_in, live_server):
    page = logged_in
    board = make_hardware("rpi4", "1.2")
    software = make_software("2.0.0", compatibility=[board])
    gateway = Device_(live_server, "gw-live")
    gateway.register("rpi4", "1.2", "1.0.0")
    device = Device.objects.get(controller_id="gw-live")
    device.update_mode, device.assigned_software = Device.UpdateMode.ASSIGNED, software
    device.save()

    page.goto(f"/admin/devices/device/{device.pk}/change/")
    sync_api.expect(page.locator("#gb-log-empty")).to_contain_text("No update has been offered")

    # The device picks the update up: the page notices the new action by itself.
    gateway.poll()
    action = Action.objects.get(device=device)
    sync_api.expect(page.locator("#gb-live-status")).to_have_text("Waiting")

    gateway.feedback(action.pk, "proceeding", details=["Downloaded 30%"])
    sync_api.expect(page.locator("#gb-live-log tbody tr").last).to_contain_text("Downloaded 30%")
    sync_api.expect(page.locator("#gb-live-progress .gb-progress__label")).to_have_text("30%")
    sync_api.expect(page.locator("#gb-live-state")).to_have_text("In progress")

    gateway.feedback(action.pk, "closed", "success", ["Update successful"])
    sync_api.expect(page.locator("#gb-live-log tbody tr").last).to_contain_text("Update successful")
    sync_api.expect(page.locator("#gb-live-state")).to_have_text("Succeeded")
    sync_api.expect(page.locator("#gb-live-status")).to_have_text("Succeeded")
    sync_api.expect(page.locator("#gb-live-progress .gb-progress__label")).to_have_text("100%")


def test_older_log_lines_load_on_top_and_new_ones_still_arrive(logged_in, live_server):
    page = logged_in
    board = make_hardware("rpi4", "1.2")
    software = make_software("2.0.0", compatibility=[board])
    gateway = Device_(live_server, "gw-long")
    gateway.register("rpi4", "1.2", "1.0.0")
    device = Device.objects.get(controller_id="gw-long")
    device.update_mode, device.assigned_software = Device.UpdateMode.ASSIGNED, software
    device.save()
    gateway.poll()
    action = Action.objects.get(device=device)
    ActionStatus.objects.bulk_create(
        ActionStatus(action=action, execution="proceeding", details=[f"line {index:03d}"])
        for index in range(250)
    )

    page.goto(f"/admin/devices/device/{device.pk}/change/")
    rows = page.locator("#gb-live-log tbody tr")
    sync_api.expect(rows).to_have_count(100)
    sync_api.expect(rows.first).to_contain_text("line 150")

    page.click("#gb-log-older")
    sync_api.expect(rows).to_have_count(200)
    sync_api.expect(rows.first).to_contain_text("line 050")
    page.click("#gb-log-older")
    sync_api.expect(rows).to_have_count(250)
    sync_api.expect(rows.first).to_contain_text("line 000")
    sync_api.expect(page.locator("#gb-log-older")).to_have_count(0)

    gateway.feedback(action.pk, "proceeding", details=["Downloaded 30%"])
    sync_api.expect(rows.last).to_contain_text("Downloaded 30%")


def test_uploading_a_swu_goes_through_the_progress_upload_and_shows_parser_errors(logged_in, tmp_path):
    page = logged_in
    garbage = tmp_path / "broken.swu"
    garbage.write_bytes(b"not a package")
    package = build_swu(tmp_path / "fw.swu", version="4.2.0", board="rpi4", revisions=["1.2"])

    page.goto("/admin/software/software/add/")
    # Survives only if the page is never reloaded: proves the XHR upload path ran.
    page.evaluate("window.uploadedWithoutReload = true")
    page.set_input_files("#id_package", str(garbage))
    page.click("input[name=_save]")
    sync_api.expect(page.locator(".errorlist")).to_contain_text("not a .swu or .raucb file")

    page.set_input_files("#id_package", str(package))
    page.click("input[name=_save]")
    sync_api.expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    sync_api.expect(page.locator("#result_list tbody tr").first).to_contain_text("4.2.0")
    sync_api.expect(page.locator("#result_list tbody tr").first).to_contain_text("rpi4 1.2")
    assert page.url.endswith("/admin/software/software/")
    assert page.evaluate("window.uploadedWithoutReload") is True


def test_an_operator_creates_and_starts_a_rollout_after_seeing_its_preview(logged_in, live_server):
    page = logged_in
    board = make_hardware("rpi4", "1.2")
    software = make_software("2.0.0", compatibility=[board])
    gateway = Device_(live_server, "gw-r1")
    gateway.register("rpi4", "1.2", "1.0.0")

    page.goto("/admin/rollouts/rollout/add/")
    page.fill("#id_name", "Spring")
    page.fill("#id_feed", "default")
    page.select_option("#id_software", str(software.pk))
    page.check("#id_start")
    page.click("input[value='Preview…']")
    sync_api.expect(page.locator(".gb-preview")).to_contain_text(
        "1 device of feed default would update to 2.0.0"
    )
    page.click("input[value='Create and start the rollout']")

    sync_api.expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    row = page.locator("#result_list tbody tr", has_text="Spring")
    sync_api.expect(row).to_contain_text("Running")
    assert "deploymentBase" in gateway.poll()["_links"]
    page.reload()
    sync_api.expect(row).to_contain_text("1 waiting")
    row.get_by_text("1 waiting").click()
    sync_api.expect(page.locator("#result_list tbody tr")).to_have_count(1)
    sync_api.expect(page.locator("#result_list tbody tr")).to_contain_text("gw-r1")


def test_an_operator_creates_a_canary_rollout_and_sees_one_bar_per_group(logged_in, live_server):
    page = logged_in
    board = make_hardware("rpi4", "1.2")
    software = make_software("2.0.0", compatibility=[board])
    for index in range(4):
        Device_(live_server, f"gw-c{index}").register("rpi4", "1.2", "1.0.0")

    page.goto("/admin/rollouts/rollout/add/")
    page.fill("#id_name", "Canary first")
    page.fill("#id_feed", "default")
    page.select_option("#id_software", str(software.pk))
    page.fill("#id_canary_size", "1")
    page.select_option("#id_canary_unit", "devices")
    page.check("#id_start")
    page.click("input[value='Preview…']")
    preview = page.locator(".gb-group-preview tbody tr")
    sync_api.expect(preview).to_have_count(3)
    sync_api.expect(preview.first).to_contain_text("gw-c0")
    page.click("input[value='Create and start the rollout']")

    page.locator("#result_list tbody tr", has_text="Canary first").get_by_role(
        "link", name="Canary first"
    ).click()
    groups = page.locator("tr.gb-group")
    sync_api.expect(groups).to_have_count(3)
    sync_api.expect(groups.first).to_contain_text("Running")
    sync_api.expect(groups.nth(1)).to_contain_text("Scheduled")
    page.click("button:has-text('Start next group now')")
    sync_api.expect(page.locator(".messagelist")).to_contain_text("Started the next group")
    sync_api.expect(page.locator("tr.gb-group").nth(1)).to_contain_text("Running")


def test_an_update_waits_for_confirmation_until_the_operator_turns_on_auto_confirm(
    logged_in, live_server, settings
):
    settings.GOOSEBIT_CONFIRMATION_FLOW = True
    page = logged_in
    board = make_hardware("rpi4", "1.2")
    make_software("2.0.0", compatibility=[board])
    gateway = Device_(live_server, "gw-consent")
    gateway.register("rpi4", "1.2", "1.0.0")

    page.goto("/admin/devices/device/")
    page.locator("#result_list tr", has_text="gw-consent").locator("input.action-select").check()
    page.select_option("select[name=action]", "assign_software")
    page.click("button[name=index]")
    sync_api.expect(page.locator("#id_confirmation_required")).to_be_checked()
    page.locator("#id_software label").first.click()
    page.click("input[value=Assign]")
    assert set(gateway.poll()["_links"]) == {"confirmationBase"}

    page.goto(f"/admin/devices/device/{Device.objects.get(controller_id='gw-consent').pk}/change/")
    sync_api.expect(page.locator("#gb-live-state")).to_have_text("Waiting for confirmation")
    sync_api.expect(page.locator("#gb-waiting-confirmation")).to_contain_text("must confirm this update")
    page.click("button:has-text('Activate auto-confirm')")

    sync_api.expect(page.locator(".messagelist")).to_contain_text("Auto-confirm is on")
    sync_api.expect(page.locator("#gb-live-state")).to_have_text("Waiting")
    sync_api.expect(page.locator("button:has-text('Deactivate auto-confirm')")).to_be_visible()
    assert set(gateway.poll()["_links"]) == {"deploymentBase"}
