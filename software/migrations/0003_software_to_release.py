"""Every existing software becomes a release with one module holding its one package.

The module and the artifact take the software's id, so the DDI artifact URLs devices already hold
(``/softwaremodules/<id>/artifacts/<filename>``) keep working across the upgrade.
"""

from django.core.management.color import no_style
from django.db import migrations

DEFAULT_TYPES = [
    ("os", "OS", "Operating system image or full-system update package", 1),
    ("application", "Application", "Application or add-on installed next to the OS", 2**31 - 1),
    ("runtime", "Runtime", "Runtime environment (hawkBit's jvm part)", 1),
]


def forward(apps, schema_editor):
    Software = apps.get_model("software", "Software")
    ModuleType = apps.get_model("software", "SoftwareModuleType")
    Module = apps.get_model("software", "SoftwareModule")
    Artifact = apps.get_model("software", "Artifact")
    types = {}
    for key, name, description, max_assignments in DEFAULT_TYPES:
        types[key], _ = ModuleType.objects.get_or_create(
            key=key, defaults={"name": name, "description": description, "max_assignments": max_assignments}
        )
    for software in Software.objects.order_by("pk").iterator():
        module = Module.objects.create(
            id=software.pk, type=types["os"], name=software.filename, version=software.version
        )
        Artifact.objects.create(
            id=software.pk,
            module=module,
            file=software.file.name or "",
            url=software.url,
            filename=software.filename,
            size=software.size,
            sha1=software.sha1,
            md5=software.md5,
            sha256=software.sha256,
            image_format=software.image_format,
            signed=software.signed,
            metadata=software.metadata,
        )
        # created is auto_now_add: keep the upload time (Last-Modified of downloads).
        Module.objects.filter(pk=module.pk).update(created=software.created)
        Artifact.objects.filter(pk=software.pk).update(created=software.created)
        software.name = software.filename
        software.save(update_fields=["name"])
        software.modules.add(module)
    # Explicit ids do not advance PostgreSQL's sequences; new rows must not collide with them.
    sequence_sql = schema_editor.connection.ops.sequence_reset_sql(no_style(), [Module, Artifact])
    for statement in sequence_sql:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    Module = apps.get_model("software", "SoftwareModule")
    Artifact = apps.get_model("software", "Artifact")
    Artifact.objects.all().delete()
    Module.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("software", "0002_releases_modules_artifacts")]

    operations = [migrations.RunPython(forward, backward)]
