"""Hostile bodies for the target, metadata, action and assignment writes: never a 5xx.

Deterministic (derandomized, no example database). Bodies mix hawkBit's field names with values
of every JSON type, so the validation of each field meets the wrong types, sizes and shapes.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.models import Action
from tests.factories import make_action, make_device, make_software

pytestmark = pytest.mark.django_db

FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FIELDS = [
    "controllerId",
    "name",
    "description",
    "securityToken",
    "address",
    "requestAttributes",
    "key",
    "value",
    "id",
    "type",
    "forcetime",
    "weight",
    "confirmationRequired",
    "maintenanceWindow",
    "schedule",
    "duration",
    "timezone",
    "forceType",
    "initiator",
    "remark",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(alphabet="x/\x00 ", min_size=250, max_size=600),
    st.sampled_from(
        ["forced", "soft", "timeforced", "downloadonly", "0 30 2 ? * *", "01:00:00", "+02:00", "d"]
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
bodies = st.one_of(objects, st.lists(objects, max_size=3), values)


@pytest.fixture
def world():
    device = make_device("d", sw_version="1.0")
    software = make_software("2.0")
    action = make_action(device, software, status=Action.Status.RUNNING, action_type="soft")
    return software, action


def _paths(software, action) -> list[tuple[str, str]]:
    return [
        ("post", "targets"),
        ("put", "targets/d"),
        ("post", "targets/d/metadata"),
        ("put", "targets/d/metadata/k"),
        ("post", "targets/d/assignedDS"),
        ("post", "targets/d/assignedDS?offline=true"),
        ("post", f"distributionsets/{software.pk}/assignedTargets"),
        ("post", f"distributionsets/{software.pk}/assignedTargets?offline=true"),
        ("put", f"targets/d/actions/{action.pk}"),
        ("put", f"targets/d/actions/{action.pk}/confirmation"),
        ("post", "targets/d/autoConfirm/activate"),
    ]


@FUZZ_SETTINGS
@given(data=st.data())
def test_no_body_gets_a_server_error(mgmt, world, data):
    software, action = world
    method, path = data.draw(st.sampled_from(_paths(software, action)))
    body = data.draw(bodies)
    response = getattr(mgmt.client, method)(
        f"/rest/v1/{path}", json.dumps(body), content_type="application/json"
    )
    assert response.status_code < 500, (method, path, body, response.content[:300])
    if response.status_code >= 400:
        assert "message" in response.json(), response.content[:300]
