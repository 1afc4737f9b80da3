"""Operators manage saved device filters; Viewers see them (as the other fleet models, 0004 of devices).

Approving an auto-assignment is a change: the four-eyes rule (another operator than who set it)
is the service's, not a separate permission.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {"Operators": ["add", "change", "delete", "view"], "Viewers": ["view"]}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, verbs in GROUPS.items():
        for group in Group.objects.filter(name=name):
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label="rollouts",
                    codename__in=[f"{verb}_devicefilter" for verb in verbs],
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("rollouts", "0005_device_filters"),
        ("devices", "0004_operator_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
