"""The appeals queue, the quality settings row (5% re-review), and the admin role's right to
edit the settings."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPEALS = {
    "slug": "appeals",
    "name": "Appeals",
    "description": "Owners contesting a decision. Never decided by the original reviewer.",
    "order": 950,
    # Only reached by an appeal, never by routing (queue_route skips it as well).
    "categories": ["__none__"],
    "involves_child": None,
    "sla_minutes": 48 * 60,
    "for_appeals": True,
}
CODENAMES = ["change_qualitysettings", "view_qualitysettings"]


def forwards(apps, schema_editor):
    Queue = apps.get_model("moderation", "Queue")
    Queue.objects.get_or_create(slug=APPEALS["slug"], defaults=APPEALS)
    QualitySettings = apps.get_model("moderation", "QualitySettings")
    if not QualitySettings.objects.exists():
        QualitySettings.objects.create(rereview_share="0.050")
    app_config = apps.get_app_config("moderation")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="admin").permissions.add(
        *Permission.objects.filter(content_type__app_label="moderation", codename__in=CODENAMES)
    )


def backwards(apps, schema_editor):
    apps.get_model("moderation", "Queue").objects.filter(
        slug=APPEALS["slug"], cases__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("moderation", "0016_appeals_and_rereview")]

    operations = [migrations.RunPython(forwards, backwards)]
