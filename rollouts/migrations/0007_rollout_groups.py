"""Rollouts split into groups (hawkBit's deployment groups), target queries, approval, scheduling.

Every existing rollout becomes a dynamic rollout with one group holding all its devices, in the
state its rollout is in, and its actions are linked to that group: nothing it delivers changes.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

GROUP_STATUS = {
    "draft": "scheduled",
    "running": "running",
    "paused": "running",
    "stopped": "running",
    "finished": "finished",
}


def one_group_each(apps, schema_editor):
    Rollout = apps.get_model("rollouts", "Rollout")
    RolloutGroup = apps.get_model("rollouts", "RolloutGroup")
    Action = apps.get_model("rollouts", "Action")
    for rollout in Rollout.objects.all().iterator():
        group = RolloutGroup.objects.create(
            rollout=rollout,
            position=0,
            name="All devices",
            status=GROUP_STATUS.get(rollout.status, "scheduled"),
            started_at=rollout.started_at,
            finished_at=rollout.finished_at if rollout.status == "finished" else None,
        )
        Action.objects.filter(rollout=rollout).update(rollout_group=group)


class Migration(migrations.Migration):
    dependencies = [
        ("rollouts", "0006_device_filter_permissions"),
        ("software", "0009_tag_permissions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="RolloutGroup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveSmallIntegerField()),
                ("name", models.CharField(max_length=128)),
                ("description", models.CharField(blank=True, max_length=512)),
                ("query", models.TextField(blank=True, max_length=4096)),
                ("target_count", models.PositiveIntegerField(blank=True, null=True)),
                ("target_percentage", models.FloatField(blank=True, null=True)),
                ("success_threshold", models.PositiveSmallIntegerField(default=100)),
                (
                    "success_action",
                    models.CharField(
                        choices=[
                            ("next_group", "Start the next group"),
                            ("pause", "Pause the rollout after this group"),
                        ],
                        default="next_group",
                        max_length=16,
                    ),
                ),
                ("error_threshold", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("error_count", models.PositiveIntegerField(blank=True, null=True)),
                ("confirmation_required", models.BooleanField(blank=True, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("scheduled", "Scheduled"),
                            ("running", "Running"),
                            ("finished", "Finished"),
                            ("error", "Error"),
                        ],
                        default="scheduled",
                        max_length=16,
                    ),
                ),
                ("boundary", models.BigIntegerField(blank=True, null=True)),
                ("frozen_total", models.PositiveIntegerField(blank=True, null=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("status_reason", models.TextField(blank=True)),
            ],
            options={
                "ordering": ["rollout", "position"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="rollout",
            name="rollouts_rollout_status_valid",
        ),
        migrations.AddField(
            model_name="rollout",
            name="approval_decided_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rollout",
            name="approval_decided_by",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AddField(
            model_name="rollout",
            name="approval_remark",
            field=models.CharField(blank=True, max_length=512),
        ),
        migrations.AddField(
            model_name="rollout",
            name="description",
            field=models.TextField(blank=True, max_length=512),
        ),
        migrations.AddField(
            model_name="rollout",
            name="dynamic",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="rollout",
            name="query",
            field=models.TextField(blank=True, max_length=4096),
        ),
        migrations.AddField(
            model_name="rollout",
            name="retry_of",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="retries",
                to="rollouts.rollout",
            ),
        ),
        migrations.AddField(
            model_name="rollout",
            name="start_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="rollout",
            name="feed",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AlterField(
            model_name="rollout",
            name="status",
            field=models.CharField(
                choices=[
                    ("waiting_for_approval", "Waiting for approval"),
                    ("approval_denied", "Approval denied"),
                    ("draft", "Draft"),
                    ("running", "Running"),
                    ("paused", "Paused"),
                    ("stopped", "Stopped"),
                    ("finished", "Finished"),
                ],
                default="draft",
                max_length=24,
            ),
        ),
        migrations.AddConstraint(
            model_name="rollout",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "waiting_for_approval",
                            "approval_denied",
                            "draft",
                            "running",
                            "paused",
                            "stopped",
                            "finished",
                        ],
                    )
                ),
                name="rollouts_rollout_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="rollout",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("feed", ""), _negated=True),
                    models.Q(("query", ""), _negated=True),
                    ("retry_of__isnull", False),
                    _connector="OR",
                ),
                name="rollouts_rollout_has_targets",
            ),
        ),
        migrations.AddField(
            model_name="rolloutgroup",
            name="rollout",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="groups", to="rollouts.rollout"
            ),
        ),
        migrations.AddField(
            model_name="action",
            name="rollout_group",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="actions",
                to="rollouts.rolloutgroup",
            ),
        ),
        migrations.AddConstraint(
            model_name="rolloutgroup",
            constraint=models.UniqueConstraint(
                fields=("rollout", "position"), name="rollouts_group_position_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="rolloutgroup",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["scheduled", "running", "finished", "error"])),
                name="rollouts_group_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="rolloutgroup",
            constraint=models.CheckConstraint(
                condition=models.Q(("success_action__in", ["next_group", "pause"])),
                name="rollouts_group_success_action_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="rolloutgroup",
            constraint=models.CheckConstraint(
                condition=models.Q(("success_threshold__gte", 1), ("success_threshold__lte", 100)),
                name="rollouts_group_success_threshold_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="rolloutgroup",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("error_threshold__isnull", True),
                    models.Q(("error_threshold__gte", 1), ("error_threshold__lte", 100)),
                    _connector="OR",
                ),
                name="rollouts_group_error_threshold_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="rolloutgroup",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("target_percentage__isnull", True),
                    models.Q(("target_percentage__gt", 0), ("target_percentage__lte", 100)),
                    _connector="OR",
                ),
                name="rollouts_group_percentage_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="rolloutgroup",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("target_count__isnull", True), ("target_percentage__isnull", True), _connector="OR"
                ),
                name="rollouts_group_count_or_percentage",
            ),
        ),
        migrations.RunPython(one_group_each, migrations.RunPython.noop),
    ]
