from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("devices", "0010_device_description_metadata")]

    operations = [
        migrations.AddField(
            model_name="device", name="address", field=models.CharField(blank=True, max_length=512)
        ),
    ]
