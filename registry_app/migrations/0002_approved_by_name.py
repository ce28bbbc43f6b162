from django.db import migrations, models


def fill_approved_by_name(apps, schema_editor):
    """Versions approved before the field existed: the approver from the account or the trail."""
    ModelVersion = apps.get_model("registry_app", "ModelVersion")
    AuditEntry = apps.get_model("registry_app", "AuditEntry")
    for version in ModelVersion.objects.filter(approved_at__isnull=False, approved_by_name=""):
        entry = AuditEntry.objects.filter(version=version, action="approve").order_by("-at").first()
        name = version.approved_by.username if version.approved_by_id else ""
        version.approved_by_name = name or (entry.username if entry else "")
        version.save(update_fields=["approved_by_name"])


class Migration(migrations.Migration):
    dependencies = [
        ("registry_app", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="approved_by_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.RunPython(fill_approved_by_name, migrations.RunPython.noop),
    ]
