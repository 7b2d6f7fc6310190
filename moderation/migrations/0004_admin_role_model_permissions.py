"""Let the admin role manage users, certifications and queues in the Django admin."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen here: a migration must not change meaning later.
ADMIN_MODEL_PERMISSIONS = {
    "accounts": ["add_user", "change_user", "view_user",
                 "add_queuecertification", "change_queuecertification",
                 "delete_queuecertification", "view_queuecertification"],
    "moderation": ["add_queue", "change_queue", "view_queue", "view_auditevent"],
    "auth": ["view_group"],
}


def grant(apps, schema_editor):
    for label in ADMIN_MODEL_PERMISSIONS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin = Group.objects.get(name="admin")
    for label, codenames in ADMIN_MODEL_PERMISSIONS.items():
        admin.permissions.add(
            *Permission.objects.filter(content_type__app_label=label, codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin = Group.objects.filter(name="admin").first()
    if admin:
        for label, codenames in ADMIN_MODEL_PERMISSIONS.items():
            admin.permissions.remove(
                *Permission.objects.filter(content_type__app_label=label, codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0003_builtin_queues"),
        ("accounts", "0003_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
