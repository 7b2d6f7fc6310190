"""Transparency report and research export at a million cases.

Builds a throwaway PostgreSQL database (test_<name> of DATABASE_URL, dropped afterwards) with
`--cases` cases opened over a year, one report each, most decided (a decision 0-48 h after
opening), some flagged, some bank-matched with automated actions; then times the report's figures
and the research export (count and full read) for a month and for the whole year, and prints the
query count of each (bounded whatever the volume).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench bench/transparency.py \
        [--cases 1000000] [--keep] [--reuse]
"""

import argparse
import importlib
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.claim import _insert_rows  # noqa: E402
from bench.scratch import add_database_arguments, scratch_database  # noqa: E402

BATCH = 100_000
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
CATEGORIES = "ARRAY['harassment','spam','csam','self_harm','violent_extremism','other']"


def fill(total: int, queue_id: int, reviewer_id: int) -> None:
    from moderation.cases.models import Case
    from moderation.decisions.models import Decision
    from moderation.enforcement.models import EnforcementAction
    from reports.models import ContentItem, Report

    # Opening time spread over the year; decided 0-48 h later for 4 cases in 5.
    per_mille = total // 1000
    opened = f"timestamptz '2025-01-01' + (g::bigint * 31536 / {per_mille}) * interval '1 second'"
    for start in range(0, total, BATCH):
        n = min(BATCH, total - start)
        _insert_rows(
            ContentItem,
            n,
            start,
            {"key": "'tb:' || g", "type": "(ARRAY['image','post','video'])[1 + mod(g, 3)]"},
            "FROM generate_series(%s, %s) AS g",
        )
        join = (
            "FROM generate_series(%s, %s) AS g JOIN reports_contentitem ci ON ci.key = 'tb:' || g"
        )
        _insert_rows(
            Case,
            n,
            start,
            {
                "content_item_id": "ci.id",
                "queue_id": str(queue_id),
                "category": f"({CATEGORIES})[1 + mod(g, 6)]",
                "status": "CASE WHEN mod(g, 5) = 0 THEN 'open' ELSE 'decided' END",
                "flags_count": "CASE WHEN mod(g, 7) = 0 THEN 1 ELSE 0 END",
                "bank_match_level": "CASE WHEN mod(g, 50) = 0 THEN 2 ELSE 0 END",
                "reports_count": "1",
                "created_at": opened,
                "waiting_since": opened,
                "decided_at": f"CASE WHEN mod(g, 5) = 0 THEN NULL ELSE {opened}"
                " + mod(g, 2880) * interval '1 minute' END",
            },
            join,
        )
        by_case = (
            "FROM generate_series(%s, %s) AS g JOIN reports_contentitem ci ON ci.key = 'tb:' || g "
            "JOIN moderation_case c ON c.content_item_id = ci.id"
        )
        _insert_rows(
            Report,
            n,
            start,
            {
                "reference": "'TB-' || g",
                "content_item_id": "ci.id",
                "case_id": "c.id",
                "category": "c.category",
                "reporter_kind": "'public'",
                "source": "CASE WHEN mod(g, 3) = 0 THEN 'api' ELSE 'form' END",
                "created_at": "c.created_at",
            },
            by_case,
        )
        _insert_rows(
            Decision,
            n,
            start,
            {
                "case_id": "c.id",
                "reviewer_id": str(reviewer_id),
                "action": "(ARRAY['remove','no_violation','warn'])[1 + mod(g, 3)]",
                "policy": "'bench'",
                "created_at": "c.decided_at",
            },
            by_case + " WHERE c.decided_at IS NOT NULL",
        )
        _insert_rows(
            EnforcementAction,
            n,
            start,
            {
                "case_id": "c.id",
                "kind": "'remove_content'",
                "target": "'t'",
                "reason": "'bank'",
                "created_at": "c.created_at + interval '1 second'",
            },
            by_case + " WHERE c.bank_match_level > 0",
        )
        print(f"  {start + n:,} cases", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def timed(label, fn, **kwargs):
    with CaptureQueriesContext(connection) as queries:
        t = time.perf_counter()
        result = fn(**kwargs)
        seconds = time.perf_counter() - t
    print(f"{label:48}{seconds * 1000:10.0f} ms{len(queries):6} queries")
    if os.environ.get("BENCH_VERBOSE"):
        for q in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]:
            print(f"    {float(q['time']) * 1000:8.0f} ms  {q['sql'][:300]}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    add_database_arguments(parser)
    args = parser.parse_args()

    from accounts.models import User
    from moderation.cases.models import Case, Queue
    from moderation.supervision import research
    from moderation.supervision.transparency import transparency_figures

    with scratch_database(keep=args.keep, reuse=args.reuse) as new:
        if new:
            reviewer = User.objects.create_user("bench-reviewer")
            print(f"filling {args.cases:,} cases ...", file=sys.stderr)
            fill(args.cases, Queue.objects.routable().first().pk, reviewer.pk)
            # The services keep Case.first_action_at; rows inserted by SQL get it as the
            # migration that added it gives it to existing cases (timed: its cost on upgrade).
            t = time.perf_counter()
            backfill = importlib.import_module("moderation.migrations.0030_case_first_action")
            with connection.cursor() as cursor:
                for sql in backfill.BACKFILL:
                    cursor.execute(sql)
                cursor.execute("VACUUM ANALYZE moderation_case")
            print(f"first_action_at backfill (migration 0030): {time.perf_counter() - t:.1f} s")
        month = (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))
        year = (YEAR_START, YEAR_START + timedelta(days=365))
        cases = Case.objects.count()
        print(f"database: postgresql; {cases:,} cases over 2025; {os.cpu_count()} cores")
        for name, (since, until) in (("month", month), ("year", year)):
            timed(
                f"transparency figures, {name}",
                transparency_figures,
                since=since,
                until=until,
            )
            export = timed(
                f"research export count, {name}",
                research.research_export,
                since=since,
                until=until,
            )
            rows = timed(f"research export read, {name}", lambda e=export: list(e.iter_rows()))
            print(f"  {len(rows)} groups, {export.cases:,} cases, {export.suppressed} suppressed")


if __name__ == "__main__":
    main()
