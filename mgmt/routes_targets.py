"""/rest/v1 routes of the target resources (included by mgmt.urls into the ``mgmt`` namespace).

Path ids are plain ``str`` segments: the views parse them, so a malformed id is hawkBit's JSON
404 rather than Django's page.
"""

from django.urls import path

from mgmt.views import actions, assignments, tags, targetfilters, targets

_TARGET = "targets/<str:controller_id>"
_ACTION = _TARGET + "/actions/<str:action_id>"
_TARGET_TAG = "targettags/<str:tag_id>"

urlpatterns = [
    path("targetfilters", targetfilters.TargetFiltersView.as_view(), name="targetfilters"),
    path("targetfilters/<str:filter_id>", targetfilters.TargetFilterView.as_view(), name="targetfilter"),
    path(
        "targetfilters/<str:filter_id>/autoAssignDS",
        targetfilters.TargetFilterAutoAssignView.as_view(),
        name="targetfilter-auto-assign-ds",
    ),
    path("targets", targets.TargetsView.as_view(), name="targets"),
    path(_TARGET, targets.TargetView.as_view(), name="target"),
    path(_TARGET + "/attributes", targets.TargetAttributesView.as_view(), name="target-attributes"),
    path(_TARGET + "/metadata", targets.TargetMetadataListView.as_view(), name="target-metadata-list"),
    path(_TARGET + "/metadata/<str:key>", targets.TargetMetadataView.as_view(), name="target-metadata"),
    path(_TARGET + "/autoConfirm", targets.TargetAutoConfirmView.as_view(), name="target-auto-confirm"),
    path(
        _TARGET + "/autoConfirm/activate",
        targets.TargetAutoConfirmActivateView.as_view(),
        name="target-auto-confirm-activate",
    ),
    path(
        _TARGET + "/autoConfirm/deactivate",
        targets.TargetAutoConfirmDeactivateView.as_view(),
        name="target-auto-confirm-deactivate",
    ),
    path(_TARGET + "/actions", actions.TargetActionsView.as_view(), name="target-actions"),
    path(_ACTION, actions.TargetActionView.as_view(), name="target-action"),
    path(
        _ACTION + "/confirmation",
        actions.TargetActionConfirmationView.as_view(),
        name="target-action-confirmation",
    ),
    path(_ACTION + "/status", actions.TargetActionStatusView.as_view(), name="target-action-status"),
    path(_TARGET + "/assignedDS", assignments.TargetAssignedDSView.as_view(), name="target-assigned-ds"),
    path(_TARGET + "/installedDS", assignments.TargetInstalledDSView.as_view(), name="target-installed-ds"),
    path(_TARGET + "/tags", tags.TargetTagsOfTargetView.as_view(), name="target-tags"),
    path("targettags", tags.TargetTagsView.as_view(), name="targettags"),
    path(_TARGET_TAG, tags.TargetTagView.as_view(), name="targettag"),
    path(_TARGET_TAG + "/assigned", tags.TargetTagAssignedView.as_view(), name="targettag-assigned"),
    path(
        _TARGET_TAG + "/assigned/<str:controller_id>",
        tags.TargetTagAssignedOneView.as_view(),
        name="targettag-assigned-one",
    ),
    path("actions", actions.ActionsView.as_view(), name="actions"),
    path("actions/<str:action_id>", actions.ActionView.as_view(), name="action"),
    path(
        "distributionsets/<str:ds_id>/assignedTargets",
        assignments.DistributionSetAssignedTargetsView.as_view(),
        name="ds-assigned-targets",
    ),
    path(
        "distributionsets/<str:ds_id>/installedTargets",
        assignments.DistributionSetInstalledTargetsView.as_view(),
        name="ds-installed-targets",
    ),
]
