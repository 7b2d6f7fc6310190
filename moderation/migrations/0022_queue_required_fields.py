"""Queues can require fields of every decision made in them. A senior reviewer deciding a case
sent up, and whoever decides an appeal, write down why: the next person (a supervisor, the owner's
platform answering the appeal) needs the reason, not just the outcome."""

from django.db import migrations, models


def require_reasons(apps, schema_editor):
    Queue = apps.get_model("moderation", "Queue")
    for queue in Queue.objects.filter(models.Q(senior_only=True) | models.Q(for_appeals=True)):
        if "notes" not in queue.required_fields:
            queue.required_fields = [*queue.required_fields, "notes"]
            queue.save(update_fields=["required_fields"])


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0021_rereview_released"),
    ]

    operations = [
        migrations.AddField(
            model_name="queue",
            name="required_fields",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(require_reasons, migrations.RunPython.noop),
    ]
