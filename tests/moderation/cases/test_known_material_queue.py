"""The known-material queue every install gets (migration 0032): routing by signal, worked by the
people already certified for child safety."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.models import QueueCertification
from accounts.roles import Role
from moderation.cases.models import Queue
from moderation.cases.route_rules import RouteInput
from moderation.cases.routing import queue_route

migration = importlib.import_module("moderation.migrations.0032_child_safety_signals")


@pytest.mark.django_db
class TestKnownMaterialQueue:
    def test_it_takes_known_material_whatever_the_category_but_not_self_reports(self):
        for category in ("harassment", "spam", "csam", "other"):
            route = RouteInput(category=category, involves_child=False, known_material=True)
            assert queue_route(route).slug == "child-safety-known"
        assert queue_route(RouteInput(category="spam", involves_child=False)).slug == "general"
        self_report = RouteInput(
            category="self_generated", involves_child=True, known_material=True
        )
        assert queue_route(self_report).slug == "self-reports"

    def test_the_migration_certifies_whoever_works_child_safety_until_the_same_date(
        self, make_user
    ):
        Queue.objects.filter(slug="child-safety-known").delete()
        child_safety = Queue.objects.get(slug="child-safety")
        certified = make_user("cara", Role.REVIEWER, queues=[child_safety])
        lapsed = make_user("lee", Role.REVIEWER, queues=[])
        QueueCertification.objects.create(
            user=lapsed,
            queue=child_safety,
            granted_at=timezone.now() - timedelta(days=60),
            expires_at=timezone.now() - timedelta(days=1),
        )
        make_user("gus", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])

        migration.add_known_material_queue(apps, None)

        queue = Queue.objects.get(slug="child-safety-known")
        assert queue.sensitive and queue.bank_rule == "known_material" and queue.order == 15
        granted = QueueCertification.objects.filter(queue=queue)
        assert [c.user.username for c in granted] == ["cara"]
        assert (
            granted.get().expires_at == certified.certifications.get(queue=child_safety).expires_at
        )

    def test_the_migration_leaves_an_existing_queue_alone(self):
        Queue.objects.filter(slug="child-safety-known").update(name="Renamed by an admin")
        migration.add_known_material_queue(apps, None)
        assert Queue.objects.get(slug="child-safety-known").name == "Renamed by an admin"
