"""hawkBit's createdAt / lastModifiedAt for every software entity /rest/v1 shows, and its
explicit locked flag on modules and distribution sets.

Existing rows get the migration's time: nothing better is known about them.
"""

import django.utils.timezone
from django.db import migrations, models


def _updated(model: str) -> migrations.AddField:
    return migrations.AddField(
        model_name=model,
        name="updated",
        field=models.DateTimeField(auto_now=True),
    )


class Migration(migrations.Migration):
    dependencies = [("software", "0006_release_metadata")]

    operations = [
        migrations.AddField(
            model_name="softwaremoduletype",
            name="created",
            field=models.DateTimeField(auto_now_add=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        _updated("softwaremoduletype"),
        _updated("software"),
        _updated("distributionsettype"),
        _updated("softwaremodule"),
        _updated("artifact"),
        migrations.AddField(model_name="software", name="locked", field=models.BooleanField(default=False)),
        migrations.AddField(
            model_name="softwaremodule", name="locked", field=models.BooleanField(default=False)
        ),
    ]
