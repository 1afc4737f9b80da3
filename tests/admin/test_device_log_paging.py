"""A device page with a long update log: the newest lines, a way back, and a bounded cost."""

from __future__ import annotations

import re

import pytest

from devices.models import Device
from rollouts.models import Action, ActionStatus
from rollouts.selectors import LOG_PAGE_LINES
from tests.factories import make_action, make_device, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db


def page_url(device: Device, suffix: str = "change/") -> str:
    return f"/admin/devices/device/{device.pk}/{suffix}"


@pytest.fixture
def long_log():
    """A device whose current update logged 1,000 lines, after a failed one that logged 1,000 too."""
    board = make_hardware("rpi4", "1.2")
    software = make_software("2.0.0", compatibility=[board])
    rollout = make_rollout(software, name="Spring")
    device = make_device("rpi-1", hardware=board, state=Device.State.RUNNING, progress=40)
    failed = make_action(device, software, rollout=rollout, status=Action.Status.ERROR, reason="rollout")
    action = make_action(device, software, rollout=rollout, status=Action.Status.RUNNING, reason="rollout")
    for owner, prefix in ((failed, "old"), (action, "line")):
        ActionStatus.objects.bulk_create(
            ActionStatus(action=owner, execution="proceeding", details=[f"{prefix} {index:04d}"])
            for index in range(1000)
        )
    return device, action


def _live_rows(html: str) -> list[str]:
    live = html[html.index('id="gb-live-log"') : html.index("</table>", html.index('id="gb-live-log"'))]
    return re.findall(r'<tr data-id="(\d+)"', live)


def test_the_page_shows_the_newest_lines_with_a_bounded_number_of_queries(
    admin_client, long_log, django_assert_max_num_queries
):
    device, action = long_log

    with django_assert_max_num_queries(15):
        response = admin_client.get(page_url(device))

    html = response.content.decode()
    assert response.status_code == 200
    details = [line["details"] for line in response.context["log_lines"]]
    assert details == [f"line {index:04d}" for index in range(900, 1000)]
    assert len(_live_rows(html)) == LOG_PAGE_LINES == 100
    first = action.statuses.order_by("id")[900]
    assert f'href="?log_before={first.pk}#gb-current-update" data-before="{first.pk}">Older lines</a>' in html
    assert f'data-after="{action.statuses.order_by("-id").first().pk}"' in html
    assert "data-paged-back" not in html
    # The history shows each update's newest lines too, and says how many there are.
    assert html.count("The newest 100 of 1000 lines") == 2
    assert "line 0899" not in html and "old 0899" not in html
    assert "old 0900" in html and "old 0999" in html


def test_older_lines_page_back_without_javascript(admin_client, long_log):
    device, action = long_log
    first_shown = action.statuses.order_by("id")[900]

    response = admin_client.get(page_url(device), {"log_before": first_shown.pk})

    html = response.content.decode()
    details = [line["details"] for line in response.context["log_lines"]]
    assert details == [f"line {index:04d}" for index in range(800, 900)]
    assert 'data-paged-back="1"' in html
    assert "Back to the newest lines" in html
    oldest = action.statuses.order_by("id")[800]
    assert f'?log_before={oldest.pk}#gb-current-update"' in html


def test_the_first_page_of_the_log_has_no_older_link(admin_client, long_log):
    device, action = long_log

    response = admin_client.get(page_url(device), {"log_before": action.statuses.order_by("id")[50].pk})

    assert [line["details"] for line in response.context["log_lines"]] == [
        f"line {index:04d}" for index in range(50)
    ]
    assert "Older lines</a>" not in response.content.decode()


def test_a_bad_log_before_shows_the_newest_lines(admin_client, long_log):
    device, _ = long_log

    response = admin_client.get(page_url(device), {"log_before": "²"})

    assert response.status_code == 200
    assert response.context["log_lines"][-1]["details"] == "line 0999"


def test_the_log_endpoint_pages_back_with_before(admin_client, long_log, django_assert_max_num_queries):
    device, action = long_log
    ids = list(action.statuses.order_by("id").values_list("id", flat=True))

    with django_assert_max_num_queries(8):
        page = admin_client.get(page_url(device, "log/"), {"before": ids[900]}).json()
    last = admin_client.get(page_url(device, "log/"), {"before": ids[100]}).json()
    refused = admin_client.get(page_url(device, "log/"), {"before": "x"})

    assert [line["details"] for line in page["lines"]] == [f"line {index:04d}" for index in range(800, 900)]
    assert page["has_older"] is True
    assert [line["id"] for line in last["lines"]] == ids[:100]
    assert last["has_older"] is False
    assert (refused.status_code, refused.json()) == (400, {"error": "before must be a whole number"})


def test_the_live_log_still_sends_new_lines_after_the_newest(admin_client, long_log):
    device, action = long_log
    newest = action.statuses.order_by("-id").first()
    ActionStatus.objects.create(action=action, execution="proceeding", details=["fresh"])

    data = admin_client.get(page_url(device, "log/"), {"after": newest.pk}).json()

    assert [line["details"] for line in data["lines"]] == ["fresh"]
