"""Device tokens kept encrypted plus a keyed hash, and the permission to read them again.

Existing rows keep their unsalted SHA-256 in token_hash: it stays valid, and the device's next
successful authentication rewrites it as keyed hash + encrypted token (the token is known then).
Nothing can be re-hashed here: only the hashes are stored.

The new permission devices.view_device_token (hawkBit's READ_TARGET_SECURITY_TOKEN) goes to the
Operators group of 0004; Viewers do not get it.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models


def grant_operators(apps, schema_editor):
    # As in 0004: permissions appear in post_migrate, after every migration; create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="devices", codename="view_device_token")
    for group in Group.objects.filter(name="Operators"):
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("devices", "0005_update_vocabulary"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="device",
            options={"permissions": [("view_device_token", "Can view device tokens")]},
        ),
        migrations.AddField(
            model_name="device",
            name="token_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AlterField(
            model_name="device",
            name="token_hash",
            field=models.CharField(blank=True, editable=False, max_length=100),
        ),
        # Reversing leaves the permission (Django drops it with the model options' next sync).
        migrations.RunPython(grant_operators, migrations.RunPython.noop),
    ]
