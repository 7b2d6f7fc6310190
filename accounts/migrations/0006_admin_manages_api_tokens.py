"""Let the admin role create, view and revoke API tokens in the console."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["add_apitoken", "change_apitoken", "view_apitoken"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="admin").permissions.add(
        *Permission.objects.filter(content_type__app_label="accounts", codename__in=CODENAMES)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="admin").permissions.remove(
        *Permission.objects.filter(content_type__app_label="accounts", codename__in=CODENAMES)
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_api_scopes_and_platform_role")]

    operations = [migrations.RunPython(grant, revoke)]
