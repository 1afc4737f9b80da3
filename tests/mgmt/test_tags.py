"""/rest/v1/targettags and /rest/v1/distributionsettags: hawkBit's MgmtTag, its assign calls, RSQL."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.models import DeviceTag
from devices.services import tags as tag_services
from software import services as software_services
from software.models import ReleaseTag
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db


def _delete_with_body(mgmt, path, body, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return mgmt.client.delete(
        f"/rest/v1/{path}" + (f"?{query}" if query else ""), json.dumps(body), content_type="application/json"
    )


def test_a_target_tag_has_hawkbits_mgmt_tag_fields(mgmt):
    created = mgmt.post(
        "targettags", [{"name": "DsTag", "description": "My name is DsTag", "colour": "default"}]
    )
    assert created.status_code == 201
    [listed] = created.json()
    tag = DeviceTag.objects.get()
    assert set(listed) == {"createdAt", "lastModifiedAt", "name", "description", "colour", "_links", "id"}
    assert listed["id"] == tag.pk
    assert (listed["name"], listed["description"], listed["colour"]) == (
        "DsTag",
        "My name is DsTag",
        "default",
    )
    assert isinstance(listed["createdAt"], int) and listed["lastModifiedAt"] >= listed["createdAt"]
    assert listed["_links"] == {"self": {"href": f"http://testserver/rest/v1/targettags/{tag.pk}"}}
    one = mgmt.get(f"targettags/{tag.pk}").json()
    assert one["_links"]["assignedTargets"] == {
        "href": f"http://testserver/rest/v1/targettags/{tag.pk}/assigned?offset=0&limit=50"
    }
    assert {key: value for key, value in one.items() if key != "_links"} == {
        key: value for key, value in listed.items() if key != "_links"
    }


def test_a_set_tag_links_its_assigned_sets(mgmt):
    [created] = mgmt.post("distributionsettags", [{"name": "stable"}]).json()
    assert "colour" not in created  # hawkBit's NON_NULL: no colour given, none shown
    assert created["description"] == ""
    one = mgmt.get(f"distributionsettags/{created['id']}").json()
    assert one["_links"]["assignedDistributionSets"]["href"].endswith(
        f"/rest/v1/distributionsettags/{created['id']}/assigned?offset=0&limit=50"
    )


def test_tags_are_paged_filtered_and_sorted(mgmt):
    for name in ("alpha", "beta", "gamma"):
        tag_services.device_tag_create(name=name, colour="red" if name != "beta" else "blue")
    page = mgmt.get("targettags", limit=2, sort="name:DESC").json()
    assert page["total"] == 3 and page["size"] == 2
    assert [item["name"] for item in page["content"]] == ["gamma", "beta"]
    red = mgmt.get("targettags", q="colour==red").json()
    assert sorted(item["name"] for item in red["content"]) == ["alpha", "gamma"]
    assert mgmt.get("targettags", q="nope==1").status_code == 400
    assert mgmt.get("targettags", sort="nope:ASC").status_code == 400


def test_create_is_all_or_nothing_and_refuses_bad_fields(mgmt):
    tag_services.device_tag_create(name="prod")
    conflict = mgmt.post("targettags", [{"name": "new"}, {"name": "prod"}])
    assert conflict.status_code == 409
    assert conflict.json()["errorCode"] == "hawkbit.server.error.repo.entityAlreadyExists"
    assert list(DeviceTag.objects.values_list("name", flat=True)) == ["prod"]
    assert mgmt.post("targettags", [{"name": "a"}, {"name": "a"}]).status_code == 409
    long_name = mgmt.post("targettags", [{"name": "ok"}, {"name": "x" * 129}])
    assert long_name.status_code == 400 and "[1].name" in long_name.json()["message"]
    assert mgmt.post("targettags", [{"description": "no name"}]).status_code == 400
    assert mgmt.post("targettags", [{"name": "ok", "colour": "c" * 17}]).status_code == 400
    assert mgmt.post("targettags", {"name": "not a list"}).status_code == 400
    assert DeviceTag.objects.count() == 1


def test_update_changes_only_the_given_fields_and_delete_keeps_the_targets(mgmt):
    tag = tag_services.device_tag_create(name="prod", description="d", colour="red")
    make_device("a")
    tag_services.device_tag_assign(tag=tag, controller_ids=["a"])
    updated = mgmt.put(f"targettags/{tag.pk}", {"colour": "green"})
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["description"], updated.json()["colour"]) == (
        "prod",
        "d",
        "green",
    )
    assert mgmt.put(f"targettags/{tag.pk}", {"name": ""}).status_code == 400
    assert mgmt.delete(f"targettags/{tag.pk}").status_code == 204
    assert mgmt.get(f"targettags/{tag.pk}").status_code == 404
    assert mgmt.get("targets/a").status_code == 200
    for bad in ("x", "0", "99999999999999999999", "-1"):
        assert mgmt.get(f"targettags/{bad}").status_code == 404


def test_targets_are_assigned_listed_and_unassigned(mgmt):
    tag = tag_services.device_tag_create(name="prod")
    for cid in ("a", "b", "c"):
        make_device(cid)
    assert mgmt.post(f"targettags/{tag.pk}/assigned", ["a", "b"]).status_code == 204
    assert mgmt.post(f"targettags/{tag.pk}/assigned/c").status_code == 204
    assigned = mgmt.get(f"targettags/{tag.pk}/assigned", q="controllerId!=b").json()
    assert [item["controllerId"] for item in assigned["content"]] == ["a", "c"]
    assert [item["name"] for item in mgmt.get("targets/a/tags").json()] == ["prod"]
    assert mgmt.delete(f"targettags/{tag.pk}/assigned/a").status_code == 204
    assert _delete_with_body(mgmt, f"targettags/{tag.pk}/assigned", ["b"]).status_code == 204
    assert list(tag.devices.values_list("controller_id", flat=True)) == ["c"]
    assert mgmt.post(f"targettags/{tag.pk}/assigned/ghost").status_code == 404
    assert mgmt.post(f"targettags/{tag.pk}/assigned", [1]).status_code == 400


def test_on_not_found_policy(mgmt):
    tag = tag_services.device_tag_create(name="prod")
    make_device("a")
    failed = mgmt.post(f"targettags/{tag.pk}/assigned", ["a", "ghost", "n\x00ul"])
    assert failed.status_code == 404 and not tag.devices.exists()
    path = f"/rest/v1/targettags/{tag.pk}/assigned?onNotFoundPolicy="
    partly = mgmt.client.post(
        path + "ON_WHAT_FOUND_AND_FAIL", '["a", "ghost"]', content_type="application/json"
    )
    assert partly.status_code == 404 and tag.devices.count() == 1
    tag.devices.clear()
    quiet = mgmt.client.post(
        path + "ON_WHAT_FOUND_AND_SUCCESS", '["a", "ghost"]', content_type="application/json"
    )
    assert quiet.status_code == 204 and tag.devices.count() == 1
    assert mgmt.client.post(path + "SOMETIMES", '["a"]', content_type="application/json").status_code == 400


def test_rsql_tag_field_on_targets_and_sets(mgmt):
    prod = tag_services.device_tag_create(name="prod")
    test = tag_services.device_tag_create(name="test")
    for cid in ("a", "b", "c"):
        make_device(cid)
    tag_services.device_tag_assign(tag=prod, controller_ids=["a", "b"])
    tag_services.device_tag_assign(tag=test, controller_ids=["b"])
    found = mgmt.get("targets", q="tag==prod").json()
    assert [item["controllerId"] for item in found["content"]] == ["a", "b"] and found["total"] == 2
    both = mgmt.get("targets", q="tag==prod;tag.name==test").json()
    assert [item["controllerId"] for item in both["content"]] == ["b"]
    none = mgmt.get("targets", q="tag!=prod").json()
    assert [item["controllerId"] for item in none["content"]] == ["c"]
    stable = software_services.release_tag_create(name="stable")
    one, _two = make_software("1.0"), make_software("2.0")
    software_services.release_tag_assign(tag=stable, release_ids=[one.pk])
    sets = mgmt.get("distributionsets", q="tag==stable").json()
    assert [item["id"] for item in sets["content"]] == [one.pk]


def test_sets_are_assigned_by_id(mgmt):
    tag = software_services.release_tag_create(name="stable")
    one, two = make_software("1.0"), make_software("2.0")
    assert mgmt.post(f"distributionsettags/{tag.pk}/assigned", [one.pk, two.pk]).status_code == 204
    page = mgmt.get(f"distributionsettags/{tag.pk}/assigned").json()
    assert [item["id"] for item in page["content"]] == [one.pk, two.pk]
    assert mgmt.delete(f"distributionsettags/{tag.pk}/assigned/{one.pk}").status_code == 204
    assert _delete_with_body(mgmt, f"distributionsettags/{tag.pk}/assigned", [two.pk]).status_code == 204
    assert not tag.releases.exists()
    assert mgmt.post(f"distributionsettags/{tag.pk}/assigned", ["1"]).status_code == 400
    assert mgmt.post(f"distributionsettags/{tag.pk}/assigned", [2**70]).status_code == 404
    assert mgmt.post(f"distributionsettags/{tag.pk}/assigned/x").status_code == 404


_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=140)
)
_values = st.recursive(
    _scalars | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_body = st.fixed_dictionaries({}, optional={name: _values for name in ("name", "description", "colour")})


def _check(response) -> None:
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response.json()["errorCode"]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_tag_bodies_never_500(mgmt, data):
    kind = data.draw(st.sampled_from(["targettags", "distributionsettags"]))
    model = DeviceTag if kind == "targettags" else ReleaseTag
    tag, _ = model.objects.get_or_create(name="fuzz")
    payload = data.draw(st.lists(_body, max_size=2) | _body | _values)
    _check(mgmt.post(kind, payload))
    _check(mgmt.put(f"{kind}/{tag.pk}", data.draw(_body | _values)))
    _check(mgmt.post(f"{kind}/{tag.pk}/assigned", data.draw(st.lists(_scalars, max_size=3) | _values)))
