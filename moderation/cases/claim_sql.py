"""Review next on PostgreSQL: find the case, lock it and assign it in one statement.

The ORM path (moderation/cases/services._claim_next_orm, used on SQLite) takes a query for the
queues the reviewer may claim from, one for the case they already hold, one for every queue's head,
one for their sort keys, one `SELECT ... FOR UPDATE SKIP LOCKED` per queue until one locks, and an
UPDATE. Here the same rules are one statement, prepared once per database connection (planning it
costs more than running it), so a claim is three statements whatever the number of queues: the
reviewer's row lock, this one, the audit event.

What the statement does, in the order PostgreSQL runs it:

1. `held`: the open case the reviewer already holds under a live lease. If there is one it is given
   back as it is and nothing else is claimed or locked. The caller has locked the reviewer's row
   in an earlier statement, so this statement's snapshot, taken after that lock was granted, sees
   a claim the same reviewer committed a moment ago (two quick clicks hold one case).
2. `eligible`: the queues the reviewer may claim from now, the rule of
   moderation/cases/eligibility.py: a current certification for an active queue, senior-only
   queues for senior reviewers only, sensitive ones not while a supervisor's pause is in force;
   only the queue asked for, when one is.
3. `heads`: for each of those queues, its head: the first case in claim order (the
   `case_claim_order` index walked from its top, one probe per queue) that is claimable (open,
   unassigned or its lease run out), not skipped by this reviewer in the last SKIP_MEMORY, not an
   appeal against a decision this reviewer took part in, and not locked by anyone else right now.
   `FOR NO KEY UPDATE ... SKIP LOCKED LIMIT 1` inside the LATERAL subquery passes over rows
   another claim (or a decision, a release) has locked and keeps walking the index until it locks
   one, so a locked head falls through to that queue's next case. A row someone changed and
   committed after this statement's snapshot is checked again as it is now (PostgreSQL's
   EvalPlanQual): a case another reviewer has just claimed is no longer claimable and is passed
   over. NO KEY UPDATE is the lock the UPDATE itself takes; unlike FOR UPDATE it lets rows that
   refer to the case (reports, audit events) be inserted meanwhile.
4. `best`: the heads ordered by queue_serving_key (services.py), computed in double precision
   exactly as Python computes it, so both paths choose the same queue: a head past its queue's SLA
   first, the furthest past relative to its SLA (waited / SLA) first; then the higher priority,
   the longer wait, the lower id.
5. `claimed`: the UPDATE that gives `best` to the reviewer under a lease, returning the case as it
   now is and who held it before (a lease that had run out), for the audit event.

The heads not chosen stay locked until the caller commits (a millisecond or two): meanwhile other
reviewers pass over them to the next case of the same queue, a brief reordering that never hands
one case to two reviewers: a case is assigned only by the transaction holding its row lock, after
checking it is still claimable as it is now. (Without contention the choice is exactly the ORM
path's: each queue's first claimable case, the best of them by the serving key.)
"""

import weakref
from typing import NamedTuple

from django.db import connection

from lib.transactions import in_transaction
from moderation.cases.models import Case

# Bump the suffix when the statement changes: a connection that prepared the old text keeps it
# under the old name, harmlessly.
STATEMENT_NAME = "vigil_claim_next_v1"

# The case's columns by name, not c.*: a prepared statement's result type is fixed when it is
# prepared, so a column added by a later migration must not change it on live connections.
_COLUMNS = [f.column for f in Case._meta.concrete_fields]


def _cols(alias: str) -> str:
    return ", ".join(f'{alias}."{c}"' for c in _COLUMNS)


def ranked_heads_sql(now: str) -> str:
    """`heads` (id, priority, waiting_since, sla_minutes, ...) in serving order, best first.

    queue_serving_key in SQL, exactly: Python's (now - waiting_since).total_seconds() / 60 is the
    difference in whole microseconds divided by 10**6, then by 60, each division one correctly
    rounded IEEE double operation; EXTRACT(EPOCH ...) of a timestamptz is exact (numeric), so the
    difference in microseconds is exact, and float8 divisions here are the same operations.
    `now` is the SQL for the current time ($4 in the statement, a parameter in tests): put
    together from constants only, never from input.
    """
    waited = (
        f"((EXTRACT(EPOCH FROM {now}) - EXTRACT(EPOCH FROM h.waiting_since)) * 1000000)"
        "::bigint::float8 / 1000000::float8 / 60::float8"
    )
    overdue = "(w.sla_minutes <> 0 AND w.waited > w.sla_minutes::float8)"
    return f"""
        SELECT w.*,
               {overdue} AS overdue,
               CASE WHEN {overdue} THEN w.waited / w.sla_minutes::float8 ELSE 0::float8 END
                   AS share
        FROM (SELECT h.*, {waited} AS waited FROM heads h) w
        ORDER BY overdue DESC, share DESC, w.priority DESC, w.waiting_since, w.id"""  # noqa: S608


# $1 reviewer id, $2 whether they may work senior-only queues, $3 the one queue asked for (NULL:
# all), $4 now, $5 skips since, $6 lease until.
_STATEMENT = f"""
WITH held AS (
    SELECT c.id
    FROM moderation_case c
    WHERE c.assignee_id = $1 AND c.status = 'open' AND c.lease_expires_at > $4
    ORDER BY c.lease_expires_at
    LIMIT 1
),
eligible AS (
    SELECT q.id, q.sla_minutes
    FROM accounts_queuecertification qc
    JOIN moderation_queue q ON q.id = qc.queue_id
    WHERE qc.user_id = $1 AND qc.expires_at > $4 AND q.is_active
      AND ($2 OR NOT q.senior_only)
      AND NOT (q.sensitive AND EXISTS (
          SELECT 1 FROM accounts_sensitivepause p
          WHERE p.user_id = $1 AND p.lifted_at IS NULL AND p.until > $4
      ))
      AND ($3::bigint IS NULL OR q.id = $3)
),
heads AS (
    SELECT h.id, h.priority, h.waiting_since, h.assignee_id, q.sla_minutes
    FROM eligible q
    CROSS JOIN LATERAL (
        SELECT c.id, c.priority, c.waiting_since, c.assignee_id
        FROM moderation_case c
        WHERE c.queue_id = q.id
          AND c.status = 'open'
          AND (c.assignee_id IS NULL OR c.lease_expires_at <= $4)
          -- Skipped by this reviewer lately: not offered to them again yet.
          AND NOT EXISTS (
              SELECT 1 FROM moderation_caseskip s
              WHERE s.case_id = c.id AND s.user_id = $1 AND s.skipped_at > $5
          )
          -- An open appeal against a decision this reviewer took part in (any decision on the
          -- case up to and including the contested one): never theirs to decide.
          AND NOT EXISTS (
              SELECT 1
              FROM moderation_appeal a
              JOIN moderation_decision contested ON contested.id = a.decision_id
              JOIN moderation_decision d ON d.case_id = a.case_id
              WHERE a.case_id = c.id AND a.status = 'open'
                AND d.reviewer_id = $1 AND d.created_at <= contested.created_at
          )
        ORDER BY c.priority DESC, c.waiting_since, c.id
        LIMIT 1
        FOR NO KEY UPDATE OF c SKIP LOCKED
    ) h
    -- A reviewer holding a case claims nothing: no head is read or locked at all.
    WHERE NOT EXISTS (SELECT 1 FROM held)
),
best AS ({ranked_heads_sql("$4")} LIMIT 1),
claimed AS (
    UPDATE moderation_case c
    SET assignee_id = $1, lease_expires_at = $6, updated_at = $4
    FROM best
    WHERE c.id = best.id
    RETURNING {_cols("c")}, best.assignee_id AS previous_assignee_id
)
SELECT {_cols("c")}, false AS newly_claimed, NULL::varchar AS previous_assignee
FROM moderation_case c
WHERE c.id = (SELECT id FROM held)
UNION ALL
SELECT {_cols("claimed")}, true, u.username
FROM claimed
LEFT JOIN accounts_user u ON u.id = claimed.previous_assignee_id
"""  # noqa: S608 - put together from constants and the model's column names, no input

_PREPARE = (
    f"PREPARE {STATEMENT_NAME} (bigint, boolean, bigint, timestamptz, timestamptz, timestamptz) AS "
    f"{_STATEMENT}"
)
_EXECUTE = f"EXECUTE {STATEMENT_NAME} (%s, %s, %s, %s, %s, %s)"

# The raw driver connections this process has prepared the statement on. A prepared statement
# lives as long as its session (a rollback does not undo PREPARE); a new connection (Django
# reconnects after CONN_MAX_AGE or an error) is a new object, not in the set, and prepares again.
# Needs a session per connection: not PgBouncer in transaction mode (as packet assembly).
_prepared: "weakref.WeakSet" = weakref.WeakSet()


class Claim(NamedTuple):
    case: Case
    # False: the case the reviewer already held, given back; nothing was claimed.
    newly_claimed: bool
    # Who held the case before, under a lease that had run out (for the audit event).
    previous_assignee: str | None


@in_transaction
def claim_next(
    *, user, senior: bool, queue_id: int | None, now, skip_since, lease_until
) -> Claim | None:
    """Run the statement: the case the reviewer holds, or the next one now assigned to them
    (locked until the caller's transaction ends), or None. `senior`: the reviewer may work
    senior-only queues; `queue_id`: only that queue (None: every queue they may claim from)."""
    connection.ensure_connection()
    if connection.connection not in _prepared:
        with connection.cursor() as cursor:
            cursor.execute(_PREPARE)
        _prepared.add(connection.connection)
    rows = list(
        Case.objects.raw(_EXECUTE, [user.pk, senior, queue_id, now, skip_since, lease_until])
    )
    if not rows:
        return None
    case = rows[0]
    claim = Claim(case, case.newly_claimed, case.previous_assignee)
    del case.newly_claimed, case.previous_assignee
    case.assignee = user  # held or just claimed, it is theirs: no query to load it later
    return claim
