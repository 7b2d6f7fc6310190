"""Index snapshots shared by every process, and the gate that keeps their high-water mark exact
(moderation/banks/snapshot.py)."""

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def create_gate(apps, schema_editor):
    apps.get_model("moderation", "BankWriteGate").objects.get_or_create(pk=1)


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0033_sla_priority'),
        ('reports', '0010_reporter_notices'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='BankWriteGate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
        ),
        migrations.CreateModel(
            name='IndexSnapshot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('signal_type', models.CharField(choices=[('pdq', 'PDQ (256-bit perceptual)'), ('phash', 'pHash (64-bit perceptual)'), ('dhash', 'dHash (64-bit perceptual)'), ('md5', 'MD5 (exact)'), ('sha256', 'SHA-256 (exact)')], max_length=10)),
                ('key', models.CharField(max_length=32, unique=True)),
                ('high_water', models.BigIntegerField()),
                ('as_of', models.DateTimeField()),
                ('entries', models.PositiveBigIntegerField()),
                ('planned_threshold', models.PositiveSmallIntegerField(default=0)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddIndex(
            model_name='bankentry',
            index=models.Index(condition=models.Q(('removed_at__isnull', False)), fields=['signal_type', 'removed_at'], name='bank_entry_removals'),
        ),
        migrations.AddIndex(
            model_name='indexsnapshot',
            index=models.Index(fields=['signal_type', '-id'], name='index_snapshot_latest'),
        ),
        migrations.RunPython(create_gate, migrations.RunPython.noop),
    ]
