"""hawkBit DDI v1 routes under /<tenant>/controller/v1/<controllerId> (ddi.md §1)."""

from django.urls import path

from ddi import views

prefix = "<str:tenant>/controller/v1/<str:controller_id>"

urlpatterns = [
    path(prefix, views.root, name="ddi-root"),
    path(f"{prefix}/configData", views.config_data, name="ddi-config-data"),
    path(f"{prefix}/deploymentBase/<int:action_id>", views.deployment_base, name="ddi-deployment"),
    path(
        f"{prefix}/deploymentBase/<int:action_id>/feedback",
        views.deployment_feedback,
        name="ddi-deployment-feedback",
    ),
    path(f"{prefix}/cancelAction/<int:action_id>", views.cancel_action, name="ddi-cancel"),
    path(
        f"{prefix}/cancelAction/<int:action_id>/feedback", views.cancel_feedback, name="ddi-cancel-feedback"
    ),
    path(f"{prefix}/installedBase/<int:action_id>", views.installed_base, name="ddi-installed"),
    path(f"{prefix}/softwaremodules/<int:software_id>/artifacts", views.artifacts, name="ddi-artifacts"),
    path(
        f"{prefix}/softwaremodules/<int:software_id>/artifacts/<str:filename>",
        views.artifact_download,
        name="ddi-artifact-download",
    ),
]
