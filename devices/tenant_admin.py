"""The admin's "Tenant settings" page: every runtime tenant setting, its default and a reset.

One page instead of the model's change list: a key without a stored value has no row, yet the
page shows it with its default from the environment. Reading needs the model's view permission
(Operators and Viewers have it); saving, resetting and revealing the gateway key need
``devices.change_tenantconfiguration``. The rules (validation, history, cache) are in
devices.services and devices.tenant_config.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.cache import add_never_cache_headers

from devices import selectors, services, tenant_config
from devices.models import TenantConfiguration
from goosebit_project.lib.errors import DomainError

MASK = "********"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value) if value not in ("", None) else "(empty)"


def _submitted(key: tenant_config.Key, raw: str) -> Any:
    if key.kind == "boolean":
        return {"on": True, "off": False}.get(raw, raw)
    return raw.strip()


def _warnings(config: tenant_config.TenantConfig) -> list[str]:
    found = []
    if not config.device_auth_enabled and settings.GOOSEBIT_DEVICE_AUTH_ENABLE:
        found.append(
            "Every authentication mechanism is off: any device may use the DDI API without a credential."
        )
    if config.gateway_token_enabled and not config.gateway_token_key:
        found.append("Gateway token authentication is on, but no gateway key is set: none is accepted.")
    if config.header_enabled and not settings.GOOSEBIT_TRUSTED_PROXIES:
        found.append(
            "Certificate header authentication is on, but GOOSEBIT_DEVICE_AUTH__TRUSTED_PROXIES names no "
            "proxy: no headers are trusted."
        )
    if config.header_enabled and not config.header_authorities:
        found.append("Certificate header authentication is on, but no trusted authority is set.")
    return found


class TenantConfigurationAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        # Only the one page: the stock change form would store a value without its key's checks.
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        can_change = self.has_change_permission(request)
        errors: dict[str, str] = {}
        submitted: dict[str, str] = {}
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            if "reset" in request.POST:
                return self._reset(request, request.POST["reset"])
            submitted = {name: request.POST.get(name, "") for name in tenant_config.KEYS}
            errors = self._save(request, submitted)
            if not errors:
                return redirect(request.path)
        reveal = can_change and request.GET.get("reveal") == "1"
        rows = []
        for item in selectors.tenant_settings_list():
            key = tenant_config.KEYS[item.key]
            if item.key in submitted and not (key.secret and not reveal):
                current: Any = submitted[item.key]
            elif key.kind == "boolean":
                current = "on" if item.value else "off"
            else:
                current = "" if key.secret and not reveal else item.value
            hidden = key.secret and not reveal
            rows.append(
                {
                    "item": item,
                    "input": current,
                    "hidden": hidden,
                    "shown": MASK if hidden and item.value else _shown(item.value),
                    "default": MASK if hidden and item.default else _shown(item.default),
                    "error": errors.get(item.key, ""),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Tenant settings",
            "rows": rows,
            "can_change": can_change,
            "reveal": reveal,
            "changes": selectors.tenant_setting_changes(),
            "warnings": _warnings(selectors.tenant_config()),
            "ttl": settings.GOOSEBIT_TENANT_CONFIG_TTL,
            **(extra_context or {}),
        }
        response = TemplateResponse(
            request, "admin/devices/tenantconfiguration/settings.html", context, status=400 if errors else 200
        )
        if reveal:
            add_never_cache_headers(response)
        return response

    def _save(self, request: HttpRequest, submitted: dict[str, str]) -> dict[str, str]:
        """Store the values that differ from the current ones; per-field errors, nothing saved."""
        current = {item.key: item.value for item in selectors.tenant_settings_list()}
        changes: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, key in tenant_config.KEYS.items():
            raw = submitted[name]
            if key.secret and raw == "":
                continue  # a hidden key left empty stays as it is (reset clears it)
            try:
                value = tenant_config.validate(name, _submitted(key, raw))
            except DomainError as error:
                errors[name] = error.message
                continue
            if value != current[name]:
                changes[name] = value
        if errors:
            self.message_user(request, "Nothing was saved: please correct the errors below.", messages.ERROR)
            return errors
        if not changes:
            self.message_user(request, "Nothing changed.", messages.INFO)
            return {}
        try:
            services.tenant_settings_update(values=changes, user=request.user.get_username())
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return {"": error.message}
        self.message_user(
            request, f"Saved {', '.join(changes)}; every worker applies it within seconds.", messages.SUCCESS
        )
        return {}

    def _reset(self, request: HttpRequest, name: str) -> HttpResponse:
        try:
            services.tenant_setting_reset(key=name, user=request.user.get_username())
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            default = tenant_config.default_value(name)
            shown = MASK if tenant_config.KEYS[name].secret and default else json.dumps(default)
            self.message_user(request, f"Reset {name} to its default, {shown}.", messages.SUCCESS)
        return redirect(request.path)


admin.site.register(TenantConfiguration, TenantConfigurationAdmin)
