"""Saved device filters: the query fields, the services (validation, four eyes) and
auto-assignment as devices see it through the DDI poll."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from goosebit_project.lib.errors import Conflict, InvalidInput
from rollouts import selectors
from rollouts import services as rollout_services
from rollouts.models import Action, DeviceFilter, Rollout
from rollouts.options import deployment_options_validate
from rollouts.selectors.device_queries import DEVICE_QUERY_FIELDS, devices_matching
from tests.ddi.helpers import known_device, links_of, put_config
from tests.factories import make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db


# --- the query language ----------------------------------------------------------------------


def test_every_device_query_field_compiles_and_runs():
    known_device("d1")
    for name, field in DEVICE_QUERY_FIELDS.items():
        selector = f"{name}.k" if field.is_map else name
        value = {"string": "x*", "boolean": "true", "timestamp": "0", "number": "1"}.get(field.type)
        if field.type == "enum":
            value = next(iter(field.choices or {}))
        list(devices_matching(query=f"{selector}=={value}"))


def test_the_fields_hawkbit_lacks_select_what_they_say():
    other_board = make_hardware("other", "2")
    known_device("a", feed="beta", sw_version="1.2.3", attributes={"region": "eu"})
    known_device("b", hardware=other_board, feed="default", sw_version="2.0")

    def ids(query: str) -> set[str]:
        return set(devices_matching(query=query).values_list("controller_id", flat=True))

    assert ids("feed==beta") == {"a"}
    assert ids("hardware.model==other") == {"b"}
    assert ids("hardware.revision==1") == {"a"}
    assert ids("swVersion==1.2.*") == {"a"}
    assert ids("reportedVersion==2.0") == {"b"}
    assert ids("attribute.region==eu") == {"a"}


def test_overdue_follows_last_seen_and_the_tenant_setting():
    now = timezone.now()
    known_device("fresh", last_seen=now)
    known_device("stale", last_seen=now - timedelta(days=2))
    known_device("never")
    assert set(devices_matching(query="overdue==true").values_list("controller_id", flat=True)) == {"stale"}
    assert set(devices_matching(query="overdue==false").values_list("controller_id", flat=True)) == {
        "fresh",
        "never",
    }


@pytest.mark.parametrize("query", ["", "nosuch==1", "name==", "feed=in=(", "overdue==maybe"])
def test_a_bad_query_is_invalid_input_with_the_rsql_message(query):
    with pytest.raises(InvalidInput) as raised:
        devices_matching(query=query)
    assert raised.value.message


# --- the services ----------------------------------------------------------------------------


def test_create_validates_the_query_and_the_name():
    with pytest.raises(InvalidInput, match="nosuch"):
        rollout_services.device_filter_create(name="x", query="nosuch==1")
    with pytest.raises(InvalidInput):
        rollout_services.device_filter_create(name="  ", query="feed==a")
    rollout_services.device_filter_create(name="x", query="feed==a", by="alice")
    with pytest.raises(Conflict):
        rollout_services.device_filter_create(name="x", query="feed==b")
    assert DeviceFilter.objects.get().created_by == "alice"


def test_update_refuses_a_bad_query_and_keeps_the_old_one():
    device_filter = rollout_services.device_filter_create(name="x", query="feed==a")
    with pytest.raises(InvalidInput):
        rollout_services.device_filter_update(device_filter=device_filter, query="feed=bad=a")
    device_filter.refresh_from_db()
    assert device_filter.query == "feed==a"


def test_a_change_bumps_the_target_generation(monkeypatch):
    bumps = []
    monkeypatch.setattr(rollout_services.filters, "targets_changed", lambda: bumps.append(1))
    device_filter = rollout_services.device_filter_create(name="x", query="feed==a")
    rollout_services.device_filter_set_auto_assign(device_filter=device_filter, software=make_software("2.0"))
    rollout_services.device_filter_delete(device_filter=device_filter)
    assert len(bumps) == 3


def test_approval_needs_a_second_operator(settings):
    settings.GOOSEBIT_AUTO_ASSIGNMENT_APPROVAL = True
    device_filter = rollout_services.device_filter_create(name="x", query="feed==a")
    rollout_services.device_filter_set_auto_assign(
        device_filter=device_filter, software=make_software("2.0"), by="alice"
    )
    assert device_filter.auto_assign_status == DeviceFilter.AutoAssignStatus.WAITING_FOR_APPROVAL
    with pytest.raises(Conflict, match="another operator"):
        rollout_services.device_filter_approve(device_filter=device_filter, by="alice")
    rollout_services.device_filter_approve(device_filter=device_filter, by="bob")
    device_filter.refresh_from_db()
    assert device_filter.auto_assign_status == DeviceFilter.AutoAssignStatus.ACTIVE
    assert device_filter.auto_assign_decided_by == "bob"
    with pytest.raises(Conflict, match="waiting for approval"):
        rollout_services.device_filter_deny(device_filter=device_filter, by="carol")


def test_without_approval_an_auto_assignment_is_active_at_once():
    device_filter = rollout_services.device_filter_create(name="x", query="feed==a")
    rollout_services.device_filter_set_auto_assign(device_filter=device_filter, software=make_software("2.0"))
    assert device_filter.auto_assign_status == DeviceFilter.AutoAssignStatus.ACTIVE
    with pytest.raises(Conflict):
        rollout_services.device_filter_approve(device_filter=device_filter, by="bob")


def test_a_deleted_release_cannot_be_auto_assigned():
    software = make_software("2.0")
    software.deleted = True
    software.save()
    device_filter = rollout_services.device_filter_create(name="x", query="feed==a")
    with pytest.raises(InvalidInput):
        rollout_services.device_filter_set_auto_assign(device_filter=device_filter, software=software)


# --- auto-assignment on the poll -------------------------------------------------------------


def _auto_assign(
    query: str, software, *, name: str = "f", weight: int | None = None, **kwargs
) -> DeviceFilter:
    device_filter = rollout_services.device_filter_create(name=name, query=query, by="alice")
    options = deployment_options_validate(action_type="soft", weight=weight)
    return rollout_services.device_filter_set_auto_assign(
        device_filter=device_filter, software=software, options=options, by="alice", **kwargs
    )


def _offered(client, cid: str) -> Action | None:
    links = links_of(client, cid)
    if "deploymentBase" not in links:
        return None
    return Action.objects.get(device__controller_id=cid, status=Action.Status.PENDING)


def test_a_matching_device_is_offered_the_release_with_the_filters_options(client):
    software = make_software("2.0")
    known_device("eu-1", sw_version="1.0", attributes={"region": "eu", "hw_boardname": "board"})
    known_device("us-1", sw_version="1.0", attributes={"region": "us", "hw_boardname": "board"})
    _auto_assign("attribute.region==eu", software)
    action = _offered(client, "eu-1")
    assert action is not None
    assert action.software == software
    assert action.reason == Action.Reason.AUTO_ASSIGNED
    assert action.action_type == Action.ActionType.SOFT
    assert _offered(client, "us-1") is None


def test_a_device_that_starts_matching_later_gets_it_on_a_later_poll(client):
    software = make_software("2.0")
    known_device("d", sw_version="1.0", attributes={"region": "us"})
    _auto_assign("attribute.region==eu", software)
    assert _offered(client, "d") is None
    assert put_config(client, "d", {"mode": "merge", "data": {"region": "eu"}}).status_code == 200
    action = _offered(client, "d")
    assert action is not None and action.software == software


def test_explicit_assignment_wins_and_pinned_gets_nothing(client):
    auto, assigned = make_software("2.0"), make_software("3.0")
    explicit = known_device("explicit", sw_version="1.0")
    pinned = known_device("pinned", sw_version="1.0")
    _auto_assign("controllerId==*", auto)
    rollout_services.device_assign_software(device=explicit, software=assigned)
    rollout_services.device_pin(device=pinned)
    assert _offered(client, "explicit").software == assigned
    assert _offered(client, "pinned") is None


def test_auto_assignment_outranks_the_feed_rollout_and_latest(client):
    rollout_software, auto = make_software("5.0"), make_software("2.0")
    make_rollout(feed="default", software=rollout_software, status=Rollout.Status.RUNNING)
    known_device("r", sw_version="1.0")
    known_device("l", sw_version="1.0", update_mode=Device.UpdateMode.LATEST)
    _auto_assign("controllerId==*", auto)
    assert _offered(client, "r").software == auto
    assert _offered(client, "l").software == auto


def test_release_must_fit_the_hardware():
    software = make_software("2.0", compatibility=[make_hardware("other", "9")])
    device = known_device("d", sw_version="1.0", update_mode=Device.UpdateMode.LATEST)
    _auto_assign("controllerId==*", software)
    target = selectors.target_for_device(device=device)
    assert target is None or target.reason != Action.Reason.AUTO_ASSIGNED


def test_a_release_that_lists_no_hardware_fits_every_matching_device(client):
    # A set made through /rest/v1 has no hardware list: like an operator's assignment, it fits.
    software = make_software("2.0", compatibility=[])
    known_device("eu-1", sw_version="1.0", attributes={"region": "eu", "hw_boardname": "board"})
    _auto_assign("attribute.region==eu", software)
    action = _offered(client, "eu-1")
    assert action is not None and action.software == software


def test_the_heaviest_then_newest_filter_wins():
    light, heavy, newest = make_software("2.0"), make_software("3.0"), make_software("4.0")
    device = known_device("d", sw_version="1.0")
    _auto_assign("controllerId==*", light, name="light", weight=10)
    _auto_assign("controllerId==*", heavy, name="heavy", weight=500)
    assert selectors.target_for_device(device=device).software == heavy
    _auto_assign("controllerId==*", newest, name="newest", weight=500)
    assert selectors.target_for_device(device=device).software == newest


def test_a_device_that_installed_the_release_is_not_offered_it_again(client):
    software = make_software("2.0")
    known_device("d", sw_version="2.0")
    _auto_assign("controllerId==*", software)
    assert _offered(client, "d") is None
    assert not Action.objects.exists()


def test_approval_required_means_not_offered_until_approved(client, settings):
    settings.GOOSEBIT_AUTO_ASSIGNMENT_APPROVAL = True
    software = make_software("2.0")
    known_device("d", sw_version="1.0")
    device_filter = _auto_assign("controllerId==*", software)
    assert _offered(client, "d") is None
    rollout_services.device_filter_approve(device_filter=device_filter, by="bob")
    assert _offered(client, "d").software == software


def test_denied_or_cleared_is_not_offered(client, settings):
    settings.GOOSEBIT_AUTO_ASSIGNMENT_APPROVAL = True
    known_device("d", sw_version="1.0")
    device_filter = _auto_assign("controllerId==*", make_software("2.0"))
    rollout_services.device_filter_deny(device_filter=device_filter, by="bob")
    assert _offered(client, "d") is None
    rollout_services.device_filter_clear_auto_assign(device_filter=device_filter)
    assert _offered(client, "d") is None


def test_bulk_targets_agree_with_the_single_device_decision():
    auto = make_software("2.0")
    devices = [
        known_device("eu", sw_version="1.0", attributes={"region": "eu"}),
        known_device("us", sw_version="1.0", attributes={"region": "us"}),
        known_device(
            "pinned", sw_version="1.0", attributes={"region": "eu"}, update_mode=Device.UpdateMode.PINNED
        ),
    ]
    _auto_assign("attribute.region==eu", auto)
    loaded = list(Device.objects.select_related("assigned_software").filter(pk__in=[d.pk for d in devices]))
    bulk = selectors.targets_for_devices(devices=loaded)
    for device in loaded:
        single = selectors.target_for_device(device=device)
        assert (bulk[device.pk] and bulk[device.pk].software) == (single and single.software), (
            device.controller_id
        )
    assert bulk[devices[0].pk].reason == Action.Reason.AUTO_ASSIGNED


# --- what it costs on the poll ---------------------------------------------------------------


def _poll_queries(client, cid: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        links_of(client, cid)
    return [query["sql"] for query in captured.captured_queries]


def test_steady_poll_costs_one_query_more_with_an_active_auto_assignment(client):
    software = make_software("2.0")
    known_device("d", sw_version="1.0")
    links_of(client, "d")  # warm every cache
    without = _poll_queries(client, "d")
    _auto_assign("feed==nomatch", software)
    links_of(client, "d")  # the worker reads the active auto-assignments once per generation
    with_filter = _poll_queries(client, "d")
    assert len(with_filter) == len(without) + 1
    assert sum("auto_assign_" in sql for sql in with_filter) == 1


def test_steady_poll_of_an_auto_assigned_device_that_runs_it_costs_one_query(client):
    software = make_software("2.0")
    known_device("d", sw_version="1.0")
    links_of(client, "d")
    without = _poll_queries(client, "d")
    _auto_assign("controllerId==*", software)
    Device.objects.filter(controller_id="d").update(sw_version="2.0")
    links_of(client, "d")
    assert len(_poll_queries(client, "d")) == len(without) + 1
