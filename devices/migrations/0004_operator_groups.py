"""Create the "Operators" and "Viewers" groups so a new user needs only a group, not a permission list.

Permissions normally appear in a post_migrate signal, after every migration ran; this migration
needs them now, so it creates them (and their content types) itself first.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# app label -> models operators work with. Hardware is listed because devices report it and
# operators fix typos in board names; action statuses are the devices' update logs.
FLEET_MODELS = {
    "devices": ["device", "hardware"],
    "software": ["software"],
    "rollouts": ["rollout", "action", "actionstatus"],
}
GROUPS = {
    "Operators": ["add", "change", "delete", "view"],
    "Viewers": ["view"],
}


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        # create_permissions skips apps without a models module; historical app configs have none.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, verbs in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = [
            f"{verb}_{model}" for models in FLEET_MODELS.values() for model in models for verb in verbs
        ]
        permissions = Permission.objects.filter(
            content_type__app_label__in=FLEET_MODELS.keys(), codename__in=codenames
        )
        group.permissions.add(*permissions)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS.keys()).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("devices", "0003_device_installed_action"),
        ("software", "0001_initial"),
        ("rollouts", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
