"""Eight reviewer processes work a backlog at once (PostgreSQL row locking): one queue of 1,000
cases, and several queues with different SLAs and priorities, claimed from all at once."""

import os
import random
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case, Queue
from moderation.decisions.models import Decision
from reports.models import ContentItem

WORKER = Path(__file__).parent.parent / "claim_worker.py"
CASES = 1000
PROCESSES = 8


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locking is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_eight_processes_claim_every_case_exactly_once(make_user, tmp_path):
    queue = Queue.objects.get(slug="general")
    items = ContentItem.objects.bulk_create(
        ContentItem(key=f"proc:{i}", platform_id=f"proc-{i}") for i in range(CASES)
    )
    now = timezone.now()
    Case.objects.bulk_create(
        Case(content_item=item, queue=queue, category="spam", priority=i % 7, created_at=now)
        for i, item in enumerate(items)
    )
    users = [make_user(f"proc{i}", queues=[queue]) for i in range(PROCESSES)]
    _work_until_empty(users, queue.slug, tmp_path)
    _assert_each_case_taken_once(CASES)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locking is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_eight_processes_claiming_from_every_queue_claim_every_case_exactly_once(
    make_user, tmp_path
):
    """Review next across five queues: every process locks a head in each, takes the best and
    leaves the others to whoever comes next."""
    rng = random.Random(15)
    queues = [Queue.objects.get(slug="general")] + [
        Queue.objects.create(
            slug=f"proc-{i}", name=f"Proc {i}", categories=["__none__"], sla_minutes=sla
        )
        for i, sla in enumerate([1, 30, 90, 0])
    ]
    cases = 400
    items = ContentItem.objects.bulk_create(
        ContentItem(key=f"procq:{i}", platform_id=f"procq-{i}") for i in range(cases)
    )
    now = timezone.now()
    Case.objects.bulk_create(
        Case(
            content_item=item,
            queue=rng.choice(queues),
            category="spam",
            priority=rng.choice([0, 100, 300]),
            waiting_since=now - timedelta(minutes=rng.randrange(200)),
            created_at=now,
        )
        for item in items
    )
    users = [make_user(f"procq{i}", queues=queues) for i in range(PROCESSES)]
    _work_until_empty(users, "*", tmp_path)
    _assert_each_case_taken_once(cases)


def _work_until_empty(users, queue_slug: str, tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": _database_url()}
    outs = [tmp_path / f"claimed-{u.username}.txt" for u in users]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), u.username, queue_slug, str(out)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for u, out in zip(users, outs, strict=True)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, stderr
    claimed = [int(line) for out in outs for line in out.read_text().split()]
    assert len(set(claimed)) == len(claimed), "a case was handed to two reviewers"
    # Work was shared, not done by one process while the others waited.
    assert sum(1 for out in outs if out.read_text().strip()) > 1


def _assert_each_case_taken_once(cases: int) -> None:
    assert not Case.objects.filter(status=Case.Status.OPEN).exists()
    per_case = Counter(Decision.objects.values_list("case_id", flat=True))
    assert len(per_case) == cases and set(per_case.values()) == {1}
    claims = Counter(
        AuditEvent.objects.filter(verb="case.claimed").values_list("case_id", flat=True)
    )
    assert len(claims) == cases and set(claims.values()) == {1}
