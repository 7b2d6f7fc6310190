"""Child-safety signals route and guard cases (issue 14): decisions record an added safety notice
and, when the console referred a reviewer's milder choice to senior review, what they chose and
why; and every install gets the queue that takes known material whatever category it was
reported under, worked by the people already certified for child safety; appeals say how they
changed a decision; and the "confirmed by review" bank that decisions finding CSAM add to, with
each entry's provenance (moderation/banks/confirmed.py)."""

from datetime import timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

KNOWN_MATERIAL_QUEUE = {
    "slug": "child-safety-known",
    "name": "Child safety – known material",
    "description": "Media matching a bank of known child sexual abuse material, or material a "
    "decision classified A1–B2, whatever category it was reported under. Only “Escalate to "
    "authority” closes these from a reviewer's hands; anything milder goes to senior review.",
    # Ahead of the category queues (child safety is 20) so the signal wins over the reporter's
    # word; behind self-reports (10), which already take a young person's own report with care.
    "order": 15,
    "categories": [],
    "involves_child": None,
    "bank_rule": "known_material",
    "sensitive": True,
    "sla_minutes": 60,
}


def add_known_material_queue(apps, schema_editor):
    Queue = apps.get_model("moderation", "Queue")
    QueueCertification = apps.get_model("accounts", "QueueCertification")
    queue, created = Queue.objects.get_or_create(
        slug=KNOWN_MATERIAL_QUEUE["slug"], defaults=KNOWN_MATERIAL_QUEUE
    )
    if not created:
        return
    # Whoever may work child safety today may work its known material, until the same date.
    now = timezone.now()
    for cert in QueueCertification.objects.filter(
        queue__slug="child-safety", expires_at__gt=now
    ):
        QueueCertification.objects.get_or_create(
            user_id=cert.user_id,
            queue=queue,
            defaults={
                "granted_by_id": cert.granted_by_id,
                "granted_at": min(now, cert.expires_at - timedelta(seconds=1)),
                "expires_at": cert.expires_at,
            },
        )


def remove_known_material_queue(apps, schema_editor):
    apps.get_model("moderation", "Queue").objects.filter(
        slug=KNOWN_MATERIAL_QUEUE["slug"], cases__isnull=True
    ).delete()


CONFIRMED_BANK = {
    "slug": "confirmed-by-review",
    "name": "Confirmed by review",
    "description": "Media that a reviewer's decision found to be child sexual abuse material "
    "(classified A1–B2), added by the decision and withdrawn if it is overturned. Copies that "
    "arrive later are known material.",
    "source": "Vigil: decisions of this platform's reviewers",
    "signal_types": ["pdq", "md5", "sha256"],
    "thresholds": {"pdq": 31},
    "policy": "act_and_escalate",
}


def add_confirmed_bank(apps, schema_editor):
    apps.get_model("moderation", "HashBank").objects.get_or_create(
        slug=CONFIRMED_BANK["slug"], defaults=CONFIRMED_BANK
    )


def remove_confirmed_bank(apps, schema_editor):
    apps.get_model("moderation", "HashBank").objects.filter(
        slug=CONFIRMED_BANK["slug"], entries__isnull=True
    ).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0031_audit_sqlite_append_only'),
        ('accounts', '0008_preserved_evidence_permission'),
        ('reports', '0008_content_posted_ip_captures'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='bankentry',
            name='decision',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='bank_entries', to='moderation.decision'),
        ),
        migrations.AddField(
            model_name='bankentry',
            name='media',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='reports.media'),
        ),
        migrations.AddField(
            model_name='decision',
            name='proposed_action',
            field=models.CharField(blank=True, choices=[('no_violation', 'No violation'), ('remove', 'Remove content'), ('age_restrict', 'Age-restrict / label'), ('warn', 'Warn owner'), ('safety_notice', 'Send safety notice'), ('suspend', 'Suspend account'), ('escalate', 'Escalate to authority'), ('senior_review', 'Send to senior review')], max_length=16),
        ),
        migrations.AddField(
            model_name='decision',
            name='referral_reason',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='decision',
            name='safety_notice',
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name='appeal',
            name='status',
            field=models.CharField(choices=[('open', 'Open'), ('upheld', 'Upheld (the decision stands)'), ('overturned', 'Overturned (no violation)'), ('stricter', 'Changed to a stricter action'), ('milder', 'Changed to a milder action')], default='open', max_length=12),
        ),
        migrations.AlterField(
            model_name='queue',
            name='bank_rule',
            field=models.CharField(blank=True, choices=[('', 'Any case, matched or not'), ('any', 'Cases with a match in any bank'), ('known_material', 'Known material: a match in a known-material bank, or classified A1–B2 by a decision'), ('listed', 'Cases with a match in one of the banks listed below')], default='', max_length=20),
        ),
        migrations.AddConstraint(
            model_name='decision',
            constraint=models.CheckConstraint(condition=models.Q(('safety_notice', False), models.Q(('action__in', ['no_violation', 'senior_review', 'safety_notice']), _negated=True), _connector='OR'), name='safety_notice_added_to_a_finding'),
        ),
        migrations.AddConstraint(
            model_name='decision',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('proposed_action', ''), ('referral_reason', '')), ('action', 'senior_review'), _connector='OR'), name='proposal_only_on_a_referral'),
        ),
        migrations.RunPython(add_known_material_queue, remove_known_material_queue),
        migrations.RunPython(add_confirmed_bank, remove_confirmed_bank),
    ]
