"""Operators manage device and release tags; Viewers see them (as the other fleet models).

One migration for both apps' tags, in software because software may depend on devices.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {"Operators": ["add", "change", "delete", "view"], "Viewers": ["view"]}
TAGS = {"devices": "devicetag", "software": "releasetag"}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, verbs in GROUPS.items():
        for group in Group.objects.filter(name=name):
            for app_label, model in TAGS.items():
                group.permissions.add(
                    *Permission.objects.filter(
                        content_type__app_label=app_label,
                        codename__in=[f"{verb}_{model}" for verb in verbs],
                    )
                )


class Migration(migrations.Migration):
    dependencies = [
        ("software", "0008_tags"),
        ("devices", "0012_tags"),
        ("devices", "0004_operator_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
