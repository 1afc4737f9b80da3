"""Reads of the device registry."""

from __future__ import annotations

from functools import cache

from devices.models import Device


@cache
def _device_lookup_sql() -> str:
    table = Device._meta.db_table
    columns = ", ".join(
        f'"{field.column}"' for field in Device._meta.concrete_fields if field.name != "attributes"
    )
    return f'SELECT {columns} FROM "{table}" WHERE "controller_id" = %s'


def device_for_poll(*, controller_id: str) -> Device | None:
    """The device behind a DDI request, without its (possibly large) attributes.

    Every DDI request starts here, so the SQL is written once instead of compiled per request:
    on a poll the ORM's query compilation costs more than the indexed lookup itself. The fields
    left out are deferred and load on access like any deferred field.
    """
    for device in Device.objects.raw(_device_lookup_sql(), [controller_id]):
        return device
    return None
