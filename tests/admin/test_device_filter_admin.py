"""The saved filter admin: live count while typing, saving through the services, approve/deny,
and the device list's "saved filter" filter."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.models import DeviceFilter
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db
COUNT = "/admin/rollouts/devicefilter/count/"


def test_the_live_count_answers_the_number_of_matching_devices(admin_client):
    make_device("a", feed="beta")
    make_device("b", feed="beta")
    make_device("c")
    response = admin_client.get(COUNT, {"q": "feed==beta"})
    assert response.status_code == 200
    assert response.json() == {"count": 2}


def test_a_bad_query_answers_the_rsql_message(admin_client):
    response = admin_client.get(COUNT, {"q": "nosuch==1"})
    assert response.status_code == 400
    assert "nosuch" in response.json()["error"]


def test_the_count_needs_permission(client):
    assert client.get(COUNT, {"q": "name==*"}).status_code == 302  # to the login page
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(COUNT, {"q": "name==*"}).status_code == 403


def test_the_form_saves_through_the_services_and_checks_the_query(admin_client):
    software = make_software("2.0")
    bad = admin_client.post(
        "/admin/rollouts/devicefilter/add/", {"name": "f", "query": "feed=bad=x", "action_type": "forced"}
    )
    assert bad.status_code == 200 and not DeviceFilter.objects.exists()
    response = admin_client.post(
        "/admin/rollouts/devicefilter/add/",
        {
            "name": "f",
            "query": "feed==beta",
            "auto_assign_software": software.pk,
            "auto_assign_confirmation_required": "on",
            "action_type": "soft",
            "weight": "20",
        },
    )
    assert response.status_code == 302, response.content
    saved = DeviceFilter.objects.get()
    assert saved.created_by == "admin"
    assert saved.auto_assign_software == software
    assert saved.auto_assign_status == DeviceFilter.AutoAssignStatus.ACTIVE
    assert saved.auto_assign_options["action_type"] == "soft" and saved.auto_assign_options["weight"] == 20
    assert admin_client.get(f"/admin/rollouts/devicefilter/{saved.pk}/change/").status_code == 200
    assert admin_client.get("/admin/rollouts/devicefilter/").status_code == 200


def test_approve_action_enforces_four_eyes(admin_client, settings):
    settings.GOOSEBIT_AUTO_ASSIGNMENT_APPROVAL = True
    from rollouts import services

    device_filter = services.device_filter_create(name="f", query="name==*")
    services.device_filter_set_auto_assign(
        device_filter=device_filter, software=make_software("2.0"), by="admin"
    )
    body = {"action": "approve_auto_assignments", "_selected_action": [device_filter.pk]}
    admin_client.post("/admin/rollouts/devicefilter/", body)
    device_filter.refresh_from_db()
    assert device_filter.auto_assign_status == DeviceFilter.AutoAssignStatus.WAITING_FOR_APPROVAL
    other = User.objects.create_superuser("other", password="pw")
    admin_client.force_login(other)
    admin_client.post("/admin/rollouts/devicefilter/", body)
    device_filter.refresh_from_db()
    assert device_filter.auto_assign_status == DeviceFilter.AutoAssignStatus.ACTIVE


def test_the_device_list_filters_by_a_saved_filter(admin_client):
    make_device("in-beta", feed="beta")
    make_device("elsewhere")
    device_filter = DeviceFilter.objects.create(name="beta devices", query="feed==beta")
    response = admin_client.get("/admin/devices/device/", {"saved_filter": device_filter.pk})
    assert response.status_code == 200
    assert b"in-beta" in response.content and b"elsewhere" not in response.content
    assert b"beta devices" in response.content  # offered in the sidebar
    assert admin_client.get("/admin/devices/device/", {"saved_filter": "x"}).status_code in (200, 302)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    q=st.one_of(
        st.text(max_size=60),
        st.sampled_from(["attribute.x==*", "(a==1", "overdue=in=(true)", "metadata.k!=v"]),
    )
)
def test_fuzzed_count_queries_never_5xx(admin_client, q):
    response = admin_client.get(COUNT, {"q": q.replace("\x00", "")})
    assert response.status_code in (200, 400)
    assert set(response.json()) <= {"count", "error"}


def test_operators_use_saved_filters_and_viewers_only_see_them(client, operator, viewer):
    client.force_login(operator)
    assert client.get(COUNT, {"q": "name==*"}).json() == {"count": 0}
    assert client.get("/admin/rollouts/devicefilter/add/").status_code == 200
    client.force_login(viewer)
    assert client.get(COUNT, {"q": "name==*"}).status_code == 200
    assert client.get("/admin/rollouts/devicefilter/add/").status_code == 403
