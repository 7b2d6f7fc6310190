"""SQLite gets PostgreSQL's append-only guard on the audit table (0029): no event deleted, none
changed except by the one-time sealing (moderation/audit/append_only.py holds the triggers and
why). PostgreSQL already has its trigger: nothing to do there."""

from django.db import migrations


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        from moderation.audit.append_only import sqlite_guard_install

        sqlite_guard_install(connection=schema_editor.connection)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        from moderation.audit.append_only import sqlite_guard_remove

        sqlite_guard_remove(connection=schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("moderation", "0030_case_first_action"),
    ]

    operations = [
        migrations.RunPython(guard, unguard),
    ]
