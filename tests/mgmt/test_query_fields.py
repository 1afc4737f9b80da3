"""Every q= and sort= field a /rest/v1 list declares compiles and runs against its queryset.

A typo in a lookup would otherwise only show as a 500 the first time someone queries that
field; here each field is queried once, through goosebit_project.lib.rsql exactly as a request would.
"""

from __future__ import annotations

import pytest

from devices.models import DeviceMetadata
from goosebit_project.lib import rsql
from mgmt.views import actions, distributionsets, softwaremodules, targets
from software.models import DistributionSetType, Software, SoftwareModule, SoftwareModuleType
from tests.factories import make_action, make_device, make_software

pytestmark = pytest.mark.django_db

RESOURCES = {
    "targets": (targets.targets_queryset, targets.TARGET_QUERY_FIELDS, targets.TARGET_SORT_FIELDS),
    "actions": (actions.actions_queryset, actions.ACTION_QUERY_FIELDS, actions.ACTION_SORT_FIELDS),
    "softwaremodules": (
        SoftwareModule.objects.all,
        softwaremodules.MODULE_QUERY,
        softwaremodules.MODULE_SORT,
    ),
    "softwaremoduletypes": (
        SoftwareModuleType.objects.all,
        softwaremodules.MODULE_TYPE_QUERY,
        softwaremodules.MODULE_TYPE_SORT,
    ),
    "distributionsets": (Software.objects.all, distributionsets.SET_QUERY, distributionsets.SET_SORT),
    "distributionsettypes": (
        DistributionSetType.objects.all,
        distributionsets.SET_TYPE_QUERY,
        distributionsets.SET_TYPE_SORT,
    ),
}

SAMPLE = {"string": "x*", "number": "1", "boolean": "true", "timestamp": "0"}


def _queries(name: str, field: rsql.Field) -> list[str]:
    selector = f"{name}.k" if field.is_map else name
    value = next(iter(field.choices)) if field.type == "enum" and field.choices else SAMPLE[field.type]
    return [f"{selector}=={value}", f"{selector}!={value}"]


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_every_query_field_compiles_and_runs(resource):
    device = make_device("d")
    DeviceMetadata.objects.create(device=device, key="k", value="x")
    make_action(device, make_software("1.0.0"))
    queryset, query_fields, _ = RESOURCES[resource]
    for name, field in query_fields.items():
        for query in _queries(name, field):
            list(queryset().filter(rsql.compile_query(query, query_fields)))


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_every_sort_field_orders_the_queryset(resource):
    queryset, _, sort_fields = RESOURCES[resource]
    for lookup in sort_fields.values():
        list(queryset().order_by(lookup))


def test_target_metadata_and_attributes_filter_by_key_and_value(mgmt):
    kitchen = make_device("kitchen")
    make_device("garage")
    DeviceMetadata.objects.create(device=kitchen, key="room", value="kitchen")
    kitchen.attributes = {"board": "rpi4"}
    kitchen.save()
    for query in ("metadata.room==kitchen", "attribute.board==rpi*", "metadata.room==KITCHEN"):
        body = mgmt.get("targets", q=query).json()
        assert [target["controllerId"] for target in body["content"]] == ["kitchen"], query
    assert [t["controllerId"] for t in mgmt.get("targets", q="metadata.room!=kitchen").json()["content"]] == [
        "garage"
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ipAddress==10.0.0.7", ["a"]),
        ("ipAddress==10.0.*", ["a"]),
        ("ipAddress=in=(10.0.0.7,192.168.1.1)", ["a"]),
        ("ipAddress!=10.0.0.7", ["b", "c"]),
        ("ipAddress=lt=2", ["a"]),
    ],
)
def test_the_ip_address_filters_as_text_on_every_database(mgmt, query, expected):
    # PostgreSQL stores it as inet, which has no UPPER or LIKE: a 500 before.
    from devices.models import Device

    make_device("a")
    make_device("b")
    make_device("c")
    Device.objects.filter(controller_id="a").update(last_ip="10.0.0.7")
    Device.objects.filter(controller_id="b").update(last_ip="2001:db8::1")
    response = mgmt.get("targets", q=query)
    assert response.status_code == 200, response.content
    assert [target["controllerId"] for target in response.json()["content"]] == expected
