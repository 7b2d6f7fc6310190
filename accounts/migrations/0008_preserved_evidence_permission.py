"""Evidence preserved for a report to the authorities is seen only by supervisors and admins."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen here: a migration must not change meaning when accounts/roles.py changes later.
GRANTED_TO = ["supervisor", "admin"]
CODENAME = "access_preserved_evidence"


def grant(apps, schema_editor):
    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="accounts", codename=CODENAME)
    for role in GRANTED_TO:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="accounts", codename=CODENAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_wellness'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='user',
            options={'permissions': [('review_cases', 'Can claim and decide cases in certified queues'), ('senior_review', 'Can work the senior-review queue'), ('supervise', "Can see audit views, queue health and reviewers' work"), ('administer', 'Can manage queues, banks, tokens and users'), ('submit_reports', 'API: can forward user reports (scope report)'), ('submit_flags', 'API: can send automated flags (scope flag)'), ('api_read', 'API: can read queues, cases, banks and hash matches (scope read)'), ('access_preserved_evidence', 'Can view evidence preserved for a report to the authorities')]},
        ),
        migrations.RunPython(grant, revoke),
    ]
