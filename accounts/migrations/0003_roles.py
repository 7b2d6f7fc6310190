"""Create the role groups and grant each its permissions (see accounts/roles.py)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen here: a migration must not change meaning when accounts/roles.py changes later.
ROLE_PERMISSIONS = {
    "reviewer": ["review_cases"],
    "senior reviewer": ["review_cases", "senior_review"],
    "supervisor": ["review_cases", "senior_review", "supervise"],
    "admin": ["review_cases", "senior_review", "supervise", "administer"],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
        )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_queuecertification"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
