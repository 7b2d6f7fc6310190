"""A known set of reports, flags, matches, decisions, actions, escalations and appeals in one
week (2026-03-02 to 2026-03-08, UTC), with the figures the transparency report must give."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.roles import Role
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.cases.models import Case
from moderation.decisions.models import Appeal, Decision
from moderation.enforcement.models import EnforcementAction
from moderation.enforcement.services import case_note_action
from moderation.escalations.models import Escalation
from reports.content import ContentFacts
from reports.models import Flag, Report
from reports.services import flag_submit

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
DAY = START + timedelta(days=1, hours=10)
PERIOD = {"from": "2026-03-02", "to": "2026-03-08"}


def place(case: Case, at: datetime) -> Case:
    """Move a case, and the reports and flags that opened it, to `at`."""
    Case.objects.filter(pk=case.pk).update(created_at=at, waiting_since=at)
    Report.objects.filter(case=case).update(created_at=at)
    Flag.objects.filter(case=case).update(created_at=at)
    case.refresh_from_db()
    return case


def decide(case, user, action, at, *, kind=None, reversed_at=None, source=""):
    decision = Decision.objects.create(
        case=case, reviewer=user, action=action, policy="harassment", created_at=at
    )
    Case.objects.filter(pk=case.pk).update(status="decided", decided_at=at)
    case_note_action(case=case, at=at)
    if kind:
        EnforcementAction.objects.create(
            case=case,
            kind=kind,
            target="t",
            reason="decision",
            decision=decision,
            created_at=at,
            status="reversed" if reversed_at else "pending",
            reversed_at=reversed_at,
            reversal_source=source,
        )
    return decision


@pytest.fixture
def known_week(make_user, submit_report, png_upload):
    reviewer = make_user("tr-reviewer", Role.REVIEWER)
    approver = make_user("tr-approver", Role.SUPERVISOR)
    cases = {}
    # The first second of the period counts; the first second after it does not.
    cases["c1"] = place(submit_report(category="harassment").case, START)
    cases["c2"] = place(submit_report(category="harassment").case, DAY)
    cases["c3"] = place(submit_report(category="harassment").case, DAY)
    cases["c4"] = place(
        submit_report(category="spam", source="api", reporter_kind="platform_user").case, DAY
    )
    cases["late"] = place(submit_report(category="harassment").case, START + timedelta(days=7))
    flag, *_ = flag_submit(
        source="classifier-x",
        external_id="x-1",
        category="violent_extremism",
        score=0.9,
        actor_label="test",
        content=ContentFacts(url="https://social.example/flagged"),
    )
    cases["c6"] = place(flag.case, DAY)
    matched = submit_report(category="spam", images=[png_upload()])
    cases["c7"] = place(matched.case, DAY)
    Case.objects.filter(pk=matched.case_id).update(bank_match_level=2)
    bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq"])
    entry = BankEntry.objects.create(bank=bank, signal_type="pdq", value="0" * 64)
    Match.objects.create(
        media=matched.media.get(), entry=entry, signal_type="pdq", distance=0, matched_at=DAY
    )
    for kind in ("remove_content", "suspend_account"):
        EnforcementAction.objects.create(
            case=cases["c7"],
            kind=kind,
            target="t",
            reason="bank",
            created_at=DAY + timedelta(minutes=30),
        )
    case_note_action(case=cases["c7"], at=DAY + timedelta(minutes=30))

    d1 = decide(
        cases["c1"],
        reviewer,
        "remove",
        START + timedelta(hours=2),
        kind="remove_content",
        reversed_at=DAY + timedelta(days=1),
        source="appeal",
    )
    decide(cases["c2"], reviewer, "no_violation", DAY + timedelta(hours=4))
    decide(cases["c4"], reviewer, "remove", DAY + timedelta(hours=10), kind="remove_content")
    decide(cases["late"], reviewer, "remove", START + timedelta(days=7, hours=1))
    outcome = Decision.objects.create(
        case=cases["c1"],
        reviewer=approver,
        action="no_violation",
        policy="harassment",
        created_at=DAY + timedelta(days=1),
    )
    Appeal.objects.create(
        case=cases["c1"],
        decision=d1,
        statement="please",
        status="overturned",
        outcome=outcome,
        created_at=DAY + timedelta(hours=20),
        decided_at=DAY + timedelta(days=1),
    )
    escalation = Escalation.objects.create(
        owner_id="",
        status="submitted",
        opened_reason="bank",
        approved_by=approver,
        submitted_at=DAY + timedelta(hours=3),
        preserve_until=DAY + timedelta(days=90),
        created_at=DAY + timedelta(hours=1),
    )
    escalation.cases.add(cases["c7"])
    return cases
