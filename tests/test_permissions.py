"""Who may reach which console URL: one table, every role.

"login" means redirected to the login page, "forbidden" a 403, "ok" the view did its work
(a page, a redirect onwards, a form error, or 204 for a poll with nothing to draw), "notfound" a 404.
"""

from contextlib import contextmanager

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts.roles import Role
from moderation.banks.models import BankEntry, HashBank
from moderation.cases.models import AccountCaseSettings, Case
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision, ReReview
from moderation.enforcement.services import action_request
from moderation.escalations.services import escalation_open
from moderation.exchanges.models import Exchange
from reports.account_rules import account_case_check
from tests.moderation.review.conversation_helpers import conversation_case
from tests.process_state import forget_process_state

# Who may do what, by role: (anonymous, reviewer, senior reviewer, supervisor, admin, platform
# account). The platform's machine account uses the API only and never reaches the console.
REVIEWERS = ("login", "ok", "ok", "ok", "ok", "forbidden")
SUPERVISORS = ("login", "forbidden", "forbidden", "ok", "ok", "forbidden")
SENIORS = ("login", "forbidden", "ok", "ok", "ok", "forbidden")
# An escalation the reviewer had no part in: seniors and up see it, the reviewer gets a 404.
ESCALATION_SEERS = ("login", "notfound", "ok", "ok", "ok", "forbidden")
# The Django admin: staff only (the admin role's members are staff); it sends others to log in.
STAFF = ("login", "login", "login", "login", "ok", "login")

CONSOLE = [
    ("get", "/review/", *REVIEWERS),
    ("post", "/review/next/", *REVIEWERS),
    # Search: what each person may see of it (tests/moderation/review/test_search.py).
    ("get", "/search/?q={case}", *REVIEWERS),
    ("get", "/cases/{case}/", *REVIEWERS),
    ("post", "/cases/{case}/decide/", *REVIEWERS),
    ("post", "/cases/{case}/decide-cluster/", *REVIEWERS),
    ("post", "/cases/{case}/skip/", *REVIEWERS),
    ("post", "/cases/{case}/lease/", *REVIEWERS),
    ("get", "/cases/{case}/media/{media}/", *REVIEWERS),
    # A conversation case: its page draws the thread; htmx fetches its pages (plain requests are
    # sent to the case page).
    ("get", "/cases/{conversation}/", *REVIEWERS),
    ("get", "/cases/{conversation}/thread/", *REVIEWERS),
    # An account case: its page lists the evidence.
    ("get", "/cases/{account_case}/", *REVIEWERS),
    ("get", "/platform-accounts/{account}/", *REVIEWERS),
    ("post", "/cases/{case}/reassign/", *SUPERVISORS),
    ("get", "/audit/", *SUPERVISORS),
    ("get", "/audit/export.csv", *SUPERVISORS),
    ("get", "/audit/case/{case}/", *SUPERVISORS),
    ("get", "/audit/actor/{user}/", *SUPERVISORS),
    ("post", "/audit/verify/", *SUPERVISORS),
    ("post", "/rereview/next/", *REVIEWERS),
    # Only the reviewer holding a re-review (or a supervisor) may open it.
    ("get", "/rereview/{rereview}/", *SUPERVISORS),
    ("post", "/rereview/{rereview}/record/", *SUPERVISORS),
    # Handing back what one does not hold is refused with a message, not an error page.
    ("post", "/rereview/{rereview}/release/", *REVIEWERS),
    ("get", "/supervise/rereviews/", *SUPERVISORS),
    ("post", "/supervise/rereviews/{rereview}/resolve/", *SUPERVISORS),
    ("get", "/account/preferences/", *REVIEWERS),
    ("post", "/account/preferences/", *REVIEWERS),
    ("get", "/supervise/team/", *SUPERVISORS),
    ("post", "/supervise/team/{user}/pause/", *SUPERVISORS),
    ("post", "/supervise/team/{user}/resume/", *SUPERVISORS),
    ("get", "/supervise/team/{user}/", *SUPERVISORS),
    ("post", "/supervise/team/{user}/rereview/", *SUPERVISORS),
    ("post", "/supervise/team/{user}/certifications/{certification}/renew/", *SUPERVISORS),
    ("post", "/cases/{case}/actions/{action}/reverse/", *REVIEWERS),
    ("get", "/supervise/queues/", *SUPERVISORS),
    ("get", "/supervise/queues/live/", *SUPERVISORS),
    ("get", "/supervise/exchanges/", *SUPERVISORS),
    ("get", "/supervise/exchanges/{exchange}/", *SUPERVISORS),
    ("post", "/supervise/exchanges/{exchange}/sync/", *SUPERVISORS),
    ("get", "/supervise/banks/", *SUPERVISORS),
    ("get", "/supervise/banks/quarantined/", *SUPERVISORS),
    ("post", "/supervise/banks/quarantined/{entry}/release/", *SUPERVISORS),
    ("post", "/supervise/banks/quarantined/{entry}/remove/", *SUPERVISORS),
    ("get", "/supervise/deliveries/", *SUPERVISORS),
    ("get", "/supervise/deliveries/{delivery}/", *SUPERVISORS),
    ("post", "/supervise/deliveries/{delivery}/resend/", *SUPERVISORS),
    ("get", "/escalations/", *REVIEWERS),
    ("get", "/escalations/{escalation}/", *ESCALATION_SEERS),
    ("get", "/escalations/{escalation}/progress/", *ESCALATION_SEERS),
    ("post", "/escalations/{escalation}/details/", *ESCALATION_SEERS),
    ("post", "/escalations/{escalation}/request-approval/", *ESCALATION_SEERS),
    ("post", "/escalations/{escalation}/approve/", *SENIORS),
    ("post", "/escalations/{escalation}/return/", *SENIORS),
    ("post", "/escalations/{escalation}/withdraw/", *SUPERVISORS),
    # Refused with a message for an escalation whose assembly did not fail, not an error page.
    ("post", "/escalations/{escalation}/retry-assembly/", *SUPERVISORS),
    ("get", "/escalations/{escalation}/packet/", *SUPERVISORS),
    ("post", "/escalations/{escalation}/mark-submitted/", *SUPERVISORS),
    ("post", "/escalations/{escalation}/mark-acknowledged/", *SUPERVISORS),
    ("post", "/escalations/{escalation}/legal-hold/", *SUPERVISORS),
    ("post", "/escalations/{escalation}/legal-hold/lift/", *SUPERVISORS),
    ("get", "/supervise/statements-of-reasons/", *SUPERVISORS),
    ("get", "/supervise/statements-of-reasons.csv", *SUPERVISORS),
    ("get", "/supervise/transparency/", *SUPERVISORS),
    ("get", "/supervise/transparency.csv", *SUPERVISORS),
    ("get", "/supervise/transparency.json", *SUPERVISORS),
    ("get", "/supervise/research-export/", *SUPERVISORS),
    ("get", "/supervise/research-export.csv", *SUPERVISORS),
    ("get", "/supervise/research-export.json", *SUPERVISORS),
    ("post", "/escalations/{escalation}/submit/", *SUPERVISORS),
    ("post", "/escalations/{escalation}/retract/", *SUPERVISORS),
    ("get", "/admin/", *STAFF),
]

PUBLIC = [
    ("get", "/report/"),
    ("get", "/healthz"),
    ("get", "/accounts/login/"),
]


def outcome(response) -> str:
    if response.status_code == 302 and "/login/" in response.url:
        return "login"
    if response.status_code == 403:
        return "forbidden"
    if response.status_code == 404:
        return "notfound"
    assert response.status_code in (200, 204, 302, 400), response.status_code
    return "ok"


@pytest.fixture
def world(make_user, submit_report, png_upload):
    users = {
        "anonymous": None,
        "reviewer": make_user("rev", Role.REVIEWER),
        "senior": make_user("sen", Role.SENIOR_REVIEWER),
        "supervisor": make_user("sup", Role.SUPERVISOR),
        "admin": make_user("adm", Role.ADMIN),
        # The platform's machine account: API only, never the console.
        "platform": make_user("plat", Role.PLATFORM, queues=[]),
    }
    users["admin"].is_staff = True
    users["admin"].save()
    # Its owner has an account page.
    report = submit_report(category="harassment", images=[png_upload()], owner_id="acct:perm.1")
    # A decided case sampled for re-review, decided by someone else.
    decided = submit_report(category="spam")
    decision = Decision.objects.create(
        case=decided.case, reviewer=make_user("orig"), action="remove", policy="spam"
    )
    Case.objects.filter(pk=decided.case_id).update(status="decided", decided_at=timezone.now())
    task = ReReview.objects.create(decision=decision, case=decided.case, queue=decided.case.queue)
    # These write part of their caller's change: the caller's transaction (the browser tests
    # use this world too, outside any test transaction).
    with transaction.atomic():
        action = action_request(
            case=report.case, kind="remove_content", target="p-1", reason="test"
        )
        escalation = escalation_open(case=decided.case, reason="test", user=decision.reviewer)
    # A conversation of two pages with an attachment, decided about one participant's account
    # (decided: it is never the case a role claims).
    conversation = conversation_case(
        size=120, reported=(1, 110), attachments={0: [png_upload()]}, platform_id="conv-perm"
    ).case
    Decision.objects.create(
        case=conversation,
        reviewer=decision.reviewer,
        action="suspend",
        policy="child-safety/grooming",
        intent="malicious",
        target="account",
        target_ref="acct-adult",
    )
    Case.objects.filter(pk=conversation.pk).update(status="decided", decided_at=timezone.now())
    # An account case about the conversation's adult, listing its evidence (decided, as above).
    AccountCaseSettings.objects.update(min_minor_contacts=1)
    account_case = account_case_check(account_id="acct-adult").case
    Case.objects.filter(pk=account_case.pk).update(status="decided", decided_at=timezone.now())
    bank = HashBank.objects.create(name="Partner list", slug="partner", signal_types=["pdq"])
    exchange = Exchange.objects.create(
        name="Partner", slug="partner", kind="https_feed", bank=bank, url="https://feed.invalid/"
    )
    ids = {
        "exchange": exchange.pk,
        # A flood-guard quarantine to release or remove.
        "entry": BankEntry.objects.create(
            bank=bank, signal_type="pdq", value="ab" * 32, quarantined_at=timezone.now()
        ).pk,
        "case": report.case_id,
        "conversation": conversation.pk,
        "account_case": account_case.pk,
        "media": report.media.get().pk,
        "rereview": task.pk,
        "action": action.pk,
        "delivery": action.deliveries.get().pk,
        "escalation": escalation.pk,
        "account": "acct:perm.1",
    }
    certification = users["reviewer"].certifications.first().pk
    return users, {**ids, "user": users["reviewer"].pk, "certification": certification}


@contextmanager
def rolled_back():
    """A savepoint rolled back at the end. Marked as Django's TestCase marks its own atomic
    blocks, so a service's durable block inside it runs as it does inside a test."""
    savepoint = transaction.atomic()
    savepoint._from_testcase = True
    with savepoint:
        yield
        transaction.set_rollback(True)


ROLES = ["anonymous", "reviewer", "senior", "supervisor", "admin", "platform"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, url, expected",
    [
        pytest.param(method, url, expected, id=f"{method} {url}")
        for method, url, *expected in CONSOLE
    ],
)
def test_it_gives_each_role_exactly_what_it_allows(world, method, url, expected):
    """The world is built once per URL; each role's request runs in a savepoint rolled back
    after it, so what one role's request did (a decision, a claim) is never there for the next."""
    users, ids = world
    got = {}
    for role in ROLES:
        forget_process_state()
        client = Client()
        with rolled_back():
            if users[role]:
                client.force_login(users[role])
                # Holding the case makes the decide/skip views do real work for an allowed role.
                case_claim_next(user=users[role])
            got[role] = outcome(getattr(client, method)(url.format(**ids)))
    assert got == dict(zip(ROLES, expected, strict=True))


@pytest.mark.django_db
@pytest.mark.parametrize("method, url", PUBLIC)
def test_public_urls_need_no_login(client, method, url):
    assert getattr(client, method)(url).status_code == 200


def test_every_view_states_who_may_use_it():
    """Each of our views is marked public or wrapped in a permission check (accounts/access.py, lib/access.py)."""

    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                # The admin checks staff status itself; the API's operations are checked below.
                if p.app_name != "admin" and p.namespace != "api":
                    yield from walk(p.url_patterns)
            elif isinstance(p, URLPattern) and not hasattr(p.callback, "view_class"):
                yield p

    unstated = [
        str(p.pattern)
        for p in walk(get_resolver().url_patterns)
        if not (
            getattr(p.callback, "vigil_public", False) or getattr(p.callback, "vigil_access", None)
        )
    ]
    assert unstated == []


@pytest.mark.django_db
def test_every_api_operation_requires_authentication(client):
    """Only the OpenAPI document and its docs page are open: every operation, called without a
    token or session, gets a 401 before it looks at its input."""
    import re

    from config.api import api

    operations = [
        (method, "/api/v1" + re.sub(r"{[^}]+}", "1", path))
        for _, router in api._routers
        for path, path_view in router.path_operations.items()
        for operation in path_view.operations
        for method in operation.methods
    ]
    assert len(operations) >= 7
    for method, url in operations:
        response = client.generic(method, url, data="{}", content_type="application/json")
        assert response.status_code == 401, (method, url, response.status_code)
        assert response.json()["error"] == "unauthorized"
    assert client.get("/api/v1/openapi.json").status_code == 200
