"""How "review next" and the dashboard scale with the number of open cases.

Builds a throwaway database (test_<name> of DATABASE_URL, dropped afterwards), fills it with open
cases at two sizes and times claim-and-release cycles and dashboard loads at each. Prints figures
side by side; the ratio is what matters (flat means the claim order index does its job).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil bench/claim.py [--small 1000 --large 100000]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

ROUNDS = 200


def fill(total: int) -> None:
    """Bring the number of open cases up to `total`, spread over the queues and priorities."""
    from moderation.models import Case, Queue
    from reports.models import ContentItem

    queues = list(Queue.objects.exclude(slug="senior-review"))
    have = Case.objects.count()
    now = timezone.now()
    batch = 5000
    for start in range(have, total, batch):
        n = min(batch, total - start)
        items = ContentItem.objects.bulk_create(
            ContentItem(key=f"bench:{start + i}", platform_id=f"bench-{start + i}")
            for i in range(n)
        )
        Case.objects.bulk_create(
            Case(
                content_item=item,
                queue=queues[i % len(queues)],
                category="harassment",
                priority=(start + i) * 7919 % 1000,
                created_at=now,
            )
            for i, item in enumerate(items)
        )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")


def measure(user, client) -> dict:
    from moderation.services import case_claim_next, case_release

    claims = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        case = case_claim_next(user=user)
        claims.append(time.perf_counter() - t)
        case_release(case_id=case.pk, user=user)
    pages = []
    for _ in range(ROUNDS // 4):
        t = time.perf_counter()
        response = client.get("/review/")
        pages.append(time.perf_counter() - t)
        assert response.status_code == 200
    return {"claim": claims, "dashboard": pages}


def p(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from datetime import timedelta

        from django.contrib.auth.models import Group

        from accounts.models import QueueCertification, User
        from moderation.models import Queue

        user = User.objects.create_user("bench")  # force_login below: no password needed
        user.groups.add(Group.objects.get(name="reviewer"))
        for q in Queue.objects.all():
            QueueCertification.objects.create(
                user=user, queue=q, expires_at=timezone.now() + timedelta(days=1)
            )
        client = Client()
        client.force_login(user)

        results = {}
        for size in (args.small, args.large):
            fill(size)
            measure(user, client)  # warm up caches and plans
            results[size] = measure(user, client)

        print(f"database: {connection.vendor}; {ROUNDS} claim+release cycles per size")
        print(f"{'':24}{args.small:>12,}{args.large:>12,}{'ratio':>8}")
        for what in ("claim", "dashboard"):
            for q in (50, 95):
                small, large = p(results[args.small][what], q), p(results[args.large][what], q)
                label = f"{what} p{q} (ms)"
                print(f"{label:24}{small:12.2f}{large:12.2f}{large / small:8.2f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
