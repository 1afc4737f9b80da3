"""Every /rest/v1 endpoint asks for the hawkBit permissions hawkBit's @PreAuthorize asks for.

MATRIX is written from hawkBit's repository interfaces (TargetManagement, DeploymentManagement,
SoftwareModuleManagement, ArtifactManagement, DistributionSetManagement, ...; ``HAS_READ_REPOSITORY``
there is ``READ_<permissionGroup>`` of the interface) and its docs/authorization.md: assigning a
distribution set needs UPDATE_TARGET and READ_DISTRIBUTION_SET, listing a set's targets
READ_TARGET and READ_DISTRIBUTION_SET. The Django permissions each hawkBit permission stands for
are pinned in DJANGO_PERMISSIONS and must equal mgmt.permissions.PERMISSIONS, so one grant in the
admin opens the same operations here.

For every endpoint: without credentials 401; a user lacking one of its permissions 403 with
hawkBit's ``hawkbit.server.error.insufficientPermission``; a user holding exactly its Django
permissions gets past the check (no 401/403, and never a 500). Entries for endpoints nobody has
built are strict xfails; a built endpoint missing from MATRIX fails test_every_route_is_in_the_matrix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from devices.models import DeviceTag
from mgmt.permissions import PERMISSIONS
from mgmt.views.base import MgmtView
from rollouts import services as rollout_services
from rollouts.models import ActionStatus, DeviceFilter
from software.models import ReleaseTag
from tests.factories import make_action, make_device, make_software
from tests.mgmt.conftest import MgmtClient

pytestmark = pytest.mark.django_db

INSUFFICIENT = "hawkbit.server.error.insufficientPermission"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # hawkBit's template below /rest/v1; {names} are filled by the ``world`` fixture
    needs: tuple[str, ...]  # hawkBit permissions
    body: Any = None
    upload: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def route(self) -> str:
        return re.sub(r"\{[^}]+\}", "{}", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def E(method: str, path: str, *needs: str, body: Any = None, upload: bool = False) -> Endpoint:  # noqa: N802
    return Endpoint(method, path, needs, body=body, upload=upload)


RT, UT, CT, DT = "READ_TARGET", "UPDATE_TARGET", "CREATE_TARGET", "DELETE_TARGET"
RSM, USM, CSM, DSM = (f"{verb}_SOFTWARE_MODULE" for verb in ("READ", "UPDATE", "CREATE", "DELETE"))
RSMT, USMT, CSMT, DSMT = (f"{verb}_SOFTWARE_MODULE_TYPE" for verb in ("READ", "UPDATE", "CREATE", "DELETE"))
RDS, UDS, CDS, DDS = (f"{verb}_DISTRIBUTION_SET" for verb in ("READ", "UPDATE", "CREATE", "DELETE"))
RDST, UDST, CDST, DDST = (f"{verb}_DISTRIBUTION_SET_TYPE" for verb in ("READ", "UPDATE", "CREATE", "DELETE"))
RR, UR, CR, DR = (f"{verb}_ROLLOUT" for verb in ("READ", "UPDATE", "CREATE", "DELETE"))
HR, AR = "HANDLE_ROLLOUT", "APPROVE_ROLLOUT"
_ROLLOUT_BODY = {
    "name": "matrix-rollout",
    "distributionSetId": "{ds:int}",
    "targetFilterQuery": "controllerId==matrix-*",
    "amountGroups": 1,
}

MATRIX: list[Endpoint] = [
    # MgmtTargetRestApi (TargetManagement, DeploymentManagement: permission group TARGET)
    E("GET", "targets", RT),
    E("POST", "targets", CT, body=[{"controllerId": "matrix-new", "name": "matrix-new"}]),
    E("GET", "targets/{target}", RT),
    E("PUT", "targets/{target}", UT, body={"name": "renamed", "description": "by the matrix"}),
    E("DELETE", "targets/{target}", DT),
    E("GET", "targets/{target}/attributes", RT),
    E("GET", "targets/{target}/actions", RT),
    E("GET", "targets/{target}/actions/{action}", RT),
    E("PUT", "targets/{target}/actions/{action}", UT, body={"forceType": "forced"}),
    E("DELETE", "targets/{target}/actions/{action}", UT),
    E("GET", "targets/{target}/actions/{action}/status", RT),
    E(
        "PUT",
        "targets/{target}/actions/{action}/confirmation",
        UT,
        body={"confirmation": "confirmed", "code": 200, "details": ["by the matrix"]},
    ),
    E("GET", "targets/{target}/assignedDS", RT),
    E("POST", "targets/{target}/assignedDS", UT, RDS, body=[{"id": "{ds:int}", "type": "forced"}]),
    E("GET", "targets/{target}/installedDS", RT),
    E("GET", "targets/{target}/metadata", RT),
    E("POST", "targets/{target}/metadata", UT, body=[{"key": "added", "value": "v"}]),
    E("GET", "targets/{target}/metadata/{key}", RT),
    E("PUT", "targets/{target}/metadata/{key}", UT, body={"value": "changed"}),
    E("DELETE", "targets/{target}/metadata/{key}", UT),
    # ConfirmationManagement (permission group TARGET)
    E("GET", "targets/{target}/autoConfirm", RT),
    E("POST", "targets/{target}/autoConfirm/activate", UT, body={"initiator": "matrix", "remark": "r"}),
    E("POST", "targets/{target}/autoConfirm/deactivate", UT),
    # MgmtTargetFilterQueryRestApi (TargetFilterQueryManagement: permission group TARGET; the
    # auto-assigned set is read through DistributionSetManagement)
    E("GET", "targetfilters", RT),
    E("POST", "targetfilters", CT, body={"name": "matrix-filter", "query": "name==*"}),
    E("GET", "targetfilters/{filter}", RT),
    E("PUT", "targetfilters/{filter}", UT, body={"name": "matrix-renamed"}),
    E("DELETE", "targetfilters/{filter}", DT),
    E("GET", "targetfilters/{filter}/autoAssignDS", RT, RDS),
    E("POST", "targetfilters/{filter}/autoAssignDS", UT, RDS, body={"id": "{ds:int}", "type": "soft"}),
    E("DELETE", "targetfilters/{filter}/autoAssignDS", UT),
    # MgmtActionRestApi (DeploymentManagement)
    E("GET", "actions", RT),
    E("GET", "actions/{action}", RT),
    # MgmtSoftwareModuleRestApi (SoftwareModuleManagement, ArtifactManagement: SOFTWARE_MODULE)
    E("GET", "softwaremodules", RSM),
    E("POST", "softwaremodules", CSM, body=[{"name": "matrix", "version": "9.9", "type": "application"}]),
    E("GET", "softwaremodules/{module}", RSM),
    E("PUT", "softwaremodules/{module}", USM, body={"description": "by the matrix"}),
    E("DELETE", "softwaremodules/{module}", DSM),
    E("GET", "softwaremodules/{module}/artifacts", RSM),
    E("POST", "softwaremodules/{module}/artifacts", CSM, upload=True),
    E("GET", "softwaremodules/{module}/artifacts/{artifact}", RSM),
    E("DELETE", "softwaremodules/{module}/artifacts/{artifact}", DSM),
    # MgmtDownloadArtifactRestApi: ArtifactManagement.getArtifactStream
    E("GET", "softwaremodules/{module}/artifacts/{artifact}/download", "READ_SOFTWARE_MODULE_ARTIFACT"),
    E("GET", "softwaremodules/{module}/metadata", RSM),
    E("POST", "softwaremodules/{module}/metadata", USM, body=[{"key": "added", "value": "v"}]),
    E("GET", "softwaremodules/{module}/metadata/{key}", RSM),
    E("PUT", "softwaremodules/{module}/metadata/{key}", USM, body={"value": "changed"}),
    E("DELETE", "softwaremodules/{module}/metadata/{key}", USM),
    # MgmtSoftwareModuleTypeRestApi (SoftwareModuleTypeManagement: SOFTWARE_MODULE_TYPE)
    E("GET", "softwaremoduletypes", RSMT),
    E("POST", "softwaremoduletypes", CSMT, body=[{"key": "matrix", "name": "Matrix", "maxAssignments": 1}]),
    E("GET", "softwaremoduletypes/{smtype}", RSMT),
    E("PUT", "softwaremoduletypes/{smtype}", USMT, body={"description": "by the matrix"}),
    E("DELETE", "softwaremoduletypes/{smtype}", DSMT),
    # MgmtDistributionSetRestApi (DistributionSetManagement: DISTRIBUTION_SET)
    E("GET", "distributionsets", RDS),
    E("POST", "distributionsets", CDS, body=[{"name": "matrix", "version": "9.9", "modules": []}]),
    E("GET", "distributionsets/{ds}", RDS),
    E("PUT", "distributionsets/{ds}", UDS, body={"description": "by the matrix"}),
    E("DELETE", "distributionsets/{ds}", DDS),
    E("GET", "distributionsets/{ds}/assignedTargets", RT, RDS),
    E("POST", "distributionsets/{ds}/assignedTargets", UT, RDS, body=[{"id": "{target}", "type": "forced"}]),
    E("GET", "distributionsets/{ds}/installedTargets", RT, RDS),
    E("GET", "distributionsets/{ds}/assignedSM", RDS),
    E("POST", "distributionsets/{ds}/assignedSM", UDS, body=[{"id": "{module:int}"}]),
    E("DELETE", "distributionsets/{ds}/assignedSM/{module}", UDS),
    E("GET", "distributionsets/{ds}/metadata", RDS),
    E("POST", "distributionsets/{ds}/metadata", UDS, body=[{"key": "added", "value": "v"}]),
    E("GET", "distributionsets/{ds}/metadata/{key}", RDS),
    E("PUT", "distributionsets/{ds}/metadata/{key}", UDS, body={"value": "changed"}),
    E("DELETE", "distributionsets/{ds}/metadata/{key}", UDS),
    # MgmtDistributionSetTypeRestApi (DistributionSetTypeManagement: DISTRIBUTION_SET_TYPE)
    E("GET", "distributionsettypes", RDST),
    E("POST", "distributionsettypes", CDST, body=[{"key": "matrix", "name": "Matrix"}]),
    E("GET", "distributionsettypes/{dstype}", RDST),
    E("PUT", "distributionsettypes/{dstype}", UDST, body={"description": "by the matrix"}),
    E("DELETE", "distributionsettypes/{dstype}", DDST),
    E("GET", "distributionsettypes/{dstype}/mandatorymoduletypes", RDST),
    E("POST", "distributionsettypes/{dstype}/mandatorymoduletypes", UDST, body={"id": "{smtype:int}"}),
    E("GET", "distributionsettypes/{dstype}/mandatorymoduletypes/{smtype}", RDST),
    E("DELETE", "distributionsettypes/{dstype}/mandatorymoduletypes/{smtype}", UDST),
    E("GET", "distributionsettypes/{dstype}/optionalmoduletypes", RDST),
    E("POST", "distributionsettypes/{dstype}/optionalmoduletypes", UDST, body={"id": "{smtype:int}"}),
    E("GET", "distributionsettypes/{dstype}/optionalmoduletypes/{smtype}", RDST),
    E("DELETE", "distributionsettypes/{dstype}/optionalmoduletypes/{smtype}", UDST),
    # MgmtTargetTagRestApi (TargetTagManagement: permission group TARGET)
    E("GET", "targets/{target}/tags", RT),
    E("GET", "targettags", RT),
    E("POST", "targettags", CT, body=[{"name": "matrix-new", "colour": "red"}]),
    E("GET", "targettags/{ttag}", RT),
    E("PUT", "targettags/{ttag}", UT, body={"description": "by the matrix"}),
    E("DELETE", "targettags/{ttag}", DT),
    E("GET", "targettags/{ttag}/assigned", RT),
    E("POST", "targettags/{ttag}/assigned", UT, body=["{target}"]),
    E("DELETE", "targettags/{ttag}/assigned", UT),
    E("POST", "targettags/{ttag}/assigned/{target}", UT),
    E("DELETE", "targettags/{ttag}/assigned/{target}", UT),
    # MgmtDistributionSetTagRestApi (DistributionSetTagManagement: DISTRIBUTION_SET)
    E("GET", "distributionsettags", RDS),
    E("POST", "distributionsettags", CDS, body=[{"name": "matrix-new"}]),
    E("GET", "distributionsettags/{dstag}", RDS),
    E("PUT", "distributionsettags/{dstag}", UDS, body={"colour": "blue"}),
    E("DELETE", "distributionsettags/{dstag}", DDS),
    E("GET", "distributionsettags/{dstag}/assigned", RDS),
    E("POST", "distributionsettags/{dstag}/assigned", UDS, body=["{ds:int}"]),
    E("DELETE", "distributionsettags/{dstag}/assigned", UDS),
    E("POST", "distributionsettags/{dstag}/assigned/{ds}", UDS),
    E("DELETE", "distributionsettags/{dstag}/assigned/{ds}", UDS),
    # already on the integration branch
    E("GET", "userinfo"),
    # hawkBit's RolloutManagement: creating needs READ_DISTRIBUTION_SET too; retry creates.
    E("GET", "rollouts", RR),
    E("POST", "rollouts", CR, RDS, body=_ROLLOUT_BODY),
    E("GET", "rollouts/{rollout}", RR),
    E("PUT", "rollouts/{rollout}", UR, body={"description": "by the matrix"}),
    E("DELETE", "rollouts/{rollout}", DR),
    E("POST", "rollouts/{rollout}/start", HR),
    E("POST", "rollouts/{rollout}/pause", HR),
    E("POST", "rollouts/{rollout}/resume", HR),
    E("POST", "rollouts/{rollout}/stop", HR),
    E("POST", "rollouts/{rollout}/triggerNextGroup", HR),
    E("POST", "rollouts/{rollout}/approve", AR),
    E("POST", "rollouts/{rollout}/deny", AR),
    E("POST", "rollouts/{rollout}/retry", CR, RR),
    E("GET", "rollouts/{rollout}/deploygroups", RR),
    E("GET", "rollouts/{rollout}/deploygroups/{group}", RR),
    E("GET", "rollouts/{rollout}/deploygroups/{group}/targets", RR, RT),
    E("GET", "system/configs", "READ_TENANT_CONFIGURATION"),
    E("PUT", "system/configs", "TENANT_CONFIGURATION", body={}),
    E("GET", "system/configs/{config}", "READ_TENANT_CONFIGURATION"),
    E("PUT", "system/configs/{config}", "TENANT_CONFIGURATION", body={"value": "00:05:00"}),
    E("DELETE", "system/configs/{config}", "TENANT_CONFIGURATION"),
]


# --------------------------------------------------------------------------- the built routes
def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.append((prefix + str(pattern.pattern), pattern))
    return found


def built_endpoints() -> dict[tuple[str, str], Any]:
    """(method, route with {} for each path parameter) -> view class, for every /rest/v1 route."""
    built = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("rest/v1/"):
            continue
        view_class = getattr(pattern.callback, "view_class", None)
        if view_class is None or not issubclass(view_class, MgmtView):
            continue  # the OpenAPI document, public like hawkBit's API docs
        normalised = re.sub(r"<[^>]+>", "{}", route.removeprefix("rest/v1/"))
        for method in ("get", "post", "put", "delete", "patch"):
            if view_class is not None and hasattr(view_class, method):
                built[(method.upper(), normalised)] = view_class
    return built


BUILT = built_endpoints()


def _case(endpoint: Endpoint) -> Any:
    if (endpoint.method, endpoint.route) in BUILT:
        return pytest.param(endpoint, id=str(endpoint))
    reason = f"{endpoint} is not built on this branch"
    return pytest.param(endpoint, id=str(endpoint), marks=pytest.mark.xfail(strict=True, reason=reason))


CASES = [_case(endpoint) for endpoint in MATRIX]


# The Django permissions each hawkBit permission in MATRIX stands for, pinned here so that a change
# of mgmt.permissions.PERMISSIONS (which changes what an admin grant opens) is a visible decision.
DJANGO_PERMISSIONS: dict[str, set[str]] = {
    RT: {"devices.view_device"},
    CT: {"devices.add_device"},
    UT: {"devices.change_device"},
    DT: {"devices.delete_device"},
    RSM: {"software.view_softwaremodule"},
    CSM: {"software.add_softwaremodule"},
    USM: {"software.change_softwaremodule"},
    DSM: {"software.delete_softwaremodule"},
    "READ_SOFTWARE_MODULE_ARTIFACT": {"software.view_softwaremodule", "software.view_artifact"},
    RSMT: {"software.view_softwaremoduletype"},
    CSMT: {"software.add_softwaremoduletype"},
    USMT: {"software.change_softwaremoduletype"},
    DSMT: {"software.delete_softwaremoduletype"},
    RDS: {"software.view_software"},
    CDS: {"software.add_software"},
    UDS: {"software.change_software"},
    DDS: {"software.delete_software"},
    RDST: {"software.view_software"},
    CDST: {"software.add_distributionsettype"},
    UDST: {"software.change_distributionsettype"},
    DDST: {"software.delete_distributionsettype"},
    RR: {"rollouts.view_rollout"},
    CR: {"rollouts.add_rollout"},
    UR: {"rollouts.change_rollout"},
    DR: {"rollouts.delete_rollout"},
    HR: {"rollouts.change_rollout"},
    AR: {"rollouts.change_rollout"},
    "READ_TENANT_CONFIGURATION": {"devices.view_tenantconfiguration"},
    "TENANT_CONFIGURATION": {"devices.change_tenantconfiguration"},
}


def codenames(needs: tuple[str, ...]) -> set[str]:
    """The Django permission codenames (without app label) that grant these hawkBit permissions."""
    return {name.split(".", 1)[1] for need in needs for name in DJANGO_PERMISSIONS[need]}


# --------------------------------------------------------------------------- the world they act on
@pytest.fixture
def world(mgmt: MgmtClient) -> dict[str, Any]:
    """A target with an action and its status, a release with its module and artifact, metadata."""
    software = make_software("5.0.0")
    device = make_device("matrix-target")
    action = make_action(device, software)
    ActionStatus.objects.create(action=action, execution=ActionStatus.Execution.PROCEEDING, details=["busy"])
    module = software.modules.get()
    artifact = module.artifacts.get()
    values: dict[str, Any] = {
        "target": device.controller_id,
        "action": action.pk,
        "module": module.pk,
        "artifact": artifact.pk,
        "ds": software.pk,
        "smtype": module.type_id,
        "key": "matrix-key",
        "config": next(iter(mgmt.get("system/configs").json())),
        "dstype": 0,
        "filter": DeviceFilter.objects.create(name="matrix-world", query="name==*").pk,
        "ttag": DeviceTag.objects.create(name="matrix-tag").pk,
        "dstag": ReleaseTag.objects.create(name="matrix-tag").pk,
    }
    rollout = rollout_services.rollout_create(
        name="matrix-world", software=software, query="controllerId==matrix-*"
    )
    values["rollout"] = rollout.pk
    values["group"] = rollout.groups.get().pk
    # Metadata and set types through the API itself: their storage is the building branches' choice.
    owners = (
        f"targets/{device.controller_id}",
        f"softwaremodules/{module.pk}",
        f"distributionsets/{software.pk}",
    )
    for path in owners:
        mgmt.post(f"{path}/metadata", [{"key": "matrix-key", "value": "v"}])
    types = mgmt.get("distributionsettypes")
    if types.status_code == 200:
        content = types.json()
        items = content.get("content", []) if isinstance(content, dict) else content
        values["dstype"] = items[0]["id"] if items else 0
    return values


def _fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+):int\}", value)
        if whole:
            return int(world[whole.group(1)])
        return re.sub(r"\{(\w+)\}", lambda m: str(world[m.group(1)]), value)
    if isinstance(value, list):
        return [_fill(item, world) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    return value


def call(client: MgmtClient, endpoint: Endpoint, world: dict[str, Any]):
    path = _fill(endpoint.path, world)
    method = endpoint.method.lower()
    if endpoint.upload:
        response = client.upload(path, file=SimpleUploadedFile("matrix.bin", b"matrix artifact bytes"))
    elif method in ("get", "delete"):
        response = getattr(client, method)(path)
    else:
        response = getattr(client, method)(path, _fill(endpoint.body, world))
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)  # a download: read it so its file is closed
        response.close()
    return response


# --------------------------------------------------------------------------- the checks
def require_built(endpoint: Endpoint) -> None:
    """A 404 from an endpoint nobody built would pass the checks below; it must not."""
    if (endpoint.method, endpoint.route) not in BUILT:
        pytest.fail(f"{endpoint} is not built")


def test_every_route_is_in_the_matrix():
    listed = {(endpoint.method, endpoint.route) for endpoint in MATRIX}
    missing = sorted(f"{method} {route}" for method, route in BUILT if (method, route) not in listed)
    assert missing == [], "add these /rest/v1 endpoints to MATRIX with hawkBit's permissions"


def test_the_pinned_django_permissions_are_mgmt_permissions():
    used = {need for endpoint in MATRIX for need in endpoint.needs}
    assert used == set(DJANGO_PERMISSIONS)
    assert {need: set(PERMISSIONS.get(need, ())) for need in used} == DJANGO_PERMISSIONS


def test_every_pinned_django_permission_exists():
    from django.contrib.auth.models import Permission

    existing = {
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")
    }
    assert set().union(*DJANGO_PERMISSIONS.values()) - existing == set()


@pytest.mark.parametrize("endpoint", CASES)
def test_the_view_declares_hawkbits_permissions(endpoint: Endpoint):
    view_class = BUILT[(endpoint.method, endpoint.route)]
    declared = view_class.required_permissions.get(endpoint.method)
    assert declared is not None, f"{endpoint}: no required_permissions entry (every call is refused)"
    assert set(declared) == set(endpoint.needs)


@pytest.mark.parametrize("endpoint", CASES)
def test_without_credentials_is_401(endpoint: Endpoint, client, world):
    require_built(endpoint)
    anonymous = MgmtClient("nobody", "nothing")
    anonymous.client = client
    assert call(anonymous, endpoint, world).status_code == 401


@pytest.mark.parametrize("endpoint", CASES)
def test_a_user_lacking_a_needed_permission_is_refused_with_hawkbits_error(
    endpoint: Endpoint, mgmt_as, world
):
    require_built(endpoint)
    # Nothing at all, then everything else the endpoint needs but one permission.
    lacking: list[set[str]] = [set()]
    for need in endpoint.needs:
        others = codenames(tuple(other for other in endpoint.needs if other != need))
        if not codenames((need,)) <= others:
            lacking.append(others)
    if not endpoint.needs:
        pytest.skip("any signed-in user may call this")
    for granted in lacking:
        response = call(mgmt_as(*granted), endpoint, world)
        assert response.status_code == 403, (sorted(granted), response.status_code, response.content[:300])
        assert response.json()["errorCode"] == INSUFFICIENT


@pytest.mark.parametrize("endpoint", CASES)
def test_a_user_holding_exactly_the_mapped_permissions_gets_past_the_check(
    endpoint: Endpoint, mgmt_as, world
):
    require_built(endpoint)
    response = call(mgmt_as(*codenames(endpoint.needs)), endpoint, world)
    assert response.status_code not in (401, 403), (response.status_code, response.content[:300])
    assert response.status_code < 500
