"""Let the admin role manage hash banks and their entries in the console."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["add_hashbank", "change_hashbank", "view_hashbank", "view_bankentry", "view_match"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("moderation")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="admin").permissions.add(
        *Permission.objects.filter(content_type__app_label="moderation", codename__in=CODENAMES)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="admin").permissions.remove(
        *Permission.objects.filter(content_type__app_label="moderation", codename__in=CODENAMES)
    )


class Migration(migrations.Migration):
    dependencies = [("moderation", "0010_case_bank_match"), ("accounts", "0006_admin_manages_api_tokens")]

    operations = [migrations.RunPython(grant, revoke)]
