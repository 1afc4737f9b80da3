"""/rest/v1 routes of the rollout resources (included by mgmt.urls into the ``mgmt`` namespace).

Path ids are plain ``str`` segments: the views parse them, so a malformed id is hawkBit's JSON
404 rather than Django's page.
"""

from django.urls import path

from mgmt.views import rollouts

_ROLLOUT = "rollouts/<str:rollout_id>"
_GROUP = _ROLLOUT + "/deploygroups/<str:group_id>"

urlpatterns = [
    path("rollouts", rollouts.RolloutsView.as_view(), name="rollouts"),
    path(_ROLLOUT, rollouts.RolloutView.as_view(), name="rollout"),
    path(_ROLLOUT + "/start", rollouts.RolloutStartView.as_view(), name="rollout-start"),
    path(_ROLLOUT + "/pause", rollouts.RolloutPauseView.as_view(), name="rollout-pause"),
    path(_ROLLOUT + "/resume", rollouts.RolloutResumeView.as_view(), name="rollout-resume"),
    path(_ROLLOUT + "/stop", rollouts.RolloutStopView.as_view(), name="rollout-stop"),
    path(_ROLLOUT + "/approve", rollouts.RolloutApproveView.as_view(), name="rollout-approve"),
    path(_ROLLOUT + "/deny", rollouts.RolloutDenyView.as_view(), name="rollout-deny"),
    path(
        _ROLLOUT + "/triggerNextGroup",
        rollouts.RolloutTriggerNextGroupView.as_view(),
        name="rollout-triggernextgroup",
    ),
    path(_ROLLOUT + "/retry", rollouts.RolloutRetryView.as_view(), name="rollout-retry"),
    path(_ROLLOUT + "/deploygroups", rollouts.RolloutGroupsView.as_view(), name="rollout-groups"),
    path(_GROUP, rollouts.RolloutGroupView.as_view(), name="rollout-group"),
    path(_GROUP + "/targets", rollouts.RolloutGroupTargetsView.as_view(), name="rollout-group-targets"),
]
