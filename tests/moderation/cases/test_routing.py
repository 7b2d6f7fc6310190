"""Routing rules: categories, involves a child, sources, languages, bank matches; the first
routable queue by explicit order wins; queues reached only by people are never routed to."""

import hashlib

import pytest

from moderation.audit.models import AuditEvent
from moderation.banks.models import HashBank
from moderation.banks.services import bank_import
from moderation.cases.models import Case, Queue
from reports.models import Report
from reports.services import flag_submit, report_submit
from tests.conftest import png_bytes
from tests.intake import intake_fields


def queue(slug, order=5, **rules) -> Queue:
    banks = rules.pop("banks", [])
    q = Queue.objects.create(slug=slug, name=slug.title(), order=order, **rules)
    q.banks.set(banks)
    return q


def api_report(platform_id="p1", category="harassment", **fields) -> Case:
    report = report_submit(
        **intake_fields(
            category=category,
            platform_id=platform_id,
            reporter_kind=Report.ReporterKind.PLATFORM_USER,
            source=Report.Source.API,
            **fields,
        )
    )
    return Case.objects.get(pk=report.case_id)


def form_report(url="https://social.example/p/1", category="harassment", **fields) -> Case:
    report = report_submit(
        **intake_fields(
            category=category,
            content_url=url,
            reporter_kind=Report.ReporterKind.PUBLIC,
            source=Report.Source.FORM,
            **fields,
        )
    )
    return Case.objects.get(pk=report.case_id)


def a_flag(platform_id="p1", source="nudity-ai", external_id="f1", **fields) -> Case:
    flag, _ = flag_submit(
        **intake_fields(
            source=source,
            external_id=external_id,
            category=fields.pop("category", "harassment"),
            score=0.5,
            platform_id=platform_id,
            **fields,
        )
    )
    return Case.objects.get(pk=flag.case_id)


@pytest.mark.django_db
class TestRules:
    def test_sources_route_form_api_and_named_flag_sources(self):
        queue("from-classifier", order=5, sources=["flag:nudity-ai"])
        queue("from-platform", order=6, sources=["api"])
        assert a_flag(platform_id="a", source="nudity-ai").queue.slug == "from-classifier"
        assert a_flag(platform_id="b", source="spam-ai", external_id="f2").queue.slug == "general"
        assert api_report(platform_id="c").queue.slug == "from-platform"
        assert form_report().queue.slug == "general"

    def test_flag_means_any_automated_flag(self):
        queue("automated", sources=["flag"])
        assert a_flag(source="whatever").queue.slug == "automated"
        assert api_report(platform_id="other").queue.slug == "general"

    def test_a_new_source_on_an_open_case_routes_it_again(self):
        queue("from-classifier", sources=["flag:nudity-ai"])
        case = api_report(platform_id="p1")
        assert case.queue.slug == "general"
        case = a_flag(platform_id="p1", source="nudity-ai")
        assert case.queue.slug == "from-classifier"
        assert sorted(case.sources) == ["api", "flag:nudity-ai"]
        event = AuditEvent.objects.get(verb="case.rerouted")
        assert (event.before, event.after["queue"]) == ({"queue": "general"}, "from-classifier")

    def test_languages_match_by_prefix_and_unknown_language_matches_no_language_rule(self):
        queue("german", languages=["de"])
        assert api_report(platform_id="a", language="de-AT").queue.slug == "german"
        assert api_report(platform_id="b", language="de").queue.slug == "german"
        assert api_report(platform_id="c", language="en").queue.slug == "general"
        assert api_report(platform_id="d").queue.slug == "general"

    def test_a_language_learnt_later_routes_the_case_again(self):
        queue("german", languages=["de"])
        assert api_report(platform_id="p1").queue.slug == "general"
        assert api_report(platform_id="p1", language="de").queue.slug == "german"

    def test_involves_child_and_categories(self):
        queue("child-harassment", categories=["harassment"], involves_child=True)
        assert api_report(platform_id="a", involves_child=True).queue.slug == "child-harassment"
        assert api_report(platform_id="b").queue.slug == "general"
        # Child-safety categories keep their own, earlier, queue.
        assert api_report(platform_id="c", category="grooming").queue.slug == "child-safety"

    def test_all_of_a_queues_rules_must_match(self):
        queue("german-flags", sources=["flag"], languages=["de"])
        assert a_flag(platform_id="a", language="de").queue.slug == "german-flags"
        assert a_flag(platform_id="b", external_id="f2", language="fr").queue.slug == "general"
        assert api_report(platform_id="c", language="de").queue.slug == "general"


@pytest.mark.django_db
class TestOrder:
    def test_the_lowest_order_wins_and_reordering_changes_the_winner(self):
        first = queue("first", order=5, categories=["spam"])
        queue("second", order=6, categories=["spam"])
        assert api_report(platform_id="a", category="spam").queue.slug == "first"
        first.order = 7
        first.save()
        assert api_report(platform_id="b", category="spam").queue.slug == "second"

    def test_inactive_queues_are_skipped(self):
        queue("off", categories=["spam"], is_active=False)
        assert api_report(category="spam").queue.slug == "general"

    def test_queues_reached_only_by_people_are_never_routed_to(self):
        senior = Queue.objects.get(slug="senior-review")
        senior.order, senior.categories = 1, []
        senior.save()
        assert api_report(category="spam").queue.slug == "general"
        assert senior not in Queue.objects.routable()

    def test_without_any_queue_that_fits_the_error_says_what_to_do(self):
        Queue.objects.filter(slug="general").update(is_active=False)
        with pytest.raises(Queue.DoesNotExist, match="catch-all"):
            api_report(category="spam")


@pytest.fixture
def banks(db):
    def make(slug, policy=HashBank.Policy.RAISE_PRIORITY, colour=(1, 2, 3)):
        bank = HashBank.objects.create(
            name=slug.title(), slug=slug, signal_types=["sha256"], policy=policy
        )
        bank_import(bank=bank, text=f"sha256 {hashlib.sha256(png_bytes(colour)).hexdigest()}")
        return bank

    return make


@pytest.mark.django_db
class TestBankRules:
    def test_a_bank_match_arriving_routes_the_case_to_a_queue_wanting_matches(
        self, banks, png_upload, run_jobs
    ):
        banks("listed-somewhere")
        queue("matched", bank_rule=Queue.BankRule.ANY_BANK)
        with run_jobs():
            case = api_report(images=[png_upload(colour=(1, 2, 3))])
            # Before hashing, nothing has matched yet.
            assert case.queue.slug == "general"
        case.refresh_from_db()
        assert case.queue.slug == "matched"
        event = AuditEvent.objects.get(verb="case.rerouted")
        assert event.actor_label == "routing: bank match"

    def test_a_known_material_rule_takes_only_known_material(self, banks, png_upload, run_jobs):
        banks("ordinary", colour=(1, 2, 3))
        banks("known", policy=HashBank.Policy.ACT_AND_ESCALATE, colour=(4, 5, 6))
        queue("known-material", bank_rule=Queue.BankRule.KNOWN_MATERIAL)
        with run_jobs():
            ordinary = api_report(platform_id="a", images=[png_upload(colour=(1, 2, 3))])
            known = api_report(
                platform_id="b", images=[png_upload(colour=(4, 5, 6))], owner_id="acct"
            )
        assert Case.objects.get(pk=ordinary.pk).queue.slug == "general"
        assert Case.objects.get(pk=known.pk).queue.slug == "known-material"

    def test_routing_follows_a_banks_policy_as_it_is_now(self, banks, png_upload, run_jobs):
        known = banks("known", policy=HashBank.Policy.ACT_AND_ESCALATE, colour=(4, 5, 6))
        # Known material first: while the bank is known material, a CSAM report keeps it there.
        queue("known-material", order=0, bank_rule=Queue.BankRule.KNOWN_MATERIAL)
        queue("csam-next", order=1, categories=["csam"])
        with run_jobs():
            case = api_report(platform_id="b", images=[png_upload(colour=(4, 5, 6))])
        assert Case.objects.get(pk=case.pk).queue.slug == "known-material"
        # An admin finds the list was not known material after all.
        HashBank.objects.filter(pk=known.pk).update(policy=HashBank.Policy.RAISE_PRIORITY)
        api_report(platform_id="b", category="csam")
        assert Case.objects.get(pk=case.pk).queue.slug == "csam-next"

    def test_a_listed_banks_rule_takes_matches_in_those_banks_only(
        self, banks, png_upload, run_jobs
    ):
        a = banks("bank-a", colour=(1, 2, 3))
        banks("bank-b", colour=(4, 5, 6))
        queue("bank-a-queue", bank_rule=Queue.BankRule.LISTED, banks=[a])
        with run_jobs():
            in_a = api_report(platform_id="a", images=[png_upload(colour=(1, 2, 3))])
            in_b = api_report(platform_id="b", images=[png_upload(colour=(4, 5, 6))])
        assert Case.objects.get(pk=in_a.pk).queue.slug == "bank-a-queue"
        assert Case.objects.get(pk=in_b.pk).queue.slug == "general"

    def test_a_case_in_senior_review_stays_there_when_a_match_arrives(
        self, banks, png_upload, run_jobs, reviewer
    ):
        from moderation.cases.services import case_claim_next
        from moderation.review.services import case_decide

        banks("listed")
        queue("matched", bank_rule=Queue.BankRule.ANY_BANK)
        case = api_report()
        case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="senior_review", policy="harassment")
        with run_jobs():
            api_report(images=[png_upload(colour=(1, 2, 3))])
        case.refresh_from_db()
        assert case.queue.slug == "senior-review"
        assert case.bank_match_level == 1


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def queue_form(**overrides) -> dict:
    data = {
        "name": "Portuguese",
        "slug": "portuguese",
        "description": "",
        "is_active": "on",
        "sla_minutes": "600",
        "order": "50",
        "categories": ["harassment", "spam"],
        "involves_child": "unknown",
        "sources": "form, flag:nudity-ai",
        "languages": "pt-br, PT",
        "bank_rule": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestQueueAdmin:
    def test_an_admin_adds_a_queue_with_rules_and_it_is_audited(self, admin_client):
        r = admin_client.post("/admin/moderation/queue/add/", queue_form())
        assert r.status_code == 302, r.content.decode()[:3000]
        q = Queue.objects.get(slug="portuguese")
        assert q.categories == ["harassment", "spam"]
        assert q.sources == ["form", "flag:nudity-ai"]
        assert q.languages == ["pt-BR", "pt"]
        event = AuditEvent.objects.get(verb="queue.created")
        assert sorted(event.after["languages"]) == ["pt", "pt-BR"]

    def test_the_sensitive_flag_is_edited_with_the_rest(self, admin_client):
        r = admin_client.post("/admin/moderation/queue/add/", queue_form(sensitive="on"))
        assert r.status_code == 302, r.content.decode()[:3000]
        assert Queue.objects.get(slug="portuguese").sensitive

    def test_the_change_page_explains_the_rules(self, admin_client):
        page = admin_client.get("/admin/moderation/queue/add/").content.decode()
        assert "first active queue, lowest order first" in page
        assert "flag:NAME" in page and "BCP 47" in page

    @pytest.mark.parametrize(
        "field, value, message",
        [
            ("sources", "form, twitter", "use form, api, flag"),
            ("languages", "portuguese", "not a BCP 47 language tag"),
            ("bank_rule", "listed", "Tick the banks"),
        ],
    )
    def test_bad_rules_are_refused_with_a_clear_message(self, admin_client, field, value, message):
        r = admin_client.post("/admin/moderation/queue/add/", queue_form(**{field: value}))
        assert r.status_code == 200
        assert message in r.content.decode()
        assert not Queue.objects.filter(slug="portuguese").exists()

    def test_banks_without_the_listed_rule_are_refused(self, admin_client, banks):
        bank = banks("some-bank")
        r = admin_client.post(
            "/admin/moderation/queue/add/", queue_form(bank_rule="any", banks=[str(bank.pk)])
        )
        assert "only used with the rule" in r.content.decode()

    def test_the_built_in_queues_can_be_saved_unchanged(self, admin_client):
        for q in Queue.objects.all():
            page = admin_client.get(f"/admin/moderation/queue/{q.pk}/change/")
            form = page.context["adminform"].form
            data = {}
            for name in form.fields:
                value = form[name].value()
                if value is None:
                    continue
                if isinstance(value, list):
                    data[name] = [str(v) for v in value]
                elif isinstance(value, bool):
                    if value:
                        data[name] = "on"
                else:
                    data[name] = str(value)
            if q.involves_child is None:
                data["involves_child"] = "unknown"
            r = admin_client.post(f"/admin/moderation/queue/{q.pk}/change/", data)
            assert r.status_code == 302, (q.slug, r.content.decode()[:2000])
