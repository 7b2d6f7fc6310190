"""Time past a queue's SLA weighs in priority (issue 14): the weights for it, editable like the rest."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0032_child_safety_signals'),
    ]

    operations = [
        migrations.AddField(
            model_name='priorityweights',
            name='max_sla_points',
            field=models.PositiveIntegerField(default=400, help_text='The most time past the SLA can add, breach included.'),
        ),
        migrations.AddField(
            model_name='priorityweights',
            name='per_hour_past_sla',
            field=models.PositiveIntegerField(default=50, help_text="For each hour (begun) a case has waited beyond its queue's SLA."),
        ),
        migrations.AddField(
            model_name='priorityweights',
            name='sla_breach',
            field=models.PositiveIntegerField(default=150, help_text="Once a case has waited longer than its queue's SLA."),
        ),
    ]
