import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.roles import Role
from moderation.cases.services import case_claim_next
from moderation.dsa import schema as dsa_schema
from moderation.dsa import selectors as dsa
from moderation.enforcement.delivery import action_reverse
from moderation.enforcement.models import EnforcementAction
from moderation.enforcement.services import action_request
from moderation.review.appeals import appeal_open
from moderation.review.services import case_decide
from reports.models import Report

EU = settings.DSA_EU_MEMBER_STATES
PUID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")


def everything():
    now = timezone.now()
    return list(dsa.statements_iter(since=now - timedelta(days=1), until=now + timedelta(days=1)))


def only():
    (envelope,) = everything()
    return envelope, envelope["statement"]


@pytest.mark.django_db
class TestFieldMapping:
    def test_it_maps_a_removal_of_harassment_as_incompatible_with_the_terms(self, dsa_decide):
        decision = dsa_decide("remove", "harassment", language="de-AT")
        envelope, s = only()
        assert envelope["decision_id"] == decision.pk and envelope["action_id"] is None
        assert envelope["content_id"] == decision.case.content_item.platform_id
        assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
        assert s["decision_account"] is None
        assert s["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        assert s["incompatible_content_ground"] == "Terms of service: Harassment and bullying"
        assert s["incompatible_content_explanation"]
        assert s["illegal_content_legal_ground"] is None
        assert s["category"] == "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR"
        assert s["category_specification"] == ["KEYWORD_ONLINE_BULLYING_INTIMIDATION"]
        assert s["content_type"] == ["CONTENT_TYPE_IMAGE"]
        assert s["content_language"] == "DE"
        assert s["territorial_scope"] == EU and len(EU) == 27
        today = timezone.now().date().isoformat()
        assert s["application_date"] == today and s["content_date"] == today
        assert s["source_type"] == "SOURCE_ARTICLE_16"
        assert s["automated_detection"] == "No"
        assert s["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
        assert s["puid"] == f"{envelope['content_id']}__vigil-decision-{decision.pk}"
        assert set(s) == set(dsa_schema.FIELDS)

    def test_the_content_date_is_when_it_was_posted_when_known(self, dsa_decide):
        dsa_decide(posted_at=timezone.now() - timedelta(days=400))
        dsa_decide(posted_at=timezone.now().replace(year=1999))
        dates = [e["statement"]["content_date"] for e in everything()]
        assert dates == [(timezone.now() - timedelta(days=400)).date().isoformat(), "2000-01-01"]

    def test_it_maps_child_sexual_abuse_material_as_illegal_under_the_directive(self, dsa_decide):
        dsa_decide("escalate", "child-safety/sexual-exploitation", "csam")
        _, s = only()
        assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
        assert "Directive 2011/93/EU" in s["illegal_content_legal_ground"]
        assert s["illegal_content_explanation"]
        assert s["incompatible_content_ground"] is None
        assert s["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
        assert s["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]

    def test_it_maps_an_age_restriction(self, dsa_decide):
        dsa_decide("age_restrict", "self-harm", "self_harm", content_type="video")
        _, s = only()
        assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED"]
        assert s["decision_account"] is None
        assert s["category"] == "STATEMENT_CATEGORY_SELF_HARM"
        assert s["content_type"] == ["CONTENT_TYPE_VIDEO"]

    @pytest.mark.parametrize("action", ["suspend", "escalate"])
    def test_a_suspension_or_escalation_removes_and_suspends(self, dsa_decide, action):
        dsa_decide(action, "child-safety/grooming", "grooming", content_type="message")
        _, s = only()
        assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
        assert s["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
        assert s["end_date_account_restriction"] is None
        assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
        assert s["category_specification"] == ["KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS"]
        assert s["content_type"] == ["CONTENT_TYPE_TEXT"]

    def test_no_account_restriction_is_claimed_without_an_owner(self, dsa_decide):
        dsa_decide("suspend", "spam", "spam", owner_id="")
        _, s = only()
        assert s["decision_account"] is None
        assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]

    def test_an_account_or_other_item_is_content_type_other_with_its_kind(self, dsa_decide):
        dsa_decide("remove", "spam", "spam", content_type="account")
        _, s = only()
        assert s["content_type"] == ["CONTENT_TYPE_OTHER"]
        assert s["content_type_other"] == "Account profile"

    def test_the_terms_url_is_cited_for_terms_grounds_only(self, dsa_decide, settings):
        settings.DSA_TERMS_URL = "https://social.example/terms"
        dsa_decide("remove", "spam", "spam")
        dsa_decide("escalate", "child-safety/sexual-exploitation", "csam")
        grounds = {
            e["statement"]["decision_ground"]: e["statement"]["decision_ground_reference_url"]
            for e in everything()
        }
        assert grounds == {
            "DECISION_GROUND_INCOMPATIBLE_CONTENT": "https://social.example/terms",
            "DECISION_GROUND_ILLEGAL_CONTENT": None,
        }

    def test_a_policy_no_longer_offered_is_reported_under_its_own_name(self, dsa_decide):
        decision = dsa_decide("remove", "spam", "spam")
        decision.__class__.objects.filter(pk=decision.pk).update(policy="legacy-rule")
        _, s = only()
        assert s["category"] == "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE"
        assert s["incompatible_content_ground"] == "Terms of service: legacy-rule"

    def test_a_known_material_bank_action_is_one_fully_automated_statement(self, dsa_bank_acts):
        case = dsa_bank_acts()
        removal = EnforcementAction.objects.get(case=case, kind="remove_content")
        assert EnforcementAction.objects.filter(case=case, kind="suspend_account").exists()
        envelope, s = only()
        assert envelope["action_id"] == removal.pk and envelope["decision_id"] is None
        assert s["automated_decision"] == "AUTOMATED_DECISION_FULLY"
        assert s["automated_detection"] == "Yes"
        assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
        assert s["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
        assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
        assert s["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
        assert s["puid"].endswith(f"__vigil-action-{removal.pk}")

    def test_a_bank_suspension_alone_is_its_own_statement(self, submit_report):
        # As when the content's removal was already pending: the bank asks only the suspension.
        case = submit_report(category="spam", owner_id="owner-1").case
        action_request(
            case=case, kind="suspend_account", target="owner-1", reason="match to bank b"
        )
        _, s = only()
        assert s["decision_visibility"] is None
        assert s["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
        assert s["puid"].startswith("vigil-action-")


@pytest.mark.django_db
class TestSources:
    def test_a_user_report_is_an_article_16_notice(self, dsa_decide):
        dsa_decide(reporter_kind=Report.ReporterKind.PLATFORM_USER)
        assert only()[1]["source_type"] == "SOURCE_ARTICLE_16"

    def test_a_trusted_flaggers_report_is_a_trusted_flagger_notice(self, dsa_decide):
        dsa_decide(reporter_kind=Report.ReporterKind.TRUSTED_FLAGGER)
        assert only()[1]["source_type"] == "SOURCE_TRUSTED_FLAGGER"

    def test_an_automated_flag_is_own_initiative_and_automated_detection(self, dsa_decide):
        dsa_decide(flagged=True)
        _, s = only()
        assert s["source_type"] == "SOURCE_VOLUNTARY"
        assert s["automated_detection"] == "Yes"
        assert s["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"

    def test_a_report_after_the_decision_is_not_its_source(self, dsa_decide, submit_report):
        decision = dsa_decide(flagged=True)
        item = decision.case.content_item
        submit_report(category="harassment", platform_id=item.platform_id)
        assert only()[1]["source_type"] == "SOURCE_VOLUNTARY"


@pytest.mark.django_db
class TestWhatIsListed:
    @pytest.mark.parametrize("action", ["no_violation", "warn", "safety_notice", "senior_review"])
    def test_decisions_that_restrict_nothing_are_left_out(self, dsa_decide, action):
        decision = dsa_decide(action, "harassment")
        assert everything() == []
        assert dsa.statement_for_decision(decision.pk) is None

    def test_a_decision_overturned_on_appeal_stays_listed_with_its_end(self, dsa_decide, make_user):
        decision = dsa_decide("remove", "harassment", platform_id="post-appealed")
        appeal_open(content_id="post-appealed", statement="Quoting the news.", actor_label="t")
        other = make_user("appeal-reviewer", Role.REVIEWER)
        case = case_claim_next(user=other)
        case_decide(case_id=case.pk, user=other, action="no_violation", policy="harassment")
        envelope, s = only()
        assert envelope["decision_id"] == decision.pk
        assert envelope["overturned_on_appeal"] is True
        assert s["end_date_visibility_restriction"] == timezone.now().date().isoformat()

    def test_an_upheld_appeal_adds_no_statement_of_its_own(self, dsa_decide, make_user):
        decision = dsa_decide("remove", "harassment", platform_id="post-upheld")
        appeal_open(content_id="post-upheld", statement="Quoting the news.", actor_label="t")
        other = make_user("appeal-reviewer", Role.REVIEWER)
        case = case_claim_next(user=other)
        outcome = case_decide(case_id=case.pk, user=other, action="remove", policy="harassment")
        envelope, s = only()
        assert envelope["decision_id"] == decision.pk
        assert envelope["overturned_on_appeal"] is False
        assert s["end_date_visibility_restriction"] is None
        assert dsa.statement_for_decision(outcome.pk) is None

    def test_a_reversed_age_restriction_shows_when_it_ended(self, dsa_decide, supervisor):
        dsa_decide("age_restrict", "self-harm", "self_harm")
        action = EnforcementAction.objects.get(kind="age_restrict")
        action_reverse(action_id=action.pk, user=supervisor, reason="mistake")
        _, s = only()
        assert s["end_date_visibility_restriction"] == timezone.now().date().isoformat()

    def test_nothing_about_the_reporter_the_owner_or_the_notes_appears(self, dsa_decide):
        dsa_decide(
            "escalate",
            "child-safety/sexual-exploitation",
            "csam",
            notes="reviewer notes: secret",
            owner_id="owner-secret-77",
        )
        text = json.dumps(everything(), default=str)
        for secret in ("secret", "reporter@example.org", "malicious", "A2", "owner-secret-77"):
            assert secret not in text

    def test_puids_are_unique_and_in_the_databases_alphabet(self, dsa_decide, dsa_bank_acts):
        dsa_decide(platform_id="weird id/with:chars")
        dsa_decide(platform_id="weird id/with:chars!")
        dsa_bank_acts()
        puids = [e["statement"]["puid"] for e in everything()]
        assert len(set(puids)) == 3
        assert all(PUID.match(p) for p in puids)

    def test_one_decision_gives_the_same_statement_alone_as_in_the_list(self, dsa_decide):
        decision = dsa_decide("suspend", "spam", "spam")
        assert dsa.statement_for_decision(decision.pk) == only()[0]


@pytest.mark.django_db
class TestPaging:
    def test_pages_cover_every_statement_once_in_order(self, dsa_decide, dsa_bank_acts):
        for _ in range(4):
            dsa_decide()
            dsa_bank_acts()
        now = timezone.now()
        seen, cursor = [], ""
        while True:
            page, cursor = dsa.statements_page(
                since=now - timedelta(days=1), until=now + timedelta(days=1), cursor=cursor, limit=3
            )
            seen += page
            if cursor is None:
                break
        assert [e["id"] for e in seen] == [e["id"] for e in everything()]
        assert len({e["id"] for e in seen}) == 8
        times = [e["decided_at"] for e in seen]
        assert times == sorted(times)

    def test_a_page_costs_the_same_queries_however_many_rows(
        self, dsa_decide, dsa_bank_acts, django_assert_max_num_queries
    ):
        for _ in range(6):
            dsa_decide()
            dsa_bank_acts()
        now = timezone.now()
        with django_assert_max_num_queries(3):
            page, _ = dsa.statements_page(
                since=now - timedelta(days=1), until=now + timedelta(days=1), limit=50
            )
        assert len(page) == 12

    def test_the_period_bounds_decision_time(self, dsa_decide):
        decision = dsa_decide()
        at = decision.created_at
        assert dsa.statements_page(since=at, until=at + timedelta(seconds=1))[0]
        assert not dsa.statements_page(since=at - timedelta(hours=1), until=at)[0]
        assert dsa.statements_count(since=at, until=at + timedelta(seconds=1)) == 1

    def test_a_foreign_cursor_is_refused(self):
        now = timezone.now()
        for bad in ("nonsense", "bm9wZQ", "MjAyNi0wMS0wMXwwfDE"):  # the last: a naive time
            with pytest.raises(dsa.BadCursor):
                dsa.statements_page(since=now, until=now, cursor=bad)
