from django.db import migrations, models


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
    ]
