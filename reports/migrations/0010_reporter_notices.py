"""Reporter notices (issue 14): reporters who asked to hear back (`ReporterIdentity.notify`) are
e-mailed that their report was received and, once decided, whether action was taken; one
`ReporterNotice` per report and kind records each e-mail's sending (moderation/notices). Existing
reports keep notify off: nobody was told before that an address would be written to."""


import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0009_canonical_url_keys'),
    ]

    operations = [
        migrations.AddField(
            model_name='reporteridentity',
            name='notify',
            field=models.BooleanField(default=False),
        ),
        migrations.CreateModel(
            name='ReporterNotice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('received', 'Report received'), ('outcome', 'Outcome')], max_length=8)),
                ('outcome', models.CharField(blank=True, choices=[('actioned', 'Action taken'), ('no_action', 'No violation found')], max_length=9)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed')], default='pending', max_length=8)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('last_error', models.CharField(blank=True, max_length=300)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('last_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('report', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notices', to='reports.report')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at'], name='notice_pending_due')],
                'constraints': [models.UniqueConstraint(fields=('report', 'kind'), name='one_notice_per_report_kind'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'outcome'), ('outcome__in', ['actioned', 'no_action'])), models.Q(('kind', 'received'), ('outcome', '')), _connector='OR'), name='notice_outcome_only_on_outcome')],
            },
        ),
    ]
