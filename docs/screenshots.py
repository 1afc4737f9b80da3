"""Populate a throw-away fleet and photograph the admin with the real Chromium.

    python docs/screenshots.py            # writes docs/screenshots/*.png
    python docs/screenshots.py --serve    # same data, keeps serving on http://127.0.0.1:8765/admin/
                                          # (user admin / password admin) until Ctrl-C

The data goes through the same paths as production: devices poll and report over DDI (Django's
test client), operators act through devices.services. Nothing touches ./data: the database and
artifacts live in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DDI = "/DEFAULT/controller/v1"


def setup_django(tmp: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "goosebit_project.settings_test"
    os.environ["GOOSEBIT_DATA_DIR"] = str(tmp)
    os.environ["GOOSEBIT_DB_URI"] = f"sqlite:///{tmp}/demo.sqlite3"
    os.environ.setdefault("GOOSEBIT_TIME_ZONE", "Europe/Berlin")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.STORAGES["default"]["OPTIONS"] = {"location": str(tmp / "artifacts")}
    call_command("migrate", verbosity=0)


def populate() -> int:
    """A small fleet mid-rollout; returns the pk of a device whose update is running."""
    from django.contrib.auth.models import User
    from django.test import Client
    from django.utils import timezone

    from devices import services as device_services
    from devices.models import Device
    from rollouts import services as rollout_services
    from rollouts.models import Action, Rollout
    from tests.factories import make_hardware, make_rollout, make_software

    User.objects.create_superuser("admin", password="admin")
    client = Client(REMOTE_ADDR="10.20.0.1")
    rpi = make_hardware("rpi4", "1.2")
    imx = make_hardware("imx8mm-evk", "B")
    for version in ("1.4.0", "1.5.0"):
        make_software(version, compatibility=[rpi])
    spring = make_software("2.0.0", compatibility=[rpi])
    make_software("2.1.0", compatibility=[rpi])
    imx_sw = make_software("3.2.1", compatibility=[imx])

    def poll(cid: str, ip: str) -> dict:
        return client.get(f"{DDI}/{cid}", REMOTE_ADDR=ip, HTTP_ACCEPT="application/json").json()

    def feedback(cid: str, action: int, execution: str, finished: str = "none", details=()) -> None:
        body = {
            "status": {"execution": execution, "result": {"finished": finished}, "details": list(details)}
        }
        client.post(f"{DDI}/{cid}/deploymentBase/{action}/feedback", json.dumps(body), "application/json")

    devices = []
    for index in range(1, 37):
        board = imx if index % 6 == 0 else rpi
        cid = f"{'imx8' if board is imx else 'rpi4'}-{index:04d}"
        ip = f"10.20.{index // 200}.{index % 200 + 10}" if index % 9 else f"2001:db8::{index:x}"
        poll(cid, ip)
        client.put(
            f"{DDI}/{cid}/configData",
            json.dumps(
                {
                    "mode": "merge",
                    "data": {
                        "hw_boardname": board.model,
                        "hw_revision": board.revision,
                        "sw_version": "1.5.0" if board is rpi else "3.1.0",
                        "site": ["Berlin", "Lyon", "Oslo"][index % 3],
                        "serial": f"SN{7340000 + index}",
                    },
                }
            ),
            "application/json",
        )
        devices.append((cid, ip))
    Device.objects.filter(controller_id="rpi4-0001").update(name="Line 1 gateway")
    Device.objects.filter(controller_id="rpi4-0002").update(name="Packaging robot")

    rollout = make_rollout(spring, name="Spring release 2.0", feed="default", status=Rollout.Status.RUNNING)
    make_rollout(
        imx_sw,
        name="i.MX8 kernel fix",
        feed="default",
        status=Rollout.Status.PAUSED,
        pause_reason="Paused automatically: 2 of 3 finished devices failed (66%), reaching the limit of 50%",
    )
    lines = [
        "Installation in progress",
        "Downloaded 25%",
        "Downloaded 60%",
        "Downloaded 100%",
        "Image written to /dev/mmcblk0p3",
    ]
    running_pk = 0
    for position, (cid, ip) in enumerate(devices[:26]):
        links = poll(cid, ip).get("_links", {})
        if "deploymentBase" not in links:
            continue
        action = Action.objects.get(device__controller_id=cid, status__in=Action.ACTIVE_STATUSES)
        client.get(links["deploymentBase"]["href"])
        if position % 5 == 4:
            continue  # retrieved, not started yet
        feedback(cid, action.pk, "proceeding", details=lines[:2])
        if position % 7 == 3:
            feedback(cid, action.pk, "proceeding", details=["Downloaded 60%"])
            feedback(cid, action.pk, "closed", "failure", ["ERROR: sha256 mismatch in rootfs.ext4"])
        elif position in (1, 2):
            feedback(cid, action.pk, "proceeding", details=["Downloaded 60%"])
            running_pk = running_pk or Device.objects.get(controller_id=cid).pk
        else:
            for line in lines[2:]:
                feedback(cid, action.pk, "proceeding", details=[line])
            feedback(cid, action.pk, "closed", "success", ["Update successful, rebooted into 2.0.0"])
    # Spread the finished updates over the last days, so the activity chart has a history.
    now = timezone.now()
    for offset, action in enumerate(Action.objects.filter(finished_at__isnull=False).order_by("pk")):
        Action.objects.filter(pk=action.pk).update(
            finished_at=now - timedelta(days=offset % 11, hours=offset)
        )
    # Some devices went quiet, one never polled (pre-commissioned), one is pinned.
    Device.objects.filter(controller_id__in=["rpi4-0031", "rpi4-0033", "imx8-0030"]).update(
        last_seen=now - timedelta(hours=5)
    )
    device_services.device_create(controller_id="rpi4-0100", name="Spare unit (not installed)")
    rollout_services.devices_pin(devices=Device.objects.filter(controller_id="rpi4-0035"))
    assert rollout.pk
    return running_pk


def serve():
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 8765), Quiet, allow_reuse_address=True)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def shoot(base: str, running_pk: int) -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "admin")
        page.click("input[type=submit]")
        page.wait_for_selector(".gb-dashboard")
        page.screenshot(path=str(OUT / "dashboard.png"), full_page=True)
        page.goto(f"{base}/admin/devices/device/")
        page.screenshot(path=str(OUT / "device-list.png"), full_page=False)
        page.goto(f"{base}/admin/devices/device/{running_pk}/change/")
        page.wait_for_selector("#gb-live-log tbody tr")
        page.screenshot(path=str(OUT / "live-log.png"), full_page=False)
        page.goto(f"{base}/admin/software/software/")
        page.screenshot(path=str(OUT / "software-list.png"), full_page=False)
        page.goto(f"{base}/admin/rollouts/rollout/")
        page.screenshot(path=str(OUT / "rollout-list.png"), full_page=False)
        # A new rollout shows what it would reach before it is created.
        page.goto(f"{base}/admin/rollouts/rollout/add/")
        page.fill("#id_name", "Summer release 2.1")
        page.fill("#id_feed", "default")
        page.select_option("#id_software", label="2.1.0 — update-2.1.0.swu (rpi4 1.2)")
        page.check("#id_start")
        page.click("input[value='Preview…']")
        page.wait_for_selector(".gb-preview")
        page.screenshot(path=str(OUT / "rollout-preview.png"), full_page=False)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", action="store_true", help="keep serving the demo instead of shooting")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="goosebit-demo-") as tmp:
        setup_django(Path(tmp))
        running_pk = populate()
        server = serve()
        base = "http://127.0.0.1:8765"
        try:
            if args.serve:
                print(f"Serving {base}/admin/ (admin / admin); Ctrl-C stops.")
                threading.Event().wait()
            else:
                shoot(base, running_pk)
                print(f"Screenshots written to {OUT}")
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
