"""/rest/v1/targetfilters: hawkBit's MgmtTargetFilterQuery over our saved device filters."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.models import DeviceFilter
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db

# hawkBit's MgmtTargetFilterQuery example: every key, null where nothing is set.
HAWKBIT_KEYS = {
    "createdBy",
    "createdAt",
    "lastModifiedBy",
    "lastModifiedAt",
    "name",
    "query",
    "autoAssignDistributionSet",
    "autoAssignActionType",
    "autoAssignWeight",
    "confirmationRequired",
    "_links",
    "id",
}


def test_create_answers_201_with_hawkbits_shape(mgmt):
    response = mgmt.post("targetfilters", {"name": "filter1", "query": "name==*"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= HAWKBIT_KEYS
    assert body["name"] == "filter1" and body["query"] == "name==*"
    assert body["createdBy"] == "hawkbit"
    assert body["autoAssignDistributionSet"] is None and body["autoAssignActionType"] is None
    assert body["_links"]["self"]["href"] == f"http://testserver/rest/v1/targetfilters/{body['id']}"
    assert body["_links"]["autoAssignDS"]["href"].endswith(f"/targetfilters/{body['id']}/autoAssignDS")


def test_a_bad_query_or_a_taken_name_is_a_4xx(mgmt):
    bad = mgmt.post("targetfilters", {"name": "f", "query": "nosuch==1"})
    assert bad.status_code == 400 and "nosuch" in bad.json()["message"]
    assert mgmt.post("targetfilters", {"name": "f", "query": "name==*"}).status_code == 201
    assert mgmt.post("targetfilters", {"name": "f", "query": "name==a"}).status_code == 409
    assert mgmt.post("targetfilters", {"query": "name==a"}).status_code == 400


def test_list_pages_queries_and_sorts(mgmt):
    for name in ("b", "a", "c"):
        mgmt.post("targetfilters", {"name": name, "query": "name==*"})
    page = mgmt.get("targetfilters", sort="name:DESC", limit=2).json()
    assert page["total"] == 3 and page["size"] == 2
    assert [f["name"] for f in page["content"]] == ["c", "b"]
    assert [f["name"] for f in mgmt.get("targetfilters", q="name==a").json()["content"]] == ["a"]
    assert mgmt.get("targetfilters", q="nosuch==1").status_code == 400


def test_get_put_delete(mgmt):
    created = mgmt.post("targetfilters", {"name": "f", "query": "name==*"}).json()
    path = f"targetfilters/{created['id']}"
    assert mgmt.get(path).json()["name"] == "f"
    updated = mgmt.put(path, {"query": "feed==beta"})
    assert updated.status_code == 200 and updated.json()["query"] == "feed==beta"
    assert updated.json()["name"] == "f"
    assert mgmt.delete(path).status_code == 204
    assert mgmt.get(path).status_code == 404
    assert mgmt.get("targetfilters/nope").status_code == 404


def test_auto_assign_ds_round_trip(mgmt):
    software = make_software("2.0")
    created = mgmt.post("targetfilters", {"name": "f", "query": "name==*"}).json()
    path = f"targetfilters/{created['id']}/autoAssignDS"
    assert mgmt.get(path).status_code == 204
    response = mgmt.post(
        path, {"id": software.pk, "type": "soft", "weight": 600, "confirmationRequired": False}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["autoAssignDistributionSet"] == software.pk
    assert body["autoAssignActionType"] == "soft"
    assert body["autoAssignWeight"] == 600
    assert body["confirmationRequired"] is False
    assert body["autoAssignStatus"] == "active"
    assert mgmt.get(path).json()["id"] == software.pk
    assert mgmt.delete(path).status_code == 204
    assert DeviceFilter.objects.get().auto_assign_software is None


def test_auto_assign_refuses_timeforced_and_unknown_sets(mgmt):
    created = mgmt.post("targetfilters", {"name": "f", "query": "name==*"}).json()
    path = f"targetfilters/{created['id']}/autoAssignDS"
    assert mgmt.post(path, {"id": make_software("2.0").pk, "type": "timeforced"}).status_code == 400
    assert mgmt.post(path, {"id": 999999}).status_code == 404
    assert mgmt.post(path, {"type": "soft"}).status_code == 400


def test_the_approval_setting_is_a_system_config(mgmt):
    configs = mgmt.get("system/configs").json()
    assert configs["auto.assignment.approval.enabled"]["value"] is False


def test_targets_q_knows_the_new_fields(mgmt):
    make_device("a", feed="beta")
    make_device("b")
    content = mgmt.get("targets", q="feed==beta;overdue==false").json()["content"]
    assert [t["controllerId"] for t in content] == ["a"]


FUZZ = settings(
    max_examples=120,
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
    st.sampled_from(["name==*", "feed=in=(a,b)", "attribute.x==1", "(", "forced", "timeforced", "soft"]),
    st.lists(st.integers(), max_size=2),
)
bodies = st.one_of(
    st.dictionaries(
        st.sampled_from(["name", "query", "id", "type", "weight", "confirmationRequired"]), values
    ),
    values,
)


@FUZZ
@given(body=bodies)
def test_fuzzed_bodies_never_5xx(mgmt, body):
    software = make_software("9.9")
    device_filter, _ = DeviceFilter.objects.get_or_create(name="fuzz-base", defaults={"query": "name==*"})
    for method, path in (
        ("post", "targetfilters"),
        ("put", f"targetfilters/{device_filter.pk}"),
        ("post", f"targetfilters/{device_filter.pk}/autoAssignDS"),
    ):
        if isinstance(body, dict) and body.get("id") == "ds":
            body = {**body, "id": software.pk}
        response = getattr(mgmt, method)(path, body)
        assert response.status_code < 500, (method, path, body, response.content)
