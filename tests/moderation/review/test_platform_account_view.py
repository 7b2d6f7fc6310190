"""The account page: one platform account's cases, decisions, actions, matches, escalations and
appeals, newest first, as far as the reader may see them; no file shown, so nothing logged."""

from datetime import timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.cases.access import user_may_view_case, visible_cases
from moderation.cases.models import AccountCaseSettings, Case, Queue
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision
from moderation.review.appeals import appeal_open
from moderation.review.platform_accounts import PER_PAGE
from moderation.review.services import case_decide
from reports.account_rules import account_case_check
from tests.conversations import report_conversation

OWNER = "acct:7.x"
# What opening a file logs (moderation/review/reveals.py).
SEEN = ["media.viewed", "media.watched"]


def url(owner_id=OWNER, query=""):
    return reverse("platform_account", args=[owner_id]) + query


def decide(user, action="remove", queue=None):
    case = case_claim_next(user=user, queue=queue)
    case_decide(case_id=case.pk, user=user, action=action, policy="harassment")
    return case


def matched(media, n=0):
    bank, _ = HashBank.objects.get_or_create(slug="watch", defaults={"name": "Watch"})
    entry = BankEntry.objects.create(bank=bank, signal_type="pdq", value=f"{n:064x}")
    return Match.objects.create(media=media, entry=entry, signal_type="pdq", distance=4)


@pytest.fixture
def account(submit_report, png_upload, make_user):
    """`account(n, owner)`: n cases about the owner's content, each with a file matched by a bank,
    decided (a removal: an action for the platform) and appealed. Returns the cases, oldest first."""

    def build(n, owner=OWNER, handle="@seven"):
        decider = make_user(f"decider-{owner}")
        cases = []
        for i in range(n):
            report = submit_report(
                platform_id=f"{owner}-{i}",
                owner_id=owner,
                owner_handle=handle,
                images=[png_upload()],
            )
            matched(report.media.get(), n=Match.objects.count())
            # From its queue: appeals opened earlier wait in theirs.
            cases.append(decide(decider, queue=Queue.objects.get(slug="general")))
        for i in range(n):
            appeal_open(content_id=f"{owner}-{i}", statement="not mine", actor_label="t")
        return cases

    return build


def section(response, name: str) -> str:
    html = response.content.decode()
    return html.split(f'data-testid="account-{name}"')[1].split("</section>")[0]


@pytest.mark.django_db
class TestPlatformAccount:
    def test_it_shows_everything_about_the_account(self, client, supervisor, account, escalate):
        escalation, _ = escalate(owner=OWNER)
        other = account(1, owner="someone-else")
        cases = account(2)
        client.force_login(supervisor)
        r = client.get(url())
        assert r.status_code == 200
        html = r.content.decode()
        assert OWNER in html and "@seven" in html
        summary = html.split('data-testid="account-summary"')[1].split("</p>")[0]
        # The escalation's decision asked for removal and suspension; each other case a removal.
        for text in ("3</strong> cases", "3</strong> decisions", "4</strong> enforcement actions"):
            assert text in summary
        assert "2</strong> bank matches" in summary and "1</strong> escalation<" in summary
        assert "2</strong> appeals" in summary
        for case in cases:
            assert f'href="/cases/{case.pk}/"' in section(r, "cases")
            assert f"Case {case.pk}" in section(r, "decisions")
            assert f"Case {case.pk}" in section(r, "actions")
            assert f"Case {case.pk}" in section(r, "matches")
            assert f"Case {case.pk}" in section(r, "appeals")
        assert "Remove content" in section(r, "actions")
        assert "Watch" in section(r, "matches")
        assert f'href="/escalations/{escalation.pk}/"' in section(r, "escalations")
        assert f"Case {other[0].pk}" not in html

    def test_it_lists_each_section_newest_first(self, client, supervisor, account):
        cases = account(3)
        now = timezone.now()
        for age, case in enumerate(cases):  # the first made is the newest
            Case.objects.filter(pk=case.pk).update(created_at=now - timedelta(days=age))
            Decision.objects.filter(case=case).update(created_at=now - timedelta(days=age))
        client.force_login(supervisor)
        r = client.get(url())
        shown = [c.pk for c in r.context["account"].cases]
        assert shown == [c.pk for c in cases]
        assert [d.case_id for d in r.context["account"].decisions] == shown
        cases_html = section(r, "cases")
        assert cases_html.index(f"Case {cases[0].pk}<") < cases_html.index(f"Case {cases[2].pk}<")

    def test_it_shows_no_file_and_logs_no_view(self, client, supervisor, account):
        cases = account(1)
        client.force_login(supervisor)
        r = client.get(url())
        assert b"/media/" not in r.content and b"<img" not in r.content
        withheld = section(r, "cases").split('data-testid="media-withheld"')[1]
        assert "1 file · on the case, blurred" in withheld
        assert not AuditEvent.objects.filter(verb__in=SEEN).exists()
        assert cases  # the page linked to the case, where the file is shown blurred

    @pytest.mark.parametrize("owner", ["tenant/a:b.c", "q?x#y%z", "trailing/"])
    def test_it_takes_any_owner_id_the_platform_sends(
        self, client, supervisor, submit_report, owner
    ):
        submit_report(owner_id=owner)
        client.force_login(supervisor)
        r = client.get(url(owner))
        assert r.status_code == 200 and r.context["account"].owner_id == owner
        assert url("tenant/a:b.c") == "/platform-accounts/tenant/a:b.c/"

    def test_its_link_partial_names_the_owner_or_nothing(self, submit_report):
        known = submit_report(owner_id=OWNER, owner_handle="@seven").content_item
        html = render_to_string("moderation/_account_link.html", {"item": known})
        assert f'href="{url()}"' in html and "@seven" in html
        unknown = submit_report().content_item
        assert render_to_string("moderation/_account_link.html", {"item": unknown}).strip() == ""

    def test_an_unknown_account_is_not_found(self, client, supervisor, account):
        account(1)
        client.force_login(supervisor)
        assert client.get(url("nobody")).status_code == 404
        assert client.get("/platform-accounts/a%00b/").status_code == 404

    def test_it_pages_each_section_and_keeps_the_others(self, client, supervisor, submit_report):
        for i in range(PER_PAGE + 3):
            submit_report(platform_id=f"p{i}", owner_id=OWNER)
        client.force_login(supervisor)
        r = client.get(url())
        assert len(r.context["account"].cases) == PER_PAGE
        assert "?cases_page=2#cases" in section(r, "cases")
        r = client.get(url(query="?cases_page=2&decisions_page=1"))
        assert len(r.context["account"].cases) == 3
        assert "cases_page=1" in section(r, "cases") and "decisions_page=1" in section(r, "cases")
        # Not a page number: the nearest page, never an error.
        assert client.get(url(query="?cases_page=x")).status_code == 200
        assert client.get(url(query="?cases_page=999")).context["account"].cases.number == 2


@pytest.mark.django_db
class TestWhoSeesWhat:
    def test_roles(self, client, make_user, account):
        account(1)
        assert client.get(url()).status_code == 302  # to the login page
        for role, status in [
            (Role.REVIEWER, 200),
            (Role.SENIOR_REVIEWER, 200),
            (Role.SUPERVISOR, 200),
            (Role.ADMIN, 200),
            (Role.PLATFORM, 403),
        ]:
            client.force_login(make_user(f"u-{role.value}", role))
            assert client.get(url()).status_code == status, role

    def test_a_reviewer_sees_only_cases_of_their_queues(self, client, make_user, submit_report):
        general = Queue.objects.get(slug="general")
        narrow = make_user("narrow", Role.REVIEWER, queues=[general])
        wide = make_user("wide", Role.REVIEWER)
        submit_report(category="harassment", owner_id=OWNER, platform_id="a")
        mine = decide(narrow)
        hidden = submit_report(
            category="csam", involves_child=True, owner_id=OWNER, platform_id="b"
        ).case
        assert hidden.queue.slug != "general"
        Decision.objects.create(case=hidden, reviewer=wide, action="remove", policy="csam")
        client.force_login(narrow)
        r = client.get(url())
        assert [c.pk for c in r.context["account"].cases] == [mine.pk]
        assert [d.case_id for d in r.context["account"].decisions] == [mine.pk]
        assert f"Case {hidden.pk}" not in r.content.decode()
        client.force_login(wide)
        assert client.get(url()).context["account"].cases.paginator.count == 2

    def test_an_account_whose_every_case_is_hidden_is_not_found(
        self, client, make_user, submit_report
    ):
        narrow = make_user("narrow", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        submit_report(category="csam", involves_child=True, owner_id=OWNER)
        client.force_login(narrow)
        assert client.get(url()).status_code == 404

    def test_the_query_agrees_with_the_case_page_rule(self, make_user, submit_report):
        general = Queue.objects.get(slug="general")
        narrow = make_user("narrow", Role.REVIEWER, queues=[general])
        others = [make_user("wide", Role.REVIEWER), make_user("senior", Role.SENIOR_REVIEWER)]
        ids = [
            submit_report(category=category, involves_child=child, owner_id=OWNER).case_id
            for category, child in [("harassment", False), ("csam", True), ("csam", True)]
            + [("csam", True)]
        ]
        # Outside narrow's queues: one they hold, one they decided last, one someone else did.
        Case.objects.filter(pk=ids[1]).update(
            assignee=narrow, lease_expires_at=timezone.now() + timedelta(hours=1)
        )
        Decision.objects.create(case_id=ids[2], reviewer=others[0], action="remove", policy="x")
        Decision.objects.create(case_id=ids[2], reviewer=narrow, action="remove", policy="x")
        Decision.objects.create(case_id=ids[3], reviewer=narrow, action="remove", policy="x")
        Decision.objects.create(case_id=ids[3], reviewer=others[0], action="warn", policy="x")
        # The decisions above were made in that order: the last one is the latest.
        for n, d in enumerate(Decision.objects.order_by("pk")):
            Decision.objects.filter(pk=d.pk).update(created_at=timezone.now() + timedelta(n))
        for user in [narrow, *others, make_user("boss", Role.SUPERVISOR)]:
            expected = {
                pk
                for pk in ids
                if user_may_view_case(user, Case.objects.prefetch_related("decisions").get(pk=pk))
            }
            assert set(visible_cases(user).values_list("pk", flat=True)) == expected, user
        assert set(visible_cases(narrow).values_list("pk", flat=True)) == {ids[0], ids[1], ids[2]}

    def test_escalations_follow_who_may_see_them(self, client, make_user, reviewer, escalate):
        escalation, escalating = escalate(owner=OWNER)
        client.force_login(reviewer)  # sees the case, had no part in the escalation
        r = client.get(url())
        assert r.context["account"].cases.paginator.count == 1
        assert r.context["account"].escalations.paginator.count == 0
        for user in (escalating, make_user("senior", Role.SENIOR_REVIEWER)):
            client.force_login(user)
            shown = client.get(url()).context["account"].escalations
            assert [e.pk for e in shown] == [escalation.pk]


def conversations(n, owner, decider):
    """n conversations of 12 messages each: n // 2 the owner's (it is the reported adult), the
    others someone else's in which it is written to, its age not given (an account known to be
    a minor anywhere is never an account case); on each of the latter a decision about its
    account or about a message it sent; and its account case."""
    AccountCaseSettings.objects.update(min_reported_items=2)
    for i in range(n):
        owned = i < n // 2
        others = f"{owner}-other-{i}"
        report = report_conversation(
            conversation_id=f"{owner}-conv-{i}",
            adult=owner if owned else others,
            minor=others if owned else owner,
            minor_age=13 if owned else None,
            count=12,
            reported=(1, 2, 5),
        ).report
        if not owned:
            target = (
                {"target": "account", "target_ref": owner}
                if i % 2
                else {"target": "message", "target_ref": f"{owner}-conv-{i}-m1"}
            )
            Decision.objects.create(
                case=report.case, reviewer=decider, action="suspend", policy="grooming", **target
            )
    assert account_case_check(account_id=owner) is not None


@pytest.mark.django_db
class TestQueryCount:
    @pytest.mark.parametrize("role", [Role.REVIEWER, Role.SUPERVISOR])
    def test_it_reads_as_many_queries_for_two_cases_as_for_ten(
        self, client, make_user, account, escalate, role
    ):
        # Escalations first: the escalating reviewer takes the next case, not a waiting appeal.
        for owner in ("small", "large"):
            escalate(owner=owner)
        for owner, n in (("small", 2), ("large", 10)):
            account(n, owner=owner)
            conversations(n, owner, make_user(f"conversation-decider-{owner}"))
        client.force_login(make_user("reader", role))
        client.get(url("small"))  # the navigation's counts, cached briefly, are read once

        def count(owner):
            with CaptureQueriesContext(connection) as queries:
                r = client.get(url(owner))
            assert r.status_code == 200
            return len(queries), r.context["account"]

        (small, few), (large, many) = count("small"), count("large")
        # Every section has something to show, more of it for the larger account.
        assert few.account_case is not None and many.account_case is not None
        assert (few.conversations.paginator.count, many.conversations.paginator.count) == (2, 10)
        assert many.decisions.paginator.count > few.decisions.paginator.count > 3
        assert small == large
        # A count and a page per section, the handles, the account case; the session, the user
        # and their permissions (and a reviewer's queues, or a supervisor's escalation).
        assert large <= 21
