"""The device list: columns, filters, search, paging and its query budget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action, Rollout
from tests.factories import make_action, make_device, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db

URL = "/admin/devices/device/"


def listed(response) -> list[str]:
    assert response.status_code == 200
    return [device.controller_id for device in response.context["cl"].result_list]


def test_the_list_shows_each_devices_installed_and_target_version(admin_client):
    board = make_hardware("rpi4", "1.2")
    software = make_software("2.0.0", compatibility=[board])
    make_rollout(software, name="Spring", feed="default")
    make_device(
        "rpi-1",
        name="Gateway",
        hardware=board,
        sw_version="1.0.0",
        state=Device.State.RUNNING,
        progress=42,
        last_ip="10.0.0.7",
        last_seen=timezone.now(),
    )

    response = admin_client.get(URL)

    assert listed(response) == ["rpi-1"]
    html = response.content.decode()
    for text in ["Gateway", "rpi4 1.2", "1.0.0", "<strong>2.0.0</strong>", "rollout Spring", "feed default"]:
        assert text in html
    assert '<span class="gb-badge gb-badge--active">In progress</span>' in html
    assert 'aria-valuenow="42"' in html
    assert "10.0.0.7" in html
    assert "just now" in html


def test_the_list_marks_overdue_devices(admin_client):
    make_device("quiet", last_seen=timezone.now() - timedelta(hours=3))

    response = admin_client.get(URL)

    assert '3 h ago</time> <span class="gb-badge gb-badge--bad">overdue</span>' in response.content.decode()


def test_the_list_shows_an_installed_target_as_up_to_date(admin_client):
    software = make_software("2.0.0")
    make_device("d1", sw_version="2.0", update_mode="assigned", assigned_software=software)

    response = admin_client.get(URL)

    assert '<span title="installed (assigned)">2.0.0 ✓</span>' in response.content.decode()


def _mixed_fleet(count: int, start: int = 0) -> None:
    rpi, imx = make_hardware("rpi4", "1"), make_hardware("imx8", "B")
    software = make_software(f"2.0.{start}", compatibility=[rpi, imx])
    if not Rollout.objects.exists():
        make_rollout(software, feed="default")
    modes = ["rollout", "latest", "assigned", "pinned"]
    for index in range(start, start + count):
        mode = modes[index % 4]
        device = make_device(
            f"dev-{index:03d}",
            hardware=rpi if index % 2 else imx,
            update_mode=mode,
            assigned_software=software if mode == "assigned" else None,
            state=Device.State.RUNNING if index % 3 == 0 else Device.State.FINISHED,
            progress=50,
            last_seen=timezone.now(),
            attributes={"serial": f"SN{index}"},
        )
        make_action(device, software, status=Action.Status.FINISHED)


def test_the_lists_query_count_does_not_grow_with_its_rows(admin_client, django_assert_num_queries):
    _mixed_fleet(5)
    with CaptureQueriesContext(connection) as five:
        assert len(listed(admin_client.get(URL))) == 5

    _mixed_fleet(25, start=5)
    with django_assert_num_queries(len(five.captured_queries)):
        assert len(listed(admin_client.get(URL))) == 30


def test_the_list_pages_by_fifty(admin_client):
    for index in range(55):
        make_device(f"dev-{index:03d}")

    first = admin_client.get(URL)
    second = admin_client.get(URL + "?p=2")

    assert len(listed(first)) == 50
    assert listed(second) == [f"dev-{index:03d}" for index in range(50, 55)]


@pytest.fixture
def fleet():
    """Devices that differ in exactly one way each, for the filters."""
    now = timezone.now()
    software = make_software("2.0.0")
    rollout = make_rollout(software)
    imx = make_hardware("imx8", "B")
    make_device("online", last_seen=now, state=Device.State.FINISHED)
    make_device("overdue", last_seen=now - timedelta(hours=1))
    make_device("never")
    failed = make_device("failed", state=Device.State.ERROR, last_seen=now)
    make_action(failed, software, rollout=rollout, status=Action.Status.ERROR, reason="rollout")
    recovered = make_device("recovered", state=Device.State.FINISHED, last_seen=now, hardware=imx)
    make_action(recovered, software, status=Action.Status.ERROR)
    make_action(recovered, software, rollout=rollout, status=Action.Status.FINISHED, reason="rollout")
    make_device("latest", update_mode="latest", feed="beta", last_seen=now)
    return rollout


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state__exact=error", ["failed"]),
        ("state__in=error,finished", ["failed", "online", "recovered"]),
        ("presence=online", ["failed", "latest", "online", "recovered"]),
        ("presence=overdue", ["overdue"]),
        ("presence=never", ["never"]),
        ("failed=now", ["failed"]),
        ("failed=ever", ["failed", "recovered"]),
        ("failed=never", ["latest", "never", "online", "overdue"]),
        ("update_mode__exact=latest", ["latest"]),
        ("feed=beta", ["latest"]),
        ("rollout={rollout}", ["failed", "never", "online", "overdue"]),
        ("rollout={rollout}:failed", ["failed"]),
        ("rollout={rollout}:not_started", ["never", "online", "overdue"]),
        ("rollout={rollout}:left", ["recovered"]),
    ],
)
def test_each_filter_narrows_the_list(admin_client, fleet, query, expected):
    response = admin_client.get(URL + "?" + query.format(rollout=fleet.pk))

    assert sorted(listed(response)) == expected


def test_the_hardware_filter_lists_only_boards_in_use(admin_client, fleet):
    make_hardware("unused", "0")
    imx = make_hardware("imx8", "B")

    response = admin_client.get(URL + f"?hardware__id__exact={imx.pk}")

    assert listed(response) == ["recovered"]
    html = response.content.decode()
    assert "imx8 B" in html and "unused 0" not in html


@pytest.mark.parametrize(
    "query",
    [
        "rollout=abc",
        "rollout=1:exploded",
        "rollout=99999",
        "presence=sideways",
        "failed=maybe",
        "installed_software=99999",
    ],
)
def test_a_nonsense_filter_value_resets_the_list_instead_of_failing(admin_client, fleet, query):
    response = admin_client.get(URL + "?" + query)

    assert response.status_code == 302
    assert response["Location"] == URL + "?e=1"


@pytest.fixture
def searchable():
    software = make_software("3.1.4")
    make_device("alpha-01", name="Boiler room", last_ip="192.168.7.21", sw_version="1.0.0")
    make_device("beta-02", last_ip="2001:db8::beef", attributes={"site": "Lyon", "hw_revision": "2"})
    make_device("gamma-03", update_mode="assigned", assigned_software=software, attributes={"site": "Oslo"})
    make_device("delta-04", hardware=make_hardware("imx8mm", "B"), attributes={"serial": "B-2"})


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("alpha", ["alpha-01"]),
        ("boiler", ["alpha-01"]),
        ("192.168.7", ["alpha-01"]),
        ("2001:db8::beef", ["beta-02"]),
        ("DB8::BE", ["beta-02"]),
        ("1.0.0", ["alpha-01"]),
        ("3.1.4", ["gamma-03"]),
        ("imx8mm", ["delta-04"]),
        ("lyon", ["beta-02"]),
        ("hw_revision=2", ["beta-02"]),
        ("site=oslo", ["gamma-03"]),
        ("site=oslo gamma", ["gamma-03"]),
        ("site=oslo alpha", []),
        ("serial=b-2", ["delta-04"]),
    ],
)
def test_search_finds_devices_by_id_name_ip_version_board_and_attribute(
    admin_client, searchable, term, expected
):
    response = admin_client.get(URL, {"q": term})

    assert sorted(listed(response)) == expected


def test_an_empty_list_says_how_devices_arrive(admin_client):
    response = admin_client.get(URL)

    assert listed(response) == []
    html = response.content.decode()
    assert "No devices yet." in html
    assert '<a href="/admin/devices/device/add/">add it</a>' in html


def test_an_empty_search_result_offers_the_whole_list(admin_client):
    make_device("alpha")

    response = admin_client.get(URL, {"q": "zeta"})

    assert listed(response) == []
    assert "No device matches “zeta”." in response.content.decode()


def test_the_list_shows_the_target_of_a_paused_rollout_with_its_reason(admin_client):
    board = make_hardware("rpi4", "1.2")
    software = make_software("1.2.0", compatibility=[board])
    make_rollout(software, name="Spring", status=Rollout.Status.PAUSED, pause_reason="too many failures")
    make_device("rpi-1", hardware=board, sw_version="1.0.0")

    html = admin_client.get(URL).content.decode()

    assert (
        '<strong>1.2.0</strong><div class="gb-sub">rollout Spring (paused: too many failures)</div>' in html
    )
