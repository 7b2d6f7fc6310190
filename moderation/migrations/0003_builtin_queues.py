"""The queues every deployment needs. Admins can add queues and edit these rules later."""

from django.db import migrations

CHILD_SAFETY = ["csam", "child_nudity", "grooming", "sextortion"]

QUEUES = [
    {
        "slug": "self-reports",
        "name": "Self-reports by young people",
        "description": "A young person reporting an image of themselves. Highest urgency.",
        "order": 10,
        "categories": ["self_generated"],
        "involves_child": None,
        "sla_minutes": 60,
    },
    {
        "slug": "child-safety",
        "name": "Child safety",
        "description": "Child sexual exploitation, nudity, grooming and sextortion.",
        "order": 20,
        "categories": CHILD_SAFETY,
        "involves_child": None,
        "sla_minutes": 4 * 60,
    },
    {
        "slug": "senior-review",
        "name": "Senior review",
        "description": "Cases a reviewer sent up for a senior reviewer's decision.",
        "order": 900,
        # Only reached by a "send to senior review" decision, never by routing.
        "categories": ["__none__"],
        "involves_child": None,
        "sla_minutes": 8 * 60,
    },
    {
        "slug": "general",
        "name": "General",
        "description": "Everything no other queue takes.",
        "order": 1000,
        "categories": [],
        "involves_child": None,
        "sla_minutes": 24 * 60,
    },
]


def create_queues(apps, schema_editor):
    Queue = apps.get_model("moderation", "Queue")
    for spec in QUEUES:
        Queue.objects.get_or_create(slug=spec["slug"], defaults=spec)


def remove_queues(apps, schema_editor):
    apps.get_model("moderation", "Queue").objects.filter(
        slug__in=[q["slug"] for q in QUEUES], cases__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("moderation", "0002_relations")]

    operations = [migrations.RunPython(create_queues, remove_queues)]
