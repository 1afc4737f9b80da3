"""/api/v1/device-filters/ and the device list's ?filter= and ?q=."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.models import DeviceFilter
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db
URL = "/api/v1/device-filters/"


def test_crud(api):
    created = api.post(URL, {"name": "beta", "query": "feed==beta"}, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "beta" and body["created_by"] == "root" and body["auto_assign_status"] == "none"
    detail = f"{URL}{body['id']}/"
    changed = api.patch(detail, {"query": "feed==gamma"}, content_type="application/json")
    assert changed.json()["query"] == "feed==gamma"
    assert [f["name"] for f in api.get(URL).json()["results"]] == ["beta"]
    assert api.delete(detail).status_code == 204
    assert not DeviceFilter.objects.exists()


def test_a_bad_query_is_a_400_naming_it(api):
    response = api.post(URL, {"name": "x", "query": "nosuch==1"}, content_type="application/json")
    assert response.status_code == 400
    assert "nosuch" in response.json()["detail"]


def test_auto_assign_then_approve_by_another_operator(api, client, settings):
    settings.GOOSEBIT_AUTO_ASSIGNMENT_APPROVAL = True
    software = make_software("2.0")
    device_filter = DeviceFilter.objects.create(name="f", query="name==*")
    detail = f"{URL}{device_filter.pk}/"
    response = api.post(
        detail + "auto_assign/",
        {"software": software.pk, "action_type": "soft", "weight": 10},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["auto_assign_status"] == "waiting_for_approval"
    assert response.json()["auto_assign_options"]["action_type"] == "soft"
    assert api.post(detail + "approve/").status_code == 409  # four eyes: root set it
    other = get_user_model().objects.create_superuser("other", password="pw")
    client.force_login(other)
    approved = client.post(detail + "approve/")
    assert approved.status_code == 200 and approved.json()["auto_assign_status"] == "active"
    cleared = client.post(detail + "clear_auto_assign/")
    assert cleared.json()["auto_assign_software"] is None


def test_auto_assign_refuses_an_unknown_release(api):
    device_filter = DeviceFilter.objects.create(name="f", query="name==*")
    response = api.post(
        f"{URL}{device_filter.pk}/auto_assign/", {"software": 99999}, content_type="application/json"
    )
    assert response.status_code == 400


def test_device_list_by_saved_filter_and_by_query(api):
    make_device("a", feed="beta")
    make_device("b")
    device_filter = DeviceFilter.objects.create(name="f", query="feed==beta")

    def ids(**params) -> list[str]:
        response = api.get("/api/v1/devices/", params)
        assert response.status_code == 200, response.content
        return [d["controller_id"] for d in response.json()["results"]]

    assert ids(filter=device_filter.pk) == ["a"]
    assert ids(q="feed!=beta") == ["b"]
    assert api.get("/api/v1/devices/", {"q": "feed=="}).status_code == 400
    assert api.get("/api/v1/devices/", {"filter": 99999}).status_code == 400


def test_reading_filters_needs_the_view_permission(client):
    user = get_user_model().objects.create_user("nobody", password="pw")
    client.force_login(user)
    assert client.get(URL).status_code == 403


FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=30),
    st.sampled_from(["name==*", "(", "soft", "timeforced"]),
)


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["name", "query", "software", "action_type", "weight"]), values))
def test_fuzzed_bodies_never_5xx(api, body):
    device_filter, _ = DeviceFilter.objects.get_or_create(name="fuzz-base", defaults={"query": "name==*"})
    for path in (URL, f"{URL}{device_filter.pk}/auto_assign/"):
        response = api.post(path, body, content_type="application/json")
        assert response.status_code < 500, (path, body, response.content)
    response = api.get("/api/v1/devices/", {"q": str(body.get("query", ""))})
    assert response.status_code < 500
