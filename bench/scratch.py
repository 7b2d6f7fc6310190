"""The benches' throwaway PostgreSQL database: test_<name> of DATABASE_URL."""

import time
from contextlib import contextmanager

from django.core.management import call_command
from django.db import connection


def add_database_arguments(parser) -> None:
    parser.add_argument("--keep", action="store_true", help="Keep the filled database afterwards.")
    parser.add_argument(
        "--reuse", action="store_true", help="Time against the database a --keep run left."
    )


@contextmanager
def scratch_database(*, keep: bool = False, reuse: bool = False):
    """Create test_<name> (dropped afterwards unless `keep`), or connect to the one an earlier
    `keep` run left when `reuse` (never dropped then; migrated first, as an upgrade would be,
    timed). Yields whether it is new (to be filled)."""
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server.")
    old_name = connection.settings_dict["NAME"]
    if reuse:
        connection.close()
        connection.settings_dict["NAME"] = connection.creation._get_test_db_name()
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"migrate (the kept database to this version): {time.perf_counter() - started:.1f} s")
    else:
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield not reuse
    finally:
        connection.close()
        if not (keep or reuse):
            connection.creation.destroy_test_db(old_name, verbosity=0)
