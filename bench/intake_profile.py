"""Where the time of one `POST /api/v1/flags` goes, in this process (no HTTP, no concurrency).

Companion to bench/intake.py, on the same kind of throwaway database (test_<name> of DATABASE_URL,
dropped afterwards). Sends flags one at a time through Django's test client and reports, per flag:
the SQL statements by kind, and wall and CPU time of each step of the intake path (inclusive: a step
contains the steps called inside it). Wall minus CPU is time spent waiting for PostgreSQL and Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_benchintake \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/intake_profile.py [--flags 300]
"""

import argparse
import collections
import functools
import os
import secrets
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=300)
    args = parser.parse_args()
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        sys.exit("bench/intake_profile.py: set DATABASE_URL (PostgreSQL) and REDIS_URL")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    sys.path.insert(0, str(BASE_DIR))

    import django

    django.setup()

    from django.db import connection, connections
    from django.test import Client

    import accounts.api
    import moderation.cases.rollup
    import reports.api
    import reports.services
    from bench.intake import create_token

    wall = collections.defaultdict(float)
    cpu = collections.defaultdict(float)
    calls = collections.Counter()

    def timed(label, func):
        @functools.wraps(func)
        def wrapper(*a, **kw):
            w, c = time.perf_counter(), time.process_time()
            try:
                return func(*a, **kw)
            finally:
                wall[label] += time.perf_counter() - w
                cpu[label] += time.process_time() - c
                calls[label] += 1

        return wrapper

    steps = [
        (accounts.api.BearerToken, "authenticate", "auth (token, rate limit, scopes)"),
        (accounts.api, "hit", "  rate limiter (Redis)"),
        (accounts.api, "scopes_allowed", "  scopes_allowed (permissions)"),
        (reports.api, "flag_submit", "flag_submit"),
        (reports.services, "content_item_get_or_create", "  content_item_get_or_create"),
        (reports.services, "case_attach", "  case_attach"),
        (moderation.cases.rollup, "queue_route", "    queue_route"),
        (reports.services, "case_refresh_priority", "  case_refresh_priority"),
        (reports.services, "audit_record", "  audit_record (flag.received)"),
        (moderation.cases.rollup, "audit_record", "    audit_record (case.opened)"),
    ]
    for owner, name, label in steps:
        setattr(owner, name, timed(label, getattr(owner, name)))

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        token = create_token()
        client = Client(HTTP_HOST="127.0.0.1", headers={"authorization": f"Bearer {token}"})
        wrapper = connections["default"]
        wrapper._commit = timed("  COMMIT", wrapper._commit)
        kinds = collections.Counter()
        sql_wall = collections.defaultdict(float)

        def count_sql(execute, sql, params, many, context):
            w = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                kind = sql.split()[0] + (" FOR UPDATE" if "FOR UPDATE" in sql else "")
                kinds[kind] += 1
                sql_wall[kind] += time.perf_counter() - w

        def post(i):
            body = {
                "source": "profile",
                "external_id": str(i),
                "category": "spam",
                "score": 0.5,
                "content": {"id": f"profile-{i}", "type": "post"},
            }
            w, c = time.perf_counter(), time.process_time()
            response = client.post("/api/v1/flags", body, content_type="application/json")
            wall["request (whole)"] += time.perf_counter() - w
            cpu["request (whole)"] += time.process_time() - c
            calls["request (whole)"] += 1
            assert response.status_code == 201, response.content

        for i in range(50):
            post(-i - 1)  # warm up
        wall.clear(), cpu.clear(), calls.clear()
        with connection.execute_wrapper(count_sql):
            for i in range(args.flags):
                post(i)
        n = args.flags
        print(f"{n} flags, one at a time; per flag:")
        print(f"{'step':40}{'calls':>7}{'wall ms':>10}{'CPU ms':>10}")
        for label in ["request (whole)"] + [label for _, _, label in steps] + ["  COMMIT"]:
            print(
                f"{label:40}{calls[label] / n:7.1f}{wall[label] / n * 1000:10.2f}"
                f"{cpu[label] / n * 1000:10.2f}"
            )
        print(
            f"{'SQL statements (wall, incl. driver)':40}{sum(kinds.values()) / n:7.1f}"
            f"{sum(sql_wall.values()) / n * 1000:10.2f}"
        )
        for kind, count in kinds.most_common():
            print(f"  {kind:38}{count / n:7.1f}{sql_wall[kind] / n * 1000:10.2f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
