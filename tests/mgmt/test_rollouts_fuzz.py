"""Hostile bodies for ``POST /rest/v1/rollouts`` and ``PUT /rest/v1/rollouts/{id}``: never a 5xx,
and a refused body writes nothing.

Deterministic (derandomized, no example database). Bodies mix hawkBit's field names (rollout,
group and condition fields) with values of every JSON type, and half of them start from a valid
body so that the checks behind the first ones are reached too.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.models import Rollout, RolloutGroup
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db

FUZZ_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FIELDS = [
    "name",
    "description",
    "distributionSetId",
    "targetFilterQuery",
    "amountGroups",
    "groups",
    "successCondition",
    "successAction",
    "errorCondition",
    "errorAction",
    "condition",
    "expression",
    "action",
    "targetPercentage",
    "confirmationRequired",
    "type",
    "forcetime",
    "startAt",
    "weight",
    "dynamic",
    "maintenanceWindow",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(alphabet="x/\x00 ", min_size=250, max_size=600),
    st.sampled_from(
        ["THRESHOLD", "NEXTGROUP", "PAUSE", "50", "101", "-1", "timeforced", "soft", "name==*", "name==", "g"]
    ),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), children, max_size=4)
    ),
    max_leaves=8,
)
objects = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)
bodies = st.one_of(objects, values)


@pytest.fixture
def world():
    make_device("d", sw_version="1.0")
    return make_software("2.0")


@FUZZ_SETTINGS
@given(data=st.data())
def test_no_rollout_body_gets_a_server_error(mgmt, world, data):
    software = world
    body = data.draw(bodies)
    if isinstance(body, dict) and data.draw(st.booleans()):
        body = {"name": "fuzz", "distributionSetId": software.pk, "targetFilterQuery": "name==*", **body}
    before = (Rollout.objects.count(), RolloutGroup.objects.count())
    response = mgmt.client.post("/rest/v1/rollouts", json.dumps(body), content_type="application/json")
    assert response.status_code < 500, (body, response.content[:300])
    if response.status_code >= 400:
        assert "message" in response.json(), response.content[:300]
        assert (Rollout.objects.count(), RolloutGroup.objects.count()) == before  # nothing half-written
    else:
        assert response.status_code == 201
        rollout_id = response.json()["id"]
        update = mgmt.client.put(
            f"/rest/v1/rollouts/{rollout_id}", json.dumps(data.draw(bodies)), content_type="application/json"
        )
        assert update.status_code < 500, update.content[:300]
