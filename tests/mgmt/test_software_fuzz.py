"""Random JSON in every field of the software resources' bodies never gets a 5xx.

Each example sends one body to a POST or PUT of /rest/v1 as a superuser; whatever the values,
the answer is a 2xx or a 4xx in hawkBit's error shape.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_module, make_software

pytestmark = pytest.mark.django_db

_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=30)
_values = st.recursive(
    _scalars | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_ids = st.lists(st.fixed_dictionaries({"id": _values}) | _values, max_size=3)

_FIELDS = {
    "softwaremoduletypes": ["key", "name", "description", "colour", "maxAssignments", "minArtifacts"],
    "softwaremodules": ["name", "version", "type", "description", "vendor", "encrypted"],
    "distributionsets": [
        "name",
        "version",
        "type",
        "description",
        "modules",
        "locked",
        "requiredMigrationStep",
    ],
    "distributionsettypes": ["key", "name", "description", "colour", "mandatorymodules", "optionalmodules"],
    "metadata": ["key", "value", "targetVisible"],
    "setmetadata": ["key", "value"],
}


def _body(fields: list[str]):
    return st.fixed_dictionaries(
        {}, optional={name: (_ids if name.endswith("modules") else _values) for name in fields}
    )


@pytest.fixture
def targets(mgmt):
    module = make_module(files={"a.bin": b"1"})
    release = make_software("1.0")
    return {"module": module.pk, "release": release.pk}


def _check(response) -> None:
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response.json()["errorCode"]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_create_bodies_never_500(mgmt, targets, data):
    resource = data.draw(st.sampled_from(sorted(_FIELDS)))
    paths = {
        "metadata": f"softwaremodules/{targets['module']}/metadata",
        "setmetadata": f"distributionsets/{targets['release']}/metadata",
    }
    path = paths.get(resource, resource)
    shape = data.draw(st.sampled_from(["list", "object", "value"]))
    body = _body(_FIELDS[resource])
    payload = data.draw(
        st.lists(body, max_size=2) if shape == "list" else body if shape == "object" else _values
    )
    _check(mgmt.post(path, payload))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_update_bodies_never_500(mgmt, targets, data):
    path, fields = data.draw(
        st.sampled_from(
            [
                (f"softwaremodules/{targets['module']}", ["description", "vendor", "locked"]),
                (f"distributionsets/{targets['release']}", ["name", "description", "version", "locked"]),
                (f"softwaremodules/{targets['module']}/metadata/k", ["value", "targetVisible"]),
                (f"distributionsets/{targets['release']}/metadata/k", ["value"]),
                ("softwaremoduletypes/1", ["description", "colour"]),
                ("distributionsettypes/1", ["description", "colour"]),
                (f"distributionsets/{targets['release']}/assignedSM", ["id"]),
                ("distributionsettypes/3/optionalmoduletypes", ["id"]),
            ]
        )
    )
    payload = data.draw(_body(fields) | st.lists(_body(fields), max_size=2) | _values)
    method = "post" if path.endswith(("assignedSM", "moduletypes")) else "put"
    _check(getattr(mgmt, method)(path, payload))


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    query=st.dictionaries(
        st.sampled_from(["offset", "limit", "sort", "q", "soft_deleted_mode", "representation"]),
        st.text(max_size=20),
        max_size=3,
    )
)
def test_random_list_parameters_never_500(mgmt, targets, query):
    for path in ("softwaremodules", "distributionsets", "softwaremoduletypes", "distributionsettypes"):
        _check(mgmt.get(path, **query))


def test_a_body_of_bare_json_values_is_400_not_readable(mgmt):
    for raw in ("1", '"x"', "null", "true"):
        response = mgmt.client.post("/rest/v1/softwaremodules", raw, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["errorCode"] == "hawkbit.server.error.rest.body.notReadable"
    assert json.loads(mgmt.post("softwaremodules", []).content) == []
