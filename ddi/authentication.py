"""Who is calling a DDI endpoint (ddi.md §2 and gooseBit's migration modes).

Checked on every DDI request, downloads included, before any 404: an unknown controller with a
TargetToken gets 401, not 404, so ids cannot be probed.

Credentials, any of which authenticates when it is valid:
- ``Authorization: TargetToken <token>``: the device's own token (checked against its keyed hash;
  a legacy unsalted hash that matches is upgraded at once, see devices.services.device_refresh_token);
- ``Authorization: GatewayToken <token>``: the tenant-wide key; may act for any controller id and
  so allows plug-and-play registration;
- certificate headers set by a TLS-terminating proxy whose address is trusted.

Which mechanisms are on, the gateway key and the trusted authorities are runtime tenant settings
(hawkBit's ``authentication.*`` keys, devices.tenant_config), defaulting to GOOSEBIT_DEVICE_AUTH__*.
With every mechanism off (the default, as in gooseBit) everything is allowed. With target tokens
on, GOOSEBIT_DEVICE_AUTH__MODE decides what a TargetToken-only fleet may do:
- ``strict``: a valid credential is required; devices must exist (or use a gateway token);
- ``lax``: unknown devices register; the sent token must equal the stored one (both may be absent);
- ``setup``: unknown devices register and the first token a device sends is stored; a different
  token later is refused; token-less requests pass.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from devices import selectors as device_selectors
from devices import services as device_services
from devices.models import Device
from goosebit_project.lib.tokens import token_matches

# hawkBit before 1.0 names the issuer hashes X-Ssl-Issuer-Hash-N, hawkBit 1.0 X-Authority-N; a single
# X-Authority is accepted too.
_ISSUER_HASH_HEADER = re.compile(r"^HTTP_X_(?:SSL_ISSUER_HASH|AUTHORITY)_\d+$")


@dataclass(frozen=True)
class Credentials:
    """The outcome of authentication for one request."""

    may_register: bool
    token_to_store: str | None = None


def _authorization(request: HttpRequest) -> tuple[str, str]:
    """The (scheme, token) of the Authorization header; hawkBit's schemes are case-sensitive."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme in ("TargetToken", "GatewayToken") and token and " " not in token:
        return scheme, token
    return "", ""


def _authenticated_by_proxy(request: HttpRequest, controller_id: str, authorities: tuple[str, ...]) -> bool:
    if request.META.get("REMOTE_ADDR") not in settings.GOOSEBIT_TRUSTED_PROXIES:
        return False
    if not authorities:
        return False
    common_name = request.META.get("HTTP_X_CONTROLLER_ID") or request.META.get("HTTP_X_SSL_CLIENT_CN")
    if not common_name or common_name != controller_id:
        return False
    presented: list[str] = []
    for key, value in request.META.items():
        if key == "HTTP_X_AUTHORITY" or _ISSUER_HASH_HEADER.match(key):
            presented.extend(part.strip().lower() for part in re.split(r"[,;]", value))
    return any(value and value in authorities for value in presented)


def _token_valid(token: str, device: Device | None) -> bool:
    """The TargetToken comparison: one HMAC, constant time, no decryption.

    A match against a row that is not current (legacy SHA-256, older keys) rewrites it now that
    the token is known: one compare-and-swap UPDATE, once; later polls find it current.
    """
    if device is None or not token or not token_matches(token, device.token_hash):
        return False
    device_services.device_refresh_token(device=device, token=token)
    return True


def authenticate(request: HttpRequest, *, controller_id: str, device: Device | None) -> Credentials | None:
    """Return the request's credentials, or None when it must get 401."""
    config = device_selectors.tenant_config()
    if not config.device_auth_enabled:
        return Credentials(may_register=True)

    scheme, token = _authorization(request)
    gateway = config.gateway_token_key if config.gateway_token_enabled else ""
    if scheme == "GatewayToken":
        if gateway and hmac.compare_digest(token.encode(), gateway.encode()):
            return Credentials(may_register=True)
        return None
    if config.header_enabled and _authenticated_by_proxy(request, controller_id, config.header_authorities):
        return Credentials(may_register=True)
    if not config.target_token_enabled:
        return None

    mode = settings.GOOSEBIT_DEVICE_AUTH_MODE
    stored = device.token_hash if device is not None else ""
    if mode == "setup":
        # The first token stored wins (the view stores it atomically): a different one is refused.
        if token and stored and not _token_valid(token, device):
            return None
        return Credentials(may_register=True, token_to_store=token or None)
    if mode == "lax":
        if not token and not stored:
            return Credentials(may_register=True)
        if token and stored and _token_valid(token, device):
            return Credentials(may_register=True)
        return None
    # strict
    if token and stored and _token_valid(token, device):
        return Credentials(may_register=False)
    return None
