"""Queues holding material that weighs on reviewers: child safety and self-reports by minors."""

from django.db import migrations, models

SENSITIVE = ["self-reports", "child-safety"]


def mark_sensitive(apps, schema_editor):
    apps.get_model("moderation", "Queue").objects.filter(slug__in=SENSITIVE).update(sensitive=True)


class Migration(migrations.Migration):
    dependencies = [("moderation", "0019_priority_and_routing")]

    operations = [
        migrations.AddField(
            model_name="queue", name="sensitive", field=models.BooleanField(default=False)
        ),
        migrations.RunPython(mark_sensitive, migrations.RunPython.noop),
    ]
