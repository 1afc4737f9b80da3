"""Read and change the runtime tenant settings (hawkBit's system configuration keys)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from devices import selectors, services
from goosebit_project.lib.commands import Output, ServiceCommand

MASK = "********"


def _parse_value(raw: str) -> Any:
    """A JSON value (true, 30, ["a"]) when it parses as one, else the text itself (00:05:00)."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class Command(ServiceCommand):
    help = "List, get, set or reset the tenant settings (pollingTime, authentication.*, ...)."

    def add_command_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("list", help="every key with its value and default")
        get = sub.add_parser("get", help="one key")
        get.add_argument("key")
        set_ = sub.add_parser("set", help="store a value (JSON, or plain text such as 00:05:00)")
        set_.add_argument("key")
        set_.add_argument("value")
        reset = sub.add_parser("reset", help="drop the stored value: the default applies again")
        reset.add_argument("key")
        for subparser in (get, set_, reset, sub.choices["list"]):
            subparser.add_argument("--json", action="store_true", help="print the result as JSON")
            subparser.add_argument("--reveal", action="store_true", help="print the gateway key unmasked")
            subparser.add_argument("--by", default="manage.py", help="who to record as the changer")

    def _describe(self, item: selectors.TenantSetting, *, reveal: bool) -> dict[str, Any]:
        def shown(value: Any) -> Any:
            return MASK if item.secret and value and not reveal else value

        return {
            "key": item.key,
            "value": shown(item.value),
            "default": shown(item.default),
            "global": item.is_global,
            "last_modified_at": item.last_modified_at.isoformat() if item.last_modified_at else None,
            "last_modified_by": item.last_modified_by,
        }

    def _line(self, data: dict[str, Any]) -> str:
        value = json.dumps(data["value"])
        if data["global"]:
            return f"{data['key']} = {value} (the default)"
        who = data["last_modified_by"] or "?"
        return f"{data['key']} = {value} (set by {who}; default {json.dumps(data['default'])})"

    def run(self, **options: Any) -> Output:
        verb, reveal, by = options["verb"], options["reveal"], options["by"]
        if verb == "list":
            items = [self._describe(item, reveal=reveal) for item in selectors.tenant_settings_list()]
            return Output(items, "\n".join(self._line(item) for item in items))
        key = options["key"]
        if verb == "set":
            services.tenant_setting_set(key=key, value=_parse_value(options["value"]), user=by)
        elif verb == "reset":
            services.tenant_setting_reset(key=key, user=by)
        data = self._describe(selectors.tenant_setting_get(key=key), reveal=reveal)
        return Output(data, self._line(data))
