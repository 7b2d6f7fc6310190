"""API scopes as permissions; the platform (integration) role."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen here: a migration must not change meaning when accounts/roles.py changes later.
GRANTS = {
    "reviewer": ["api_read"],
    "senior reviewer": ["api_read"],
    "supervisor": ["api_read"],
    "admin": ["api_read", "submit_reports", "submit_flags"],
    "platform": ["api_read", "submit_reports", "submit_flags"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group = Group.objects.filter(name=role).first()
        if group:
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
            )
    Group.objects.filter(name="platform").delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_api_tokens")]

    operations = [migrations.RunPython(grant, revoke)]
