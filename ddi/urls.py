"""hawkBit DDI v1 routes under /<tenant>/controller/v1/<controllerId> (ddi.md §1)."""

from django.urls import path, register_converter

from ddi import views


class DatabaseId:
    """Ids that fit a 64-bit column; longer digit strings are 404 rather than an overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(DatabaseId, "dbid")

prefix = "<str:tenant>/controller/v1/<str:controller_id>"

urlpatterns = [
    path(prefix, views.root, name="ddi-root"),
    path(f"{prefix}/configData", views.config_data, name="ddi-config-data"),
    path(f"{prefix}/deploymentBase/<dbid:action_id>", views.deployment_base, name="ddi-deployment"),
    path(
        f"{prefix}/deploymentBase/<dbid:action_id>/feedback",
        views.deployment_feedback,
        name="ddi-deployment-feedback",
    ),
    path(f"{prefix}/cancelAction/<dbid:action_id>", views.cancel_action, name="ddi-cancel"),
    path(
        f"{prefix}/cancelAction/<dbid:action_id>/feedback", views.cancel_feedback, name="ddi-cancel-feedback"
    ),
    path(f"{prefix}/confirmationBase", views.confirmation_base, name="ddi-confirmation"),
    path(
        f"{prefix}/confirmationBase/activateAutoConfirm",
        views.activate_auto_confirm,
        name="ddi-activate-auto-confirm",
    ),
    path(
        f"{prefix}/confirmationBase/deactivateAutoConfirm",
        views.deactivate_auto_confirm,
        name="ddi-deactivate-auto-confirm",
    ),
    path(
        f"{prefix}/confirmationBase/<dbid:action_id>",
        views.confirmation_action,
        name="ddi-confirmation-action",
    ),
    path(
        f"{prefix}/confirmationBase/<dbid:action_id>/feedback",
        views.confirmation_feedback,
        name="ddi-confirmation-feedback",
    ),
    path(f"{prefix}/installedBase/<dbid:action_id>", views.installed_base, name="ddi-installed"),
    path(f"{prefix}/softwaremodules/<dbid:module_id>/artifacts", views.artifacts, name="ddi-artifacts"),
    path(
        f"{prefix}/softwaremodules/<dbid:module_id>/artifacts/<str:filename>",
        views.artifact_download,
        name="ddi-artifact-download",
    ),
]
