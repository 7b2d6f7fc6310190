"""Review next on PostgreSQL is one prepared statement (moderation/cases/claim_sql.py): it orders
queues exactly as queue_serving_key does, chooses exactly the case the ORM path chooses, and a
claim is three statements however many queues the reviewer works."""

import random
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import roles
from accounts.models import QueueCertification, SensitivePause
from accounts.roles import Role
from moderation.cases import claim_sql, services
from moderation.cases.models import Case, CaseSkip, Queue
from moderation.cases.services import SKIP_MEMORY, case_claim_next, queue_serving_key
from moderation.decisions.models import Appeal, Decision
from reports.models import ContentItem

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement claim is PostgreSQL's"
)


def _serving_order_in_sql(rows, now) -> list[int]:
    values = ", ".join(["(%s::bigint, %s::integer, %s::timestamptz, %s::integer)"] * len(rows))
    sql = (
        f"WITH heads (id, priority, waiting_since, sla_minutes) AS (VALUES {values}) "  # noqa: S608
        f"SELECT id FROM ({claim_sql.ranked_heads_sql('%s::timestamptz')}) ranked"
    )
    params = [p for row in rows for p in row] + [now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


def _serving_order_in_python(rows, now) -> list[int]:
    def key(row):
        pk, priority, since, sla = row
        return queue_serving_key(
            priority=priority, waiting_since=since, pk=pk, sla_minutes=sla, now=now
        )

    return [row[0] for row in sorted(rows, key=key)]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(4))
def test_the_statement_orders_queues_exactly_as_queue_serving_key(seed):
    """Thousands of heads with ties everywhere: equal priorities and waits, shares of their SLA
    equal across SLAs (two hours of a one-hour SLA, three of a ninety-minute one), waits exactly
    at the SLA and a microsecond either side of it, SLA 0 (no SLA), microseconds that do not
    divide evenly."""
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=rng.randrange(1_000_000))
    slas = [0, 1, 7, 45, 60, 90, 120, 1440]
    rows, waits = [], []
    for pk in range(1, 3001):
        sla = rng.choice(slas)
        shape = rng.randrange(6)
        if shape == 0 and sla:  # a share of its SLA that other SLAs share too
            wait = timedelta(minutes=sla * rng.choice([1, 1.5, 2, 3]))
        elif shape == 1 and sla:  # at the SLA, or a microsecond either side
            wait = timedelta(minutes=sla, microseconds=rng.choice([-1, 0, 1]))
        elif shape == 2 and waits:  # the same wait as another head
            wait = rng.choice(waits)
        else:
            wait = timedelta(microseconds=rng.randrange(3 * 24 * 3600 * 1_000_000))
        waits.append(wait)
        rows.append((pk, rng.choice([0, 100, 250, 250, 1000]), now - wait, sla))
    rng.shuffle(rows)
    assert _serving_order_in_sql(rows, now) == _serving_order_in_python(rows, now)


def _world(rng, make_user, supervisor, *, senior: bool):
    """Queues with varied SLAs and flags, a reviewer certified for some (some lapsed, perhaps
    paused), and cases in every state a claim must tell apart."""
    now = timezone.now()
    for i in range(4):
        Queue.objects.create(
            slug=f"world-{i}",
            name=f"World {i}",
            categories=["__none__"],
            sla_minutes=rng.choice([0, 1, 30, 60, 90, 1440]),
            sensitive=rng.random() < 0.4,
            senior_only=rng.random() < 0.3,
            is_active=rng.random() < 0.85,
        )
    queues = list(Queue.objects.all())
    role = Role.SENIOR_REVIEWER if senior else Role.REVIEWER
    me = make_user("me", role, queues=[q for q in queues if rng.random() < 0.8])
    lapsed = [c for c in me.certifications.all() if rng.random() < 0.15]
    for cert in lapsed:
        QueueCertification.objects.filter(pk=cert.pk).update(
            granted_at=now - timedelta(days=400), expires_at=now - timedelta(days=1)
        )
    if rng.random() < 0.5:
        lifted = rng.random() < 0.3
        SensitivePause.objects.create(
            user=me,
            until=now + timedelta(hours=1),
            paused_by=supervisor,
            created_at=now - timedelta(minutes=5),
            lifted_at=now if lifted else None,
            lifted_by=supervisor if lifted else None,
        )
    other = make_user("other")
    items = ContentItem.objects.bulk_create(
        ContentItem(key=f"world:{i}", platform_id=f"world-{i}") for i in range(160)
    )
    waits = [timedelta(minutes=rng.choice([0, 1, 30, 60, 61, 90, 180, 1500, 4000]))]
    cases = []
    for item in items:
        state = rng.random()
        assignee, lease = None, None
        if state < 0.1:
            assignee, lease = other, now + timedelta(minutes=10)  # under review by someone
        elif state < 0.2:
            assignee, lease = other, now - timedelta(minutes=1)  # their lease ran out
        wait = rng.choice(waits) if rng.random() < 0.3 else timedelta(seconds=rng.randrange(10**5))
        waits.append(wait)
        decided = rng.random() < 0.05 and assignee is None
        cases.append(
            Case(
                content_item=item,
                queue=rng.choice(queues),
                category="spam",
                priority=rng.choice([0, 100, 100, 300, 1000]),
                waiting_since=now - wait,
                assignee=assignee,
                lease_expires_at=lease,
                status="decided" if decided else "open",
                decided_at=now if decided else None,
            )
        )
    cases = Case.objects.bulk_create(cases)
    for case in rng.sample(cases, 30):
        who, when = rng.choice([(me, 1), (me, 120), (other, 1)])  # minutes ago
        CaseSkip.objects.create(case=case, user=who, skipped_at=now - timedelta(minutes=when))
    for case in rng.sample(cases, 20):
        # Decisions by me and by someone else, in either order, and an appeal against one.
        first, second = rng.choice([(me, other), (other, me), (me, me), (other, other)])
        early = Decision.objects.create(
            case=case, reviewer=first, action="remove", policy="spam", created_at=now
        )
        late = Decision.objects.create(
            case=case,
            reviewer=second,
            action="remove",
            policy="spam",
            created_at=now + timedelta(seconds=1),
        )
        contested = rng.choice([early, late])
        if rng.random() < 0.2:  # settled: no longer keeps anyone from the case
            outcome = Decision.objects.create(
                case=case,
                reviewer=other,
                action="remove",
                policy="spam",
                created_at=now + timedelta(seconds=2),
            )
            Appeal.objects.create(
                case=case,
                decision=contested,
                statement="no",
                status=Appeal.Status.UPHELD,
                outcome=outcome,
                decided_at=now,
            )
        else:
            Appeal.objects.create(case=case, decision=contested, statement="no")
    return me


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(6))
def test_it_chooses_the_case_the_orm_path_chooses(seed, make_user, supervisor):
    """Claim after claim over randomized queues, certifications, pauses, leases, skips and
    appeals, the statement's choice is the ORM path's (which SQLite uses), held case included."""
    rng = random.Random(seed)
    me = _world(rng, make_user, supervisor, senior=seed % 2 == 1)
    queue = rng.choice(list(Queue.objects.all())) if seed == 4 else None
    now = timezone.now()
    senior = me.has_perm(roles.SENIOR_REVIEW)
    claims = 0
    for step in range(200):
        with transaction.atomic():
            orm = services._claim_next_orm(user=me, queue=queue, now=now)
            transaction.set_rollback(True)
        with transaction.atomic():
            sql = claim_sql.claim_next(
                user=me,
                senior=senior,
                queue_id=queue.pk if queue else None,
                now=now,
                skip_since=now - SKIP_MEMORY,
                lease_until=now + timedelta(seconds=settings.CASE_LEASE_SECONDS),
            )
        if orm is None:
            assert sql is None, f"step {step}"
            break
        assert sql is not None, f"step {step}"
        assert (sql.case.pk, sql.newly_claimed, sql.previous_assignee) == (
            orm.case.pk,
            orm.newly_claimed,
            orm.previous_assignee,
        ), f"step {step}"
        claims += sql.newly_claimed
        stored = Case.objects.get(pk=sql.case.pk)
        assert (stored.assignee_id, stored.lease_expires_at) == (me.pk, sql.case.lease_expires_at)
        assert sql.case.priority_breakdown == stored.priority_breakdown  # JSON read as JSON
        if step % 7 != 3:  # now and then keep it: the next claim gives it back
            Case.objects.filter(pk=sql.case.pk).update(
                status="decided", decided_at=now, assignee=None, lease_expires_at=None
            )
    else:
        pytest.fail("never ran out of cases")
    assert claims > 0 or queue is not None


def _statements(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))
    ]


@pytest.mark.django_db
def test_a_claim_is_three_statements_however_many_queues(make_user, submit_report):
    """The reviewer's row lock, the claim, the audit event: for one queue or eighteen."""
    general = Queue.objects.get(slug="general")
    for i in range(12):
        Queue.objects.create(slug=f"extra-{i}", name=f"Extra {i}", categories=["__none__"])
    few = make_user("few", queues=[general])
    many = make_user("many")
    items = ContentItem.objects.bulk_create(
        ContentItem(key=f"q:{i}", platform_id=f"q-{i}") for i in range(2 * Queue.objects.count())
    )
    queues = list(Queue.objects.all())
    Case.objects.bulk_create(
        Case(content_item=item, queue=queues[i % len(queues)], category="spam")
        for i, item in enumerate(items)
    )

    def claim_statements(user) -> list[str]:
        case_claim_next(user=user)  # first: the permissions and the prepared statement
        Case.objects.filter(assignee=user).update(
            status="decided", decided_at=timezone.now(), assignee=None, lease_expires_at=None
        )
        with CaptureQueriesContext(connection) as queries:
            assert case_claim_next(user=user) is not None
        return _statements(queries)

    for statements in (claim_statements(few), claim_statements(many)):
        assert len(statements) == 3, statements
        lock, claim, audit = statements
        assert 'FROM "accounts_user"' in lock and "FOR UPDATE" in lock
        assert claim.startswith(f"EXECUTE {claim_sql.STATEMENT_NAME}")
        assert audit.startswith('INSERT INTO "moderation_auditevent"')


@pytest.mark.django_db
def test_the_statement_is_prepared_once_per_connection(reviewer, submit_report):
    for _ in range(3):
        submit_report(category="spam")

    def claim_and_finish() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            case = case_claim_next(user=reviewer)
        Case.objects.filter(pk=case.pk).update(
            status="decided", decided_at=timezone.now(), assignee=None, lease_expires_at=None
        )
        return [q["sql"] for q in queries if q["sql"].startswith("PREPARE")]

    # As a new connection would be: nothing prepared on it yet.
    if _prepared_here():
        with connection.cursor() as cursor:
            cursor.execute(f"DEALLOCATE {claim_sql.STATEMENT_NAME}")
    claim_sql._prepared.discard(connection.connection)
    assert len(claim_and_finish()) == 1
    assert claim_and_finish() == []
    assert _prepared_here()


def _prepared_here() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_prepared_statements WHERE name = %s", [claim_sql.STATEMENT_NAME]
        )
        return cursor.fetchone() is not None
